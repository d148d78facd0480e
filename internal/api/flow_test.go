package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// flowPermanent are Flow.js's default permanentErrors: a chunk answered
// with one of them fails its file at once, in the test GET as in the
// upload. Any other status that is not a success is retried, and only
// while maxChunkRetries (0 by default) allows.
var flowPermanent = []int{404, 413, 415, 500, 501}

// flowFile is a file as Flow.js cuts it: chunks of chunkSize, the last
// taking the remainder; with forceChunkSize the count is rounded up and
// the last chunk is the shorter one, else it is rounded down and the last
// chunk may be up to twice chunkSize.
type flowFile struct {
	data       []byte
	name       string
	fileType   string // the File's type, which the browser sends as the chunk's Content-Type
	identifier string
	chunkSize  int
	force      bool
}

func (f flowFile) chunks() int {
	if f.force {
		return max((len(f.data)+f.chunkSize-1)/f.chunkSize, 1)
	}
	return max(len(f.data)/f.chunkSize, 1)
}

func (f flowFile) chunk(n int) []byte { // n from 1
	lo := (n - 1) * f.chunkSize
	hi := min(lo+f.chunkSize, len(f.data))
	if n == f.chunks() {
		hi = len(f.data)
	}
	return f.data[lo:hi]
}

// params are what Flow.js's getParams gives for chunk n.
func (f flowFile) params(n int) url.Values {
	return url.Values{
		"flowChunkNumber":      {strconv.Itoa(n)},
		"flowChunkSize":        {strconv.Itoa(f.chunkSize)},
		"flowCurrentChunkSize": {strconv.Itoa(len(f.chunk(n)))},
		"flowTotalSize":        {strconv.Itoa(len(f.data))},
		"flowIdentifier":       {f.identifier},
		"flowFilename":         {f.name},
		"flowRelativePath":     {f.name},
		"flowTotalChunks":      {strconv.Itoa(f.chunks())},
	}
}

// multipartBody is Flow.js's default upload: the parameters as form
// fields, then the chunk in the field "file", named after the file and
// typed as the File is (the browser takes the part's Content-Type from the
// sliced Blob).
func (f flowFile) multipartBody(q url.Values, data []byte) (*bytes.Buffer, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, k := range slices.Sorted(maps.Keys(q)) {
		mw.WriteField(k, q.Get(k))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, f.name))
	h.Set("Content-Type", f.fileType)
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	return &body, mw.FormDataContentType()
}

// flowDo sends a request and returns the status, the decoded JSON answer
// (if any) and the headers.
func (e *env) flowDo(req *http.Request) (int, map[string]any, http.Header) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: %d %q is not JSON: %v", req.Method, req.URL, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// flowPost sends chunk n as Flow.js's default multipart POST: parameters
// in the form only, none in the URL.
func (e *env) flowPost(f flowFile, n int) (int, map[string]any) {
	e.t.Helper()
	return e.flowPostWith(f, f.params(n), f.chunk(n))
}

func (e *env) flowPostWith(f flowFile, q url.Values, data []byte) (int, map[string]any) {
	e.t.Helper()
	body, ct := f.multipartBody(q, data)
	req, _ := http.NewRequest("POST", e.url+"/flow", body)
	req.Header.Set("Content-Type", ct)
	st, out, _ := e.flowDo(req)
	return st, out
}

// flowOctet sends chunk n as Flow.js does with method "octet": the
// parameters in the query string and the chunk as the body, whose
// Content-Type the browser takes from the Blob.
func (e *env) flowOctet(f flowFile, q url.Values, data []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/flow?"+q.Encode(), bytes.NewReader(data))
	if f.fileType != "" {
		req.Header.Set("Content-Type", f.fileType)
	}
	st, out, _ := e.flowDo(req)
	return st, out
}

// flowTest is Flow.js's testChunks GET for chunk n.
func (e *env) flowTest(q url.Values) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/flow?"+q.Encode(), nil)
	st, _, _ := e.flowDo(req)
	return st
}

// contentType reads a finished object's Content-Type.
func (e *env) contentType(key string) string {
	e.t.Helper()
	head, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		e.t.Fatalf("head %s: %v", key, err)
	}
	return aws.ToString(head.ContentType)
}

// TestFlowUploadLikeTheClient: Flow.js's defaults (multipart, testChunks,
// three simultaneous uploads, a larger last chunk): 204 before a chunk is
// there and 200 after, three first chunks at once make one upload, the
// last chunk sent twice at once completes it once, and the object is the
// file, typed as the File was.
func TestFlowUploadLikeTheClient(t *testing.T) {
	e := newEnv(t, nil)
	f := flowFile{data: randomBytes(11<<20+300<<10, 71), name: "clip.mp4", fileType: "video/mp4", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-clipmp4"
	if last := len(f.chunk(f.chunks())); last <= f.chunkSize {
		t.Fatalf("the test file's last chunk is %d bytes; it should be larger than chunkSize", last)
	}
	if st := e.flowTest(f.params(1)); st != http.StatusNoContent {
		t.Fatalf("test before upload: %d, want 204", st)
	}
	var wg sync.WaitGroup
	for n := 1; n <= 3; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, out := e.flowPost(f, n); st != 200 {
				t.Errorf("chunk %d: %d %v", n, st, out)
			}
		}()
	}
	wg.Wait()
	if n := e.sessionCount(); n != 1 {
		t.Fatalf("three first chunks at once made %d sessions", n)
	}
	for n := 1; n <= 4; n++ {
		want := map[bool]int{true: 200, false: http.StatusNoContent}[n <= 3]
		if st := e.flowTest(f.params(n)); st != want {
			t.Fatalf("test chunk %d: %d, want %d", n, st, want)
		}
	}
	for n := 4; n < f.chunks(); n++ {
		if st, out := e.flowPost(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	key := e.flowLastTwice(f)
	got, crc := e.object(key)
	if !bytes.Equal(got, f.data) || crc == "" {
		t.Fatalf("object differs from the file or has no CRC64NVME (%d bytes, crc %q)", len(got), crc)
	}
	if ct := e.contentType(key); ct != f.fileType {
		t.Errorf("object's Content-Type %q, want the file part's %q", ct, f.fileType)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged chunks left: %v", left)
	}
	if st := e.flowTest(f.params(2)); st != 200 {
		t.Fatalf("test after completion: %d, want 200", st)
	}
	if st, _ := e.flowPost(f, 2); st != 200 {
		t.Fatalf("chunk re-sent after completion: %d, want 200", st)
	}
	if got2, _ := e.object(key); !bytes.Equal(got2, f.data) || e.blobs.completes.Load() != 1 {
		t.Fatal("a re-sent chunk changed the finished file")
	}
}

// flowLastTwice sends the last chunk twice at once, checks that the file
// was completed once, and returns its key.
func (e *env) flowLastTwice(f flowFile) string {
	e.t.Helper()
	var wg sync.WaitGroup
	results := make([]map[string]any, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st int
			if st, results[i] = e.flowPost(f, f.chunks()); st != 200 {
				e.t.Errorf("last chunk copy %d: %d %v", i, st, results[i])
			}
		}()
	}
	wg.Wait()
	if c := e.blobs.completes.Load(); c != 1 {
		e.t.Fatalf("%d completions, want 1", c)
	}
	for _, r := range results {
		if r["state"] == "complete" {
			return r["key"].(string)
		}
	}
	e.t.Fatalf("neither copy of the last chunk reported completion: %v", results)
	return ""
}

// TestFlowOctet: with method "octet" and forceChunkSize (a shorter last
// chunk), the parameters come in the query string and the chunk is the
// body, typed as the File is; sent last chunk first.
func TestFlowOctet(t *testing.T) {
	e := newEnv(t, nil)
	f := flowFile{data: randomBytes(6<<20+1234, 72), name: "photo.png", fileType: "image/png", chunkSize: 1 << 20, force: true}
	f.identifier = strconv.Itoa(len(f.data)) + "-photopng"
	if f.chunks() != 7 || len(f.chunk(7)) != 1234 {
		t.Fatalf("cut: %d chunks, last %d bytes", f.chunks(), len(f.chunk(7)))
	}
	var last map[string]any
	for _, n := range []int{7, 1, 2, 3, 4, 5, 6} {
		var st int
		if st, last = e.flowOctet(f, f.params(n), f.chunk(n)); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, last)
		}
	}
	if last["state"] != "complete" {
		t.Fatalf("the last missing chunk did not complete the file: %v", last)
	}
	key := last["key"].(string)
	if got, _ := e.object(key); !bytes.Equal(got, f.data) {
		t.Fatal("object differs from the file")
	}
	if ct := e.contentType(key); ct != "image/png" {
		t.Errorf("object's Content-Type %q, want image/png", ct)
	}
}

// TestFlowRetryableFault: a fault that may pass is answered 503 with
// Retry-After, outside Flow.js's permanentErrors, so a client with
// maxChunkRetries re-sends the chunk; the re-sent chunk finishes the
// work and the file is whole.
func TestFlowRetryableFault(t *testing.T) {
	e := newEnv(t, nil)
	f := flowFile{data: randomBytes(5<<20+77, 73), name: "a.bin", fileType: "application/octet-stream", chunkSize: 1 << 20, identifier: "a-bin"}
	for n := 1; n < f.chunks(); n++ {
		if st, out := e.flowPost(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	e.blobs.failParts.Store(1)
	body, ct := f.multipartBody(f.params(f.chunks()), f.chunk(f.chunks()))
	req, _ := http.NewRequest("POST", e.url+"/flow", body)
	req.Header.Set("Content-Type", ct)
	st, out, h := e.flowDo(req)
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || slices.Contains(flowPermanent, st) {
		t.Fatalf("chunk whose part could not be written: %d %v (Retry-After %q), want 503 with Retry-After", st, out, h.Get("Retry-After"))
	}
	st, out = e.flowPost(f, f.chunks())
	if st != 200 || out["state"] != "complete" {
		t.Fatalf("retried chunk: %d %v, want 200 and complete", st, out)
	}
	if got, _ := e.object(out["key"].(string)); !bytes.Equal(got, f.data) {
		t.Fatal("object differs from the file")
	}
}

// TestFlowBadInput: every refusal gets a status in Flow.js's
// permanentErrors, so the file fails at once instead of being retried, the
// exact one each kind of refusal should get, and a message; the test GET
// never says a refused chunk is there; and the stored upload is unchanged.
func TestFlowBadInput(t *testing.T) {
	e := newEnv(t, smallLimits)
	f := flowFile{data: randomBytes(4<<20+5, 74), name: "ok.bin", fileType: "application/octet-stream", chunkSize: 1 << 20, identifier: "ok-bin"}
	if st, out := e.flowPost(f, 1); st != 200 {
		t.Fatalf("good chunk refused: %d %v", st, out)
	}
	staged := len(e.stagedKeys())
	mutate := func(change func(url.Values)) url.Values {
		q := f.params(2)
		change(q)
		return q
	}
	cases := []struct {
		name   string
		q      url.Values
		status int
	}{
		{"no identifier", mutate(func(q url.Values) { q.Del("flowIdentifier") }), 415},
		{"no filename", mutate(func(q url.Values) { q.Del("flowFilename") }), 415},
		{"no total chunks", mutate(func(q url.Values) { q.Del("flowTotalChunks") }), 415},
		{"number not a number", mutate(func(q url.Values) { q.Set("flowChunkNumber", "two") }), 415},
		{"number zero", mutate(func(q url.Values) { q.Set("flowChunkNumber", "0") }), 415},
		{"number negative", mutate(func(q url.Values) { q.Set("flowChunkNumber", "-2") }), 415},
		{"number huge", mutate(func(q url.Values) { q.Set("flowChunkNumber", "99999999999999999999") }), 415},
		{"number past total", mutate(func(q url.Values) { q.Set("flowChunkNumber", "5") }), 415},
		{"negative size", mutate(func(q url.Values) { q.Set("flowTotalSize", "-5") }), 415},
		{"chunk size zero", mutate(func(q url.Values) { q.Set("flowChunkSize", "0") }), 415},
		{"current size says 5", mutate(func(q url.Values) { q.Set("flowCurrentChunkSize", "5") }), 415},
		{"geometry that cannot be", mutate(func(q url.Values) { q.Set("flowTotalChunks", "9") }), 415},
		{"long identifier", mutate(func(q url.Values) { q.Set("flowIdentifier", strings.Repeat("i", 513)) }), 415},
		{"over the file limit", mutate(func(q url.Values) { q.Set("flowTotalSize", "68157440"); q.Set("flowTotalChunks", "65") }), 413},
		{"too many chunks", mutate(func(q url.Values) {
			q.Set("flowTotalSize", strconv.Itoa(41<<20))
			q.Set("flowTotalChunks", "41")
		}), 413},
		{"name too long", mutate(func(q url.Values) { q.Set("flowFilename", strings.Repeat("n", 101)) }), 413},
	}
	for _, c := range cases {
		if !slices.Contains(flowPermanent, c.status) {
			t.Fatalf("%s: the test wants %d, which Flow.js would not treat as permanent", c.name, c.status)
		}
		st, out := e.flowPostWith(f, c.q, f.chunk(2))
		if st != c.status || out["message"] == "" || out["error"] == nil {
			t.Errorf("multipart, %s: %d %v, want %d with a message", c.name, st, out, c.status)
		}
		if st, out := e.flowOctet(f, c.q, f.chunk(2)); st != c.status {
			t.Errorf("octet, %s: %d %v, want %d", c.name, st, out, c.status)
		}
		// The test GET may fail the file at once or say "send it"; never "here".
		if st := e.flowTest(c.q); st != c.status && st != http.StatusNoContent {
			t.Errorf("test GET, %s: %d, want %d or 204", c.name, st, c.status)
		}
	}
	e.flowBadBodies(f)
	if st := e.flowTest(f.params(1)); st != 200 {
		t.Fatalf("bad requests disturbed the stored chunk: test answers %d", st)
	}
	if st := e.flowTest(f.params(2)); st != http.StatusNoContent {
		t.Fatalf("a bad request stored chunk 2: test answers %d", st)
	}
	if n, after := e.sessionCount(), len(e.stagedKeys()); n != 1 || after != staged {
		t.Fatalf("bad requests changed what is stored: %d sessions, %d staged chunks (had %d)", n, after, staged)
	}
}

// flowBadBodies sends chunk 2 of f with good parameters in bodies that
// are wrong: each must be refused with its permanent status.
func (e *env) flowBadBodies(f flowFile) {
	e.t.Helper()
	big := flowFile{data: randomBytes(3<<20, 75), name: "big.bin", chunkSize: 3 << 20, identifier: "big-bin", fileType: "application/octet-stream"}
	if st, out := e.flowPost(big, 1); st != 413 || !strings.Contains(fmt.Sprint(out["message"]), "2097152") {
		e.t.Errorf("chunk over the chunk limit: %d %v, want 413 naming the limit", st, out)
	}
	if st, out := e.flowPostWith(f, f.params(2), f.chunk(2)[:1000]); st != 415 {
		e.t.Errorf("chunk shorter than flowCurrentChunkSize: %d %v, want 415", st, out)
	}
	// Flow.js's multipart POST has its parameters in the form only: the
	// query string of such a POST is not where they are read from.
	body, ct := f.multipartBody(url.Values{}, f.chunk(2))
	req, _ := http.NewRequest("POST", e.url+"/flow?"+f.params(2).Encode(), body)
	req.Header.Set("Content-Type", ct)
	if st, out, _ := e.flowDo(req); st != 415 || !strings.Contains(fmt.Sprint(out["message"]), "flowChunkNumber is required") {
		e.t.Errorf("multipart POST with its parameters in the URL only: %d %v, want 415", st, out)
	}
	req, _ = http.NewRequest("POST", e.url+"/flow", strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"flowChunkNumber\"\r\n\r\n2\r\n--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if st, out, _ := e.flowDo(req); st != 415 {
		e.t.Errorf("form without a file field: %d %v, want 415", st, out)
	}
	req, _ = http.NewRequest("POST", e.url+"/flow", strings.NewReader("--x\r\nbroken"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if st, out, _ := e.flowDo(req); st != 415 {
		e.t.Errorf("malformed form: %d %v, want 415", st, out)
	}
}
