package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBinaryBodyRoundTripIsByteExact(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	body := make([]byte, 3<<20)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	resp, got := f.do("POST", "/raw", body, hdr("Content-Type", "application/octet-stream"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %.200s", resp.StatusCode, got)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("response body differs from request body (%d vs %d bytes)", len(got), len(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	ev := f.lastEvent()
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString(body) {
		t.Errorf("event body not the base64 of the request (isBase64Encoded=%v)", ev.IsBase64Encoded)
	}
}

func TestMultipartBodyArrivesBase64AndParses(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	file := make([]byte, 200<<10)
	_, _ = rand.Read(file)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("resumableChunkNumber", "3")
	_ = mw.WriteField("resumableFilename", "café.bin")
	part, _ := mw.CreateFormFile("file", "blob")
	_, _ = part.Write(file)
	_ = mw.Close()

	e := f.echo("POST", "/resumable?resumableChunkNumber=3", buf.Bytes(), hdr("Content-Type", mw.FormDataContentType()))
	sum := sha256.Sum256(file)
	if e.FileSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("file part digest = %s, want %x", e.FileSHA256, sum)
	}
	want := map[string][]string{"resumableChunkNumber": {"3"}, "resumableFilename": {"café.bin"}}
	if !reflect.DeepEqual(e.Form, want) {
		t.Errorf("form = %v, want %v", e.Form, want)
	}
	if ev := f.lastEvent(); !ev.IsBase64Encoded {
		t.Error("a multipart body must reach the function base64-encoded")
	}
}

func TestBodyEncodingFollowsContentType(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	cases := []struct {
		contentType string
		base64      bool
	}{
		{"application/json", false},
		{"application/json; charset=utf-8", false},
		{"text/plain", false},
		{"TEXT/CSV", false},
		{"application/xml", false},
		{"application/javascript", false},
		{"application/x-www-form-urlencoded", true},
		{"application/octet-stream", true},
		{"image/png", true},
		{"", true},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.contentType != "" {
			h.Set("Content-Type", c.contentType)
		}
		e := f.echo("POST", "/v1/uploads", []byte(`{"name":"a<b>.txt"}`), h)
		ev := f.lastEvent()
		if ev.IsBase64Encoded != c.base64 {
			t.Errorf("%q: isBase64Encoded = %v, want %v", c.contentType, ev.IsBase64Encoded, c.base64)
		}
		if string(e.Body) != `{"name":"a<b>.txt"}` {
			t.Errorf("%q: handler got body %q", c.contentType, e.Body)
		}
	}
}

func TestQueryStringWithRepeatedKeys(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	raw := "x=1&x=2&y=a%20b&plus=c+d&z=&k%C3%A9=%E2%9C%93"
	e := f.echo("GET", "/v1/uploads/u1?"+raw, nil, nil)
	ev := f.lastEvent()
	if ev.RawQueryString != raw {
		t.Errorf("rawQueryString = %q, want %q", ev.RawQueryString, raw)
	}
	want := map[string]string{"x": "1,2", "y": "a b", "plus": "c d", "z": "", "ké": "✓"}
	if !reflect.DeepEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v, want %v", ev.QueryStringParameters, want)
	}
	if e.RawQuery != raw {
		t.Errorf("handler saw query %q, want %q", e.RawQuery, raw)
	}
	f.echo("GET", "/v1/uploads/u1", nil, nil)
	if ev := f.lastEvent(); ev.QueryStringParameters != nil || ev.RawQueryString != "" {
		t.Errorf("no query: got %q %v", ev.RawQueryString, ev.QueryStringParameters)
	}
}

func TestPathParametersAndRouteKeys(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	cases := []struct {
		method, path, routeKey string
		params                 map[string]string
	}{
		{"PUT", "/v1/uploads/ab%2Fc%20d/chunks/7", "PUT /v1/uploads/{id}/chunks/{n}", map[string]string{"id": "ab/c d", "n": "7"}},
		{"GET", "/v1/uploads/u1", "GET /v1/uploads/{id}", map[string]string{"id": "u1"}},
		{"POST", "/v1/uploads", "POST /v1/uploads", nil},
		{"GET", "/files/a/b/c.txt", "ANY /files/{proxy+}", map[string]string{"proxy": "a/b/c.txt"}},
		{"GET", "/files/special/9", "GET /files/special/{id}", map[string]string{"id": "9"}},
		{"DELETE", "/files/special/9", "ANY /files/{proxy+}", map[string]string{"proxy": "special/9"}},
	}
	for _, c := range cases {
		e := f.echo(c.method, c.path, nil, nil)
		ev := f.lastEvent()
		if ev.RouteKey != c.routeKey || ev.RequestContext.RouteKey != c.routeKey {
			t.Errorf("%s %s: routeKey = %q / %q, want %q", c.method, c.path, ev.RouteKey, ev.RequestContext.RouteKey, c.routeKey)
		}
		if !reflect.DeepEqual(ev.PathParameters, c.params) {
			t.Errorf("%s %s: pathParameters = %v, want %v", c.method, c.path, ev.PathParameters, c.params)
		}
		if e.Method != c.method || e.Context.RouteKey != c.routeKey {
			t.Errorf("%s %s: handler saw %s with routeKey %q", c.method, c.path, e.Method, e.Context.RouteKey)
		}
	}
}

func TestUnknownRouteAndWrongMethodAre404(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	for _, c := range [][2]string{
		{"GET", "/nope"},
		{"DELETE", "/resumable"},
		{"GET", "/v1/uploads/u1/chunks"},
		{"GET", "/files"},
		{"GET", "/v1/uploads/"},
	} {
		resp, body := f.do(c[0], c[1], nil, nil)
		wantMessage(t, resp, body, http.StatusNotFound, "Not Found")
	}
	if n := f.invocations(); n != 0 {
		t.Errorf("%d functions invoked for unrouted requests", n)
	}
}

func TestDefaultRouteTakesTheRest(t *testing.T) {
	routes := append(slices.Clone(testRoutes), Route{Function: "CheckFunction", Path: "$default"})
	f := newFixture(t, routes, Options{})
	e := f.echo("PATCH", "/anything/at/all?q=1", nil, nil)
	ev := f.lastEvent()
	if ev.RouteKey != "$default" || e.Context.RouteKey != "$default" || ev.PathParameters != nil {
		t.Errorf("routeKey %q / %q, pathParameters %v", ev.RouteKey, e.Context.RouteKey, ev.PathParameters)
	}
	if e.Path != "/anything/at/all" {
		t.Errorf("handler path = %q", e.Path)
	}
	f.echo("GET", "/v1/uploads/u1", nil, nil)
	if ev := f.lastEvent(); ev.RouteKey != "GET /v1/uploads/{id}" {
		t.Errorf("explicit route lost to $default: %q", ev.RouteKey)
	}
}

func TestHeadersAsPayloadFormat2(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	h := hdr("X-Chunk-Checksum", "a", "X-Chunk-Checksum", "b", "X-Forwarded-For", "203.0.113.9",
		"Content-Type", "application/json", "User-Agent", "resumable-test/1.0")
	e := f.echo("POST", "/v1/uploads", []byte(`{}`), h)
	ev := f.lastEvent()
	host := strings.TrimPrefix(f.srv.URL, "http://")
	want := map[string]string{
		"x-chunk-checksum":  "a,b",
		"content-type":      "application/json",
		"content-length":    "2",
		"host":              host,
		"user-agent":        "resumable-test/1.0",
		"x-forwarded-for":   "203.0.113.9, 127.0.0.1",
		"x-forwarded-proto": "http",
		"x-forwarded-port":  host[strings.LastIndex(host, ":")+1:],
	}
	for k, v := range want {
		if ev.Headers[k] != v {
			t.Errorf("header %q = %q, want %q", k, ev.Headers[k], v)
		}
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header name %q is not lowercase", k)
		}
	}
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(ev.Headers["x-amzn-trace-id"]) {
		t.Errorf("x-amzn-trace-id = %q", ev.Headers["x-amzn-trace-id"])
	}
	if got := e.Header.Values("X-Chunk-Checksum"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("handler saw X-Chunk-Checksum %v", got)
	}
}

func TestRequestContext(t *testing.T) {
	f := newFixture(t, testRoutes, Options{AccountID: "111122223333", APIID: "abc123"})
	before := time.Now()
	e := f.echo("GET", "/v1/uploads/u1", nil, hdr("User-Agent", "agent/1"))
	rc := f.lastEvent().RequestContext
	if !e.HasContext || !reflect.DeepEqual(e.Context, rc) {
		t.Fatalf("handler context %+v differs from the event's %+v", e.Context, rc)
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	if rc.AccountID != "111122223333" || rc.APIID != "abc123" || rc.Stage != "$default" ||
		rc.DomainName != host || rc.DomainPrefix != "127" {
		t.Errorf("requestContext = %+v", rc)
	}
	if rc.HTTP.Method != "GET" || rc.HTTP.Path != "/v1/uploads/u1" || rc.HTTP.Protocol != "HTTP/1.1" ||
		rc.HTTP.SourceIP != "127.0.0.1" || rc.HTTP.UserAgent != "agent/1" {
		t.Errorf("requestContext.http = %+v", rc.HTTP)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{15}=$`).MatchString(rc.RequestID) {
		t.Errorf("requestId = %q", rc.RequestID)
	}
	if when := time.UnixMilli(rc.TimeEpoch); when.Before(before.Add(-time.Second)) || when.After(time.Now()) {
		t.Errorf("timeEpoch = %d", rc.TimeEpoch)
	}
	if tm, err := time.Parse(requestTimeLayout, rc.Time); err != nil || tm.Unix() != rc.TimeEpoch/1000 {
		t.Errorf("time = %q (%v)", rc.Time, err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(e.LambdaID) ||
		e.FunctionARN != "arn:aws:lambda:us-east-1:111122223333:function:CheckFunction" {
		t.Errorf("lambda context: %q %q", e.LambdaID, e.FunctionARN)
	}
}

func TestRequestIDsAreUniqueAndReturned(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	seen := map[string]bool{}
	for range 50 {
		resp, _ := f.do("GET", "/v1/uploads/u1", nil, nil)
		id := resp.Header.Get("Apigw-Requestid")
		if id == "" || seen[id] {
			t.Fatalf("request id %q missing or repeated", id)
		}
		seen[id] = true
		if got := f.lastEvent().RequestContext.RequestID; got != id {
			t.Fatalf("event requestId %q, header %q", got, id)
		}
	}
}

func TestCookies(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	h := hdr("Cookie", "a=1; b=2", "Cookie", "c=3")
	resp, body := f.do("GET", "/cookies", nil, h)
	ev := f.lastEvent()
	if !reflect.DeepEqual(ev.Cookies, []string{"a=1", "b=2", "c=3"}) {
		t.Errorf("cookies = %q", ev.Cookies)
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("the cookie header must move to the cookies field")
	}
	if string(body) != "a=1;b=2;c=3" {
		t.Errorf("handler saw cookies %q", body)
	}
	got := resp.Header.Values("Set-Cookie")
	slices.Sort(got)
	if want := []string{"session=s1; Path=/", "theme=dark"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
}

func TestPanickingHandlerIs500(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	resp, body := f.do("GET", "/panic", nil, nil)
	wantMessage(t, resp, body, http.StatusInternalServerError, "Internal Server Error")
	logs := f.logs.String()
	if !strings.Contains(logs, "function panicked: boom") || !strings.Contains(logs, "panicHandler") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	line := f.logLine(resp.Header.Get("Apigw-Requestid"))
	if line["function"] != "PanicFunction" || line["status"] != float64(500) {
		t.Errorf("request log line = %v", line)
	}
	// The gateway keeps serving.
	f.echo("GET", "/v1/uploads/u1", nil, nil)
}

func TestIntegrationTimeoutIs503(t *testing.T) {
	f := newFixture(t, testRoutes, Options{IntegrationTimeout: 100 * time.Millisecond})
	start := time.Now()
	resp, body := f.do("GET", "/slow", nil, nil)
	wantMessage(t, resp, body, http.StatusServiceUnavailable, "Service Unavailable")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v", d)
	}
}

func TestBase64ResponseBodyIsDecoded(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	resp, body := f.do("GET", "/big?n=1000", nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, bytes.Repeat([]byte{0xff}, 1000)) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp.Header.Get("Content-Length") != "1000" {
		t.Errorf("Content-Length = %q", resp.Header.Get("Content-Length"))
	}
}

func TestResponseOverLambdaLimitIs500(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	resp, body := f.do("GET", "/big?n=4800000", nil, nil) // 6.4 MB once base64-encoded
	wantMessage(t, resp, body, http.StatusInternalServerError, "Internal Server Error")
	if !strings.Contains(f.logs.String(), "exceeds Lambda's 6291556") {
		t.Errorf("oversized response not logged:\n%.2000s", f.logs.String())
	}
}

func TestRequestLogLine(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	resp, body := f.do("PUT", "/v1/uploads/u1/chunks/2", []byte("hello"), hdr("Content-Type", "application/octet-stream"))
	line := f.logLine(resp.Header.Get("Apigw-Requestid"))
	for k, v := range map[string]any{
		"method": "PUT", "path": "/v1/uploads/u1/chunks/2", "status": float64(200),
		"function": "ReceiveFunction", "requestBytes": float64(5), "bytes": float64(len(body)),
	} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("no duration in the log line")
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, testRoutes, Options{})
	errs := make(chan string, 32)
	for i := range 32 {
		go func() {
			body := bytes.Repeat([]byte{byte(i)}, 100_000+i)
			req, _ := http.NewRequest("POST", f.srv.URL+"/raw", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var got bytes.Buffer
			_, _ = got.ReadFrom(resp.Body)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got.Bytes(), body) {
				errs <- fmt.Sprintf("request %d: status %d, %d bytes", i, resp.StatusCode, got.Len())
				return
			}
			errs <- ""
		}()
	}
	for range 32 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
