// Package native is chunkup's own JSON API: create an upload, send chunks
// by number in any order, ask which chunks are missing, complete, abort.
// Every error carries a stable machine-readable code.
package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/reqbody"
)

// DefaultChunkSize is the chunk size offered when the client names none:
// 4 MiB, the largest round size whose base64 form fits a Lambda payload.
const DefaultChunkSize = 4 << 20

// API serves the native routes on an engine.
type API struct {
	engine *upload.Engine
	owner  func(*http.Request) string
	reply  reply.Family
}

// New returns the native API. owner names the caller of a request.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *API {
	return &API{engine: engine, owner: owner, reply: reply.Family{Log: log, Status: reply.HTTPStatus}}
}

// createRequest is the body of POST /v1/uploads.
type createRequest struct {
	Name      string `json:"name"`
	Size      *int64 `json:"size"`
	Type      string `json:"type"`
	ChunkSize int64  `json:"chunkSize"`
	// Checksum, if set, is the whole file's "<alg>=<digest>", checked at
	// completion.
	Checksum string `json:"checksum"`
	// Direct asks for a direct upload: the client PUTs each part straight
	// to S3 with a URL from GET /v1/uploads/{id}/parts/{n}, in parts of
	// PartSize bytes (0: chunkup's choice).
	Direct   bool  `json:"direct"`
	PartSize int64 `json:"partSize"`
	// Metadata is the client's: it goes on the final object and into
	// the upload's events.
	Metadata map[string]string `json:"metadata"`
}

// uploadView is how an upload is shown to clients.
type uploadView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Size      int64          `json:"size"`
	Type      string         `json:"type,omitempty"`
	ChunkSize int64          `json:"chunkSize"`
	Chunks    int            `json:"chunks"`
	State     upload.State   `json:"state"`
	Dialect   string         `json:"dialect,omitempty"`
	CreatedAt string         `json:"createdAt,omitempty"`
	ExpiresAt string         `json:"expiresAt,omitempty"`
	Received  *int           `json:"received,omitempty"`
	Missing   []upload.Range `json:"missing,omitempty"`
	Key       string         `json:"key,omitempty"`
	ETag      string         `json:"etag,omitempty"`
	CRC64NVME string         `json:"crc64nvme,omitempty"`
	Completed string         `json:"completedAt,omitempty"`
	// A direct upload's: its parts' size and count, and the parts S3
	// holds while it is open.
	Direct   bool       `json:"direct,omitempty"`
	PartSize int64      `json:"partSize,omitempty"`
	Parts    int        `json:"parts,omitempty"`
	Uploaded []partView `json:"uploaded,omitempty"`
	// App is the application's answer to the upload's completion (its
	// on-complete hook's), once complete.
	App json.RawMessage `json:"app,omitempty"`
}

// partView is a part of a direct upload as S3 holds it.
type partView struct {
	Part      int    `json:"part"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	CRC64NVME string `json:"crc64nvme,omitempty"`
}

func view(s *upload.Session) uploadView {
	v := uploadView{
		ID: s.ID, Name: s.Name, Size: s.Size, Type: s.ContentType, ChunkSize: s.ChunkSize,
		Chunks: s.Chunks, State: s.State, Dialect: s.Dialect,
	}
	if !s.CreatedAt.IsZero() {
		v.CreatedAt = s.CreatedAt.UTC().Format(time.RFC3339)
	}
	if s.State == upload.StateOpen {
		v.ExpiresAt = s.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if s.State == upload.StateComplete {
		v.Key, v.ETag, v.CRC64NVME = s.Key, s.ETag, s.CRC64
		v.Completed = s.CompletedAt.UTC().Format(time.RFC3339)
		v.App = reply.App(s.App)
	}
	if s.Kind == upload.Direct {
		v.Direct, v.PartSize, v.Parts = true, s.Direct.PartSize, s.Direct.MaxPart
	}
	return v
}

// Create starts an upload: POST /v1/uploads {"name","size","type","chunkSize"}.
func (a *API) Create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, r, &upload.Error{Code: upload.CodeInvalid, Message: "body must be a JSON object {name, size, type, chunkSize, checksum, metadata}: " + err.Error()})
		return
	}
	if req.Size == nil {
		a.fail(w, r, &upload.Error{Code: upload.CodeInvalid, Message: "size is required"})
		return
	}
	if req.Direct {
		a.createDirect(w, r, req)
		return
	}
	chunk := req.ChunkSize
	if chunk == 0 {
		chunk = min(DefaultChunkSize, a.engine.Limits().MaxChunkSize)
	}
	chunks := int64(1)
	if *req.Size > 0 && chunk > 0 {
		chunks = (*req.Size + chunk - 1) / chunk
	}
	if chunks > int64(a.engine.Limits().MaxChunks) {
		chunks = int64(a.engine.Limits().MaxChunks) + 1 // refused by the engine with the limit
	}
	nu := upload.NewUpload{
		Owner: a.owner(r), Name: req.Name, ContentType: req.Type, Metadata: req.Metadata,
		Geometry: upload.Geometry{Size: *req.Size, ChunkSize: chunk, Chunks: int(chunks)},
	}
	if req.Checksum != "" {
		c, err := upload.ParseChecksum(req.Checksum)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		nu.Verify = &c
	}
	s, err := a.engine.Create(r.Context(), nu)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/uploads/"+s.ID)
	a.reply.JSON(w, http.StatusCreated, view(s))
}

// PutChunk stores one chunk: PUT /v1/uploads/{id}/chunks/{n}, raw body,
// chunks numbered from 0.
func (a *API) PutChunk(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		a.fail(w, r, &upload.Error{Code: upload.CodeChunkRange, Message: fmt.Sprintf("chunk number %q is not a whole number from 0", r.PathValue("n"))})
		return
	}
	limit := a.engine.Limits().MaxChunkSize
	data, err := reqbody.Read(w, r, limit)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		a.fail(w, r, &upload.Error{Code: upload.CodeChunkTooLarge, Limit: limit, Message: fmt.Sprintf("chunk is over the limit of %d bytes", limit)})
		return
	}
	if err != nil {
		a.fail(w, r, &upload.Error{Code: upload.CodeInvalid, Message: "reading the chunk failed: " + err.Error()})
		return
	}
	if err := verifyChunk(r.Header, data); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.engine.PutChunk(r.Context(), a.owner(r), r.PathValue("id"), n, data)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.reply.JSON(w, http.StatusOK, map[string]any{"id": res.Session.ID, "chunk": n, "stored": res.Stored})
}

// verifyChunk checks the chunk's own checksums, if the client sent any:
// X-Chunk-Checksum: <alg>=<digest> and the standard Content-MD5.
func verifyChunk(h http.Header, data []byte) error {
	var sums []string
	if v := h.Get("X-Chunk-Checksum"); v != "" {
		sums = append(sums, v)
	}
	if v := h.Get("Content-MD5"); v != "" {
		sums = append(sums, "md5="+v)
	}
	for _, v := range sums {
		c, err := upload.ParseChecksum(v)
		if err != nil {
			return err
		}
		if err := c.Verify(data); err != nil {
			return err
		}
	}
	return nil
}

// createDirect starts a direct upload: its answer gives the part size and
// count, and the parts' URLs come from SignPart.
func (a *API) createDirect(w http.ResponseWriter, r *http.Request, req createRequest) {
	nd := upload.NewDirect{
		Owner: a.owner(r), Name: req.Name, ContentType: req.Type,
		Size: *req.Size, Declared: true, PartSize: req.PartSize, Metadata: req.Metadata,
	}
	if req.Checksum != "" {
		c, err := upload.ParseChecksum(req.Checksum)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		nd.Verify = &c
	}
	s, err := a.engine.CreateDirect(r.Context(), nd)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/uploads/"+s.ID)
	a.reply.JSON(w, http.StatusCreated, view(s))
}

// SignPart answers a presigned PUT of part n (from 1) of a direct upload:
// GET /v1/uploads/{id}/parts/{n}[?checksum=crc64nvme=<digest>] →
// {part, method, url, headers, expiresAt}. With a checksum, the URL holds
// S3 to it, and headers names the header to send with it.
func (a *API) SignPart(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		a.fail(w, r, &upload.Error{Code: upload.CodeChunkRange, Message: fmt.Sprintf("part number %q is not a whole number from 1", r.PathValue("n"))})
		return
	}
	var sum *upload.Checksum
	if v := r.URL.Query().Get("checksum"); v != "" {
		c, err := upload.ParseChecksum(v)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		sum = &c
	}
	_, p, err := a.engine.SignPart(r.Context(), a.owner(r), r.PathValue("id"), "", n, sum)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.reply.JSON(w, http.StatusOK, map[string]any{
		"part": n, "method": p.Method, "url": p.URL, "headers": p.Header,
		"expiresAt": p.Expires.UTC().Format(time.RFC3339),
	})
}

// listAnswer is a page of the caller's uploads.
type listAnswer struct {
	Uploads []uploadView `json:"uploads"`
	// Next is the cursor of the following page, absent on the last.
	Next string `json:"next,omitempty"`
}

// List answers a page of the caller's uploads of every kind, newest
// first: GET /v1/uploads?state=open|complete&limit=N&cursor=C. The page's
// next, passed as cursor, gives the following page.
func (a *API) List(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	lq := upload.ListQuery{Owner: a.owner(r), State: q.Get("state"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > upload.MaxListLimit {
			a.fail(w, r, &upload.Error{Code: upload.CodeInvalid, Limit: upload.MaxListLimit,
				Message: fmt.Sprintf("limit %q is not a whole number from 1 to %d", v, upload.MaxListLimit)})
			return
		}
		lq.Limit = n
	}
	page, err := a.engine.List(r.Context(), lq)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ans := listAnswer{Uploads: make([]uploadView, 0, len(page.Uploads)), Next: page.Next}
	for _, s := range page.Uploads {
		ans.Uploads = append(ans.Uploads, view(s))
	}
	w.Header().Set("Cache-Control", "no-store")
	a.reply.JSON(w, http.StatusOK, ans)
}

// Status tells where an upload stands: GET /v1/uploads/{id}.
func (a *API) Status(w http.ResponseWriter, r *http.Request) {
	st, err := a.engine.Status(r.Context(), a.owner(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := view(st.Session)
	v.Received = &st.Received
	v.Missing = st.Missing
	for _, p := range st.Uploaded {
		v.Uploaded = append(v.Uploaded, partView{Part: p.Number, Size: p.Size, ETag: p.ETag, CRC64NVME: p.CRC64})
	}
	w.Header().Set("Cache-Control", "no-store")
	a.reply.JSON(w, http.StatusOK, v)
}

// Content sends the client to the finished file: GET
// /v1/uploads/{id}/content answers 302 to a link that fetches it from S3
// for a few minutes (upload.DownloadTTL), as a download under its
// original name. Only the owner gets one.
func (a *API) Content(w http.ResponseWriter, r *http.Request) {
	link, err := a.engine.DownloadURL(r.Context(), a.owner(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", link)
	w.WriteHeader(http.StatusFound)
}

// Complete finishes an upload: POST /v1/uploads/{id}/complete.
func (a *API) Complete(w http.ResponseWriter, r *http.Request) {
	s, err := a.engine.Complete(r.Context(), a.owner(r), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.reply.JSON(w, http.StatusOK, view(s))
}

// Abort ends an upload and deletes what it stored: DELETE /v1/uploads/{id}.
func (a *API) Abort(w http.ResponseWriter, r *http.Request) {
	if err := a.engine.Abort(r.Context(), a.owner(r), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errorBody is the shape of every native error.
type errorBody struct {
	Error struct {
		Code    upload.Code    `json:"code"`
		Message string         `json:"message"`
		Limit   int64          `json:"limit,omitempty"`
		Missing []upload.Range `json:"missing,omitempty"`
	} `json:"error"`
}

// fail answers err in the one error shape. The upload a fault is logged
// with is the one the path names.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.reply.Fail(w, r, reply.ForUpload(r.PathValue("id"), err), bodyOf)
}

// bodyOf is refusal e in the one native error shape.
func bodyOf(e *upload.Error) any {
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Limit, body.Error.Missing = e.Code, e.Message, e.Limit, e.Missing
	return body
}
