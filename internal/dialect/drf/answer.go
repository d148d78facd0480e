package drf

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/absurl"
)

// The original's upload states.
const (
	statusUploading = 1
	statusComplete  = 2
)

// uploadView is an upload as the original's serializer shows it, plus
// when it expires.
type uploadView struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// File is a link to the finished file (for a few minutes, as a
	// storage's signed URL is), null until it is complete.
	File        *string `json:"file"`
	Filename    string  `json:"filename"`
	Offset      int64   `json:"offset"`
	CreatedAt   string  `json:"created_at"`
	Status      int     `json:"status"`
	CompletedAt *string `json:"completed_at"`
	Expires     *string `json:"expires"`
	// User is the uploader, as chunkup names owners ("sub:<JWT subject>").
	User string `json:"user"`
	// chunkup's own: where the finished file is and its S3 checksum.
	Key       string `json:"key,omitempty"`
	CRC64NVME string `json:"crc64nvme,omitempty"`
}

// answer shows upload s, as the original's serializer does; once it is
// complete, with the application's answer to its completion merged in.
func (a *API) answer(w http.ResponseWriter, r *http.Request, status int, s *upload.Session) {
	v := a.view(r, s)
	if len(s.App) == 0 {
		a.reply.JSON(w, status, v)
		return
	}
	a.reply.JSON(w, status, reply.MergeApp(fieldsOf(v), s.App))
}

// view is upload s as the original's serializer shows it.
func (a *API) view(r *http.Request, s *upload.Session) uploadView {
	v := uploadView{
		ID: s.ID, URL: a.uploadURL(r, s.ID), Filename: s.Name, Offset: s.Offset,
		CreatedAt: timestamp(s.CreatedAt), Status: statusUploading, User: s.Owner,
	}
	if s.State == upload.StateComplete {
		done := timestamp(s.CompletedAt)
		v.Status, v.CompletedAt = statusComplete, &done
		v.Key, v.CRC64NVME = s.Key, s.CRC64
		if link, err := a.engine.DownloadLink(r.Context(), s); err == nil {
			v.File = &link
		} else {
			// The upload is finished whatever the link: answer it without one.
			a.reply.Logger(r.Context(), s.ID).Warn("drf: answered without a download link", "err", err)
		}
	} else {
		exp := timestamp(s.ExpiresAt)
		v.Expires = &exp
	}
	return v
}

// fieldsOf is view v as the members of its JSON object, for the
// application's answer to join (reply.MergeApp), as the original's
// on_completion sees the serializer's data.
func fieldsOf(v uploadView) map[string]any {
	b, _ := json.Marshal(v) // a struct of strings and numbers: it encodes
	var members map[string]json.RawMessage
	_ = json.Unmarshal(b, &members)
	out := make(map[string]any, len(members))
	for k, m := range members {
		out[k] = m
	}
	return out
}

// uploadURL is where the client sends the upload's next chunk: absolute,
// as Django REST framework's reverse() builds it from the request.
func (a *API) uploadURL(r *http.Request, id string) string {
	return absurl.Of(r, a.base+"/"+id)
}

// timestamp renders a time as Django REST framework does: ISO 8601 in
// UTC with a Z, microseconds only when there are any. Times are cut to
// the milliseconds the session store keeps, so that an answer made from
// a session in memory and one read back from the store agree.
func timestamp(t time.Time) string {
	t = t.UTC().Truncate(time.Millisecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}

// problem is one of the original's own refusals, which no engine code
// names: a status and {"detail": …}, for some with more fields beside it.
type problem struct {
	status int
	body   map[string]any
}

func (p *problem) Error() string { return fmt.Sprintf("%d: %v", p.status, p.body["detail"]) }

func refusal(status int, msg string) *problem {
	return &problem{status: status, body: detail(msg)}
}

// detail is the original's body of a refusal.
func detail(msg string) map[string]any { return map[string]any{"detail": msg} }

// fieldError is a serializer's refusal of one field.
func fieldError(field, msg string) *problem {
	return &problem{status: http.StatusBadRequest, body: map[string]any{"detail": map[string][]string{field: {msg}}}}
}

// overLimit names the limit and its value.
func overLimit(format string, limit int64) *problem {
	p := refusal(http.StatusBadRequest, fmt.Sprintf(format, limit))
	p.body["limit"] = limit
	return p
}

func offsetMismatch(expected, provided int64) *problem {
	p := refusal(http.StatusBadRequest, "Offsets do not match")
	p.body["expected_offset"], p.body["provided_offset"] = expected, provided
	return p
}

// fail answers an error: one of the original's own refusals as it is,
// an engine refusal in the original's words with the status reply.Status
// gives its code, or a fault the client may retry. A fault is logged with
// the upload the path names.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *problem
	if errors.As(err, &p) {
		a.reply.JSON(w, p.status, p.body)
		return
	}
	a.reply.Fail(w, r, reply.ForUpload(r.PathValue("id"), err), bodyOf)
}

// bodyOf words an engine refusal as the original does.
func bodyOf(e *upload.Error) any {
	switch e.Code {
	case upload.CodeNotFound:
		return detail("Not found.")
	case upload.CodeExpired, upload.CodeAborted:
		return detail("Upload has expired")
	case upload.CodeComplete:
		return detail(`Upload has already been marked as "complete"`)
	case upload.CodeChecksum:
		return detail("checksum does not match")
	case upload.CodeFileTooLarge:
		return overLimit("Size of file exceeds the limit (%d bytes)", e.Limit).body
	case upload.CodeNameTooLong:
		return fieldError("filename", fmt.Sprintf("Ensure this field has no more than %d bytes.", e.Limit)).body
	case upload.CodeServiceTimeout:
		return detail("The service could not finish the request; retry it.")
	}
	body := detail(sentence(e.Message))
	if e.Limit > 0 {
		body["limit"] = e.Limit
	}
	return body
}

// sentence starts an engine message with a capital, as the original's
// details are written.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	c, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(c)) + msg[n:]
}
