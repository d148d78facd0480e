package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"chunkup/internal/api"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/upload"
)

// sampleEvent is one file of events/ and what its function must answer.
type sampleEvent struct {
	file     string
	function string
	// upload, if set, creates an upload and puts its id in the event's
	// path in place of the sample's; stream does the same with a
	// sequential upload.
	upload *upload.NewUpload
	stream *upload.NewStream
	// before runs on the new upload before the event is sent.
	before func(t *testing.T, e *env, s *upload.Session)
	status int
}

func readEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// withID puts id in place of the sample's upload id.
func withID(ev *events.APIGatewayV2HTTPRequest, id string) {
	old := ev.PathParameters["id"]
	ev.RawPath = strings.Replace(ev.RawPath, old, id, 1)
	ev.RequestContext.HTTP.Path = strings.Replace(ev.RequestContext.HTTP.Path, old, id, 1)
	ev.PathParameters["id"] = id
}

// TestSampleEvents feeds every file of events/ to its function's handler,
// as `sam local invoke -e events/<file>` would, and checks the answer.
func TestSampleEvents(t *testing.T) {
	e := newEnv(t, nil)
	small := &upload.NewUpload{Owner: api.Anonymous, Name: "report.pdf", Geometry: upload.Geometry{Size: 2048, ChunkSize: 1024, Chunks: 2}}
	putFirst := func(t *testing.T, e *env, s *upload.Session) {
		if _, err := e.svc.Engine.AddChunk(context.Background(), s, 0, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Engine.AddChunk(context.Background(), s, 1, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	tusFile := &upload.NewStream{Owner: api.Anonymous, Name: "report.pdf", Size: 12000}
	cases := []sampleEvent{
		{file: "native-create.json", function: api.ReceiveFunction, status: 201},
		{file: "native-chunk.json", function: api.ReceiveFunction, upload: small, status: 200},
		{file: "native-chunk.json", function: api.ReceiveFunction, status: 404},
		{file: "native-status.json", function: api.CheckFunction, upload: small, status: 200},
		{file: "native-complete.json", function: api.CompleteFunction, upload: small, before: putFirst, status: 200},
		{file: "native-complete.json", function: api.CompleteFunction, upload: small, status: 409},
		{file: "native-abort.json", function: api.CompleteFunction, upload: small, status: 204},
		{file: "resumable-test.json", function: api.CheckFunction, status: 204},
		{file: "resumable-chunk.json", function: api.ReceiveFunction, status: 200},
		{file: "resumable-test.json", function: api.CheckFunction, status: 200},
		{file: "flow-test.json", function: api.CheckFunction, status: 204},
		{file: "flow-chunk.json", function: api.ReceiveFunction, status: 200},
		{file: "flow-test.json", function: api.CheckFunction, status: 200},
		{file: "multipleupload-chunk.json", function: api.ReceiveFunction, status: 200},
		{file: "multipleupload-file.json", function: api.ReceiveFunction, status: 200},
		{file: "multipleupload-file-preflight.json", function: api.ReceiveFunction, status: 204},
		{file: "multipleupload-chunk-preflight.json", function: api.ReceiveFunction, status: 204},
		{file: "drf-preflight.json", function: api.CheckFunction, status: 200},
		{file: "drf-preflight-id.json", function: api.CheckFunction, status: 200},
		// django: a first chunk, then the completion of an unknown upload_id.
		{file: "django-chunk.json", function: api.ReceiveFunction, status: 200},
		{file: "django-complete.json", function: api.CompleteFunction, status: 404},
		// jQuery-File-Upload: three chunks of one file, a resume GET between.
		{file: "fileupload-post.json", function: api.ReceiveFunction, status: 200},
		{file: "fileupload-put.json", function: api.ReceiveFunction, status: 200},
		{file: "fileupload-resume.json", function: api.CheckFunction, status: 200},
		{file: "fileupload-patch.json", function: api.ReceiveFunction, status: 200},
		// tus: discovery, a creation, a PATCH and its override form, HEAD,
		// DELETE.
		{file: "tus-options.json", function: api.CheckFunction, status: 204},
		{file: "tus-options-id.json", function: api.CheckFunction, status: 204},
		{file: "tus-create.json", function: api.ReceiveFunction, status: 201},
		{file: "tus-patch.json", function: api.ReceiveFunction, stream: tusFile, status: 204},
		{file: "tus-override.json", function: api.ReceiveFunction, stream: tusFile, status: 204},
		{file: "tus-patch.json", function: api.ReceiveFunction, status: 404},
		{file: "tus-head.json", function: api.CompleteFunction, stream: tusFile, status: 200},
		{file: "tus-delete.json", function: api.CompleteFunction, stream: tusFile, status: 204},
	}
	for _, c := range cases {
		ev := readEvent(t, c.file)
		if c.stream != nil {
			s, err := e.svc.Engine.CreateStream(context.Background(), *c.stream)
			if err != nil {
				t.Fatal(err)
			}
			withID(&ev, s.ID)
		}
		if c.upload != nil {
			s, err := e.svc.Engine.Create(context.Background(), *c.upload)
			if err != nil {
				t.Fatal(err)
			}
			if c.before != nil {
				c.before(t, e, s)
			}
			withID(&ev, s.ID)
		}
		resp, err := httpadapter.NewV2(e.svc.Handler(c.function)).ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s (new upload: %v): %d %s, want %d", c.file, c.upload != nil, resp.StatusCode, resp.Body, c.status)
		}
	}

	var sched events.EventBridgeEvent
	root, _ := samtemplate.FindRoot()
	raw, err := os.ReadFile(filepath.Join(root, "events", "schedule.json"))
	if err != nil || json.Unmarshal(raw, &sched) != nil {
		t.Fatalf("schedule.json: %v", err)
	}
	if _, err := e.svc.Sweep(context.Background(), sched); err != nil {
		t.Fatalf("schedule event: %v", err)
	}
}
