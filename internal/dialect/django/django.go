// Package django speaks the protocol of django-chunked-upload: chunks
// POSTed in order as multipart forms with a Content-Range header and the
// upload_id the first answer gave, then a completion POST with the whole
// file's md5. Answers and errors are the original's JSON shapes
// ({"upload_id", "offset", "expires"}; {"detail": …}) and status codes.
package django

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/contentrange"
)

// Handler serves the chunk and completion routes on an engine.
type Handler struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
}

// New returns the django-chunked-upload handler. owner names the caller
// of a request; another owner's upload_id is unknown to it.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return &Handler{engine: engine, owner: owner, reply: reply.Family{Log: log, Status: reply.Status, NoStore: true}}
}

// Chunk takes one chunk: POST, multipart, the chunk in the field "file",
// upload_id from the second chunk on, Content-Range: bytes START-END/TOTAL.
// The checks run in the original's order: no file, unknown upload_id,
// expired, complete, TOTAL over the limit, offsets, chunk length.
func (h *Handler) Chunk(w http.ResponseWriter, r *http.Request) {
	c, err := readChunk(w, r, h.engine.Limits().MaxChunkSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var s *upload.Session
	if c.uploadID != "" {
		if s, err = h.open(r, c.uploadID); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	rg, err := span(r.Header.Get("Content-Range"), len(c.data), s != nil)
	if err == nil {
		err = h.check(s, rg, len(c.data))
	}
	if err == nil {
		s, err = h.store(r, s, c, rg)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply.JSON(w, http.StatusOK, progress(s))
}

// open finds an upload that may take a chunk.
func (h *Handler) open(r *http.Request, id string) (*upload.Session, error) {
	s, err := h.engine.Get(r.Context(), h.owner(r), id)
	if err != nil {
		return nil, reply.ForUpload(id, err)
	}
	if s.State != upload.StateOpen {
		return nil, &upload.Error{Code: stateCode(s.State), Message: fmt.Sprintf("upload %s is %s", s.ID, s.State)}
	}
	return s, nil
}

func stateCode(st upload.State) upload.Code {
	switch st {
	case upload.StateExpired:
		return upload.CodeExpired
	case upload.StateAborted:
		return upload.CodeAborted
	}
	return upload.CodeComplete
}

// check compares the chunk with the upload it continues (none for the
// first chunk, whose upload starts at offset 0).
func (h *Handler) check(s *upload.Session, rg contentrange.Range, n int) error {
	if limit := h.engine.Limits().MaxFileSize; rg.Total > limit {
		return &upload.Error{Code: upload.CodeFileTooLarge, Limit: limit,
			Message: fmt.Sprintf("Size of file exceeds the limit (%d bytes): Content-Range says %d bytes", limit, rg.Total)}
	}
	offset := int64(0)
	if s != nil {
		if rg.Total != s.Size {
			return refusal("Content-Range says the file has %d bytes, but upload %s was started for %d bytes", rg.Total, s.ID, s.Size)
		}
		offset = s.Offset
	}
	if rg.Start != offset {
		return &upload.Error{Code: upload.CodeOffset, Offset: offset, Message: "Offsets do not match"}
	}
	if int64(n) != rg.Len() {
		return refusal("File size doesn't match headers: the chunk has %d bytes, Content-Range says %d", n, rg.Len())
	}
	return nil
}

// store adds the chunk, starting the upload with the first one. A first
// chunk the engine refuses leaves no upload behind.
func (h *Handler) store(r *http.Request, s *upload.Session, c chunk, rg contentrange.Range) (*upload.Session, error) {
	ctx := r.Context()
	fresh := s == nil
	if fresh {
		var err error
		s, err = h.engine.CreateStream(ctx, upload.NewStream{
			Owner: h.owner(r), Name: c.filename, ContentType: c.contentType, Size: rg.Total, Hashes: []string{"md5"},
		})
		if err != nil {
			return nil, err
		}
	}
	if len(c.data) == 0 {
		return s, nil
	}
	next, err := h.engine.Append(ctx, s, rg.Start, c.data)
	if err != nil && fresh {
		h.drop(ctx, s, err)
	}
	return next, reply.ForUpload(s.ID, err)
}

// drop aborts an upload this request created and could not go on with:
// its client never learnt the id, so nobody could resume it.
func (h *Handler) drop(ctx context.Context, s *upload.Session, cause error) {
	if err := h.engine.Abort(ctx, s.Owner, s.ID); err != nil {
		h.reply.Logger(ctx, s.ID).WarnContext(ctx, "drop refused upload", "cause", cause, "err", err)
	}
}

// Complete finishes an upload: POST upload_id and md5 (hex of the whole
// file) as form fields. Unlike the original, an upload completes once,
// and not after it expired.
func (h *Handler) Complete(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, formOverhead)
	id := strings.TrimSpace(r.PostFormValue("upload_id"))
	md5 := strings.TrimSpace(r.PostFormValue("md5"))
	if id == "" || md5 == "" {
		h.fail(w, r, refusal("Both 'upload_id' and 'md5' are required"))
		return
	}
	s, err := h.engine.Get(r.Context(), h.owner(r), id)
	if err == nil {
		s, err = h.engine.CompleteStream(r.Context(), s, map[string]string{"md5": md5})
	}
	if err != nil {
		h.fail(w, r, reply.ForUpload(id, err))
		return
	}
	h.reply.JSON(w, http.StatusOK, completed(s))
}
