package reqbody

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// maxParts is how many parts a form may have, as
// multipart.Reader.ReadForm allows by default.
const maxParts = 1000

// FormLimits bound what ReadForm takes in.
type FormLimits struct {
	// Body bounds the whole body: a longer one is an *http.MaxBytesError,
	// as from http.MaxBytesReader.
	Body int64
	// File bounds the file part ReadForm keeps: a longer one is counted
	// to its end but its bytes are dropped (File.Data is nil).
	File int64
	// Fields bounds the values of the parts that are not files, all
	// together: more is an error that wraps multipart.ErrMessageTooLarge.
	Fields int64
}

// Form is a multipart/form-data body as ReadForm read it.
type Form struct {
	// Value holds the values of the parts that are not files, by field
	// name, in the order they came.
	Value map[string][]string
	// Query is the request's URL query.
	Query url.Values
	// Files counts the file parts by field name, the kept one and the
	// dropped ones alike.
	Files map[string]int
	// File is the file part kept, or nil if the form had none.
	File *File
}

// File is a file part of a form.
type File struct {
	// Field is the part's form field name.
	Field string
	// Name is the part's file name, as multipart.Part.FileName gives it.
	Name string
	// ContentType is the part's Content-Type header.
	ContentType string
	// Size is the part's length in bytes.
	Size int64
	// Data is the part's bytes, or nil if Size is over FormLimits.File.
	Data []byte
}

// FileCount is how many file parts the form had, in all fields.
func (f *Form) FileCount() int {
	n := 0
	for _, c := range f.Files {
		n += c
	}
	return n
}

// PostFormValue returns the first value of the form field name, or ""
// if the form has none, as http.Request.PostFormValue would.
func (f *Form) PostFormValue(name string) string {
	if vs := f.Value[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// FormValue returns the first value named name in the URL query and
// then in the form, as http.Request.FormValue would after
// ParseMultipartForm: a value in the query comes first.
func (f *Form) FormValue(name string) string {
	if vs := f.Query[name]; len(vs) > 0 {
		return vs[0]
	}
	return f.PostFormValue(name)
}

// ReadForm reads r's multipart/form-data body part by part, to its end,
// as http.Request.ParseMultipartForm does, but keeps the bytes of one
// file part only, read into one buffer no larger than the body or
// limits.File: the first file part of the field named field, or, while
// none has come, the first file part of any field. Parts without a form
// field name are skipped, and a part is a file when it has a file name,
// as for ParseMultipartForm.
//
// ReadForm fails as ParseMultipartForm would, with the same errors, not
// wrapped, so that callers can answer them as they did: http.ErrNotMultipart,
// http.ErrMissingBoundary, an *http.MaxBytesError for a body over
// limits.Body, multipart.ErrMessageTooLarge for over 1000 parts, the
// errors of reading the body and its parts, and, once the body is read,
// the error of parsing the URL's query. Fields whose values are over
// limits.Fields are an error wrapping multipart.ErrMessageTooLarge.
func ReadForm(w http.ResponseWriter, r *http.Request, field string, limits FormLimits) (*Form, error) {
	boundary, err := formBoundary(r)
	if err != nil {
		return nil, err
	}
	size := Len(r)
	if size > limits.Body {
		size = limits.Body // no part gets past the limit unrefused
	}
	fr := formReader{
		form:   &Form{Value: map[string][]string{}, Files: map[string]int{}},
		field:  field,
		limits: limits,
		size:   size,
	}
	if err := fr.read(multipart.NewReader(http.MaxBytesReader(w, r.Body, limits.Body), boundary)); err != nil {
		return nil, err
	}
	var query string
	if r.URL != nil {
		query = r.URL.RawQuery
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	fr.form.Query = q
	return fr.form, nil
}

// formBoundary checks that r is a multipart/form-data request and returns
// its boundary, with http.Request's errors for one that is not.
func formBoundary(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", http.ErrNotMultipart
	}
	if r.Body == nil {
		return "", errors.New("missing form body")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" {
		return "", http.ErrNotMultipart
	}
	boundary, ok := params["boundary"]
	if !ok {
		return "", http.ErrMissingBoundary
	}
	return boundary, nil
}

// formReader is the state of one ReadForm.
type formReader struct {
	form    *Form
	field   string
	limits  FormLimits
	size    int64  // the body's length, -1 if unknown
	fields  int64  // bytes of field values so far
	scratch []byte // where field values are read before they become strings
	buf     []byte // the kept file's buffer, reused if a file replaces it
}

// read reads every part of the form.
func (fr *formReader) read(mr *multipart.Reader) error {
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if parts == maxParts {
			return multipart.ErrMessageTooLarge
		}
		if err := fr.readPart(p); err != nil {
			return err
		}
	}
}

// readPart reads one part: a field value, the file to keep, or a file
// to count and drop.
func (fr *formReader) readPart(p *multipart.Part) error {
	name := p.FormName()
	if name == "" {
		return nil
	}
	filename := p.FileName()
	if filename == "" {
		return fr.readValue(name, p)
	}
	fr.form.Files[name]++
	kept := fr.form.File
	if kept != nil && (kept.Field == fr.field || name != fr.field) {
		_, err := io.Copy(io.Discard, p)
		return err
	}
	if fr.buf == nil {
		fr.buf = make([]byte, 0, bufferSize(fr.size, fr.limits.File))
	}
	data, n, err := readPart(fr.buf, p, fr.limits.File, fr.size)
	if cap(data) > cap(fr.buf) {
		fr.buf = data // it grew: a body of unknown length
	}
	if err != nil {
		return err
	}
	fr.form.File = &File{Field: name, Name: filename, ContentType: p.Header.Get("Content-Type"), Size: n, Data: data}
	return nil
}

// readValue reads the value of a part that is not a file.
func (fr *formReader) readValue(name string, p *multipart.Part) error {
	room := fr.limits.Fields - fr.fields
	var err error
	fr.scratch, err = readAll(fr.scratch[:0], io.LimitReader(p, room+1))
	if err != nil {
		return err
	}
	if n := int64(len(fr.scratch)); n > room {
		return fmt.Errorf("form field %q takes the form's field values over %d bytes: %w", name, fr.limits.Fields, multipart.ErrMessageTooLarge)
	}
	fr.fields += int64(len(fr.scratch))
	fr.form.Value[name] = append(fr.form.Value[name], string(fr.scratch))
	return nil
}
