package tus

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"chunkup/internal/dialect/reply"
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
	// HeaderApp carries the application's answer to the completion (its
	// on-complete hook's JSON), base64-encoded, as Upload-Metadata's
	// values are: a PATCH's answer is 204 No Content, with no body to
	// carry it. tus-js-client hands it to onSuccess as
	// lastResponse.getHeader('Chunkup-App').
	HeaderApp = "Chunkup-App"
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

// fail answers err: a refusal of the protocol's own as it is, the
// rest by the dialects' one error path (package reply), in the
// protocol's statuses (status): an engine refusal as the table says, a
// fault as 503 to retry (tus clients retry 5xx answers and give up on
// most 4xx ones), logged with the request and upload ids.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	if errors.As(err, &p) {
		a.writeProblem(w, r, p.status, p)
		return
	}
	a.answers.Fail(w, r, reply.ForUpload(r.PathValue("id"), err), problemOf)
}

// problemOf is the body of an engine refusal: its message, and the
// upload's offset for an offset that does not match.
func problemOf(e *upload.Error) any {
	p := &problem{status: status(e.Code), msg: e.Message}
	if e.Code == upload.CodeOffset {
		off := e.Offset
		p.offset = &off
	}
	return p
}

// writeProblem answers a refusal in plain text, with the headers the
// protocol puts on it.
func (a *API) writeProblem(w http.ResponseWriter, r *http.Request, code int, body any) {
	p := body.(*problem)
	h := w.Header()
	h.Set("Tus-Resumable", version)
	h.Set("Cache-Control", "no-store")
	if code == http.StatusPreconditionFailed {
		h.Set("Tus-Version", version)
	}
	if code == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(reply.RetryAfter))
	}
	if p.offset != nil {
		h.Set("Upload-Offset", strconv.FormatInt(*p.offset, 10))
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, p.msg)
	}
}

// status is the protocol's status for an engine refusal.
func status(c upload.Code) int {
	switch c {
	case upload.CodeOffset:
		return http.StatusConflict
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return http.StatusRequestEntityTooLarge
	case upload.CodeComplete:
		return http.StatusForbidden
	case upload.CodeTypeNotAllowed:
		return http.StatusUnsupportedMediaType
	case upload.CodeRefused: // with a status tus-js-client would retry
		return http.StatusForbidden
	}
	return reply.Status(c)
}

// describe puts on h what HEAD, PATCH and POST answers say of an upload:
// its offset and length, its expiry while it is open, and the finished
// object (and the application's answer) once it is complete.
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
		if len(s.App) > 0 {
			h.Set(HeaderApp, base64.StdEncoding.EncodeToString(s.App))
		}
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

// refuses keeps the application's refusal status unless tus-js-client
// would retry it (409, 423): every other 4xx fails the upload.
func refuses(status int) bool { return status != http.StatusConflict && status != http.StatusLocked }
