// Package reqbodytest gives the dialects' tests the standard library's
// reading of a form, the reference that package reqbody's streaming
// reader is held to.
package reqbodytest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

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
