// Package events_test checks the sample events in this directory: each is
// what API Gateway (HTTP API, payload 2.0) or EventBridge sends, and
// together they cover every route and schedule of template.yaml. The tests
// that feed them to the handlers live with the handlers.
package events_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/local/samtemplate"
)

// httpEvents maps each HTTP sample event to the template event it stands for.
var httpEvents = map[string]string{
	"native-create.json":        "NativeCreate",
	"native-chunk.json":         "NativeChunk",
	"native-status.json":        "NativeStatus",
	"native-content.json":       "NativeContent",
	"native-complete.json":      "NativeComplete",
	"native-abort.json":         "NativeAbort",
	"resumable-test.json":       "ResumableTest",
	"resumable-chunk.json":      "ResumableChunk",
	"flow-test.json":            "FlowTest",
	"flow-chunk.json":           "FlowChunk",
	"multipleupload-file.json":  "MultipleUploadFile",
	"multipleupload-chunk.json": "MultipleUploadChunk",
	"drf-create.json":           "DrfCreate",
	"drf-whole.json":            "DrfWhole",
	"drf-chunk.json":            "DrfChunk",
	"drf-status.json":           "DrfStatus",
	"drf-complete.json":         "DrfComplete",
	"drf-other-method.json":     "DrfOtherMethod",
	"drf-other-method-id.json":  "DrfOtherMethodById",

	// direct uploads: the Companion routes and the native API's parts
	"companion-create.json":     "CompanionCreate",
	"companion-sign-part.json":  "CompanionSignPart",
	"companion-list-parts.json": "CompanionListParts",
	"companion-complete.json":   "CompanionComplete",
	"companion-abort.json":      "CompanionAbort",
	"companion-params.json":     "CompanionParams",
	"native-sign-part.json":     "NativeSignPart",

	// CORS preflights to the ANY paths, open without a token
	"multipleupload-file-preflight.json":  "MultipleUploadFilePreflight",
	"multipleupload-chunk-preflight.json": "MultipleUploadChunkPreflight",
	"drf-preflight.json":                  "DrfPreflight",
	"drf-preflight-id.json":               "DrfPreflightById",

	// django-chunked-upload and jQuery-File-Upload
	"django-chunk.json":      "DjangoChunk",
	"django-complete.json":   "DjangoComplete",
	"fileupload-post.json":   "FileUploadPost",
	"fileupload-put.json":    "FileUploadPut",
	"fileupload-patch.json":  "FileUploadPatch",
	"fileupload-resume.json": "FileUploadResume",

	// tus
	"tus-create.json":     "TusCreate",
	"tus-patch.json":      "TusPatch",
	"tus-override.json":   "TusOverride",
	"tus-head.json":       "TusHead",
	"tus-delete.json":     "TusDelete",
	"tus-options.json":    "TusOptions",
	"tus-options-id.json": "TusOptionsById",
}

// readStrict decodes a JSON file into v, refusing fields v does not have,
// so a misspelt key cannot hide.
func readStrict(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// pathPattern turns a route path such as /v1/uploads/{id} into a regexp
// that captures its parameters by name.
func pathPattern(route string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, seg := range strings.Split(route, "/")[1:] {
		b.WriteString("/")
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
			if strings.HasSuffix(name, "+") {
				b.WriteString("(?P<" + strings.TrimSuffix(name, "+") + ">.+)")
				continue
			}
			b.WriteString("(?P<" + name + ">[^/]+)")
			continue
		}
		b.WriteString(regexp.QuoteMeta(seg))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestEveryRouteHasAnEvent(t *testing.T) {
	tmpl := loadTemplate(t)
	covered := map[string]bool{}
	for _, ev := range httpEvents {
		covered[ev] = true
	}
	for _, r := range tmpl.Routes() {
		if !covered[r.Event] {
			t.Errorf("route %s (%s) has no sample event in events/", r, r.Event)
		}
	}
	for _, f := range tmpl.Functions {
		if len(f.Schedules) > 0 {
			if _, err := os.Stat("schedule.json"); err != nil {
				t.Errorf("%s is scheduled but events/schedule.json is missing", f.LogicalID)
			}
		}
	}
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := httpEvents[f]; !ok && f != "schedule.json" && f != "s3-object-created.json" {
			t.Errorf("%s is not checked by this test: add it to httpEvents", f)
		}
	}
}

func TestHTTPEvents(t *testing.T) {
	tmpl := loadTemplate(t)
	routes := map[string]samtemplate.Route{}
	for _, r := range tmpl.Routes() {
		routes[r.Event] = r
	}
	for file, eventName := range httpEvents {
		t.Run(file, func(t *testing.T) {
			var ev events.APIGatewayV2HTTPRequest
			readStrict(t, file, &ev)
			route, ok := routes[eventName]
			if !ok {
				t.Fatalf("template has no event %s", eventName)
			}
			checkEnvelope(t, &ev, route)
			body := checkBody(t, &ev)
			if file == "resumable-chunk.json" {
				checkResumableForm(t, &ev, body)
			}
		})
	}
}

// checkEnvelope checks the parts of the event API Gateway derives from the
// request line and the matched route.
func checkEnvelope(t *testing.T, ev *events.APIGatewayV2HTTPRequest, route samtemplate.Route) {
	t.Helper()
	rc := ev.RequestContext
	if ev.Version != "2.0" {
		t.Errorf("version = %q, want 2.0", ev.Version)
	}
	if ev.RouteKey != route.String() || rc.RouteKey != route.String() {
		t.Errorf("routeKey = %q / requestContext.routeKey = %q, want %q", ev.RouteKey, rc.RouteKey, route.String())
	}
	if route.Method != "ANY" && rc.HTTP.Method != route.Method {
		t.Errorf("requestContext.http.method = %q, want %q", rc.HTTP.Method, route.Method)
	}
	if rc.HTTP.Path != ev.RawPath {
		t.Errorf("requestContext.http.path = %q, rawPath = %q", rc.HTTP.Path, ev.RawPath)
	}
	if rc.Stage != "$default" || rc.RequestID == "" || rc.HTTP.SourceIP == "" || rc.TimeEpoch == 0 || rc.APIID == "" {
		t.Errorf("requestContext incomplete: %+v", rc)
	}
	if rc.DomainName != ev.Headers["host"] {
		t.Errorf("requestContext.domainName %q differs from the host header %q", rc.DomainName, ev.Headers["host"])
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q is not lower-case (payload 2.0 lower-cases them)", k)
		}
	}

	m := pathPattern(route.Path).FindStringSubmatch(ev.RawPath)
	if m == nil {
		t.Fatalf("rawPath %q does not match route %s", ev.RawPath, route)
	}
	want := map[string]string{}
	for i, name := range pathPattern(route.Path).SubexpNames() {
		if name != "" {
			want[name] = m[i]
		}
	}
	if len(want) != len(ev.PathParameters) {
		t.Errorf("pathParameters = %v, want %v", ev.PathParameters, want)
	}
	for k, v := range want {
		if ev.PathParameters[k] != v {
			t.Errorf("pathParameters[%s] = %q, want %q", k, ev.PathParameters[k], v)
		}
	}

	q, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		t.Fatalf("rawQueryString: %v", err)
	}
	if len(q) != len(ev.QueryStringParameters) {
		t.Errorf("queryStringParameters has %d keys, rawQueryString %d", len(ev.QueryStringParameters), len(q))
	}
	for k, vs := range q {
		// Payload 2.0 joins repeated parameters with commas.
		if got := ev.QueryStringParameters[k]; got != strings.Join(vs, ",") {
			t.Errorf("queryStringParameters[%s] = %q, rawQueryString says %q", k, got, vs)
		}
	}
}

// checkBody decodes the body and checks it against content-length.
func checkBody(t *testing.T, ev *events.APIGatewayV2HTTPRequest) []byte {
	t.Helper()
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatalf("isBase64Encoded but the body is not base64: %v", err)
		}
	}
	cl, has := ev.Headers["content-length"]
	if !has {
		if len(body) != 0 {
			t.Errorf("%d-byte body without content-length", len(body))
		}
		return body
	}
	if n, err := strconv.Atoi(cl); err != nil || n != len(body) {
		t.Errorf("content-length %q, body has %d bytes", cl, len(body))
	}
	ct := ev.Headers["content-type"]
	if strings.HasPrefix(ct, "application/octet-stream") || strings.HasPrefix(ct, "multipart/") {
		if !ev.IsBase64Encoded {
			t.Errorf("binary content type %q but the body is not base64-encoded", ct)
		}
	}
	if strings.HasPrefix(ct, "application/json") && !json.Valid(body) {
		t.Errorf("content-type %q but the body is not JSON: %q", ct, body)
	}
	return body
}

// checkResumableForm checks a Resumable.js chunk upload: a multipart form
// carrying the same parameters as the query string, and the chunk in the
// field "file", as long as resumableCurrentChunkSize says.
func checkResumableForm(t *testing.T, ev *events.APIGatewayV2HTTPRequest, body []byte) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(ev.Headers["content-type"])
	if err != nil || mediaType != "multipart/form-data" {
		t.Fatalf("content-type %q: %v", ev.Headers["content-type"], err)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	fields := map[string]string{}
	var file []byte
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart body: %v", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if p.FormName() == "file" {
			file = data
			continue
		}
		fields[p.FormName()] = string(data)
	}
	if len(fields) != len(ev.QueryStringParameters) {
		t.Errorf("form has %d parameters, query string %d", len(fields), len(ev.QueryStringParameters))
	}
	for k, v := range ev.QueryStringParameters {
		if fields[k] != v {
			t.Errorf("form %s = %q, query string says %q", k, fields[k], v)
		}
	}
	if want := fields["resumableCurrentChunkSize"]; strconv.Itoa(len(file)) != want {
		t.Errorf("file field has %d bytes, resumableCurrentChunkSize says %s", len(file), want)
	}
	if fields["resumableChunkNumber"] != "1" || fields["resumableTotalChunks"] != "3" {
		t.Errorf("want chunk 1 of 3, got %s of %s", fields["resumableChunkNumber"], fields["resumableTotalChunks"])
	}
}

func TestScheduleEvent(t *testing.T) {
	var ev events.EventBridgeEvent
	readStrict(t, "schedule.json", &ev)
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Errorf("detail-type %q source %q, want a scheduled event", ev.DetailType, ev.Source)
	}
	if ev.ID == "" || ev.Time.IsZero() || ev.Region == "" || len(ev.Resources) != 1 {
		t.Errorf("incomplete event: %+v", ev)
	}
	if !strings.HasPrefix(ev.Resources[0], "arn:aws:events:"+ev.Region+":"+ev.AccountID+":rule/") {
		t.Errorf("resource %q is not a rule of the event's account and region", ev.Resources[0])
	}
	if string(ev.Detail) != "{}" {
		t.Errorf("detail = %s, want {}", ev.Detail)
	}
}

// TestObjectCreatedEvent: the S3 event the cleanup function's FormUploaded
// rule passes on, shaped as S3 sends it to EventBridge: a POST form's
// object under uploads/ (the rule leaves out chunkup's own completions).
func TestObjectCreatedEvent(t *testing.T) {
	var ev events.EventBridgeEvent
	readStrict(t, "s3-object-created.json", &ev)
	if ev.DetailType != "Object Created" || ev.Source != "aws.s3" || len(ev.Resources) != 1 {
		t.Fatalf("detail-type %q source %q resources %v, want S3's Object Created of one bucket", ev.DetailType, ev.Source, ev.Resources)
	}
	var d struct {
		Version string `json:"version"`
		Bucket  struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"etag"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
		RequestID string `json:"request-id"`
		Requester string `json:"requester"`
		SourceIP  string `json:"source-ip-address"`
		Reason    string `json:"reason"`
	}
	dec := json.NewDecoder(bytes.NewReader(ev.Detail))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("detail: %v", err)
	}
	if ev.Resources[0] != "arn:aws:s3:::"+d.Bucket.Name {
		t.Errorf("resource %q is not the bucket %q", ev.Resources[0], d.Bucket.Name)
	}
	if !regexp.MustCompile(`^uploads/[0-9a-f]{32}/[^/]+$`).MatchString(d.Object.Key) || d.Object.Size <= 0 {
		t.Errorf("object %+v: want a final object's key (uploads/<id>/<name>) and its size", d.Object)
	}
	if d.Reason == "CompleteMultipartUpload" || d.Reason == "CopyObject" {
		t.Errorf("reason %q: the rule does not pass chunkup's own objects on", d.Reason)
	}
}
