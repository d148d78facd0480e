// Package resumable speaks the protocol of Resumable.js: chunks numbered
// from 1, posted as multipart forms (or raw bodies) with their parameters
// in the form and the query string, a GET to test whether a chunk is
// already stored, and completion when the last chunk arrives.
package resumable

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"chunkup/internal/upload"
)

// MaxIdentifierLength bounds the client's identifier.
const MaxIdentifierLength = 512

// formOverhead is room for a multipart form's fields and boundaries
// around the chunk.
const formOverhead = 64 << 10

// Handler serves the Resumable.js routes on an engine.
type Handler struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	log    *slog.Logger
	prefix string
}

// New returns the handler. prefix is the parameter namespace, "resumable"
// for Resumable.js's defaults. owner names the caller of a request.
func New(engine *upload.Engine, prefix string, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return &Handler{engine: engine, owner: owner, log: log, prefix: prefix}
}

// params are the parameters every Resumable.js request carries.
type params struct {
	number     int // from 1
	identifier string
	filename   string
	fileType   string
	current    int64
	geometry   upload.Geometry
}

// Test answers Resumable.js's testChunks GET: 200 if the chunk is stored,
// 204 if it should be sent.
func (h *Handler) Test(w http.ResponseWriter, r *http.Request) {
	p, err := h.parse(r.URL.Query().Get)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.engine.Find(r.Context(), h.owner(r), p.identifier, p.geometry)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if s == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ok, err := h.engine.HasChunk(r.Context(), s, p.number-1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeText(w, http.StatusOK, "found")
}

// Upload takes one chunk, as a multipart form (field "file") or, with
// Resumable.js's method "octet", as the raw body.
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	data, get, err := h.readChunk(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.parse(get)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if int64(len(data)) != p.current {
		h.fail(w, r, &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("chunk has %d bytes but %sCurrentChunkSize says %d", len(data), h.prefix, p.current)})
		return
	}
	s, err := h.engine.Open(r.Context(), upload.NewUpload{
		Owner: h.owner(r), Identifier: p.identifier, Name: p.filename, ContentType: p.fileType,
		Geometry: p.geometry, AutoComplete: true,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.engine.AddChunk(r.Context(), s, p.number-1, data)
	if upload.CodeOf(err) == upload.CodeComplete {
		// The last chunk again, after it finished the file: it is here.
		res, err = upload.ChunkResult{Session: s}, nil
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answer(res))
}

func answer(res upload.ChunkResult) map[string]any {
	s := res.Session
	out := map[string]any{"id": s.ID, "stored": res.Stored, "state": s.State}
	if s.State == upload.StateComplete {
		out["key"], out["size"], out["etag"], out["crc64nvme"] = s.Key, s.Size, s.ETag, s.CRC64
	}
	return out
}

// readChunk reads the chunk and returns a lookup of the request's
// parameters (form fields, then the query string).
func (h *Handler) readChunk(w http.ResponseWriter, r *http.Request) ([]byte, func(string) string, error) {
	limit := h.engine.Limits().MaxChunkSize
	body := http.MaxBytesReader(w, r.Body, limit+formOverhead)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, readError(err, limit)
		}
		return data, r.URL.Query().Get, nil
	}
	r.Body = body
	if err := r.ParseMultipartForm(limit + formOverhead); err != nil {
		return nil, nil, readError(err, limit)
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, nil, &upload.Error{Code: upload.CodeInvalid, Message: "the form has no file field \"file\""}
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, readError(err, limit)
	}
	return data, r.FormValue, nil
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
	num := func(name string, min int64) int64 {
		v := get(h.prefix + name)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case v == "":
			errs = append(errs, h.prefix+name+" is required")
		case err != nil || n < min:
			errs = append(errs, fmt.Sprintf("%s%s=%q is not a whole number from %d", h.prefix, name, v, min))
		}
		return n
	}
	p.number = int(num("ChunkNumber", 1))
	chunkSize := num("ChunkSize", 1)
	p.current = num("CurrentChunkSize", 0)
	total := num("TotalSize", 0)
	chunks := num("TotalChunks", 1)
	p.identifier = get(h.prefix + "Identifier")
	p.filename = get(h.prefix + "Filename")
	p.fileType = get(h.prefix + "Type")
	switch {
	case p.identifier == "":
		errs = append(errs, h.prefix+"Identifier is required")
	case len(p.identifier) > MaxIdentifierLength:
		errs = append(errs, fmt.Sprintf("%sIdentifier is %d bytes; the limit is %d bytes", h.prefix, len(p.identifier), MaxIdentifierLength))
	}
	if p.filename == "" {
		errs = append(errs, h.prefix+"Filename is required")
	}
	if len(errs) > 0 {
		return params{}, &upload.Error{Code: upload.CodeInvalid, Message: strings.Join(errs, "; ")}
	}
	if chunks > int64(h.engine.Limits().MaxChunks) {
		limit := h.engine.Limits().MaxChunks
		return params{}, &upload.Error{Code: upload.CodeTooManyChunks, Limit: int64(limit),
			Message: fmt.Sprintf("%d chunks is over the limit of %d chunks per upload", chunks, limit)}
	}
	if int64(p.number) > chunks {
		return params{}, &upload.Error{Code: upload.CodeChunkRange,
			Message: fmt.Sprintf("%sChunkNumber %d is out of range: the file has chunks 1 to %d", h.prefix, p.number, chunks)}
	}
	p.geometry = upload.Geometry{Size: total, ChunkSize: chunkSize, Chunks: int(chunks)}
	if want := p.geometry.ChunkLen(p.number - 1); p.current != want && p.geometry.ChunkLen(p.geometry.Chunks-1) > 0 {
		return params{}, &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("chunk %d of a %d-byte file in %d chunks of %d bytes must be %d bytes, not %d", p.number, total, chunks, chunkSize, want, p.current)}
	}
	return p, nil
}

// fail answers an error with a status Resumable.js acts on correctly:
// refusals with 400/404/409 and 415, which fail the file at once, and
// faults worth retrying with 503, which it retries.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := upload.AsError(err)
	if !ok {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &upload.Error{Code: upload.CodeServiceTimeout, Message: "the service could not finish the request; retry it"}
	}
	status := http.StatusBadRequest
	switch e.Code {
	case upload.CodeNotFound:
		status = http.StatusNotFound
	case upload.CodeComplete, upload.CodeGeometry:
		status = http.StatusConflict
	case upload.CodeBusy, upload.CodeServiceTimeout:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	body := map[string]any{"error": e.Code, "message": e.Message}
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	writeJSON(w, status, body)
}
