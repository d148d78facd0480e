// Package fileupload speaks the protocol of jQuery-File-Upload (blueimp)
// with chunking on (maxChunkSize): chunks sent in order by POST, PUT or
// PATCH, as multipart forms or raw bodies, with Content-Range and a
// Content-Disposition file name; a Range header on each answer tells the
// plugin how many bytes are stored; a GET tells a page how far an
// interrupted file came, so that it can resume.
//
// The plugin sends no upload id: like its example servers, chunkup knows
// a file by its name, scoped by owner. A chunk from byte 0 starts the
// file (again); later chunks continue the owner's upload of that name.
package fileupload

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"unicode/utf8"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// Handler serves the jQuery-File-Upload routes on an engine.
type Handler struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
}

// New returns the jQuery-File-Upload handler. owner names the caller of a
// request; file names are scoped by it.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *Handler {
	return &Handler{engine: engine, owner: owner, reply: reply.Family{Log: log, Status: statusOf, NoStore: true, Refuses: refuses}}
}

// identifier is the engine's name for the upload of a file called name,
// kept apart from other dialects' identifiers.
func identifier(name string) string { return "fileupload:" + name }

// Upload takes one chunk (or a whole file sent in one request). The
// request that brings the last byte finishes the file.
func (h *Handler) Upload(w http.ResponseWriter, r *http.Request) {
	c, err := readChunk(w, r, h.engine.Limits().MaxChunkSize)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	s, err := h.place(r, c)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if s, err = h.completeIfWhole(r.Context(), s); err != nil {
		h.fail(w, r, c, err)
		return
	}
	h.answer(w, s)
}

// place finds the upload the chunk belongs to and adds the chunk to it.
// Bytes the upload has already are not added again: the answer's Range
// tells the plugin where to go on from.
func (h *Handler) place(r *http.Request, c chunk) (*upload.Session, error) {
	if limit := h.engine.Limits().MaxFileSize; c.rg.Total > limit {
		return nil, &upload.Error{Code: upload.CodeFileTooLarge, Limit: limit,
			Message: fmt.Sprintf("file is %d bytes, over the limit of %d bytes", c.rg.Total, limit)}
	}
	if err := h.checkName(c.name); err != nil {
		return nil, err
	}
	s, err := h.find(r, c)
	if err != nil || s.State == upload.StateComplete {
		return s, err
	}
	if c.rg.Start < s.Offset {
		return s, nil
	}
	if c.rg.Start > s.Offset {
		return nil, &upload.Error{Code: upload.CodeOffset, Offset: s.Offset,
			Message: fmt.Sprintf("chunk starts at byte %d but the upload has %d bytes: resume from there", c.rg.Start, s.Offset)}
	}
	if len(c.data) == 0 {
		return s, nil
	}
	next, err := h.engine.Append(r.Context(), s, c.rg.Start, c.data)
	if e, ok := upload.AsError(err); ok && e.Code == upload.CodeOffset && c.rg.Start < e.Offset {
		// A copy of this chunk won the race: the bytes are in.
		s.Offset = e.Offset
		return s, nil
	}
	return next, reply.ForUpload(s.ID, err)
}

// checkName refuses a name no upload can have (over the name limit, or
// not UTF-8), as the engine would, but before the name is looked up: the
// lookup key is made from it, and a key over DynamoDB's 2,048 bytes fails
// as a fault, which the client would be told to retry for ever.
func (h *Handler) checkName(name string) error {
	if limit := h.engine.Limits().MaxNameLength; len(name) > limit {
		return &upload.Error{Code: upload.CodeNameTooLong, Limit: int64(limit),
			Message: fmt.Sprintf("file name is %d bytes; the limit is %d bytes", len(name), limit)}
	}
	if !utf8.ValidString(name) {
		return refusal("file name is not valid UTF-8")
	}
	return nil
}

// find returns the owner's upload of the chunk's file. A chunk from byte
// 0 starts a new upload unless one of that name and size has received
// nothing yet; a later chunk needs the upload it continues.
func (h *Handler) find(r *http.Request, c chunk) (*upload.Session, error) {
	owner, ident := h.owner(r), identifier(c.name)
	if c.rg.Start == 0 {
		return h.engine.OpenStream(r.Context(), upload.NewStream{
			Owner: owner, Identifier: ident, Name: c.name, ContentType: c.contentType, Size: c.rg.Total,
		}, func(s *upload.Session) bool {
			return s.State == upload.StateOpen && s.Size == c.rg.Total && s.Offset == 0
		})
	}
	s, err := h.engine.LookupStream(r.Context(), owner, ident)
	switch {
	case err != nil:
		return nil, err
	case s == nil:
		return nil, &upload.Error{Code: upload.CodeNotFound, Message: fmt.Sprintf("no upload of %q is in progress: send the file from byte 0", c.name)}
	case s.Size != c.rg.Total:
		return nil, refusal("Content-Range says %q has %d bytes, but its upload was started for %d bytes", c.name, c.rg.Total, s.Size)
	case s.State == upload.StateOpen || s.State == upload.StateComplete:
		return s, nil
	case s.State == upload.StateCompleting:
		// Every byte is in, so this is a chunk sent again: completeIfWhole
		// takes over a completion that failed, or answers busy while
		// another request is finishing the file.
		return s, nil
	}
	return nil, stateError(s)
}

func stateError(s *upload.Session) error {
	switch s.State {
	case upload.StateExpired:
		return &upload.Error{Code: upload.CodeExpired, Message: fmt.Sprintf("the upload of %q expired: send the file again from byte 0", s.Name)}
	case upload.StateAborted:
		return &upload.Error{Code: upload.CodeAborted, Message: fmt.Sprintf("the upload of %q was aborted: send the file again from byte 0", s.Name)}
	}
	return &upload.Error{Code: upload.CodeBusy, Message: fmt.Sprintf("the upload of %q is being completed; retry shortly", s.Name)}
}

// completeIfWhole completes an upload that has all its bytes, or one whose
// completion failed (its claim given up or lapsed).
func (h *Handler) completeIfWhole(ctx context.Context, s *upload.Session) (*upload.Session, error) {
	if s.Offset < s.Size || (s.State != upload.StateOpen && s.State != upload.StateCompleting) {
		return s, nil
	}
	done, err := h.engine.CompleteStream(ctx, s, nil)
	if upload.CodeOf(err) == upload.CodeComplete {
		// Another copy of the last chunk completed it.
		done, err = h.engine.Get(ctx, s.Owner, s.ID)
	}
	return done, reply.ForUpload(s.ID, err)
}

// Resume answers the GET of the plugin's documented resume recipe:
// GET ?file=<name>[&size=<bytes>] → {"file": {"name", "size"}} with the
// bytes stored so far, which the page sets as uploadedBytes; {"file":
// null} when there is nothing to resume (none, finished, expired, or
// another size). Without file it answers an empty list, for pages that
// load the server's files at start.
func (h *Handler) Resume(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("file")
	if name == "" {
		h.reply.JSON(w, http.StatusOK, map[string]any{"files": []any{}})
		return
	}
	size := int64(-1)
	if v := q.Get("size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			h.fail(w, r, chunk{name: name}, refusal("size=%q is not a whole number of bytes", v))
			return
		}
		size = n
	}
	if h.checkName(name) != nil {
		// No upload can have this name: nothing to resume.
		h.reply.JSON(w, http.StatusOK, map[string]any{"file": nil})
		return
	}
	s, err := h.engine.LookupStream(r.Context(), h.owner(r), identifier(name))
	if err != nil {
		h.fail(w, r, chunk{name: name}, err)
		return
	}
	h.reply.JSON(w, http.StatusOK, map[string]any{"file": resumeInfo(s, size)})
}

// resumeInfo is what a page may resume from. An upload that has every
// byte but is not finished yet asks for its last byte again, so that the
// request carrying it finishes the file: the plugin refuses to resume
// from the very end.
func resumeInfo(s *upload.Session, size int64) map[string]any {
	if s == nil || s.State != upload.StateOpen || (size >= 0 && size != s.Size) {
		return nil
	}
	stored := s.Offset
	if stored == s.Size && stored > 0 {
		stored--
	}
	return map[string]any{"name": s.Name, "size": stored}
}
