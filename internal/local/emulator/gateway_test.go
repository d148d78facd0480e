package emulator

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"chunkup/internal/local/gateway"
)

// TestGatewayAnswersFunctionErrors: behind the local gateway, a function
// run by the emulator that returns an error, crashes or times out is
// answered as an HTTP API answers a failed Lambda integration, 500
// {"message":"Internal Server Error"}; a function that works is answered
// with its response.
func TestGatewayAnswersFunctionErrors(t *testing.T) {
	p, _ := startTest(t, 2, time.Second)
	gw, err := gateway.NewWithFunctions(
		[]gateway.Route{{Function: "TestFunction", Method: "GET", Path: "/try"}},
		map[string]gateway.Function{"TestFunction": p},
		gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	get := func(do string) (int, string) {
		resp, err := http.Get(srv.URL + "/try?do=" + do)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if st, body := get("ok"); st != 200 || !strings.Contains(body, `"function":"TestFunction"`) {
		t.Errorf("ok: %d %s", st, body)
	}
	for _, do := range []string{"error", "panic", "exit", "sleep"} {
		if st, body := get(do); st != 500 || body != `{"message":"Internal Server Error"}` {
			t.Errorf("%s: %d %s, want 500 {\"message\":\"Internal Server Error\"}", do, st, body)
		}
	}
	if st, _ := get("ok"); st != 200 {
		t.Errorf("ok after the failures: %d", st)
	}
}
