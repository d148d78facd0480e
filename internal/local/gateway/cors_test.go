package gateway

import (
	"net/http"
	"testing"
)

var templateCORS = Options{
	AllowedOrigins: []string{"https://app.example.com"},
	AllowMethods:   []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
	AllowHeaders:   []string{"content-type", "content-range", "x-chunk-checksum"},
	ExposeHeaders:  []string{"range", "location", "x-request-id"},
	MaxAge:         600,
}

func preflightHeader(origin, method string) http.Header {
	return hdr("Origin", origin, "Access-Control-Request-Method", method,
		"Access-Control-Request-Headers", "content-type,x-chunk-checksum")
}

func TestPreflightIsAnsweredWithoutAFunction(t *testing.T) {
	f := newFixture(t, testRoutes, templateCORS)
	for _, path := range []string{"/v1/uploads/u1/chunks/1", "/no/such/route"} {
		resp, body := f.do("OPTIONS", path, nil, preflightHeader("https://app.example.com", "PUT"))
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("%s: status %d, body %q", path, resp.StatusCode, body)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":  "https://app.example.com",
			"Access-Control-Allow-Methods": "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS",
			"Access-Control-Allow-Headers": "content-type,content-range,x-chunk-checksum",
			"Access-Control-Max-Age":       "600",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("%s: credentials allowed without being configured", path)
		}
	}
	if n := f.invocations(); n != 0 {
		t.Errorf("%d functions invoked for preflights", n)
	}
}

func TestPreflightFromAnotherOriginGetsNoCORSHeaders(t *testing.T) {
	f := newFixture(t, testRoutes, templateCORS)
	resp, _ := f.do("OPTIONS", "/v1/uploads", nil, preflightHeader("https://evil.example", "POST"))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for name := range resp.Header {
		if len(name) > 15 && name[:15] == "Access-Control-" {
			t.Errorf("unexpected %s: %q", name, resp.Header.Get(name))
		}
	}
}

func TestAnyOriginAndCredentials(t *testing.T) {
	opts := templateCORS
	opts.AllowedOrigins = []string{"*"}
	f := newFixture(t, testRoutes, opts)
	resp, _ := f.do("OPTIONS", "/resumable", nil, preflightHeader("http://localhost:5173", "POST"))
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}

	opts = templateCORS
	opts.AllowCredentials = true
	f = newFixture(t, testRoutes, opts)
	resp, _ = f.do("GET", "/cors", nil, hdr("Origin", "https://app.example.com"))
	if resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Error("Access-Control-Allow-Credentials missing")
	}
	if _, err := newGateway(testRoutes, testHandlers(), Options{AllowedOrigins: []string{"*"}, AllowCredentials: true}); err == nil {
		t.Error("credentials with the * origin must be refused")
	}
}

func TestActualResponsesGetConfiguredCORSHeadersOnly(t *testing.T) {
	f := newFixture(t, testRoutes, templateCORS)
	resp, body := f.do("GET", "/cors", nil, hdr("Origin", "https://app.example.com"))
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q (the function's own value must be dropped)", got)
	}
	if got := resp.Header.Get("Access-Control-Expose-Headers"); got != "range,location,x-request-id" {
		t.Errorf("Access-Control-Expose-Headers = %q", got)
	}
	if resp.Header.Get("X-Request-Id") != "r1" {
		t.Error("other headers of the function must pass")
	}

	resp, _ = f.do("GET", "/cors", nil, hdr("Origin", "https://evil.example"))
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", got)
	}
	resp, _ = f.do("GET", "/cors", nil, nil)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("request without Origin got Access-Control-Allow-Origin %q", got)
	}
}

func TestGatewayErrorsCarryCORSHeaders(t *testing.T) {
	f := newFixture(t, testRoutes, templateCORS)
	resp, body := f.do("GET", "/nope", nil, hdr("Origin", "https://app.example.com"))
	wantMessage(t, resp, body, http.StatusNotFound, "Not Found")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Error("a browser could not read this 404")
	}
}

func TestWithoutCORSOptionsIsRouted(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	resp, body := f.do("OPTIONS", "/v1/uploads", nil, preflightHeader("https://app.example.com", "POST"))
	wantMessage(t, resp, body, http.StatusNotFound, "Not Found")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers without a CORS configuration")
	}
	resp, _ = f.do("GET", "/cors", nil, hdr("Origin", "https://app.example.com"))
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://evil.example" {
		t.Error("without a CORS configuration the function's own CORS headers pass unchanged")
	}
}
