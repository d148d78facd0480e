// Package companion serves the S3 routes of Uppy's Companion, as
// @uppy/aws-s3 calls them with companionEndpoint set to chunkup: the
// browser sends a file's parts straight to S3 with URLs that chunkup
// presigns, and chunkup creates, lists, completes and aborts the upload,
// each a session of its caller (protocols.md §8). The uploadId Uppy is
// given is chunkup's upload id; S3's multipart upload id never leaves
// chunkup. Every answer is JSON; every error is {"error": message}.
package companion

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// API serves the Companion S3 routes on an engine.
type API struct {
	engine  *upload.Engine
	owner   func(*http.Request) string
	log     *slog.Logger
	answers reply.Family
}

// New returns the Companion S3 routes. owner names the caller of a request.
func New(engine *upload.Engine, owner func(*http.Request) string, log *slog.Logger) *API {
	return &API{engine: engine, owner: owner, log: log, answers: reply.Family{Log: log, Status: reply.HTTPStatus, NoStore: true}}
}

// maxBody bounds the JSON bodies the routes read: a completion lists at
// most 10,000 parts of about 60 bytes each.
const maxBody = 1 << 20

// createRequest is the body of POST /s3/multipart.
type createRequest struct {
	Filename string         `json:"filename"`
	Type     string         `json:"type"`
	Metadata map[string]any `json:"metadata"`
}

// Create starts a direct upload: POST /s3/multipart {filename, type,
// metadata} → {key, uploadId, bucket}. The key is chunkup's, never the
// filename as given.
func (a *API) Create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	meta, err := metadata(req.Metadata)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.engine.CreateDirect(r.Context(), upload.NewDirect{Owner: a.owner(r), Name: req.Filename, ContentType: req.Type, Metadata: meta})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	bucket, _, err := a.engine.Locate(r.Context(), s.Key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answers.JSON(w, http.StatusOK, map[string]string{"key": s.Key, "uploadId": s.ID, "bucket": bucket})
}

// SignPart signs the PUT of one part: GET
// /s3/multipart/{uploadId}/{partNumber}?key=K → {url, expires}, expires
// in seconds from now, as Companion answers.
func (a *API) SignPart(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("partNumber"))
	if err != nil {
		a.fail(w, r, &upload.Error{Code: upload.CodeChunkRange, Message: fmt.Sprintf("part number %q is not a whole number from 1", r.PathValue("partNumber"))})
		return
	}
	_, p, err := a.engine.SignPart(r.Context(), a.owner(r), r.PathValue("uploadId"), keyOf(r), n, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answers.JSON(w, http.StatusOK, map[string]any{"url": p.URL, "expires": int64(p.ValidFor / time.Second)})
}

// listedPart is a part as S3's ListParts names it, which Uppy reads.
type listedPart struct {
	PartNumber int    `json:"PartNumber"`
	ETag       string `json:"ETag"`
	Size       int64  `json:"Size"`
}

// ListParts lists the parts S3 holds, for Uppy to resume from: GET
// /s3/multipart/{uploadId}?key=K → [{PartNumber, ETag, Size}].
func (a *API) ListParts(w http.ResponseWriter, r *http.Request) {
	_, parts, err := a.engine.DirectParts(r.Context(), a.owner(r), r.PathValue("uploadId"), keyOf(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]listedPart, len(parts))
	for i, p := range parts {
		out[i] = listedPart{PartNumber: p.Number, ETag: p.ETag, Size: p.Size}
	}
	a.answers.JSON(w, http.StatusOK, out)
}

// completeRequest is the body of a completion: the parts Uppy sent.
type completeRequest struct {
	Parts []struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
	} `json:"parts"`
}

// Complete finishes the upload from the parts S3 holds, which must be
// those Uppy lists: POST /s3/multipart/{uploadId}/complete?key=K
// {parts: [{PartNumber, ETag}]} → {location, key, bucket} with the
// object's size, ETag and CRC64NVME, and the application's answer to
// the completion (app).
func (a *API) Complete(w http.ResponseWriter, r *http.Request) {
	var req completeRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	claimed := make([]upload.ClaimedPart, len(req.Parts))
	for i, p := range req.Parts {
		claimed[i] = upload.ClaimedPart{Number: p.PartNumber, ETag: p.ETag}
	}
	s, err := a.engine.CompleteDirect(r.Context(), a.owner(r), r.PathValue("uploadId"), keyOf(r), claimed)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	bucket, location, err := a.engine.Locate(r.Context(), s.Key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{
		"location": location, "key": s.Key, "bucket": bucket,
		"size": s.Size, "etag": s.ETag, "crc64nvme": s.CRC64, "uploadId": s.ID,
	}
	if app := reply.App(s.App); app != nil {
		out["app"] = app
	}
	a.answers.JSON(w, http.StatusOK, out)
}

// Abort ends the upload and its multipart upload in S3: DELETE
// /s3/multipart/{uploadId}?key=K → {}.
func (a *API) Abort(w http.ResponseWriter, r *http.Request) {
	if err := a.engine.AbortDirect(r.Context(), a.owner(r), r.PathValue("uploadId"), keyOf(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.answers.JSON(w, http.StatusOK, struct{}{})
}

// Params signs a POST policy for a file Uppy sends in one request: GET
// /s3/params?filename=&type=&metadata[k]=v → {method: "POST", url,
// fields, expires}. The upload is a session too, complete once S3 holds
// the object.
func (a *API) Params(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s, form, err := a.engine.SignForm(r.Context(), a.owner(r), q.Get("filename"), q.Get("type"), queryMetadata(q))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.answers.JSON(w, http.StatusOK, map[string]any{
		"method": "POST", "url": form.URL, "fields": form.Fields, "expires": int64(form.ValidFor / time.Second), "key": s.Key, "uploadId": s.ID,
	})
}

// metadata is Uppy's metadata of a file (its meta: name, type and what
// the app added) as the final object's: strings as they are, other
// values as their JSON, nulls left out. The engine checks the names and
// the size (upload.CheckMetadata).
func metadata(in map[string]any) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		switch v := v.(type) {
		case nil:
		case string:
			out[k] = v
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, &upload.Error{Code: upload.CodeInvalid, Message: fmt.Sprintf("metadata %q: %v", k, err)}
			}
			out[k] = string(b)
		}
	}
	return out, nil
}

// queryMetadata is the metadata Uppy sends /s3/params in its query, as
// metadata[name]=value.
func queryMetadata(q url.Values) map[string]string {
	var out map[string]string
	for k, vs := range q {
		inner, pre := strings.CutPrefix(k, "metadata[")
		name, post := strings.CutSuffix(inner, "]")
		if !pre || !post || len(vs) == 0 {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = vs[0]
	}
	return out
}

// keyOf is the key Uppy sends back with each request about an upload.
func keyOf(r *http.Request) string {
	if k := r.URL.Query().Get("key"); k != "" {
		return k
	}
	return "\x00" // a key is required: no upload has this one
}

// decode reads a JSON request body into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return &upload.Error{Code: upload.CodeInvalid, Message: "body must be a JSON object of at most 1 MiB: " + err.Error()}
	}
	return nil
}

// fail answers an error by the dialects' one error path (package
// reply) as {"error": message, "code": code}: a fault is logged with the
// request and upload ids and answered 503, so the user may retry.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.answers.Fail(w, r, reply.ForUpload(r.PathValue("uploadId"), err), bodyOf)
}

// bodyOf is the body a refusal is told in.
func bodyOf(e *upload.Error) any {
	body := map[string]any{"error": e.Message, "code": e.Code}
	if e.Limit != 0 {
		body["limit"] = e.Limit
	}
	return body
}
