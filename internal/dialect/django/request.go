package django

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"chunkup/internal/upload"
	"chunkup/internal/wire/contentrange"
	"chunkup/internal/wire/reqbody"
)

// formOverhead is room for a multipart form's other fields and boundaries
// around the chunk.
const formOverhead = 64 << 10

// FileField is the form field django-chunked-upload reads the chunk from
// unless its view names another.
const FileField = "file"

// chunk is a chunk POST as read.
type chunk struct {
	data        []byte
	filename    string
	contentType string
	uploadID    string
}

// readChunk reads the multipart form and finds the chunk in it: the field
// "file", or else the form's only file, whatever the page named it (the
// field name is a setting of the original's view, which chunkup cannot
// share with the page).
func readChunk(w http.ResponseWriter, r *http.Request, limit int64) (chunk, error) {
	form, err := reqbody.ReadForm(w, r, FileField, reqbody.FormLimits{Body: limit + formOverhead, File: limit, Fields: formOverhead})
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return chunk{}, overLimit(limit, "chunk is over the limit of %d bytes", limit)
	case errors.Is(err, http.ErrNotMultipart), errors.Is(err, http.ErrMissingBoundary):
		return chunk{}, refusal("No chunk file was submitted (the request is not a multipart form)")
	case err != nil:
		return chunk{}, refusal("the multipart form could not be read: %v", err)
	}
	f, err := filePart(form)
	if err != nil {
		return chunk{}, err
	}
	if f.Size > limit {
		return chunk{}, overLimit(limit, "chunk is %d bytes, over the limit of %d bytes", f.Size, limit)
	}
	return chunk{data: f.Data, filename: f.Name, contentType: reqbody.FileType(f.ContentType),
		uploadID: strings.TrimSpace(form.PostFormValue("upload_id"))}, nil
}

// filePart is the chunk's part of the form: the one file in the field
// FileField, or else the form's only file.
func filePart(form *reqbody.Form) (*reqbody.File, error) {
	if form.Files[FileField] == 1 {
		return form.File, nil // ReadForm keeps FileField's file first
	}
	switch n := form.FileCount(); n {
	case 0:
		return nil, refusal("No chunk file was submitted")
	case 1:
		return form.File, nil
	default:
		return nil, refusal("the form has %d files; send one chunk per request, in the field %q", n, FileField)
	}
}

// span is where a chunk belongs in its file. Without a Content-Range
// header the first chunk is the whole file, as the original assumes for
// jQuery-File-Upload, which sends none for a file that fits one chunk; a
// chunk that continues an upload needs the header.
func span(header string, n int, continues bool) (contentrange.Range, error) {
	switch {
	case header == "" && continues:
		return contentrange.Range{}, refusal("Error in request headers: a chunk sent with an upload_id needs a Content-Range header")
	case header == "":
		return contentrange.Range{Start: 0, End: int64(n) - 1, Total: int64(n)}, nil
	}
	rg, err := contentrange.Parse(header)
	if err != nil {
		return rg, refusal("Error in request headers: %v (expected \"bytes START-END/TOTAL\")", err)
	}
	return rg, nil
}

// refusal is a request error answered 400 with its message as detail.
func refusal(format string, args ...any) *upload.Error {
	return &upload.Error{Code: upload.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func overLimit(limit int64, format string, args ...any) *upload.Error {
	return &upload.Error{Code: upload.CodeChunkTooLarge, Limit: limit, Message: fmt.Sprintf(format, args...)}
}
