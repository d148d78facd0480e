package gateway

import (
	"net/http"
	"strings"
	"testing"
)

func b64Len(n int) int { return 4 * ((n + 2) / 3) }

// TestEventSizeLimitAtExactBoundary sends the largest request whose event
// is exactly MaxEventBytes (accepted) and one byte more (refused as
// Lambda's limit makes an HTTP API refuse it). The event size is read from
// the gateway's log, which reports the marshalled event's length.
func TestEventSizeLimitAtExactBoundary(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	const n0, p0 = 4_000_000, 16
	send := func(n, pad int) (*http.Response, []byte, int) {
		h := hdr("Content-Type", "application/octet-stream", "X-Pad", strings.Repeat("p", pad))
		resp, body := f.do("PUT", "/v1/uploads/u1/chunks/1", make([]byte, n), h)
		line := f.logLine(resp.Header.Get("Apigw-Requestid"))
		return resp, body, int(line["eventBytes"].(float64))
	}
	resp, body, e0 := send(n0, p0)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("probe: status %d: %s", resp.StatusCode, body)
	}
	// The event grows by the base64 length of the body and by the pad.
	budget := MaxEventBytes - e0 + b64Len(n0)
	n := budget / 4 * 3
	pad := p0 + budget - b64Len(n)

	resp, body, size := send(n, pad)
	if resp.StatusCode != http.StatusOK || size != MaxEventBytes {
		t.Fatalf("largest event: status %d, event %d bytes (want %d): %.200s", resp.StatusCode, size, MaxEventBytes, body)
	}
	t.Logf("largest accepted binary body: %d bytes (event %d bytes)", n, size)

	invoked := f.invocations()
	resp, body, size = send(n, pad+1)
	if size != MaxEventBytes+1 {
		t.Fatalf("event %d bytes, want %d", size, MaxEventBytes+1)
	}
	wantMessage(t, resp, body, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	if f.invocations() != invoked {
		t.Error("the function ran on an event over Lambda's limit")
	}
}

// TestBodySizeLimitAtExactBoundary: a body of exactly 10 MB passes API
// Gateway's payload quota (and is then too big for Lambda); one byte more
// is refused by the quota itself.
func TestBodySizeLimitAtExactBoundary(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	h := hdr("Content-Type", "application/octet-stream")

	resp, body := f.do("PUT", "/v1/uploads/u1/chunks/1", make([]byte, MaxBodyBytes), h)
	wantMessage(t, resp, body, http.StatusRequestEntityTooLarge, "Request Entity Too Large")

	resp, body = f.do("PUT", "/v1/uploads/u1/chunks/1", make([]byte, MaxBodyBytes+1), h)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || string(body) != "HTTP content length exceeded 10485760 bytes." {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if f.invocations() != 0 {
		t.Error("a function ran on an oversized request")
	}
}

// TestTextBodyLimit: a text body travels unencoded, so a larger one fits.
func TestTextBodyLimit(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	body := []byte(strings.Repeat("a", 6_000_000))
	e := f.echo("POST", "/v1/uploads", body, hdr("Content-Type", "text/plain"))
	if e.BodyLen != len(body) {
		t.Errorf("handler got %d bytes", e.BodyLen)
	}
}
