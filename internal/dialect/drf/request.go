package drf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"chunkup/internal/wire/contentrange"
	"chunkup/internal/wire/reqbody"
)

// form is what a request's body carries: its fields and, for a chunk,
// the file.
type form struct {
	fields   map[string]string
	file     []byte
	hasFile  bool
	tooLarge bool // the file was over the chunk limit and was not kept
	fileType string
}

const (
	// formSlack is what a body may carry besides the file: the other
	// fields and the multipart framing.
	formSlack = 1 << 20
	// fieldLimit bounds one form field other than the file.
	fieldLimit = 64 << 10
)

// readForm reads the body the way Django REST framework's default parsers
// do: a multipart form, a URL-encoded form or a JSON object. withFile
// keeps the multipart field "file" (up to the chunk limit); otherwise
// file parts are skipped.
func (a *API) readForm(w http.ResponseWriter, r *http.Request, withFile bool) (*form, error) {
	f := &form{fields: map[string]string{}}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return f, nil
	}
	limit := int64(formSlack)
	if withFile {
		limit += a.engine.Limits().MaxChunkSize
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
		return nil, refusal(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", ct))
	case mediaType == "multipart/form-data":
		return f, a.readMultipart(f, http.MaxBytesReader(w, r.Body, limit), params["boundary"], withFile, reqbody.Len(r))
	case mediaType == "application/x-www-form-urlencoded":
		return f, readURLEncoded(f, w, r, limit)
	case mediaType == "application/json":
		return f, readJSON(f, http.MaxBytesReader(w, r.Body, limit))
	}
	return nil, refusal(http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request.", mediaType))
}

// readMultipart reads a multipart body of size bytes (-1 if unknown).
func (a *API) readMultipart(f *form, body io.Reader, boundary string, withFile bool, size int64) error {
	if boundary == "" {
		return refusal(http.StatusBadRequest, "Multipart form parse error - Invalid boundary in multipart: None")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err == nil {
			err = a.readPart(f, p, withFile, size)
		}
		if err != nil {
			return a.bodyError(f, err, withFile)
		}
	}
}

// readPart reads one part of a multipart form into f.
func (a *API) readPart(f *form, p *multipart.Part, withFile bool, size int64) error {
	defer p.Close()
	name := p.FormName()
	switch {
	case name == "file" && withFile:
		return a.readFile(f, p, size)
	case p.FileName() != "" || name == "file":
		_, err := io.Copy(io.Discard, p)
		return err
	}
	v, err := io.ReadAll(io.LimitReader(p, fieldLimit+1))
	if err != nil {
		return err
	}
	if len(v) > fieldLimit {
		return refusal(http.StatusBadRequest, fmt.Sprintf("Multipart form parse error - field %q exceeds the limit (%d bytes)", name, fieldLimit))
	}
	f.fields[name] = string(v)
	return nil
}

// readFile keeps the chunk, or notes that it is over the chunk limit. The
// chunk is read into one buffer, of at most size bytes (the body's length,
// -1 if unknown).
func (a *API) readFile(f *form, p *multipart.Part, size int64) error {
	limit := a.engine.Limits().MaxChunkSize
	data, n, err := reqbody.ReadPart(p, limit, size)
	f.hasFile, f.fileType = true, p.Header.Get("Content-Type")
	f.file, f.tooLarge = data, n > limit
	return err
}

// bodyError turns a failure to read the body into the answer: a body over
// the limit is a chunk over the chunk limit when a file is expected.
func (a *API) bodyError(f *form, err error, withFile bool) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		if withFile {
			f.hasFile, f.tooLarge, f.file = true, true, nil
			return nil
		}
		return refusal(http.StatusBadRequest, fmt.Sprintf("Request body exceeds the limit (%d bytes)", tooBig.Limit))
	}
	var p *problem
	if errors.As(err, &p) {
		return err
	}
	return refusal(http.StatusBadRequest, "Multipart form parse error - "+err.Error())
}

func readURLEncoded(f *form, w http.ResponseWriter, r *http.Request, limit int64) error {
	raw, err := reqbody.Read(w, r, limit)
	if err != nil {
		return refusal(http.StatusBadRequest, "Form parse error - "+err.Error())
	}
	q, err := url.ParseQuery(string(raw))
	if err != nil {
		return refusal(http.StatusBadRequest, "Form parse error - "+err.Error())
	}
	for k, vs := range q {
		f.fields[k] = vs[len(vs)-1]
	}
	return nil
}

func readJSON(f *form, body io.Reader) error {
	var m map[string]any
	if err := json.NewDecoder(body).Decode(&m); err != nil {
		return refusal(http.StatusBadRequest, "JSON parse error - "+err.Error())
	}
	for k, v := range m {
		if s, ok := v.(string); ok {
			f.fields[k] = s
		}
	}
	return nil
}

// readChunk reads a chunk PUT: its form and the chunk the form's file is.
func (a *API) readChunk(w http.ResponseWriter, r *http.Request) (*form, chunk, error) {
	f, err := a.readForm(w, r, true)
	if err != nil {
		return nil, chunk{}, err
	}
	c, err := a.chunkOf(f, r.Header.Get("Content-Range"))
	return f, c, err
}

// chunkOf checks a chunk PUT's file against its Content-Range, in the
// original's order: the file, the header, the total against the size
// limit, the chunk's length against the header.
func (a *API) chunkOf(f *form, header string) (chunk, error) {
	if !f.hasFile {
		return chunk{}, refusal(http.StatusBadRequest, "No chunk file was submitted")
	}
	rng, err := a.parseRange(header)
	if err != nil {
		return chunk{}, err
	}
	if f.tooLarge {
		return chunk{}, overLimit("Size of chunk exceeds the limit (%d bytes)", a.engine.Limits().MaxChunkSize)
	}
	if n := int64(len(f.file)); n != rng.Len() {
		return chunk{}, refusal(http.StatusBadRequest, fmt.Sprintf("File size doesn't match headers: file size is %d but %d reported", n, rng.Len()))
	}
	return chunk{data: f.file, rng: rng}, nil
}

// wholeFile checks a file sent in one request.
func (a *API) wholeFile(f *form) error {
	l := a.engine.Limits()
	switch {
	case !f.hasFile:
		return refusal(http.StatusBadRequest, "No chunk file was submitted")
	case f.tooLarge:
		return overLimit("Size of file exceeds the limit for one request (%d bytes); send it in chunks", l.MaxChunkSize)
	case int64(len(f.file)) > l.MaxFileSize:
		return overLimit("Size of file exceeds the limit (%d bytes)", l.MaxFileSize)
	}
	return nil
}

// parseRange reads Content-Range. A header the clients' pattern accepts
// but the parser refuses is answered as the original answers it: END at
// or past TOTAL, or a TOTAL too big for any limit.
func (a *API) parseRange(v string) (contentrange.Range, error) {
	maxSize := a.engine.Limits().MaxFileSize
	rng, err := contentrange.Parse(v)
	if err == nil {
		if rng.Total > maxSize {
			return contentrange.Range{}, overLimit("Size of file exceeds the limit (%d bytes)", maxSize)
		}
		return rng, nil
	}
	_, end, total, ok := splitRange(v)
	switch {
	case !ok:
		return contentrange.Range{}, refusal(http.StatusBadRequest, "Error in request headers")
	case end.Cmp(total) >= 0:
		return contentrange.Range{}, refusal(http.StatusBadRequest, fmt.Sprintf("End of chunk exceeds reported total (%s bytes)", total))
	case !total.IsInt64() || total.Int64() > maxSize:
		return contentrange.Range{}, overLimit("Size of file exceeds the limit (%d bytes)", maxSize)
	}
	return contentrange.Range{}, refusal(http.StatusBadRequest, "Error in request headers")
}

// splitRange reads "bytes START-END/TOTAL" with numbers of any length.
func splitRange(v string) (start, end, total *big.Int, ok bool) {
	rest, ok1 := strings.CutPrefix(v, "bytes ")
	span, t, ok2 := strings.Cut(rest, "/")
	s, e, ok3 := strings.Cut(span, "-")
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, nil, false
	}
	start, ok1 = decimal(s)
	end, ok2 = decimal(e)
	total, ok3 = decimal(t)
	return start, end, total, ok1 && ok2 && ok3
}

// decimal reads a string of ASCII digits.
func decimal(s string) (*big.Int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return nil, false
	}
	return new(big.Int).SetString(s, 10)
}
