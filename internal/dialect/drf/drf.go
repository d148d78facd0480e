// Package drf speaks the protocol of drf-chunked-upload
// (github.com/jkeifer/drf-chunked-upload): a PUT without an id creates an
// upload with its first chunk, PUTs to the upload's url append the next
// chunks (Content-Range: bytes START-END/TOTAL, the chunk in the multipart
// field "file"), a POST to the url completes it with the whole file's
// checksum, a POST without an id sends a whole file in one request, and a
// GET shows the upload. Answers and errors have the original's shapes:
// the upload's fields, or {"detail": …}.
package drf

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/absurl"
)

// Algorithms lists the checksums a client may complete an upload with, each
// in a form field of its own name. The original checks the one algorithm
// its deployment configures (md5 unless DRF_CHUNKED_UPLOAD_CHECKSUM says
// otherwise); chunkup keeps all three running, so clients of any such
// deployment work unchanged.
func Algorithms() []string { return []string{"md5", "sha1", "sha256"} }

// defaultAlgorithm is the one the original asks for when none is sent.
const defaultAlgorithm = "md5"

// API serves the drf-chunked-upload routes on an engine.
type API struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
	base   string // the path of the upload list; an upload is base + "/" + id
	// dialect is the name the uploads this dialect starts record
	// (upload.Session.Dialect), which its list shows; anonymous is the
	// owner of unauthenticated callers, whose list is empty.
	dialect, anonymous string
}

// New returns the dialect, serving uploads under base (/drf/uploads).
// owner names the caller of a request; anonymous is the name it gives
// an unauthenticated one. The uploads it lists are those started under
// the name dialect (upload.DialectKey).
func New(engine *upload.Engine, base, dialect string, owner func(*http.Request) string, anonymous string, log *slog.Logger) *API {
	return &API{engine: engine, base: base, dialect: dialect, owner: owner, anonymous: anonymous, reply: reply.Family{Log: log, Status: reply.Status}}
}

// Create starts an upload with its first chunk: PUT base, multipart with
// "file" and "filename", Content-Range starting at 0.
func (a *API) Create(w http.ResponseWriter, r *http.Request) {
	s, err := a.create(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK, s)
}

// Append adds the next chunk: PUT base/{id}, multipart with "file",
// Content-Range starting at the upload's offset.
func (a *API) Append(w http.ResponseWriter, r *http.Request) {
	s, err := a.append(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK, s)
}

// Complete finishes an upload: POST base/{id} with the whole file's hex
// checksum in a field named after its algorithm (md5, sha1 or sha256).
func (a *API) Complete(w http.ResponseWriter, r *http.Request) {
	s, err := a.complete(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK, s)
}

// Whole stores a file sent in one request: POST base, multipart with
// "file", "filename" and the checksum, no Content-Range.
func (a *API) Whole(w http.ResponseWriter, r *http.Request) {
	s, err := a.whole(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK, s)
}

// Get shows an upload, open or complete: GET base/{id}. The answer is
// never cached, so a client resuming after a failure sees the offset as it
// is now. An expired upload answers 410, as every other request on it.
// One being completed shows as uploading, with every byte in: it is not
// complete until its completion succeeds, which the client's retry of
// the completion sees to.
func (a *API) Get(w http.ResponseWriter, r *http.Request) {
	s, err := a.engine.Get(r.Context(), a.owner(r), r.PathValue("id"))
	if err == nil {
		err = ended(s)
	}
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answer(w, r, http.StatusOK, s)
}

// List answers the caller's drf uploads, newest first, as the original's
// list view does: GET base answers a JSON array of uploads, each as the
// other answers show it. An unauthenticated caller (the anonymous owner)
// gets [], as the original answers one. A page holds at most limit
// uploads (upload.MaxListLimit, and the most unless ?limit= says fewer);
// when there are more, the answer's Link header names the next page
// (rel="next", with its cursor), so the body keeps the original's shape.
func (a *API) List(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	owner := a.owner(r)
	if owner == a.anonymous {
		a.reply.JSON(w, http.StatusOK, []uploadView{})
		return
	}
	q := r.URL.Query()
	lq := upload.ListQuery{Owner: owner, Dialect: a.dialect, Limit: upload.MaxListLimit, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > upload.MaxListLimit {
			p := refusal(http.StatusBadRequest, fmt.Sprintf("limit %q is not a whole number from 1 to %d", v, upload.MaxListLimit))
			p.body["limit"] = upload.MaxListLimit
			a.fail(w, r, p)
			return
		}
		lq.Limit = n
	}
	page, err := a.engine.List(r.Context(), lq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	views := make([]uploadView, 0, len(page.Uploads))
	for _, s := range page.Uploads {
		views = append(views, a.view(r, s))
	}
	if page.Next != "" {
		next := url.Values{"cursor": {page.Next}}
		if v := q.Get("limit"); v != "" {
			next.Set("limit", v)
		}
		w.Header().Set("Link", "<"+absurl.Of(r, a.base+"?"+next.Encode())+`>; rel="next"`)
	}
	a.reply.JSON(w, http.StatusOK, views)
}

// Other answers the methods the routes above do not take, as Django REST
// framework does: OPTIONS with the allowed methods, anything else 405.
func (a *API) Other(w http.ResponseWriter, r *http.Request) {
	allow := "GET, PUT, POST, HEAD, OPTIONS"
	w.Header().Set("Allow", allow)
	if r.Method == http.MethodOptions {
		a.reply.JSON(w, http.StatusOK, map[string]any{
			"name": "Chunked Upload", "renders": []string{"application/json"},
			"parses": []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"},
		})
		return
	}
	a.fail(w, r, refusal(http.StatusMethodNotAllowed, "Method \""+r.Method+"\" not allowed."))
}
