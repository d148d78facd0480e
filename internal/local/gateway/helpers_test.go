package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// echoed is what the echo function saw of its request, as a handler on
// Lambda sees it through httpadapter.
type echoed struct {
	Method      string
	URL         string
	Path        string
	RawQuery    string
	Header      http.Header
	BodyLen     int
	BodySHA256  string
	Body        []byte // only when short
	Context     events.APIGatewayV2HTTPRequestContext
	HasContext  bool
	LambdaID    string
	FunctionARN string
	Form        map[string][]string
	FileSHA256  string
}

const echoBodyLimit = 64 << 10

// echoHandler answers with a JSON description of the request it got.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	e := echoed{Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header, BodyLen: len(body), BodySHA256: hex.EncodeToString(sum[:])}
	if len(body) <= echoBodyLimit {
		e.Body = body
	}
	e.Context, e.HasContext = core.GetAPIGatewayV2ContextFromContext(r.Context())
	if lc, ok := core.GetRuntimeContextFromContextV2(r.Context()); ok && lc != nil {
		e.LambdaID, e.FunctionARN = lc.AwsRequestID, lc.InvokedFunctionArn
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

// formHandler parses a multipart form and reports its fields and the
// digest of its "file" part.
func formHandler(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e := echoed{Form: r.MultipartForm.Value}
	if fh := r.MultipartForm.File["file"]; len(fh) == 1 {
		f, err := fh[0].Open()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		h := sha256.New()
		_, _ = io.Copy(h, f)
		e.FileSHA256 = hex.EncodeToString(h.Sum(nil))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

// rawHandler answers with the request body, unchanged.
func rawHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(body)
}

// bigHandler answers with n bytes that are not UTF-8 (so the adapter
// base64-encodes them), n from the query.
func bigHandler(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(bytes.Repeat([]byte{0xff}, n))
}

func panicHandler(http.ResponseWriter, *http.Request) { panic("boom") }

// slowHandler waits until its context ends.
func slowHandler(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
	w.WriteHeader(http.StatusOK)
}

func cookieHandler(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
	http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
	w.Header().Set("Content-Type", "text/plain")
	names := []string{}
	for _, c := range r.Cookies() {
		names = append(names, c.Name+"="+c.Value)
	}
	_, _ = io.WriteString(w, strings.Join(names, ";"))
}

// corsHandler sets CORS headers of its own, which the gateway must drop.
func corsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
	w.Header().Set("X-Request-Id", "r1")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

var testRoutes = []Route{
	{Function: "ReceiveFunction", Method: "POST", Path: "/v1/uploads"},
	{Function: "ReceiveFunction", Method: "PUT", Path: "/v1/uploads/{id}/chunks/{n}"},
	{Function: "FormFunction", Method: "POST", Path: "/resumable"},
	{Function: "CheckFunction", Method: "GET", Path: "/resumable"},
	{Function: "CheckFunction", Method: "GET", Path: "/v1/uploads/{id}"},
	{Function: "RawFunction", Method: "POST", Path: "/raw"},
	{Function: "BigFunction", Method: "GET", Path: "/big"},
	{Function: "PanicFunction", Method: "GET", Path: "/panic"},
	{Function: "SlowFunction", Method: "GET", Path: "/slow"},
	{Function: "CookieFunction", Method: "GET", Path: "/cookies"},
	{Function: "CORSFunction", Method: "GET", Path: "/cors"},
	{Function: "CheckFunction", Method: "ANY", Path: "/files/{proxy+}"},
	{Function: "ReceiveFunction", Method: "GET", Path: "/files/special/{id}"},
}

func testHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"ReceiveFunction": http.HandlerFunc(echoHandler),
		"CheckFunction":   http.HandlerFunc(echoHandler),
		"FormFunction":    http.HandlerFunc(formHandler),
		"RawFunction":     http.HandlerFunc(rawHandler),
		"BigFunction":     http.HandlerFunc(bigHandler),
		"PanicFunction":   http.HandlerFunc(panicHandler),
		"SlowFunction":    http.HandlerFunc(slowHandler),
		"CookieFunction":  http.HandlerFunc(cookieHandler),
		"CORSFunction":    http.HandlerFunc(corsHandler),
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a gateway behind a real HTTP server.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	logs   *lockedBuffer
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
}

func newFixture(t *testing.T, routes []Route, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &lockedBuffer{}}
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	g, err := newGateway(routes, testHandlers(), opts)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	g.observe = f.record
	f.srv = httptest.NewServer(g)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) record(ev events.APIGatewayV2HTTPRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
}

// lastEvent is the event the last invoked function received.
func (f *fixture) lastEvent() events.APIGatewayV2HTTPRequest {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		f.t.Fatal("no function was invoked")
	}
	return f.events[len(f.events)-1]
}

func (f *fixture) invocations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// do sends a request and returns the response with its body read.
func (f *fixture) do(method, path string, body []byte, header http.Header) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatalf("new request: %v", err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("read response: %v", err)
	}
	return resp, got
}

// echo sends a request to an echo route and decodes what it saw.
func (f *fixture) echo(method, path string, body []byte, header http.Header) echoed {
	f.t.Helper()
	resp, got := f.do(method, path, body, header)
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, got)
	}
	var e echoed
	if err := json.Unmarshal(got, &e); err != nil {
		f.t.Fatalf("decode echo: %v: %s", err, got)
	}
	return e
}

// logLine returns the request log line for a request id.
func (f *fixture) logLine(requestID string) map[string]any {
	f.t.Helper()
	for line := range strings.SplitSeq(f.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["requestId"] == requestID {
			return m
		}
	}
	f.t.Fatalf("no log line for request %s in:\n%s", requestID, f.logs.String())
	return nil
}

// wantMessage checks an API Gateway JSON error answer.
func wantMessage(t *testing.T, resp *http.Response, body []byte, status int, message string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	want := fmt.Sprintf(`{"message":%q}`, message)
	if string(body) != want {
		t.Fatalf("body = %s, want %s", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
