// Package reply writes the dialects' answers: JSON bodies, and every
// error by one path. An error is either a refusal (an *upload.Error in
// its chain), which the client can act on and is answered with the status
// its family's table gives its code, or a fault (any other error), which
// may pass: a fault is logged with the request's and the upload's ids and
// answered 503 with Retry-After, as the refusal Fault, so that the client
// sends the request again. A dialect keeps only what is its family's own:
// its status table and the body a refusal is told in.
package reply

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"chunkup/internal/upload"
)

// RetryAfter is how many seconds a 503 answer asks the client to wait
// before it sends the request again (the Retry-After header).
const RetryAfter = 1

// Fault is the refusal a fault is answered as: the client is told that
// the service failed and that the request may succeed if sent again.
func Fault() *upload.Error {
	return &upload.Error{Code: upload.CodeServiceTimeout, Message: "the service could not finish the request; retry it"}
}

// Retryable reports whether a request refused with code c may succeed if
// it is sent again unchanged: the upload was busy with another request,
// or the service failed.
func Retryable(c upload.Code) bool {
	return c == upload.CodeBusy || c == upload.CodeServiceTimeout
}

// Status is the status table most families start from: 503 for a
// Retryable code, 404 for an upload that is not found, 410 for one that
// expired or was aborted, and 400 for every other refusal. A family whose
// clients need other statuses answers those codes itself and the rest
// with Status.
func Status(c upload.Code) int {
	switch {
	case Retryable(c):
		return http.StatusServiceUnavailable
	case c == upload.CodeNotFound:
		return http.StatusNotFound
	case c == upload.CodeExpired || c == upload.CodeAborted:
		return http.StatusGone
	}
	return http.StatusBadRequest
}

// HTTPStatus is Status with HTTP's own meaning of the refusals that have
// one: 413 for a file or chunk over its limit, 415 for a type that is not
// allowed, 409 for a request that conflicts with the upload's state (it
// is complete, it lacks chunks, it has another geometry), 403 for the
// application's refusal. It is the table
// of the families chunkup defines itself (the native API) or whose
// clients only tell 2xx from the rest (Uppy's Companion routes).
func HTTPStatus(c upload.Code) int {
	switch c {
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return http.StatusRequestEntityTooLarge
	case upload.CodeTypeNotAllowed:
		return http.StatusUnsupportedMediaType
	case upload.CodeComplete, upload.CodeIncomplete, upload.CodeGeometry:
		return http.StatusConflict
	case upload.CodeRefused:
		return http.StatusForbidden
	}
	return Status(c)
}

// Family is how the answers of one client family are written.
type Family struct {
	// Log receives one record for each fault.
	Log *slog.Logger
	// Status is the family's status table: the HTTP status a refusal
	// with a given code is answered with. A fault is answered 503 whatever
	// it says.
	Status func(upload.Code) int
	// NoStore marks every answer Cache-Control: no-store, for clients
	// that must never be shown an answer from a cache.
	NoStore bool
	// Write, if set, writes a refusal's body, as the family's clients
	// read it, in place of JSON: for families whose errors are not JSON
	// (tus answers plain text, with the state in headers).
	Write func(w http.ResponseWriter, r *http.Request, status int, body any)
	// Refuses, if set, says which statuses the family's clients take as
	// a refusal that fails the file, rather than a passing failure to
	// retry. The application's refusal (upload.CodeRefused, from the
	// pre-create hook) is answered with the status it asked for when
	// Refuses allows it (any 4xx when Refuses is nil), and with Status's
	// otherwise.
	Refuses func(status int) bool
}

// StatusOf is the status refusal e is answered with: the family's table's
// for its code, or the application's own for its refusal (see Refuses).
func (f Family) StatusOf(e *upload.Error) int {
	if e.Code == upload.CodeRefused && e.Status >= 400 && e.Status <= 499 && (f.Refuses == nil || f.Refuses(e.Status)) {
		return e.Status
	}
	return f.Status(e.Code)
}

// JSON answers status with v, encoded as JSON, as the body.
func (f Family) JSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if f.NoStore {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	// An answer that cannot be written has nobody left to be told of it.
	_ = json.NewEncoder(w).Encode(v)
}

// Fail answers err, in the body that body shapes from the refusal: a
// refusal with the status Status gives its code, a fault with 503 as
// Fault, after logging it with the request id (upload.RequestIDKey in
// r's context) and the id of the upload that ForUpload marked err with.
// Every 503 answer carries Retry-After. Headers that body or the caller
// set before Fail stay on the answer.
func (f Family) Fail(w http.ResponseWriter, r *http.Request, err error, body func(*upload.Error) any) {
	e, ok := upload.AsError(err)
	status := 0
	if ok {
		status = f.StatusOf(e)
	} else {
		f.Logger(r.Context(), uploadOf(err)).ErrorContext(r.Context(), "request failed",
			"method", r.Method, "path", r.URL.Path, "err", err)
		e, status = Fault(), http.StatusServiceUnavailable
	}
	b := body(e)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	}
	if f.Write != nil {
		f.Write(w, r, status, b)
		return
	}
	f.JSON(w, status, b)
}

// Logger is the family's logger for records about upload uploadID (none
// when it is "") in the request of ctx: each record names the upload and
// the request, as the engine's records do.
func (f Family) Logger(ctx context.Context, uploadID string) *slog.Logger {
	l := f.Log
	if uploadID != "" {
		l = l.With("upload_id", uploadID)
	}
	if rid, ok := ctx.Value(upload.RequestIDKey{}).(string); ok && rid != "" {
		l = l.With("request_id", rid)
	}
	return l
}

// ForUpload marks err as being about upload id, so that Fail logs the
// fault with that id. It returns nil for a nil err and err itself when id
// is "". The marked error says what err says and unwraps to it.
func ForUpload(id string, err error) error {
	if err == nil || id == "" {
		return err
	}
	return &uploadError{id: id, err: err}
}

// uploadError is an error that ForUpload marked with its upload.
type uploadError struct {
	id  string
	err error
}

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// uploadOf returns the upload err was marked with, or "".
func uploadOf(err error) string {
	var u *uploadError
	if errors.As(err, &u) {
		return u.id
	}
	return ""
}

// App is the on-complete hook's answer (upload.Session.App) as the JSON
// value of an answer's "app" field: nil, for an answer without one, when
// there is none.
func App(app []byte) json.RawMessage {
	if len(app) == 0 {
		return nil
	}
	return json.RawMessage(app)
}

// MergeApp merges the on-complete hook's answer into the fields of a
// completion answer, as an application's on_completion and
// get_response_data shape the answer in django-chunked-upload and
// drf-chunked-upload: a JSON object's members join fields, each where
// fields has no member of its name (the protocol's own fields stay, as
// its clients read them); any other JSON value is fields' "app". fields
// is changed and returned.
func MergeApp(fields map[string]any, app []byte) map[string]any {
	if len(app) == 0 {
		return fields
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(app, &members); err != nil || members == nil {
		fields["app"] = json.RawMessage(app)
		return fields
	}
	for k, v := range members {
		if _, taken := fields[k]; !taken {
			fields[k] = v
		}
	}
	return fields
}
