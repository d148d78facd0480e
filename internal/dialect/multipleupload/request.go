package multipleupload

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"chunkup/internal/upload"
	"chunkup/internal/wire/reqbody"
)

// MaxUploadIDLength bounds the client's X-Upload-Id.
const MaxUploadIDLength = 512

// formOverhead is room for a multipart form's boundaries and headers
// around the file.
const formOverhead = 64 << 10

// headers are a chunk POST's description of itself.
type headers struct {
	uploadID string
	index    int // from 0
	count    int
	name     string
	size     int64
}

// parseHeaders reads and checks the X- headers of a chunk POST.
func parseHeaders(h http.Header, l upload.Limits) (headers, error) {
	var hd headers
	var errs []string
	num := func(name string, min int64) int64 {
		v := strings.TrimSpace(h.Get(name))
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case v == "":
			errs = append(errs, name+" is required")
		case err != nil || n < min:
			errs = append(errs, fmt.Sprintf("%s: %q is not a whole number from %d", name, v, min))
		}
		return n
	}
	hd.uploadID = strings.TrimSpace(h.Get("X-Upload-Id"))
	switch {
	case hd.uploadID == "":
		errs = append(errs, "X-Upload-Id is required")
	case len(hd.uploadID) > MaxUploadIDLength:
		errs = append(errs, fmt.Sprintf("X-Upload-Id is %d bytes; the limit is %d bytes", len(hd.uploadID), MaxUploadIDLength))
	}
	index := num("X-Chunk-Index", 0)
	count := num("X-Chunk-Count", 1)
	hd.size = num("X-File-Size", 0)
	hd.name = fileName(h.Get("X-File-Name"))
	if hd.name == "" {
		errs = append(errs, "X-File-Name is required")
	}
	if len(errs) > 0 {
		return headers{}, &upload.Error{Code: upload.CodeInvalid, Message: strings.Join(errs, "; ")}
	}
	return hd, hd.setNumbers(index, count, l)
}

// setNumbers checks the chunk index and count against each other and the
// limits, and keeps them.
func (hd *headers) setNumbers(index, count int64, l upload.Limits) error {
	switch {
	case count > int64(l.MaxChunks):
		return &upload.Error{Code: upload.CodeTooManyChunks, Limit: int64(l.MaxChunks),
			Message: fmt.Sprintf("X-Chunk-Count %d is over the limit of %d chunks per upload", count, l.MaxChunks)}
	case index >= count:
		return &upload.Error{Code: upload.CodeChunkRange,
			Message: fmt.Sprintf("X-Chunk-Index %d is out of range: the file has chunks 0 to %d", index, count-1)}
	case hd.size > l.MaxFileSize:
		return &upload.Error{Code: upload.CodeFileTooLarge, Limit: l.MaxFileSize,
			Message: fmt.Sprintf("X-File-Size %d bytes is over the limit of %d bytes", hd.size, l.MaxFileSize)}
	}
	hd.index, hd.count = int(index), int(count)
	return nil
}

// fileName reads X-File-Name, which a browser can only send in Latin-1:
// clients percent-encode other names, so a name that decodes is decoded.
func fileName(v string) string {
	v = strings.TrimSpace(v)
	if dec, err := url.PathUnescape(v); err == nil {
		return dec
	}
	return v
}

// geometry works out how the file is cut from this chunk's length n. All
// chunks but the last have one size: a chunk that is not the last tells
// it; the last chunk, even when it arrives first, tells it too, since the
// others share what is left of the file: (size - n) / (count - 1).
func (hd headers) geometry(n int64) (upload.Geometry, error) {
	g := upload.Geometry{Size: hd.size, Chunks: hd.count}
	last := int64(hd.count - 1)
	switch {
	case last == 0:
		g.ChunkSize = max(hd.size, 1)
	case int64(hd.index) < last:
		g.ChunkSize = n
	case hd.size-n > 0 && (hd.size-n)%last == 0:
		g.ChunkSize = (hd.size - n) / last
	default:
		return g, &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("a %d-byte file cannot end with a %d-byte chunk after %d chunks of one size", hd.size, n, last)}
	}
	if g.ChunkSize <= 0 {
		return g, &upload.Error{Code: upload.CodeChunkLength, Message: fmt.Sprintf("chunk %d is empty; only the last chunk may be", hd.index)}
	}
	if want := g.ChunkLen(hd.index); want != n {
		return g, &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("chunk %d of a %d-byte file in %d chunks must be %d bytes, not %d", hd.index, hd.size, hd.count, want, n)}
	}
	// A chunk that is not the last tells the chunk size but not whether
	// the file has room for X-Chunk-Count such chunks: refused here, not by
	// the engine after it has looked the upload up.
	if _, err := upload.NewPlan(g); err != nil {
		return g, &upload.Error{Code: upload.CodeInvalid,
			Message: fmt.Sprintf("a %d-byte file cannot be cut into %d chunks of %d bytes: %v", hd.size, hd.count, g.ChunkSize, err)}
	}
	return g, nil
}

// identifier is the engine's name for the upload: the client's id, with
// the file's geometry, so a chunk whose length contradicts the upload's
// chunks can never take the upload over; it lands apart and expires.
func (hd headers) identifier(g upload.Geometry) string {
	return fmt.Sprintf("multipleupload:%d:%d:%d:%s", g.Size, g.ChunkSize, g.Chunks, hd.uploadID)
}

// readBody reads a raw chunk of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := reqbody.Read(w, r, limit)
	if err != nil {
		return nil, readError(err, upload.CodeChunkTooLarge, limit, "a chunk")
	}
	return data, nil
}

// file is a whole file as posted in a form.
type file struct {
	name        string
	contentType string
	data        []byte
}

// readFile reads the form field "file" of a whole-file POST, which may
// be as large as one chunk: a request cannot carry more.
func (h *Handler) readFile(w http.ResponseWriter, r *http.Request) (file, error) {
	limit := h.engine.Limits().MaxChunkSize
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return file{}, &upload.Error{Code: upload.CodeInvalid, Message: "send the file as multipart/form-data in the field \"file\""}
	}
	form, err := reqbody.ReadForm(w, r, "file", reqbody.FormLimits{Body: limit + formOverhead, File: limit, Fields: formOverhead})
	if err != nil {
		return file{}, readError(err, upload.CodeFileTooLarge, limit, "a file sent whole")
	}
	f := form.File
	switch {
	case form.Files["file"] == 0:
		return file{}, &upload.Error{Code: upload.CodeInvalid, Message: "the form has no file field \"file\""}
	case f.Size > limit:
		return file{}, readError(&http.MaxBytesError{Limit: limit}, upload.CodeFileTooLarge, limit, "a file sent whole")
	case f.Name == "":
		return file{}, &upload.Error{Code: upload.CodeInvalid, Message: "the field \"file\" has no file name"}
	}
	return file{name: f.Name, contentType: reqbody.FileType(f.ContentType), data: f.Data}, nil
}

// readError turns a failed read into a refusal: code with its limit if
// the body was over it. what names what was read.
func readError(err error, code upload.Code, limit int64, what string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &upload.Error{Code: code, Limit: limit,
			Message: fmt.Sprintf("%s may have at most %d bytes; send larger files in chunks of at most that size", what, limit)}
	}
	return &upload.Error{Code: upload.CodeInvalid, Message: "the request body could not be read: " + err.Error()}
}
