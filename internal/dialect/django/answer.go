package django

import (
	"net/http"
	"time"

	"chunkup/internal/dialect/reply"
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

// completed is the answer to a completion: the chunk answer's fields,
// what chunkup made of the file, and the application's answer merged in
// (reply.MergeApp), as an on_completion/get_response_data override
// would make it.
func completed(s *upload.Session) map[string]any {
	out := progress(s)
	md5, _ := s.Digest("md5")
	out["filename"] = s.Name
	out["size"] = s.Size
	out["key"] = s.Key
	out["crc64nvme"] = s.CRC64
	out["md5"] = md5
	out["completed_at"] = isoTime(s.CompletedAt)
	return reply.MergeApp(out, s.App)
}

// fail answers an error as the original does: the status reply.Status
// gives its code and {"detail": …}, with the current offset when offsets
// do not match and the limit when a limit was hit.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.reply.Fail(w, r, err, bodyOf)
}

// bodyOf is a refusal's body. The details of the original's own
// refusals keep its wording.
func bodyOf(e *upload.Error) any {
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
	case upload.CodeAborted:
		body["detail"] = "Upload was aborted"
	}
	return body
}
