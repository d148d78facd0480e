package fileupload

import (
	"encoding/json"
	"fmt"
	"net/http"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// fileView is a file as the plugin's UI renders it (name, size, and an
// error when there is one), with what chunkup made of it once finished.
type fileView struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Type      string `json:"type,omitempty"`
	Key       string `json:"key,omitempty"`
	CRC64NVME string `json:"crc64nvme,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Error     string `json:"error,omitempty"`
	// App is the application's answer to the file's completion.
	App json.RawMessage `json:"app,omitempty"`
}

// answer tells where an upload stands: {"files": [file]}, with the bytes
// stored so far as its size until it is finished, and a Range header that
// the plugin takes the next chunk's start from.
func (h *Handler) answer(w http.ResponseWriter, s *upload.Session) {
	f := fileView{Name: s.Name, Size: s.Offset, Type: s.ContentType}
	if s.State == upload.StateComplete {
		f.Size, f.Key, f.CRC64NVME, f.ETag = s.Size, s.Key, s.CRC64, s.ETag
		f.App = reply.App(s.App)
	}
	setRange(w, s.Offset)
	h.reply.JSON(w, http.StatusOK, map[string]any{"files": []fileView{f}})
}

// setRange sets Range: 0-(stored-1), as the plugin's example server does;
// nothing when nothing is stored.
func setRange(w http.ResponseWriter, stored int64) {
	if stored > 0 {
		w.Header().Set("Range", fmt.Sprintf("0-%d", stored-1))
	}
}

// fail answers an error with a 4xx (5xx for a fault that may pass), so
// that the plugin stops sending the file and calls the page's fail
// callback, and a body a page can show: {"error": …, "files": [{"name",
// "size", "error"}]}, the UI's per-file error shape. An offset refusal
// also carries the Range of what is stored.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c chunk, err error) {
	if e, ok := upload.AsError(err); ok && e.Code == upload.CodeOffset {
		setRange(w, e.Offset)
	}
	h.reply.Fail(w, r, err, c.bodyOf)
}

// bodyOf is the body of refusal e of chunk c: the plugin's per-file
// error shape when the file has a name.
func (c chunk) bodyOf(e *upload.Error) any {
	body := map[string]any{"error": e.Message}
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	if c.name != "" {
		body["files"] = []fileView{{Name: c.name, Size: c.rg.Total, Error: e.Message}}
	}
	return body
}

// statusOf is jQuery-File-Upload's status table: a size over a limit is
// 413, as the plugin's example servers answer it.
func statusOf(c upload.Code) int {
	switch c {
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return reply.Status(c)
}

// refuses keeps the application's refusal status unless it is 404 or
// 410, on which the plugin's documented retry starts the file again from
// byte 0, to be refused again.
func refuses(status int) bool { return status != http.StatusNotFound && status != http.StatusGone }
