// Package tus speaks tus 1.0.0 (tus.io), the resumable upload protocol
// of tus-js-client, Uppy's Tus plugin, TUSKit and tus-android-client:
// POST base creates an upload (creation, creation-with-upload,
// creation-defer-length, concatenation), HEAD base/{id} says how far it
// has come, PATCH base/{id} appends bytes at its offset (checksum),
// DELETE base/{id} ends it (termination), OPTIONS says what the server
// speaks, and a POST with X-HTTP-Method-Override stands for the method it
// names. Uploads are the engine's sequential ones; the request that brings
// the last byte finishes the file, and a HEAD finishes one whose finishing
// request failed. Refusals are plain text with the protocol's statuses;
// faults are 503 with Retry-After, which tus clients retry.
package tus

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/absurl"
	"chunkup/internal/wire/reqbody"
)

// defaultName names the final object of an upload whose metadata gives
// no file name.
const defaultName = "file"

// API serves the tus routes on an engine.
type API struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	log    *slog.Logger
	// answers is the family's error path (package reply).
	answers reply.Family
	base    string // the path of the creation URL; an upload is base + "/" + id
}

// New returns the dialect, serving uploads under base (/files). owner
// names the caller of a request.
func New(engine *upload.Engine, base string, owner func(*http.Request) string, log *slog.Logger) *API {
	a := &API{engine: engine, base: base, owner: owner, log: log}
	a.answers = reply.Family{Log: log, Status: status, NoStore: true, Write: a.writeProblem, Refuses: refuses}
	return a
}

// Options answers OPTIONS on base and base/{id}: what the server speaks.
// It needs no Tus-Resumable, as the protocol has it.
func (a *API) Options(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Tus-Version", version)
	h.Set("Tus-Extension", strings.Join(Extensions(), ","))
	h.Set("Tus-Max-Size", strconv.FormatInt(a.engine.Limits().MaxFileSize, 10))
	h.Set("Tus-Checksum-Algorithm", strings.Join(Algorithms(), ","))
	w.WriteHeader(http.StatusNoContent)
}

// Create starts an upload: POST base with Upload-Length (or
// Upload-Defer-Length: 1), Upload-Metadata, and optionally the first bytes
// (Content-Type: application/offset+octet-stream). A partial upload has
// Upload-Concat: partial; a final one Upload-Concat: final;<urls>.
func (a *API) Create(w http.ResponseWriter, r *http.Request) {
	if err := checkVersion(r); err != nil {
		a.fail(w, r, err)
		return
	}
	if m, err := methodOverride(r); err != nil || m != http.MethodPost {
		a.fail(w, r, orProblem(err, refusal(http.StatusMethodNotAllowed, "%s %s is not allowed: an upload's own URL takes it", m, a.base)))
		return
	}
	s, withData, err := a.create(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	describe(h, s)
	if !withData {
		h.Del("Upload-Offset")
	}
	h.Set("Location", absurl.Of(r, a.base+"/"+s.ID))
	w.WriteHeader(http.StatusCreated)
}

// Head says where an upload stands: HEAD base/{id}. An upload with every
// byte in whose finishing request failed is finished here, so that a
// client that resumes and finds the whole file sent learns it is done.
func (a *API) Head(w http.ResponseWriter, r *http.Request) {
	s, err := a.head(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	describe(h, s)
	h.Set("Cache-Control", "no-store")
	switch {
	case s.Partial:
		h.Set("Upload-Concat", "partial")
	case len(s.Sources) > 0:
		h.Set("Upload-Concat", "final;"+a.urls(s.Sources))
	}
	if len(s.Metadata) > 0 {
		h.Set("Upload-Metadata", formatMetadata(s.Metadata))
	}
	w.WriteHeader(http.StatusOK)
}

// Patch appends bytes at the upload's offset: PATCH base/{id} with
// Content-Type application/offset+octet-stream, Upload-Offset, and
// optionally Upload-Checksum and (for a deferred length) Upload-Length.
func (a *API) Patch(w http.ResponseWriter, r *http.Request) {
	s, err := a.patch(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	describe(w.Header(), s)
	w.WriteHeader(http.StatusNoContent)
}

// Delete ends an upload and discards what it stored: DELETE base/{id}.
// Afterwards its URL answers 410.
func (a *API) Delete(w http.ResponseWriter, r *http.Request) {
	if err := checkVersion(r); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.engine.Abort(r.Context(), a.owner(r), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Tus-Resumable", version)
	w.WriteHeader(http.StatusNoContent)
}

// Override serves POST base/{id}, which a client behind a proxy that
// passes only POST sends with X-HTTP-Method-Override naming the method it
// means: PATCH, DELETE or HEAD.
func (a *API) Override(w http.ResponseWriter, r *http.Request) {
	m, err := methodOverride(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	switch m {
	case http.MethodPatch:
		a.Patch(w, r)
	case http.MethodDelete:
		a.Delete(w, r)
	case http.MethodHead:
		a.Head(&headWriter{ResponseWriter: w}, r)
	default:
		a.fail(w, r, refusal(http.StatusMethodNotAllowed, "POST to an upload's URL needs X-HTTP-Method-Override naming PATCH, DELETE or HEAD"))
	}
}

// urls lists uploads' paths as Upload-Concat does.
func (a *API) urls(ids []string) string {
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = a.base + "/" + id
	}
	return strings.Join(paths, " ")
}

// headWriter drops the body of an answer to a HEAD sent as a POST.
type headWriter struct{ http.ResponseWriter }

func (w *headWriter) Write(p []byte) (int, error) { return len(p), nil }

// checkVersion refuses a request that does not speak tus 1.0.0.
func checkVersion(r *http.Request) error {
	if v := r.Header.Get("Tus-Resumable"); v != version {
		return refusal(http.StatusPreconditionFailed, "Tus-Resumable %q is not supported; this server speaks %s", v, version)
	}
	return nil
}

func orProblem(err error, p *problem) error {
	if err != nil {
		return err
	}
	return p
}

// create reads a creation request and starts the upload, storing the
// bytes it carries; withData says it carried some (creation-with-upload).
func (a *API) create(w http.ResponseWriter, r *http.Request) (*upload.Session, bool, error) {
	c, err := parseConcat(r.Header.Get("Upload-Concat"), a.base)
	if err != nil {
		return nil, false, err
	}
	if c != nil && !c.partial {
		s, err := a.createFinal(r, c.final)
		return s, false, err
	}
	req, err := a.newStream(r)
	if err != nil {
		return nil, false, err
	}
	req.Partial = c != nil
	withData := mediaType(r.Header.Get("Content-Type")) == offsetOctetStream
	var data []byte
	if withData {
		if data, err = a.readBody(w, r); err != nil {
			return nil, false, err
		}
		if req.Size != upload.SizeDeferred && int64(len(data)) > req.Size {
			return nil, false, refusal(http.StatusRequestEntityTooLarge, "the request carries %d bytes, past Upload-Length %d", len(data), req.Size)
		}
	}
	ctx := r.Context()
	s, err := a.engine.CreateStream(ctx, req)
	if err != nil {
		return nil, false, err
	}
	if len(data) > 0 {
		next, err := a.engine.Append(ctx, s, 0, data)
		if err != nil {
			a.drop(ctx, s, err)
			return nil, false, err
		}
		s = next
	}
	if s.Size == s.Offset {
		done, err := a.engine.CompleteStream(ctx, s, nil)
		if err != nil {
			a.drop(ctx, s, err)
			return nil, false, err
		}
		s = done
	}
	return s, withData, nil
}

// newStream reads what a creation request says of the upload.
func (a *API) newStream(r *http.Request) (upload.NewStream, error) {
	h := r.Header
	// API Gateway's adapter splits headers at commas: join them again.
	meta, err := parseMetadata(strings.Join(h.Values("Upload-Metadata"), ","))
	if err != nil {
		return upload.NewStream{}, err
	}
	if err := upload.CheckMetadata(meta); err != nil {
		return upload.NewStream{}, err
	}
	size, err := a.length(h)
	if err != nil {
		return upload.NewStream{}, err
	}
	name, ctype := nameAndType(meta)
	if name == "" {
		name = defaultName
	}
	return upload.NewStream{Owner: a.owner(r), Name: name, ContentType: ctype, Size: size, Metadata: meta}, nil
}

// createFinal makes the final upload of a concatenation from the owner's
// finished partial uploads, ids in order. It carries no length and no
// bytes of its own.
func (a *API) createFinal(r *http.Request, ids []string) (*upload.Session, error) {
	h := r.Header
	if h.Get("Upload-Length") != "" || h.Get("Upload-Defer-Length") != "" {
		return nil, badRequest("a final upload takes its length from its partial uploads: send no Upload-Length")
	}
	if n := reqbody.Len(r); n != 0 {
		return nil, badRequest("a final upload takes no bytes of its own")
	}
	meta, err := parseMetadata(strings.Join(h.Values("Upload-Metadata"), ","))
	if err != nil {
		return nil, err
	}
	name, ctype := nameAndType(meta)
	if name == "" {
		name = defaultName
	}
	s, err := a.engine.CreateFinal(r.Context(), upload.NewFinal{Owner: a.owner(r), Name: name, ContentType: ctype, Metadata: meta, Partials: ids})
	if e, ok := upload.AsError(err); ok && (e.Code == upload.CodeNotFound || e.Code == upload.CodeExpired) {
		return nil, badRequest("Upload-Concat names %s", e.Message)
	}
	return s, err
}

// length reads Upload-Length, or Upload-Defer-Length: 1 (SizeDeferred);
// exactly one of them.
func (a *API) length(h http.Header) (int64, error) {
	lv, dv := h.Get("Upload-Length"), h.Get("Upload-Defer-Length")
	switch {
	case lv != "" && dv != "":
		return 0, badRequest("Upload-Length and Upload-Defer-Length cannot both be sent")
	case dv != "" && dv != "1":
		return 0, badRequest("Upload-Defer-Length must be 1, not %q", dv)
	case dv == "1":
		return upload.SizeDeferred, nil
	case lv == "":
		return 0, badRequest("Upload-Length or Upload-Defer-Length: 1 is required")
	}
	n, err := parseSize("Upload-Length", lv)
	if err != nil {
		return 0, err
	}
	if max := a.engine.Limits().MaxFileSize; n > max {
		return 0, refusal(http.StatusRequestEntityTooLarge, "Upload-Length %d is over the limit of %d bytes (Tus-Max-Size)", n, max)
	}
	return n, nil
}

// readBody reads a request's bytes, refusing more than one chunk may
// carry.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := a.engine.Limits().MaxChunkSize
	if n := reqbody.Len(r); n > limit {
		return nil, refusal(http.StatusRequestEntityTooLarge, "the request carries %d bytes, over the limit of %d bytes per request (set the client's chunk size at most that)", n, limit)
	}
	data, err := reqbody.Read(w, r, limit)
	if err != nil {
		return nil, refusal(http.StatusRequestEntityTooLarge, "the request carries over the limit of %d bytes per request (set the client's chunk size at most that)", limit)
	}
	return data, nil
}

// head reads the upload, finishing it if every byte is in.
func (a *API) head(r *http.Request) (*upload.Session, error) {
	if err := checkVersion(r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	s, err := a.engine.Get(ctx, a.owner(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	switch {
	case s.State == upload.StateComplete:
		return s, nil
	case len(s.Sources) > 0 && (s.State == upload.StateOpen || s.State == upload.StateCompleting):
		return a.engine.FinishFinal(ctx, s)
	case s.State == upload.StateCompleting || (s.State == upload.StateOpen && s.Offset == s.Size):
		return a.engine.CompleteStream(ctx, s, nil)
	case s.State != upload.StateOpen:
		return nil, a.engine.Refusal(s)
	}
	return s, nil
}

// patch checks a PATCH against the protocol and the upload, then appends
// its bytes; the one that brings the last byte finishes the file.
func (a *API) patch(w http.ResponseWriter, r *http.Request) (*upload.Session, error) {
	if err := checkVersion(r); err != nil {
		return nil, err
	}
	h := r.Header
	if mt := mediaType(h.Get("Content-Type")); mt != offsetOctetStream {
		return nil, refusal(http.StatusUnsupportedMediaType, "a PATCH must carry Content-Type %s, not %q", offsetOctetStream, mt)
	}
	offset, err := parseSize("Upload-Offset", h.Get("Upload-Offset"))
	if err != nil {
		return nil, err
	}
	sum, err := parseChecksum(h.Get("Upload-Checksum"))
	if err != nil {
		return nil, err
	}
	length := int64(-1)
	if v := h.Get("Upload-Length"); v != "" {
		if length, err = parseSize("Upload-Length", v); err != nil {
			return nil, err
		}
	}
	data, err := a.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if sum != nil && !sum.matches(data) {
		return nil, refusal(StatusChecksumMismatch, "Upload-Checksum %s does not match the %d bytes sent", sum.alg, len(data))
	}
	ctx := r.Context()
	s, err := a.engine.Get(ctx, a.owner(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if len(s.Sources) > 0 {
		return nil, refusal(http.StatusForbidden, "upload %s is the final upload of a concatenation: it takes no PATCH", s.ID)
	}
	if err := a.fits(s, offset, length, int64(len(data))); err != nil {
		return nil, err
	}
	if length >= 0 && s.Size == upload.SizeDeferred {
		if s, err = a.engine.DeclareSize(ctx, s, length); err != nil {
			return nil, err
		}
	}
	if len(data) > 0 {
		if s, err = a.engine.Append(ctx, s, offset, data); err != nil {
			return nil, err
		}
	}
	if s.Offset == s.Size && s.State == upload.StateOpen {
		return a.engine.CompleteStream(ctx, s, nil)
	}
	return s, nil
}

// fits refuses a PATCH the upload cannot take, before anything is
// stored: an upload that takes no bytes, another offset (409), a length
// that contradicts the upload's, bytes past its length (413).
func (a *API) fits(s *upload.Session, offset, length, n int64) error {
	switch s.State {
	case upload.StateOpen:
	case upload.StateComplete, upload.StateCompleting:
		if offset != s.Size {
			off := s.Size
			return &problem{status: http.StatusConflict, offset: &off,
				msg: "upload " + s.ID + " is complete at " + strconv.FormatInt(s.Size, 10) + " bytes, not " + strconv.FormatInt(offset, 10)}
		}
		if n > 0 {
			return refusal(http.StatusRequestEntityTooLarge, "upload %s is complete: %d bytes past its length of %d", s.ID, n, s.Size)
		}
		return nil
	default:
		return a.engine.Refusal(s)
	}
	if offset != s.Offset {
		off := s.Offset
		return &problem{status: http.StatusConflict, offset: &off,
			msg: "Upload-Offset " + strconv.FormatInt(offset, 10) + " is not the upload's offset, " + strconv.FormatInt(s.Offset, 10)}
	}
	size := s.Size
	if length >= 0 {
		if size != upload.SizeDeferred && size != length {
			return badRequest("Upload-Length %d differs from the upload's length, %d", length, size)
		}
		if length < offset+n {
			return refusal(http.StatusRequestEntityTooLarge, "%d bytes at offset %d run past Upload-Length %d", n, offset, length)
		}
		size = length
	}
	if size != upload.SizeDeferred && offset+n > size {
		return refusal(http.StatusRequestEntityTooLarge, "%d bytes at offset %d run past the upload's length of %d bytes", n, offset, size)
	}
	return nil
}

// drop aborts an upload this request created and could not go on with:
// its client never learnt its URL, so nobody could resume it.
func (a *API) drop(ctx context.Context, s *upload.Session, cause error) {
	if err := a.engine.Abort(ctx, s.Owner, s.ID); err != nil {
		a.log.WarnContext(ctx, "abort refused upload", "upload_id", s.ID, "cause", cause, "err", err)
	}
}
