package fileupload

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"chunkup/internal/upload"
	"chunkup/internal/wire/contentrange"
	"chunkup/internal/wire/reqbody"
)

// formOverhead is room for a multipart form's other fields and boundaries
// around the chunk.
const formOverhead = 64 << 10

// chunk is one request's piece of a file, as read.
type chunk struct {
	data        []byte
	name        string
	contentType string
	rg          contentrange.Range
}

// readChunk reads a chunk from a multipart form (the plugin's default;
// the file field is named by the page's paramName, "files[]" unless set)
// or from the raw body (multipart: false), with the file's name from the
// Content-Disposition header the plugin sends with every chunk, or else
// from the form's file part.
func readChunk(w http.ResponseWriter, r *http.Request, limit int64) (chunk, error) {
	head, ranged, err := readHead(r)
	if err != nil {
		return head, err
	}
	c, err := readBody(w, r, limit)
	if err != nil {
		return head, err
	}
	if head.name != "" {
		c.name = head.name
	}
	c.rg = head.rg
	switch {
	case c.name == "":
		return c, refusal("the file has no name: send it as a form file or with Content-Disposition: attachment; filename=\"…\"")
	case !ranged:
		// The plugin sends no Content-Range for a file it uploads in one
		// request: the chunk is the whole file.
		c.rg = contentrange.Range{Start: 0, End: int64(len(c.data)) - 1, Total: int64(len(c.data))}
	case int64(len(c.data)) != c.rg.Len():
		return c, refusal("the chunk has %d bytes but Content-Range says %d", len(c.data), c.rg.Len())
	}
	return c, nil
}

// readHead reads the file's name and the chunk's place from the headers,
// and reports whether there was a Content-Range.
func readHead(r *http.Request) (chunk, bool, error) {
	var head chunk
	var err error
	if cd := r.Header.Get("Content-Disposition"); cd != "" {
		if head.name, err = dispositionName(cd); err != nil {
			return head, false, err
		}
	}
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return head, false, nil
	}
	if head.rg, err = contentrange.Parse(cr); err != nil {
		return head, true, refusal("%v (expected \"bytes START-END/TOTAL\")", err)
	}
	return head, true, nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) (chunk, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		return readForm(w, r, limit)
	}
	return readRaw(w, r, limit)
}

func readRaw(w http.ResponseWriter, r *http.Request, limit int64) (chunk, error) {
	data, err := reqbody.Read(w, r, limit)
	if err != nil {
		return chunk{}, bodyError(err, limit)
	}
	return chunk{data: data, contentType: reqbody.FileType(r.Header.Get("Content-Type"))}, nil
}

func readForm(w http.ResponseWriter, r *http.Request, limit int64) (chunk, error) {
	form, err := reqbody.ReadForm(w, r, "", reqbody.FormLimits{Body: limit + formOverhead, File: limit, Fields: formOverhead})
	if err != nil {
		return chunk{}, bodyError(err, limit)
	}
	if n := form.FileCount(); n != 1 {
		return chunk{}, refusal("the form has %d files; send one file per request (the plugin's default, singleFileUploads: true)", n)
	}
	f := form.File
	if f.Size > limit {
		return chunk{}, tooLarge(limit)
	}
	return chunk{data: f.Data, name: f.Name, contentType: reqbody.FileType(f.ContentType)}, nil
}

func bodyError(err error, limit int64) error {
	var big *http.MaxBytesError
	if errors.As(err, &big) {
		return tooLarge(limit)
	}
	return refusal("the request body could not be read: %v", err)
}

func tooLarge(limit int64) *upload.Error {
	return &upload.Error{Code: upload.CodeChunkTooLarge, Limit: limit,
		Message: fmt.Sprintf("chunk is over the limit of %d bytes: set maxChunkSize to at most %d", limit, limit)}
}

// dispositionName reads the file name from the Content-Disposition header
// the plugin sends: attachment; filename="<encodeURI(name)>". A name in
// the RFC 5987 form (filename*=) comes decoded already.
func dispositionName(cd string) (string, error) {
	_, params, err := mime.ParseMediaType(cd)
	name, ok := params["filename"]
	if err != nil || !ok {
		return "", refusal("Content-Disposition %q has no filename", cd)
	}
	if strings.Contains(strings.ToLower(unquoted(cd)), "filename*") {
		return name, nil
	}
	if dec, err := url.PathUnescape(name); err == nil {
		name = dec
	}
	return name, nil
}

// unquoted is a header value without its quoted strings, so that text
// inside a quoted file name is never taken for a parameter name.
func unquoted(v string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func refusal(format string, args ...any) *upload.Error {
	return &upload.Error{Code: upload.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}
