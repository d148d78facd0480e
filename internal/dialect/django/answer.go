package django

import (
	"encoding/json"
	"net/http"
	"time"

	"chunkup/internal/upload"
)

// timeFormat is how Django's JSON encoder writes a UTC datetime:
// ISO 8601 with milliseconds and Z.
const timeFormat = "2006-01-02T15:04:05.000Z"

func isoTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// progress is the answer to a chunk, as the original's view gives it.
func progress(s *upload.Session) map[string]any {
	return map[string]any{"upload_id": s.ID, "offset": s.Offset, "expires": isoTime(s.ExpiresAt)}
}

// completed is the answer to a completion: the chunk answer's fields and
// what chunkup made of the file.
func completed(s *upload.Session) map[string]any {
	out := progress(s)
	md5, _ := s.Digest("md5")
	out["filename"] = s.Name
	out["size"] = s.Size
	out["key"] = s.Key
	out["crc64nvme"] = s.CRC64
	out["md5"] = md5
	out["completed_at"] = isoTime(s.CompletedAt)
	return out
}

// fail answers an error as the original does: a status and
// {"detail": …}, with the current offset when offsets do not match and
// the limit when a limit was hit. Faults that are not refusals are logged
// and answered 503, which a client may retry.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := upload.AsError(err)
	if !ok {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &upload.Error{Code: upload.CodeServiceTimeout, Message: "the service could not finish the request; retry it"}
	}
	status, body := errorBody(e)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

// errorBody gives a refusal its status and body. The details of the
// original's own refusals keep its wording.
func errorBody(e *upload.Error) (int, map[string]any) {
	body := map[string]any{"detail": e.Message}
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	switch e.Code {
	case upload.CodeOffset:
		body["detail"], body["offset"] = "Offsets do not match", e.Offset
	case upload.CodeChecksum:
		body["detail"] = "md5 checksum does not match"
	case upload.CodeComplete:
		body["detail"] = `Upload has already been marked as "complete"`
	case upload.CodeExpired:
		body["detail"] = "Upload has expired"
		return http.StatusGone, body
	case upload.CodeAborted:
		body["detail"] = "Upload was aborted"
		return http.StatusGone, body
	case upload.CodeNotFound:
		return http.StatusNotFound, body
	case upload.CodeBusy, upload.CodeServiceTimeout:
		return http.StatusServiceUnavailable, body
	}
	return http.StatusBadRequest, body
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
