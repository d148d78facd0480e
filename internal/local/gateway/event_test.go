package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/wire/lambdahttp"
)

// TestEventJSONUsesAWSFieldNames marshals the event built for a sample
// request and checks it against the field names of the payload format 2.0
// example in AWS's documentation.
func TestEventJSONUsesAWSFieldNames(t *testing.T) {
	g, err := newGateway([]Route{{Function: "ReceiveFunction", Method: "PUT", Path: "/v1/uploads/{id}/chunks/{n}"}},
		map[string]http.Handler{"ReceiveFunction": http.NotFoundHandler()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("PUT", "http://abc123.execute-api.us-east-1.amazonaws.com/v1/uploads/u1/chunks/2?a=1&a=2", strings.NewReader("\x00\x01"))
	r.Header.Set("Content-Type", "application/octet-stream")
	r.Header.Set("Cookie", "c1=v1; c2=v2")
	m, ok := g.table.find(r.Method, r.URL)
	if !ok {
		t.Fatal("no route")
	}
	x := &exchange{start: time.Now(), requestID: newRequestID()}
	payload, err := encodeEvent(g.buildEvent(r, m, []byte("\x00\x01"), x), r.Header.Get("Content-Type"), []byte("\x00\x01"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "event", ev, "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
		"queryStringParameters", "pathParameters", "requestContext", "body", "isBase64Encoded")
	rc := ev["requestContext"].(map[string]any)
	wantKeys(t, "requestContext", rc, "accountId", "apiId", "authentication", "domainName", "domainPrefix",
		"http", "requestId", "routeKey", "stage", "time", "timeEpoch")
	wantKeys(t, "requestContext.http", rc["http"].(map[string]any), "method", "path", "protocol", "sourceIp", "userAgent")

	if ev["version"] != "2.0" || ev["routeKey"] != "PUT /v1/uploads/{id}/chunks/{n}" || ev["rawPath"] != "/v1/uploads/u1/chunks/2" ||
		ev["rawQueryString"] != "a=1&a=2" || ev["body"] != "AAE=" || ev["isBase64Encoded"] != true {
		t.Errorf("event = %s", payload)
	}
	if rc["domainPrefix"] != "abc123" || rc["stage"] != "$default" {
		t.Errorf("requestContext = %v", rc)
	}
	if !reflect.DeepEqual(ev["cookies"], []any{"c1=v1", "c2=v2"}) {
		t.Errorf("cookies = %v", ev["cookies"])
	}
	if !reflect.DeepEqual(ev["pathParameters"], map[string]any{"id": "u1", "n": "2"}) {
		t.Errorf("pathParameters = %v", ev["pathParameters"])
	}
}

// wantKeys checks that m has exactly the given keys.
func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s keys = %v, want %v", what, got, keys)
	}
}

func TestEventWithoutBodyOmitsIt(t *testing.T) {
	payload, err := encodeEvent(events.APIGatewayV2HTTPRequest{Version: "2.0"}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(payload), `"body"`) || !strings.Contains(string(payload), `"isBase64Encoded":false`) {
		t.Errorf("event = %s", payload)
	}
}

func TestFromLambda(t *testing.T) {
	rp, err := fromLambda(events.APIGatewayV2HTTPResponse{
		StatusCode:        201,
		Headers:           map[string]string{"Content-Type": "application/octet-stream", "Link": "a"},
		MultiValueHeaders: map[string][]string{"Link": {"b", "c"}, "X-Multi": {"1", "2"}},
		Cookies:           []string{"a=1", "b=2; HttpOnly"},
		Body:              "AAEC",
		IsBase64Encoded:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rp.status != 201 || string(rp.body) != "\x00\x01\x02" {
		t.Errorf("reply = %d %q", rp.status, rp.body)
	}
	want := http.Header{
		"Content-Type": {"application/octet-stream"},
		"Link":         {"b", "c"},
		"X-Multi":      {"1", "2"},
		"Set-Cookie":   {"a=1", "b=2; HttpOnly"},
	}
	if !reflect.DeepEqual(rp.header, want) {
		t.Errorf("header = %v, want %v", rp.header, want)
	}

	for _, bad := range []events.APIGatewayV2HTTPResponse{
		{StatusCode: 0, Body: "x"},
		{StatusCode: 200, Body: "not base64!", IsBase64Encoded: true},
	} {
		rp, err := fromLambda(bad)
		if err == nil || rp.status != http.StatusInternalServerError || string(rp.body) != `{"message":"Internal Server Error"}` {
			t.Errorf("%+v: reply %d %s, err %v", bad, rp.status, rp.body, err)
		}
	}
}

func TestTextContentTypes(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8": true, " Application/JSON ": true, "application/xml": true,
		"application/javascript": true, "application/problem+json": false, "multipart/form-data; boundary=x": false,
		"application/x-www-form-urlencoded": false, "": false,
	} {
		if got := isTextContentType(ct); got != want {
			t.Errorf("isTextContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

// TestEncodeEventAsEncodingJSON holds the spliced encoding of a binary body
// to what encoding/json writes for the whole event.
func TestEncodeEventAsEncodingJSON(t *testing.T) {
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RawPath:        "/v1/uploads/u1/chunks/2",
		Headers:        map[string]string{"content-type": "application/octet-stream", "x-note": `<a href="x">&</a>`},
		PathParameters: map[string]string{"id": "u1"},
	}
	for _, c := range []struct {
		contentType string
		body        []byte
	}{
		{"application/octet-stream", []byte("\x00\x01\xfe\xff binary")},
		{"", bytes.Repeat([]byte{0xfb, 0xff}, 70_001)},
		{"multipart/form-data; boundary=x", []byte("--x\r\n\r\n")},
		{"text/plain", []byte("text <&> \"quoted\"\n")},
		{"application/json", nil},
	} {
		got, err := encodeEvent(ev, c.contentType, c.body, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ev
		if len(c.body) > 0 && !strings.HasPrefix(c.contentType, "text/") {
			want.Body, want.IsBase64Encoded = base64.StdEncoding.EncodeToString(c.body), true
		} else {
			want.Body = string(c.body)
		}
		wantJSON, err := lambdahttp.EncodeJSON(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantJSON) {
			t.Errorf("%q: encodeEvent wrote\n%.300s\nencoding/json writes\n%.300s", c.contentType, got, wantJSON)
		}
	}
}
