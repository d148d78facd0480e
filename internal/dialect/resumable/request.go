package resumable

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"chunkup/internal/upload"
	"chunkup/internal/wire/reqbody"
)

// formOverhead is room for a multipart form's fields and boundaries
// around the chunk.
const formOverhead = 64 << 10

// params are the parameters every request of the protocol carries.
type params struct {
	number     int // from 1
	identifier string
	filename   string
	fileType   string
	current    int64
	geometry   upload.Geometry
}

// chunk is a chunk POST as read: the bytes, a lookup of its parameters,
// and the Content-Type the bytes came with.
type chunk struct {
	data        []byte
	get         func(string) string
	contentType string
}

// readChunk reads the chunk from a multipart form (field "file") or from
// the raw body, and finds the parameters where the dialect puts them.
func (h *Handler) readChunk(w http.ResponseWriter, r *http.Request) (chunk, error) {
	limit := h.engine.Limits().MaxChunkSize
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		data, err := reqbody.Read(w, r, limit+formOverhead)
		if err != nil {
			return chunk{}, readError(err, limit)
		}
		return chunk{data: data, get: r.URL.Query().Get, contentType: reqbody.FileType(r.Header.Get("Content-Type"))}, nil
	}
	// The chunk's length is checked against the parameters, not here: the
	// file may take all the room the body has.
	form, err := reqbody.ReadForm(w, r, "file", reqbody.FormLimits{Body: limit + formOverhead, File: limit + formOverhead, Fields: formOverhead})
	if err != nil {
		return chunk{}, readError(err, limit)
	}
	if form.Files["file"] == 0 {
		return chunk{}, &upload.Error{Code: upload.CodeInvalid, Message: "the form has no file field \"file\""}
	}
	get := form.FormValue
	if h.d.FormOnly {
		get = form.PostFormValue
	}
	return chunk{data: form.File.Data, get: get, contentType: reqbody.FileType(form.File.ContentType)}, nil
}

func readError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &upload.Error{Code: upload.CodeChunkTooLarge, Limit: limit, Message: fmt.Sprintf("chunk is over the limit of %d bytes", limit)}
	}
	return &upload.Error{Code: upload.CodeInvalid, Message: "the request body could not be read: " + err.Error()}
}

// parse reads and checks the parameters.
func (h *Handler) parse(get func(string) string) (params, error) {
	var p params
	var errs []string
	pre := h.d.Prefix
	num := func(name string, min int64) int64 {
		v := get(pre + name)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case v == "":
			errs = append(errs, pre+name+" is required")
		case err != nil || n < min:
			errs = append(errs, fmt.Sprintf("%s%s=%q is not a whole number from %d", pre, name, v, min))
		}
		return n
	}
	p.number = int(num("ChunkNumber", 1))
	chunkSize := num("ChunkSize", 1)
	p.current = num("CurrentChunkSize", 0)
	total := num("TotalSize", 0)
	chunks := num("TotalChunks", 1)
	p.identifier = get(pre + "Identifier")
	p.filename = get(pre + "Filename")
	if h.d.TypeParam {
		p.fileType = get(pre + "Type")
	}
	switch {
	case p.identifier == "":
		errs = append(errs, pre+"Identifier is required")
	case len(p.identifier) > MaxIdentifierLength:
		errs = append(errs, fmt.Sprintf("%sIdentifier is %d bytes; the limit is %d bytes", pre, len(p.identifier), MaxIdentifierLength))
	}
	if p.filename == "" {
		errs = append(errs, pre+"Filename is required")
	}
	if len(errs) > 0 {
		return params{}, &upload.Error{Code: upload.CodeInvalid, Message: strings.Join(errs, "; ")}
	}
	p.geometry = upload.Geometry{Size: total, ChunkSize: chunkSize, Chunks: int(chunks)}
	return p, h.checkNumbers(p, chunks)
}

// checkNumbers checks the chunk number and length against the file's
// geometry, as far as the parameters alone tell.
func (h *Handler) checkNumbers(p params, chunks int64) error {
	pre := h.d.Prefix
	if limit := h.engine.Limits().MaxChunks; chunks > int64(limit) {
		return &upload.Error{Code: upload.CodeTooManyChunks, Limit: int64(limit),
			Message: fmt.Sprintf("%d chunks is over the limit of %d chunks per upload", chunks, limit)}
	}
	if int64(p.number) > chunks {
		return &upload.Error{Code: upload.CodeChunkRange,
			Message: fmt.Sprintf("%sChunkNumber %d is out of range: the file has chunks 1 to %d", pre, p.number, chunks)}
	}
	g := p.geometry
	if _, err := upload.NewPlan(g); err != nil {
		// Refused here, not by the engine after it has looked the
		// identifier up: the numbers alone say no upload can take them.
		return &upload.Error{Code: upload.CodeInvalid, Message: fmt.Sprintf("%sTotalSize, %sChunkSize and %sTotalChunks do not describe a file chunkup can take: %v", pre, pre, pre, err)}
	}
	if want := g.ChunkLen(p.number - 1); p.current != want {
		return &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("chunk %d of a %d-byte file in %d chunks of %d bytes must be %d bytes, not %d", p.number, g.Size, g.Chunks, g.ChunkSize, want, p.current)}
	}
	return nil
}
