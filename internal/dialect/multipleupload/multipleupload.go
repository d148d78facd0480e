// Package multipleupload speaks the protocol of MultipleUpload clients: a
// whole file posted as a multipart form, or a file cut into chunks posted
// as raw bodies, each described by X-Upload-Id, X-Chunk-Index (from 0),
// X-Chunk-Count, X-File-Name and X-File-Size headers. The chunk size is
// never sent; it is learnt from the chunks themselves. The request that
// brings the last missing chunk completes the file.
package multipleupload

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/reqbody"
)

// Handler serves the MultipleUpload routes on an engine.
type Handler struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
}

// New returns the handler. owner names the caller of a request.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return &Handler{engine: engine, owner: owner, reply: reply.Family{Log: log, Status: status}}
}

// File takes a whole file in one multipart POST (field "file") and
// answers {"success": true, "fileGuid", "fileName", "fileSize"}.
func (h *Handler) File(w http.ResponseWriter, r *http.Request) {
	if !h.isPost(w, r) {
		return
	}
	f, err := h.readFile(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := h.storeFile(r, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply.JSON(w, http.StatusOK, fileAnswer(s))
}

// storeFile makes the file an upload of one chunk and finishes it.
func (h *Handler) storeFile(r *http.Request, f file) (*upload.Session, error) {
	ctx, owner := r.Context(), h.owner(r)
	size := int64(len(f.data))
	s, err := h.engine.Create(ctx, upload.NewUpload{
		Owner: owner, Name: f.name, ContentType: f.contentType, AutoComplete: true,
		Geometry: upload.Geometry{Size: size, ChunkSize: max(size, 1), Chunks: 1},
	})
	if err != nil {
		return nil, err
	}
	res, err := h.engine.AddChunk(ctx, s, 0, f.data)
	if err != nil {
		return nil, reply.ForUpload(s.ID, err)
	}
	if res.Session.State == upload.StateComplete {
		return res.Session, nil
	}
	done, err := h.engine.Complete(ctx, owner, s.ID)
	return done, reply.ForUpload(s.ID, err)
}

// Chunk takes one chunk as the raw body. It answers {"success": true,
// "chunksReceived": N} until the file is whole, and File's answer once it
// is.
func (h *Handler) Chunk(w http.ResponseWriter, r *http.Request) {
	if !h.isPost(w, r) {
		return
	}
	hd, err := parseHeaders(r.Header, h.engine.Limits())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data, err := readBody(w, r, h.engine.Limits().MaxChunkSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, received, err := h.storeChunk(r, hd, data)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if s.State == upload.StateComplete {
		// This chunk finished the file, or it came while the file was
		// being finished or after.
		h.reply.JSON(w, http.StatusOK, fileAnswer(s))
		return
	}
	h.reply.JSON(w, http.StatusOK, map[string]any{"success": true, "chunksReceived": received})
}

// storeChunk opens the upload the chunk belongs to, creating it for the
// first chunk to arrive, and adds the chunk. It returns the upload and
// how many of its chunks are in: those the upload held when it was read,
// and this one if it was new. The count comes with the read that finds
// the upload rather than from reading every part record again (which
// grows with the file on every chunk); chunks that other requests add
// meanwhile are counted by the next answer. Once every chunk is in, the
// answer is the finished file's (see awaitFile), never a count.
func (h *Handler) storeChunk(r *http.Request, hd headers, data []byte) (*upload.Session, int, error) {
	g, err := hd.geometry(int64(len(data)))
	if err != nil {
		return nil, 0, err
	}
	s, held, err := h.engine.OpenCounted(r.Context(), upload.NewUpload{
		Owner: h.owner(r), Identifier: hd.identifier(g), Name: hd.name,
		ContentType: reqbody.FileType(r.Header.Get("Content-Type")), Geometry: g, AutoComplete: true,
	})
	if err != nil {
		return nil, 0, err
	}
	res, err := h.engine.AddChunk(r.Context(), s, hd.index, data)
	switch {
	case upload.CodeOf(err) == upload.CodeComplete:
		// The upload was finished when it was read (one being finished
		// is waited for by the engine): every chunk is in, this one
		// again. Nothing was stored.
		res, held = upload.ChunkResult{Session: s}, s.Chunks
	case err != nil:
		return nil, 0, reply.ForUpload(s.ID, err)
	case res.Stored:
		held++
	}
	if held < s.Chunks || res.Session.State == upload.StateComplete {
		return res.Session, held, nil
	}
	fin, held, err := h.awaitFile(r.Context(), s)
	return fin, held, reply.ForUpload(s.ID, err)
}

// completeWait bounds how long a chunk waits for another request to finish
// its file. With the engine's wait for a part being assembled
// (upload.Options.DuplicateWait, 20 s by default) before it, the answer
// still comes before API Gateway's 30 s.
const completeWait = 5 * time.Second

// awaitFile answers a chunk of an upload that has every chunk but was not
// finished when the chunk was stored: another request is finishing it
// (most often the one that brought the last chunk, still at work), or
// the request that should have finished it failed. A client sends a chunk
// again when its answer was lost, and the lost answer may have been the
// one that finished the file, so the client learns where the file is only
// from this answer: it must be the finished file's, not a count of every
// chunk. So the request finishes the file itself (the engine lets one
// request do it; a finished upload answers as it is), or waits for the
// request that is finishing it, at most completeWait, then answers busy
// for the client to retry.
func (h *Handler) awaitFile(ctx context.Context, s *upload.Session) (*upload.Session, int, error) {
	fin, err := h.engine.AwaitComplete(ctx, s.Owner, s.ID, completeWait)
	if err == nil {
		return fin, fin.Chunks, nil
	}
	if e, ok := upload.AsError(err); ok && e.Code == upload.CodeIncomplete {
		// The count was wrong after all: answer the engine's.
		return s, s.Chunks - chunksIn(e.Missing), nil
	}
	return nil, 0, fmt.Errorf("finish %s once every chunk is in: %w", s.ID, err)
}

// chunksIn counts the chunks in ranges.
func chunksIn(rs []upload.Range) int {
	n := 0
	for _, r := range rs {
		n += r.Last - r.First + 1
	}
	return n
}

// fileAnswer is the answer for a finished file. Besides the fields
// MultipleUpload reads, it names the object's key and checksum, and
// carries the application's answer to the completion (app).
func fileAnswer(s *upload.Session) map[string]any {
	out := map[string]any{
		"success": true, "fileGuid": guid(s.ID), "fileName": s.Name, "fileSize": s.Size,
		"key": s.Key, "crc64nvme": s.CRC64,
	}
	if app := reply.App(s.App); app != nil {
		out["app"] = app
	}
	return out
}

// guid writes an upload id (32 hex digits) in a UUID's 8-4-4-4-12 form.
func guid(id string) string {
	if len(id) != 32 {
		return id
	}
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// isPost refuses any method but POST in MultipleUpload's error shape.
func (h *Handler) isPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	h.fail(w, r, &upload.Error{Code: upload.CodeInvalid, Message: fmt.Sprintf("method %s is not accepted here; use POST", r.Method)})
	return false
}

// fail answers an error as {"success": false, "error": message, "code":
// code}: 400 for a refusal, 404 for an upload that is gone, 413 for a
// size over a limit, 503 (with Retry-After) for a fault that may pass.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.reply.Fail(w, r, err, bodyOf)
}

// bodyOf is refusal e in MultipleUpload's error shape.
func bodyOf(e *upload.Error) any {
	body := map[string]any{"success": false, "error": e.Message, "code": e.Code}
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	return body
}

// status is MultipleUpload's status table: an upload that is gone is not
// found, whatever ended it.
func status(c upload.Code) int {
	switch c {
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return http.StatusRequestEntityTooLarge
	case upload.CodeExpired, upload.CodeAborted:
		return http.StatusNotFound
	}
	return reply.Status(c)
}
