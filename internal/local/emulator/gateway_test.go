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

// TestGatewayAnswersThrottledFunction: behind the local gateway, a
// function whose concurrency is all in use is throttled (Options.Throttle)
// and the gateway answers as an HTTP API answers a throttled Lambda
// function: 500 {"message":"Internal Server Error"}, application/json,
// with its request id; the function never ran. Once the busy invocation
// ends, the same request succeeds.
func TestGatewayAnswersThrottledFunction(t *testing.T) {
	e := startFunctions(t, 1, true, map[string]int{"TestFunction": 0})
	p := e.Pool("TestFunction")
	gw, err := gateway.NewWithFunctions(
		[]gateway.Route{{Function: "TestFunction", Method: "GET", Path: "/try"}},
		map[string]gateway.Function{"TestFunction": p},
		gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	g := newGate(t)
	held := g.hold(t, p)
	invoked := p.Stats().Invocations
	resp, err := http.Get(srv.URL + "/try?do=ok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || string(body) != `{"message":"Internal Server Error"}` ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Apigw-Requestid") == "" {
		t.Errorf("throttled: %d %v %s, want 500 {\"message\":\"Internal Server Error\"}", resp.StatusCode, resp.Header, body)
	}
	if st := p.Stats(); st.Throttles != 1 || st.Invocations != invoked {
		t.Errorf("stats %+v: want one throttle and no invocation for it", st)
	}
	close(g.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(srv.URL + "/try?do=ok"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after the busy invocation ended: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
