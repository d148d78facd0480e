// Package resumable speaks the protocol of Resumable.js and of Flow.js,
// which keeps it under other parameter names and status rules: chunks
// numbered from 1, posted as multipart forms (or raw bodies), a GET to
// test whether a chunk is already stored, and completion when the last
// chunk arrives. A Dialect says which client's variant to speak.
package resumable

import (
	"fmt"
	"log/slog"
	"net/http"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// MaxIdentifierLength bounds the client's identifier.
const MaxIdentifierLength = 512

// Handler serves one dialect's routes on an engine.
type Handler struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
	d      Dialect
}

// New returns the Resumable.js handler. prefix is the parameter
// namespace, "resumable" for Resumable.js's defaults. owner names the
// caller of a request.
func New(engine *upload.Engine, prefix string, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return NewDialect(engine, ResumableJS(prefix), owner, log)
}

// NewDialect returns the handler of dialect d, such as FlowJS().
func NewDialect(engine *upload.Engine, d Dialect, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return &Handler{engine: engine, owner: owner, reply: reply.Family{Log: log, Status: d.Status, Refuses: d.Refuses}, d: d}
}

// Test answers the client's testChunks GET: 200 if the chunk is stored,
// 204 if it should be sent. 204 is a "send it" to both clients and a
// failure to neither.
func (h *Handler) Test(w http.ResponseWriter, r *http.Request) {
	p, err := h.parse(r.URL.Query().Get)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.engine.FindChunk(r.Context(), h.owner(r), h.d.Scope+p.identifier, p.geometry, p.number-1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if s == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The client hands this body to the page as the chunk's message: for a
	// finished file it says where the file is.
	h.reply.JSON(w, http.StatusOK, answer(upload.ChunkResult{Session: s}))
}

// Upload takes one chunk, as a multipart form (field "file") or, with the
// client's method "octet", as the raw body.
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	c, err := h.readChunk(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.parse(c.get)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if int64(len(c.data)) != p.current {
		h.fail(w, r, &upload.Error{Code: upload.CodeChunkLength,
			Message: fmt.Sprintf("chunk has %d bytes but %sCurrentChunkSize says %d", len(c.data), h.d.Prefix, p.current)})
		return
	}
	if !h.d.TypeParam {
		p.fileType = c.contentType
	}
	res, err := h.store(r, p, c.data)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply.JSON(w, http.StatusOK, answer(res))
}

// store opens the upload the chunk belongs to (creating it for the first
// chunk to arrive) and adds the chunk.
func (h *Handler) store(r *http.Request, p params, data []byte) (upload.ChunkResult, error) {
	s, err := h.engine.Open(r.Context(), upload.NewUpload{
		Owner: h.owner(r), Identifier: h.d.Scope + p.identifier, Name: p.filename, ContentType: p.fileType,
		Geometry: p.geometry, AutoComplete: true,
	})
	if err != nil {
		return upload.ChunkResult{}, err
	}
	res, err := h.engine.AddChunk(r.Context(), s, p.number-1, data)
	if upload.CodeOf(err) == upload.CodeComplete {
		// The last chunk again, after it completed the file: it is here.
		return upload.ChunkResult{Session: s}, nil
	}
	return res, reply.ForUpload(s.ID, err)
}

func answer(res upload.ChunkResult) map[string]any {
	s := res.Session
	out := map[string]any{"id": s.ID, "stored": res.Stored, "state": s.State}
	if s.State == upload.StateComplete {
		out["key"], out["size"], out["etag"], out["crc64nvme"] = s.Key, s.Size, s.ETag, s.CRC64
		if app := reply.App(s.App); app != nil {
			out["app"] = app
		}
	}
	return out
}

// fail answers an error with the status the dialect gives its code, and
// a JSON body {"error": code, "message": …, "limit": …}.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.reply.Fail(w, r, err, bodyOf)
}

// bodyOf is refusal e as Resumable.js and Flow.js are told it.
func bodyOf(e *upload.Error) any {
	body := map[string]any{"error": e.Code, "message": e.Message}
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	return body
}
