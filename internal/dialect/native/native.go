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
	log    *slog.Logger
}

// New returns the native API. owner names the caller of a request.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *API {
	return &API{engine: engine, owner: owner, log: log}
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
	ExpiresAt string         `json:"expiresAt,omitempty"`
	Received  *int           `json:"received,omitempty"`
	Missing   []upload.Range `json:"missing,omitempty"`
	Key       string         `json:"key,omitempty"`
	ETag      string         `json:"etag,omitempty"`
	CRC64NVME string         `json:"crc64nvme,omitempty"`
	Completed string         `json:"completedAt,omitempty"`
}

func view(s *upload.Session) uploadView {
	v := uploadView{
		ID: s.ID, Name: s.Name, Size: s.Size, Type: s.ContentType, ChunkSize: s.ChunkSize,
		Chunks: s.Chunks, State: s.State,
	}
	if s.State == upload.StateOpen {
		v.ExpiresAt = s.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if s.State == upload.StateComplete {
		v.Key, v.ETag, v.CRC64NVME = s.Key, s.ETag, s.CRC64
		v.Completed = s.CompletedAt.UTC().Format(time.RFC3339)
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
	writeJSON(w, http.StatusCreated, view(s))
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
	writeJSON(w, http.StatusOK, map[string]any{"id": res.Session.ID, "chunk": n, "stored": res.Stored})
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
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
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
	writeJSON(w, http.StatusOK, view(s))
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

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	e, ok := upload.AsError(err)
	if !ok {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &upload.Error{Code: upload.CodeServiceTimeout, Message: "the service could not finish the request; retry it"}
	}
	body.Error.Code, body.Error.Message, body.Error.Limit, body.Error.Missing = e.Code, e.Message, e.Limit, e.Missing
	status := statusOf(e.Code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

func statusOf(c upload.Code) int {
	switch c {
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return http.StatusRequestEntityTooLarge
	case upload.CodeTypeNotAllowed:
		return http.StatusUnsupportedMediaType
	case upload.CodeNotFound:
		return http.StatusNotFound
	case upload.CodeExpired, upload.CodeAborted:
		return http.StatusGone
	case upload.CodeComplete, upload.CodeIncomplete, upload.CodeGeometry:
		return http.StatusConflict
	case upload.CodeBusy, upload.CodeServiceTimeout:
		return http.StatusServiceUnavailable
	case upload.CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
