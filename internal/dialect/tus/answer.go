package tus

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"chunkup/internal/upload"
)

// The headers of the protocol that chunkup answers with.
const (
	version = "1.0.0"
	// StatusChecksumMismatch is the protocol's own status for a PATCH
	// whose Upload-Checksum does not match its body.
	StatusChecksumMismatch = 460
	// offsetOctetStream is the only content type a PATCH may carry.
	offsetOctetStream = "application/offset+octet-stream"
)

// The headers chunkup adds to tell a client where the finished file is:
// on the answer to the request that finished it and on every HEAD after.
const (
	HeaderKey       = "Chunkup-Object-Key"
	HeaderCRC64NVME = "Chunkup-Object-Crc64nvme"
)

// Extensions are the protocol's extensions chunkup speaks, as OPTIONS
// lists them.
func Extensions() []string {
	return []string{"creation", "creation-with-upload", "creation-defer-length", "termination", "expiration", "checksum", "concatenation"}
}

// problem is a refusal: a status and a message, sent as plain text (as
// tusd does; tus clients put the body in their error message).
type problem struct {
	status int
	msg    string
	// offset, if set, is the upload's offset to show (409 answers).
	offset *int64
}

func (p *problem) Error() string { return fmt.Sprintf("%d: %s", p.status, p.msg) }

func badRequest(format string, args ...any) *problem {
	return &problem{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func refusal(status int, format string, args ...any) *problem {
	return &problem{status: status, msg: fmt.Sprintf(format, args...)}
}

// fail answers err: a refusal as it is, an engine refusal in the
// protocol's status codes, anything else a 503 to retry (tus clients
// retry 5xx answers and give up on most 4xx ones).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	if !errors.As(err, &p) {
		p = a.translate(r, err)
	}
	h := w.Header()
	h.Set("Tus-Resumable", version)
	h.Set("Cache-Control", "no-store")
	if p.status == http.StatusPreconditionFailed {
		h.Set("Tus-Version", version)
	}
	if p.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	if p.offset != nil {
		h.Set("Upload-Offset", strconv.FormatInt(*p.offset, 10))
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(p.status)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, p.msg)
	}
}

// translate maps the engine's refusals to the protocol's statuses.
func (a *API) translate(r *http.Request, err error) *problem {
	e, ok := upload.AsError(err)
	if !ok {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return refusal(http.StatusServiceUnavailable, "the service could not finish the request; retry it")
	}
	msg := e.Message
	switch e.Code {
	case upload.CodeNotFound:
		return refusal(http.StatusNotFound, "%s", msg)
	case upload.CodeExpired, upload.CodeAborted:
		return refusal(http.StatusGone, "%s", msg)
	case upload.CodeOffset:
		off := e.Offset
		return &problem{status: http.StatusConflict, msg: msg, offset: &off}
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return refusal(http.StatusRequestEntityTooLarge, "%s", msg)
	case upload.CodeComplete:
		return refusal(http.StatusForbidden, "%s", msg)
	case upload.CodeTypeNotAllowed:
		return refusal(http.StatusUnsupportedMediaType, "%s", msg)
	case upload.CodeBusy, upload.CodeServiceTimeout, upload.CodeInternal:
		return refusal(http.StatusServiceUnavailable, "%s", msg)
	}
	return refusal(http.StatusBadRequest, "%s", msg)
}

// describe puts on h what HEAD, PATCH and POST answers say of an upload:
// its offset and length, its expiry while it is open, and the finished
// object once it is complete.
func describe(h http.Header, s *upload.Session) {
	h.Set("Tus-Resumable", version)
	switch {
	case s.State == upload.StateComplete:
		// A final upload's offset is its length once it is complete.
		h.Set("Upload-Offset", strconv.FormatInt(s.Size, 10))
	case len(s.Sources) == 0:
		h.Set("Upload-Offset", strconv.FormatInt(s.Offset, 10))
	}
	if s.Size == upload.SizeDeferred {
		h.Set("Upload-Defer-Length", "1")
	} else {
		h.Set("Upload-Length", strconv.FormatInt(s.Size, 10))
	}
	switch s.State {
	case upload.StateComplete:
		h.Set(HeaderKey, s.Key)
		h.Set(HeaderCRC64NVME, s.CRC64)
	case upload.StateOpen:
		h.Set("Upload-Expires", expires(s.ExpiresAt))
	}
}

// expires renders an expiry as Upload-Expires does (RFC 9110's date).
func expires(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// mediaType is a Content-Type without its parameters, in lower case.
func mediaType(v string) string {
	mt, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
