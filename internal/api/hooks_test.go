package api_test

// The application's hooks (issue 14 item 2) on the local stack: the
// engine invokes them through the Lambda client and hook caller the
// functions use, on the local hook functions (internal/local/hookfunc),
// which forward each event to an HTTP handler of the test's, as `make run
// ARGS=-pre-create-to=… -on-complete-to=…` forwards them to a
// developer's.

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/upload"
)

// appHook is an application's hook served as a plain HTTP handler: it
// keeps every event it gets and answers each with answer's status and
// body.
type appHook struct {
	url    string
	mu     sync.Mutex
	events []map[string]any
}

func newAppHook(t *testing.T, answer func(ev map[string]any, r *http.Request) (int, string)) *appHook {
	t.Helper()
	h := &appHook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("hook event is not JSON: %v", err)
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
		status, body := answer(ev, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// calls returns the events the hook got so far.
func (h *appHook) calls() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.events...)
}

// answering is a hook answer of status 200 and body, whatever the event.
func answering(body string) func(map[string]any, *http.Request) (int, string) {
	return func(map[string]any, *http.Request) (int, string) { return http.StatusOK, body }
}

// send sends a request to the service and returns the answer's status,
// headers and body.
func (e *env) send(method, path string, header map[string]string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// form is a multipart form of fields and one file part.
func form(fields [][2]string, fileField, fileName string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile(fileField, fileName)
	fw.Write(data)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// creation is the request that starts an upload in one dialect (for the
// dialects that start one with a chunk, its first and only chunk), and
// the refusal's answer its clients expect: the status and the body.
type creation struct {
	name, dialect string
	method, path  string
	header        map[string]string
	body          []byte
	status        int
	answer        string // the body, exactly; tus's is plain text
}

// creations are the requests that start a 5-byte file a.bin in every
// dialect, each with the answer to a refusal saying msg with status 403.
func creations(msg string) []creation {
	data := []byte("hello")
	var out []creation
	add := func(c creation) { out = append(out, c) }
	jsonHeader := map[string]string{"Content-Type": "application/json"}
	add(creation{name: "native", dialect: "native", method: "POST", path: "/v1/uploads", header: jsonHeader,
		body: []byte(`{"name":"a.bin","size":5}`), status: 403, answer: `{"error":{"code":"upload_refused","message":"` + msg + `"}}`})
	add(creation{name: "native direct", dialect: "native", method: "POST", path: "/v1/uploads", header: jsonHeader,
		body: []byte(`{"name":"a.bin","size":6291456,"direct":true}`), status: 403, answer: `{"error":{"code":"upload_refused","message":"` + msg + `"}}`})
	rq := url.Values{"resumableChunkNumber": {"1"}, "resumableChunkSize": {"1048576"}, "resumableCurrentChunkSize": {"5"},
		"resumableTotalSize": {"5"}, "resumableType": {""}, "resumableIdentifier": {"5-abin"}, "resumableFilename": {"a.bin"},
		"resumableRelativePath": {"a.bin"}, "resumableTotalChunks": {"1"}}
	rb, rt := form(nil, "file", "blob", data)
	// 403 is not among Resumable.js 1.1.0's permanent errors: it gets 400.
	add(creation{name: "resumable", dialect: "resumable", method: "POST", path: "/resumable?" + rq.Encode(), header: map[string]string{"Content-Type": rt},
		body: rb, status: 400, answer: `{"error":"upload_refused","message":"` + msg + `"}`})
	fq := url.Values{"flowChunkNumber": {"1"}, "flowChunkSize": {"1048576"}, "flowCurrentChunkSize": {"5"}, "flowTotalSize": {"5"},
		"flowIdentifier": {"5-abin"}, "flowFilename": {"a.bin"}, "flowRelativePath": {"a.bin"}, "flowTotalChunks": {"1"}}
	// Nor among Flow.js's: it gets 415, its refusal of a request.
	add(creation{name: "flow", dialect: "flow", method: "POST", path: "/flow?" + fq.Encode(), header: map[string]string{"Content-Type": "application/octet-stream"},
		body: data, status: 415, answer: `{"error":"upload_refused","message":"` + msg + `"}`})
	db, dt := form(nil, "file", "a.bin", data)
	add(creation{name: "django", dialect: "django", method: "POST", path: "/chunked-upload", header: map[string]string{"Content-Type": dt, "Content-Range": "bytes 0-4/5"},
		body: db, status: 403, answer: `{"detail":"` + msg + `"}`})
	pb, pt := form([][2]string{{"filename", "a.bin"}}, "file", "a.bin", data)
	add(creation{name: "drf create", dialect: "drf", method: "PUT", path: "/drf/uploads", header: map[string]string{"Content-Type": pt, "Content-Range": "bytes 0-4/5"},
		body: pb, status: 403, answer: `{"detail":"` + msg + `"}`})
	sum := md5.Sum(data)
	wb, wt := form([][2]string{{"filename", "a.bin"}, {"md5", hex.EncodeToString(sum[:])}}, "file", "a.bin", data)
	add(creation{name: "drf whole", dialect: "drf", method: "POST", path: "/drf/uploads", header: map[string]string{"Content-Type": wt},
		body: wb, status: 403, answer: `{"detail":"` + msg + `"}`})
	fb, ft := form(nil, "files[]", "a.bin", data)
	add(creation{name: "fileupload", dialect: "fileupload", method: "POST", path: "/fileupload",
		header: map[string]string{"Content-Type": ft, "Content-Range": "bytes 0-4/5", "Content-Disposition": `attachment; filename="a.bin"`},
		body:   fb, status: 403, answer: `{"error":"` + msg + `","files":[{"name":"a.bin","size":5,"error":"` + msg + `"}]}`})
	mb, mt := form(nil, "file", "a.bin", data)
	muRefusal := `{"code":"upload_refused","error":"` + msg + `","success":false}`
	add(creation{name: "multipleupload file", dialect: "multipleupload", method: "POST", path: "/multipleupload/upload", header: map[string]string{"Content-Type": mt},
		body: mb, status: 403, answer: muRefusal})
	add(creation{name: "multipleupload chunk", dialect: "multipleupload", method: "POST", path: "/multipleupload/upload-chunk",
		header: map[string]string{"Content-Type": "application/octet-stream", "X-Upload-Id": "3b241101-e2bb-4255-8caf-4136c566a962",
			"X-Chunk-Index": "0", "X-Chunk-Count": "1", "X-File-Name": "a.bin", "X-File-Size": "5"},
		body: data, status: 403, answer: muRefusal})
	tusHeader := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("a.bin"))}
	add(creation{name: "tus", dialect: "tus", method: "POST", path: "/files", header: tusHeader, status: 403, answer: msg})
	withData := map[string]string{"Content-Type": "application/offset+octet-stream"}
	for k, v := range tusHeader {
		withData[k] = v
	}
	add(creation{name: "tus creation-with-upload", dialect: "tus", method: "POST", path: "/files", header: withData, body: data, status: 403, answer: msg})
	add(creation{name: "companion", dialect: "companion", method: "POST", path: "/s3/multipart", header: jsonHeader,
		body: []byte(`{"filename":"a.bin","type":"application/octet-stream","metadata":{}}`), status: 403, answer: `{"code":"upload_refused","error":"` + msg + `"}`})
	add(creation{name: "companion form", dialect: "companion", method: "GET", path: "/s3/params?filename=a.bin&type=text%2Fplain",
		status: 403, answer: `{"code":"upload_refused","error":"` + msg + `"}`})
	return out
}

// TestPreCreateRefusal: a pre-create hook that refuses every upload. In
// every dialect the request that would start one gets the hook's message
// in the dialect's error shape, with the hook's status where the
// dialect's clients take it as a refusal (their own refusal status
// otherwise), and nothing is stored: no table item, no S3 object, no
// multipart upload. The hook was asked once per request, with the
// owner, name, size and the request's dialect.
func TestPreCreateRefusal(t *testing.T) {
	const msg = "Uploads are closed for the night"
	hook := newAppHook(t, answering(`{"refuse":{"status":403,"message":"`+msg+`"}}`))
	e := newEnvWith(t, envOptions{preCreateTo: hook.url, events: true})
	cases := creations(msg)
	for _, c := range cases {
		st, _, body := e.send(c.method, c.path, c.header, c.body)
		if st != c.status || strings.TrimSpace(string(body)) != c.answer {
			t.Errorf("%s: %d %s, want %d %s", c.name, st, body, c.status, c.answer)
		}
	}
	if left := e.storage(); len(left) != 0 {
		t.Errorf("refused uploads left %d things stored: %v", len(left), left)
	}
	calls := hook.calls()
	if len(calls) != len(cases) {
		t.Fatalf("the hook was asked %d times for %d requests", len(calls), len(cases))
	}
	for i, c := range cases {
		ev := calls[i]
		if ev["hook"] != "pre-create" || ev["owner"] != "anonymous" || ev["name"] != "a.bin" || ev["dialect"] != c.dialect {
			t.Errorf("%s: the hook was asked %v", c.name, ev)
		}
		known := !strings.HasPrefix(c.name, "companion")
		if size, ok := ev["size"].(float64); known && (!ok || (size != 5 && size != 6291456)) || !known && ev["size"] != nil {
			t.Errorf("%s: the hook was told size %v", c.name, ev["size"])
		}
	}
	if evs := e.bus.Events(); len(evs) != 0 {
		t.Errorf("refused uploads sent events: %v", evs)
	}
}

// TestPreCreateStatusKept: a hook's own 4xx status reaches the native
// client, and tus's where tus-js-client fails on it; a status tus-js-client
// would retry (409) is answered 403 instead.
func TestPreCreateStatusKept(t *testing.T) {
	status := 402
	hook := newAppHook(t, func(map[string]any, *http.Request) (int, string) {
		return 200, fmt.Sprintf(`{"refuse":{"status":%d,"message":"quota exceeded"}}`, status)
	})
	e := newEnvWith(t, envOptions{preCreateTo: hook.url})
	tusHeader := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5"}
	if st, _, _ := e.send("POST", "/v1/uploads", nil, []byte(`{"name":"a.bin","size":5}`)); st != 402 {
		t.Errorf("native: %d, want the hook's 402", st)
	}
	if st, _, _ := e.send("POST", "/files", tusHeader, nil); st != 402 {
		t.Errorf("tus: %d, want the hook's 402", st)
	}
	status = 409
	if st, _, body := e.send("POST", "/files", tusHeader, nil); st != 403 || !strings.Contains(string(body), "quota exceeded") {
		t.Errorf("tus, hook status 409: %d %s, want 403 with the hook's message", st, body)
	}
}

// TestPreCreateFailure: a pre-create hook that fails (or answers a status
// no refusal has) refuses nothing and admits nothing: the client is told
// to retry (503 with Retry-After), and nothing is stored.
func TestPreCreateFailure(t *testing.T) {
	for _, c := range []struct{ name, status, body string }{
		{"the hook fails", "500", `database down`},
		{"the hook answers a 2xx refusal", "200", `{"refuse":{"status":200,"message":"no"}}`},
		{"the hook answers a key under staging/", "200", `{"keyPrefix":"staging/x"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := strconv.Atoi(c.status)
			hook := newAppHook(t, func(map[string]any, *http.Request) (int, string) { return st, c.body })
			e := newEnvWith(t, envOptions{preCreateTo: hook.url})
			got, h, body := e.send("POST", "/v1/uploads", nil, []byte(`{"name":"a.bin","size":5}`))
			if got != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "service_unavailable") {
				t.Errorf("%d %v %s, want 503 service_unavailable with Retry-After", got, h, body)
			}
			if left := e.storage(); len(left) != 0 {
				t.Errorf("left %v stored", left)
			}
		})
	}
}

// TestPreCreateKeyPrefix: a pre-create hook that sets the key's prefix
// and adds metadata: the object lands under the prefix (then the upload
// id and the name), carries the metadata, and its event says so; for an
// upload of each kind (native, sequential through drf, direct).
func TestPreCreateKeyPrefix(t *testing.T) {
	hook := newAppHook(t, func(ev map[string]any, _ *http.Request) (int, string) {
		return 200, `{"keyPrefix":"users/` + ev["owner"].(string) + `/` + ev["dialect"].(string) + `","metadata":{"album":"summer"}}`
	})
	e := newEnvWith(t, envOptions{preCreateTo: hook.url, events: true})

	data := randomBytes(3<<20+5, 141)
	var up nativeUpload
	if st := e.call("POST", "/v1/uploads", strings.NewReader(fmt.Sprintf(`{"name":"n.bin","size":%d,"chunkSize":1048576}`, len(data))), &up); st != 201 {
		t.Fatalf("native create: %d", st)
	}
	for n := 0; n < up.Chunks; n++ {
		e.putNative(up.ID, n, chunkOf(data, 1<<20, n))
	}
	done := e.completeNative(up.ID, data)
	e.underPrefix(done.Key, "users/anonymous/native/"+up.ID+"/n.bin", data)

	small := randomBytes(5000, 142)
	drf := e.drfUploadAll("d.bin", small, 2000)
	e.drfFinish(drf.URL, small)
	_, keyOf := e.drfStoredKey(drf.ID)
	e.underPrefix(keyOf, "users/anonymous/drf/"+drf.ID+"/d.bin", small)

	c := e.companionCreate("c.bin")
	if want := "users/anonymous/companion/" + c.UploadID + "/c.bin"; c.Key != want {
		t.Errorf("companion key %q, want %q", c.Key, want)
	}
}

// underPrefix checks that the finished object at key is at want, holds
// data with the hook's metadata, and that its event names it.
func (e *env) underPrefix(key, want string, data []byte) {
	e.t.Helper()
	if key != want {
		e.t.Fatalf("key %q, want %q", key, want)
	}
	got, _ := e.object(key)
	if !bytes.Equal(got, data) {
		e.t.Fatalf("object %s is not the file", key)
	}
	head, err := e.s3.HeadObject(e.t.Context(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil || head.Metadata["meta-album"] != "summer" {
		e.t.Errorf("object %s metadata %v (%v), want the hook's album", key, head.Metadata, err)
	}
	var found bool
	for _, d := range e.events(upload.EventCompleted) {
		if d.Key == key {
			found = d.Metadata["album"] == "summer"
		}
	}
	if !found {
		e.t.Errorf("no Upload Completed event for %s with the hook's metadata", key)
	}
}

// drfFinish completes the drf upload at target with data's md5, which
// must answer 200, and returns the answer's fields.
func (e *env) drfFinish(target string, data []byte) map[string]any {
	e.t.Helper()
	sum := md5.Sum(data)
	a := e.drfComplete(target, url.Values{"md5": {hex.EncodeToString(sum[:])}})
	var out map[string]any
	if err := json.Unmarshal(a.raw, &out); a.status != 200 || err != nil {
		e.t.Fatalf("complete %s: %d %s", target, a.status, a.raw)
	}
	return out
}

// drfStoredKey reads the key the session of drf upload id records.
func (e *env) drfStoredKey(id string) (upload.State, string) {
	e.t.Helper()
	s, err := e.svc.Engine.Get(e.t.Context(), "anonymous", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.State, s.Key
}

// TestOnCompleteAnswer: an on-complete hook's answer reaches a native
// client (app), a drf client (merged into the answer's data) and a tus
// client (Chunkup-App, base64 JSON, on the finishing PATCH and every
// HEAD after). The hook is told of each finished upload once, with its
// key, size and CRC64NVME; a completion sent again answers the same
// app without a second call.
func TestOnCompleteAnswer(t *testing.T) {
	hook := newAppHook(t, func(ev map[string]any, _ *http.Request) (int, string) {
		return 200, `{"photoId":"p-` + ev["id"].(string) + `","status":"ignored: drf's own status stays"}`
	})
	e := newEnvWith(t, envOptions{onCompleteTo: hook.url, events: true})
	wantApp := func(id string) string { return `{"photoId":"p-` + id + `","status":"ignored: drf's own status stays"}` }

	data := randomBytes(2<<20+3, 151)
	var up nativeUpload
	if st := e.call("POST", "/v1/uploads", strings.NewReader(fmt.Sprintf(`{"name":"n.bin","size":%d,"chunkSize":1048576}`, len(data))), &up); st != 201 {
		t.Fatalf("native create: %d", st)
	}
	for n := 0; n < up.Chunks; n++ {
		e.putNative(up.ID, n, chunkOf(data, 1<<20, n))
	}
	for range 2 { // the second is a client's retry after a lost answer
		var done struct {
			Key string          `json:"key"`
			App json.RawMessage `json:"app"`
		}
		if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 || string(done.App) != wantApp(up.ID) {
			t.Fatalf("native complete: %d app %s, want %s", st, done.App, wantApp(up.ID))
		}
	}

	small := randomBytes(5000, 152)
	drf := e.drfUploadAll("d.bin", small, 2000)
	drfDone := e.drfFinish(drf.URL, small)
	if drfDone["photoId"] != "p-"+drf.ID || drfDone["status"] != 2.0 || drfDone["filename"] != "d.bin" {
		t.Errorf("drf completion %v: want the hook's photoId merged in beside drf's own fields (status 2)", drfDone)
	}

	tusData := randomBytes(3000, 153)
	st, h, _ := e.send("POST", "/files", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "3000"}, nil)
	if st != 201 {
		t.Fatalf("tus create: %d", st)
	}
	loc, _ := url.Parse(h.Get("Location"))
	id := loc.Path[strings.LastIndexByte(loc.Path, '/')+1:]
	st, h, _ = e.send("PATCH", loc.Path, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, tusData)
	if app, _ := base64.StdEncoding.DecodeString(h.Get("Chunkup-App")); st != 204 || string(app) != wantApp(id) {
		t.Errorf("tus PATCH: %d Chunkup-App %q, want 204 and %s", st, app, wantApp(id))
	}
	st, h, _ = e.send("HEAD", loc.Path, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	if app, _ := base64.StdEncoding.DecodeString(h.Get("Chunkup-App")); st != 200 || string(app) != wantApp(id) {
		t.Errorf("tus HEAD: %d Chunkup-App %q, want 200 and %s", st, app, wantApp(id))
	}

	calls := hook.calls()
	if len(calls) != 3 {
		t.Fatalf("the hook was told %d times of 3 uploads: %v", len(calls), calls)
	}
	for _, ev := range calls {
		d := e.oneCompletedByID(ev["id"].(string))
		if ev["hook"] != "on-complete" || ev["key"] != d.Key || ev["size"] != float64(d.Size) || ev["bucket"] != e.bucket ||
			asMapT(ev["checksums"])["crc64nvme"] != d.Checksums["crc64nvme"] {
			t.Errorf("hook told %v; the upload's event says %+v", ev, d)
		}
	}
}

func asMapT(v any) map[string]any { m, _ := v.(map[string]any); return m }

// oneCompletedByID is the one Upload Completed event of upload id.
func (e *env) oneCompletedByID(id string) eventDetail {
	e.t.Helper()
	var mine []eventDetail
	for _, d := range e.events(upload.EventCompleted) {
		if d.ID == id {
			mine = append(mine, d)
		}
	}
	if len(mine) != 1 {
		e.t.Fatalf("%d Upload Completed events for %s, want 1", len(mine), id)
	}
	return mine[0]
}

// TestOnCompleteFailure: an on-complete hook that runs past its timeout,
// or fails, never un-finishes the file: the client gets the finished
// answer without app, the object is in place, and the event goes out.
func TestOnCompleteFailure(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for _, c := range []struct {
		name   string
		answer func(map[string]any, *http.Request) (int, string)
	}{
		{"past its timeout", func(_ map[string]any, r *http.Request) (int, string) {
			select { // until the engine gives up on it, or the test ends
			case <-r.Context().Done():
			case <-release:
			}
			return 200, `{"late":true}`
		}},
		{"failing", func(map[string]any, *http.Request) (int, string) { return 500, "database down" }},
		{"answering what is not JSON", answering(`<html>`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook := newAppHook(t, c.answer)
			e := newEnvWith(t, envOptions{onCompleteTo: hook.url, events: true,
				tweak: func(o *upload.Options) { o.HookTimeout = 300 * time.Millisecond }})
			data := randomBytes(1<<20+9, 161)
			var up nativeUpload
			if st := e.call("POST", "/v1/uploads", strings.NewReader(fmt.Sprintf(`{"name":"t.bin","size":%d,"chunkSize":1048576}`, len(data))), &up); st != 201 {
				t.Fatalf("create: %d", st)
			}
			for n := 0; n < up.Chunks; n++ {
				e.putNative(up.ID, n, chunkOf(data, 1<<20, n))
			}
			var done map[string]any
			if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 || done["state"] != "complete" || done["app"] != nil {
				t.Fatalf("complete: %d %v, want 200 complete without app", st, done)
			}
			e.oneCompleted(done["key"].(string), data, "native")
			if n := len(hook.calls()); n != 1 {
				t.Errorf("the hook was called %d times, want 1", n)
			}
		})
	}
}

// TestOnCompleteAnswerEveryDialect: for the dialects whose request that
// starts a 5-byte file also finishes it, the on-complete hook's answer
// is in that request's answer where the dialect's clients pass it on:
// app (Resumable.js, Flow.js, MultipleUpload), the file's app
// (jQuery-File-Upload), merged into the data (drf), Chunkup-App (tus).
func TestOnCompleteAnswerEveryDialect(t *testing.T) {
	hook := newAppHook(t, answering(`{"photoId":7}`))
	e := newEnvWith(t, envOptions{onCompleteTo: hook.url})
	where := map[string]func(http.Header, []byte) string{
		"resumable":            appField,
		"flow":                 appField,
		"multipleupload file":  appField,
		"multipleupload chunk": appField,
		"drf whole":            func(_ http.Header, b []byte) string { return member(b, "photoId") },
		"fileupload":           func(_ http.Header, b []byte) string { return member(b, "files", 0, "app") },
		"tus creation-with-upload": func(h http.Header, _ []byte) string {
			app, _ := base64.StdEncoding.DecodeString(h.Get("Chunkup-App"))
			return string(app)
		},
	}
	want := map[string]string{"drf whole": "7"}
	for _, c := range creations("unused") {
		at, ok := where[c.name]
		if !ok {
			continue
		}
		st, h, body := e.send(c.method, c.path, c.header, c.body)
		w, ok := want[c.name]
		if !ok {
			w = `{"photoId":7}`
		}
		if st/100 != 2 || at(h, body) != w {
			t.Errorf("%s: %d %s (%v), want the hook's answer %s in it", c.name, st, body, h, w)
		}
	}

	// django: its completion POST's data, merged as on_completion would.
	db, dt := form(nil, "file", "dj.bin", []byte("hello"))
	st, _, body := e.send("POST", "/chunked-upload", map[string]string{"Content-Type": dt, "Content-Range": "bytes 0-4/5"}, db)
	var chunk struct {
		UploadID string `json:"upload_id"`
	}
	if err := json.Unmarshal(body, &chunk); st != 200 || err != nil {
		t.Fatalf("django chunk: %d %s", st, body)
	}
	sum := md5.Sum([]byte("hello"))
	complete := url.Values{"upload_id": {chunk.UploadID}, "md5": {hex.EncodeToString(sum[:])}}
	st, _, body = e.send("POST", "/chunked-upload/complete", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(complete.Encode()))
	if st != 200 || member(body, "photoId") != "7" || member(body, "upload_id") != `"`+chunk.UploadID+`"` {
		t.Errorf("django completion: %d %s, want the hook's photoId merged beside upload_id", st, body)
	}
	if n := len(hook.calls()); n != len(where)+1 {
		t.Errorf("the hook was told %d times of %d uploads", n, len(where)+1)
	}
}

// appField is an answer's app, as compact JSON.
func appField(_ http.Header, body []byte) string { return member(body, "app") }

// member is the JSON at path (names and indexes) in body, compacted; ""
// if there is none.
func member(body []byte, path ...any) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return ""
			}
			v = l[k]
		}
	}
	if v == nil {
		return ""
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestFormUploadUnderPrefix: a file Uppy posts in one form (/s3/params)
// lands under the pre-create hook's prefix, with its metadata, and S3's
// Object Created event for that key settles it (the FormUploaded rule
// passes every key but the staged chunks').
func TestFormUploadUnderPrefix(t *testing.T) {
	hook := newAppHook(t, answering(`{"keyPrefix":"tenants/acme/","metadata":{"album":"summer"}}`))
	e := newEnvWith(t, envOptions{preCreateTo: hook.url, events: true})
	data := randomBytes(30_000, 171)
	var p struct {
		URL      string            `json:"url"`
		Fields   map[string]string `json:"fields"`
		Key      string            `json:"key"`
		UploadID string            `json:"uploadId"`
	}
	if st := e.call("GET", "/s3/params?filename=f.txt&type=text%2Fplain", nil, &p); st != 200 || p.Key != "tenants/acme/"+p.UploadID+"/f.txt" {
		t.Fatalf("params: %d key %q", st, p.Key)
	}
	var fields [][2]string
	for k, v := range p.Fields {
		fields = append(fields, [2]string{k, v})
	}
	body, ct := form(fields, "file", "f.txt", data)
	resp, err := http.Post(p.URL, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST form: %d", resp.StatusCode)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(readEventFile(t, "s3-object-created.json"), &ev); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.Unmarshal(ev.Detail, &d)
	d["bucket"] = map[string]any{"name": e.bucket}
	d["object"].(map[string]any)["key"] = p.Key
	ev.Detail, _ = json.Marshal(d)
	if st, err := e.svc.Sweep(e.t.Context(), ev); err != nil || st.Completed != 1 {
		t.Fatalf("S3's event: %+v %v, want the upload settled", st, err)
	}
	e.underPrefix(p.Key, "tenants/acme/"+p.UploadID+"/f.txt", data)
}
