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

// readEventFile returns the bytes of events/<name>.
func readEventFile(t *testing.T, name string) []byte {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func readEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	raw := readEventFile(t, name)
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

// sampleEvents are the files of events/ in the order they are sent, each
// with what its function must answer. Creating and filling the uploads
// some of them need is done on e's engine.
func sampleEvents() []sampleEvent {
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
	return []sampleEvent{
		{file: "native-create.json", function: api.ReceiveFunction, status: 201},
		{file: "native-chunk.json", function: api.ReceiveFunction, upload: small, status: 200},
		{file: "native-chunk.json", function: api.ReceiveFunction, status: 404},
		{file: "native-status.json", function: api.CheckFunction, upload: small, status: 200},
		{file: "native-content.json", function: api.CheckFunction, upload: small, status: 409},
		{file: "native-content.json", function: api.CheckFunction, upload: small, before: func(t *testing.T, e *env, s *upload.Session) {
			putFirst(t, e, s)
			if _, err := e.svc.Engine.Complete(context.Background(), s.Owner, s.ID); err != nil {
				t.Fatal(err)
			}
		}, status: 302},
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
		// Direct uploads: a new one, then requests about one that is not there.
		{file: "companion-create.json", function: api.ReceiveFunction, status: 200},
		{file: "companion-params.json", function: api.ReceiveFunction, status: 200},
		{file: "companion-sign-part.json", function: api.ReceiveFunction, status: 404},
		{file: "companion-list-parts.json", function: api.ReceiveFunction, status: 404},
		{file: "companion-complete.json", function: api.CompleteFunction, status: 404},
		{file: "companion-abort.json", function: api.CompleteFunction, status: 404},
		{file: "native-sign-part.json", function: api.ReceiveFunction, status: 404},
	}
}

// sendSampleEvents sends every sample event with invoke, which returns the
// function's answer, and checks its status.
func sendSampleEvents(t *testing.T, e *env, invoke func(c sampleEvent, ev events.APIGatewayV2HTTPRequest, raw []byte) events.APIGatewayV2HTTPResponse) {
	t.Helper()
	for _, c := range sampleEvents() {
		ev, raw := readEvent(t, c.file), readEventFile(t, c.file)
		if c.stream != nil {
			s, err := e.svc.Engine.CreateStream(context.Background(), *c.stream)
			if err != nil {
				t.Fatal(err)
			}
			withID(&ev, s.ID)
			if raw, err = json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
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
			if raw, err = json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
		if resp := invoke(c, ev, raw); resp.StatusCode != c.status {
			t.Errorf("%s (new upload: %v): %d %s, want %d", c.file, c.upload != nil || c.stream != nil, resp.StatusCode, resp.Body, c.status)
		}
	}
}

// TestSampleEvents feeds every file of events/ to its function's handler,
// as `sam local invoke -e events/<file>` would, and checks the answer.
func TestSampleEvents(t *testing.T) {
	e := newEnv(t, nil)
	sendSampleEvents(t, e, func(c sampleEvent, ev events.APIGatewayV2HTTPRequest, _ []byte) events.APIGatewayV2HTTPResponse {
		resp, err := httpadapter.NewV2(e.svc.Handler(c.function)).ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		return resp
	})
	var sched events.EventBridgeEvent
	if err := json.Unmarshal(readEventFile(t, "schedule.json"), &sched); err != nil {
		t.Fatalf("schedule.json: %v", err)
	}
	if _, err := e.svc.Sweep(context.Background(), sched); err != nil {
		t.Fatalf("schedule event: %v", err)
	}
}

// TestSampleEventsThroughTheBinaries feeds every file of events/ to its
// function's built bootstrap under the Lambda Runtime Interface Emulator,
// as `sam local invoke -e events/<file>` does (the file as it is, but for
// the upload id of those that need an upload), and checks the answer;
// schedule.json goes to the cleanup function, which must not fail.
func TestSampleEventsThroughTheBinaries(t *testing.T) {
	e := newEnvWith(t, envOptions{emulated: true})
	stored := func() int64 { return e.blobs.putStaged.Load() + e.blobs.uploadParts.Load() + e.blobs.completes.Load() }
	invoke := func(function string, payload []byte) []byte {
		t.Helper()
		before := stored()
		out, err := e.em.Pool(function).Invoke(context.Background(), payload)
		if err != nil {
			t.Fatalf("%s: %v", function, err)
		}
		if stored() != before {
			t.Fatalf("%s: the in-process engine did the work, not the binary", function)
		}
		return out
	}
	sendSampleEvents(t, e, func(c sampleEvent, _ events.APIGatewayV2HTTPRequest, raw []byte) events.APIGatewayV2HTTPResponse {
		var resp events.APIGatewayV2HTTPResponse
		if out := invoke(c.function, raw); json.Unmarshal(out, &resp) != nil {
			t.Fatalf("%s: the answer %q is not an HTTP API response", c.file, out)
		}
		return resp
	})
	var stats upload.SweepStats
	if out := invoke(api.CleanupFunction, readEventFile(t, "schedule.json")); json.Unmarshal(out, &stats) != nil || stats.Errors != 0 {
		t.Fatalf("schedule event: %q", out)
	}
	// S3's event about an object no form upload has: taken, and nothing settled.
	if out := invoke(api.CleanupFunction, readEventFile(t, "s3-object-created.json")); json.Unmarshal(out, &stats) != nil || stats.Completed != 0 || stats.Errors != 0 {
		t.Fatalf("S3 Object Created event: %q", out)
	}
}
