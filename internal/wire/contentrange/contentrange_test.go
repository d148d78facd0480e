package contentrange

import (
	"fmt"
	"regexp"
	"testing"
)

// clientForm is the pattern django-chunked-upload itself matches.
var clientForm = regexp.MustCompile(`^bytes ([0-9]+)-([0-9]+)/([0-9]+)$`)

func TestParse(t *testing.T) {
	good := map[string]Range{
		"bytes 0-0/1":                  {0, 0, 1},
		"bytes 0-1048575/17825792":     {0, 1048575, 17825792},
		"bytes 100-199/200":            {100, 199, 200},
		"bytes 5-5/999999999999999999": {5, 5, 999999999999999999},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := []string{
		"", "bytes", "bytes 0-1", "bytes 0/10", "bytes -1-5/10", "bytes 5-4/10", "bytes 0-10/10",
		"bytes 0-9/*", "bytes  0-9/10", "Bytes 0-9/10", "bytes 0-9/10 ", "bytes 0x1-9/10",
		"bytes 0-9999999999999999999/99999999999999999999", "bytes +1-2/3", "bytes 1-2/3/4", "bytes ٣-4/5",
	}
	for _, in := range bad {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, accepted", in, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1", "bytes 0-1048575/17825792", "bytes 5-4/10", "bytes 1-2/3/4", "bytes 007-8/9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r, err := Parse(v)
		if err != nil {
			return
		}
		if r.Start < 0 || r.Start > r.End || r.End >= r.Total || r.Len() <= 0 {
			t.Fatalf("Parse(%q) = %+v breaks START <= END < TOTAL", v, r)
		}
		if !clientForm.MatchString(v) {
			t.Fatalf("Parse(%q) accepted a form the clients never send", v)
		}
		if again, err := Parse(fmt.Sprintf("bytes %d-%d/%d", r.Start, r.End, r.Total)); err != nil || again != r {
			t.Fatalf("Parse(%q) = %+v does not survive a round trip: %+v %v", v, r, again, err)
		}
	})
}
