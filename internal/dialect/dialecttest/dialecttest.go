// Package dialecttest is what the dialects' tests share: an engine whose
// stores cannot be reached, limits small enough for a fuzzer to hit, a
// strict reading of an answer and of its status, the standard library's
// reading of a form to hold package reqbody's to, a log whose records a
// test reads back, and the clients' percent-encoding.
package dialecttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
)

// Limits are small enough that a fuzzer's inputs reach every limit.
func Limits() upload.Limits {
	return upload.Limits{MaxFileSize: 50 << 30, MaxChunkSize: 1024, MaxChunks: 100000, MaxNameLength: 255}
}

// Unreachable returns an engine with Limits on stores that fail every
// call, and the stores: what a parser refuses must never reach them.
func Unreachable() (*upload.Engine, *unreachable.Stores) { return unreachable.New(Limits()) }

// Owner names every fuzzed request's caller.
func Owner(*http.Request) string { return "fuzz" }

// DecodeStrict decodes a whole answer body into v, refusing fields v does
// not have and anything after the one JSON value.
func DecodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// StdForm parses body as a multipart form with http.Request's
// ParseMultipartForm, as the dialects read forms before reqbody. A form
// the standard library refuses fails the test: it should never have
// reached the stores.
func StdForm(t testing.TB, contentType, rawQuery string, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.URL.RawQuery = rawQuery
	r.Header.Set("Content-Type", contentType)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		t.Fatalf("a form the standard library refuses (%v) reached the stores", err)
	}
	t.Cleanup(func() { r.MultipartForm.RemoveAll() })
	return r
}

// CheckStatus checks the status of an error answer given on Unreachable's
// stores: a request refused before it reached them is a 4xx; one that
// reached them met a fault, which is answered 503 with Retry-After: 1 for
// the client to send it again.
func CheckStatus(t testing.TB, rec *httptest.ResponseRecorder, u *unreachable.Stores) {
	t.Helper()
	if len(u.Calls) == 0 && (rec.Code < 400 || rec.Code > 499) {
		t.Fatalf("refused without a store call, yet %d %q", rec.Code, rec.Body)
	}
	if len(u.Calls) > 0 && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1") {
		t.Fatalf("the stores failed (%v), yet %d %q", u.Calls, rec.Code, rec.Body)
	}
}

// Log is a log whose records a test reads back. It may be written from
// many goroutines.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write adds p, one or more JSON records, to the log.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Logger returns a logger that writes every record, from debug up, to l.
func (l *Log) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Records returns the records written so far whose message is msg (all
// of them if msg is ""), each as its JSON object.
func (l *Log) Records(t testing.TB, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	raw := bytes.Clone(l.buf.Bytes())
	l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("log record: %v", err)
		}
		if msg == "" || rec[slog.MessageKey] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// PercentEncode writes s as the clients' JavaScript encoders do: every
// byte that is not an ASCII letter or digit, or one of keep, as %XX.
func PercentEncode(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
