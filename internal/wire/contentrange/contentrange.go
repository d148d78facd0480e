// Package contentrange parses the Content-Range header that
// django-chunked-upload, drf-chunked-upload and jQuery-File-Upload send
// with each chunk: "bytes START-END/TOTAL", END inclusive.
package contentrange

import (
	"fmt"
	"strconv"
	"strings"
)

// Range is one parsed Content-Range: the chunk covers bytes Start through
// End (inclusive) of a file of Total bytes.
type Range struct {
	Start, End, Total int64
}

// Len is the number of bytes the range covers.
func (r Range) Len() int64 { return r.End - r.Start + 1 }

// maxDigits keeps numbers far from int64 overflow (a 19-digit decimal
// can exceed it); no file is a billion terabytes.
const maxDigits = 18

// Parse reads a Content-Range value. It accepts exactly the form the
// clients send (the regular expression ^bytes (\d+)-(\d+)/(\d+)$) and
// checks that START <= END < TOTAL.
func Parse(v string) (Range, error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return Range{}, fmt.Errorf("Content-Range %q does not start with \"bytes \"", v)
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return Range{}, fmt.Errorf("Content-Range %q has no /TOTAL", v)
	}
	start, end, ok := strings.Cut(span, "-")
	if !ok {
		return Range{}, fmt.Errorf("Content-Range %q has no START-END", v)
	}
	var r Range
	var err error
	if r.Start, err = number(start); err != nil {
		return Range{}, fmt.Errorf("Content-Range %q: START %w", v, err)
	}
	if r.End, err = number(end); err != nil {
		return Range{}, fmt.Errorf("Content-Range %q: END %w", v, err)
	}
	if r.Total, err = number(total); err != nil {
		return Range{}, fmt.Errorf("Content-Range %q: TOTAL %w", v, err)
	}
	if r.Start > r.End {
		return Range{}, fmt.Errorf("Content-Range %q: START is after END", v)
	}
	if r.End >= r.Total {
		return Range{}, fmt.Errorf("Content-Range %q: END is beyond TOTAL", v)
	}
	return r, nil
}

func number(s string) (int64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("must be 1 to %d digits", maxDigits)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a whole number", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
