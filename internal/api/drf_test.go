package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"chunkup/internal/api"
	"chunkup/internal/upload"
)

// drfAnswer is one answer of the drf-chunked-upload routes.
type drfAnswer struct {
	status int
	header http.Header
	raw    []byte
}

// drfUpload is the upload as a success answer shows it.
type drfUpload struct {
	ID          string  `json:"id"`
	URL         string  `json:"url"`
	Filename    string  `json:"filename"`
	Offset      int64   `json:"offset"`
	CreatedAt   string  `json:"created_at"`
	Status      int     `json:"status"`
	CompletedAt *string `json:"completed_at"`
	Expires     *string `json:"expires"`
	File        *string `json:"file"`
	User        string  `json:"user"`
}

// drfTime is how Django REST framework renders a datetime.
var drfTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$`)

// upload decodes a success answer, checking that it has exactly the
// fields of the protocol and that its times are rendered as DRF does.
func (a drfAnswer) upload(t *testing.T) drfUpload {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	var keys map[string]any
	var u drfUpload
	if json.Unmarshal(a.raw, &keys) != nil || json.Unmarshal(a.raw, &u) != nil {
		t.Fatalf("not JSON: %s", a.raw)
	}
	want := []string{"completed_at", "created_at", "expires", "file", "filename", "id", "offset", "status", "url", "user"}
	if u.Status == 2 { // complete: chunkup adds where the file is and its CRC64NVME
		want = []string{"completed_at", "crc64nvme", "created_at", "expires", "file", "filename", "id", "key", "offset", "status", "url", "user"}
	}
	got := make([]string, 0, len(keys))
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	if !drfTime.MatchString(u.CreatedAt) || (u.CompletedAt != nil && !drfTime.MatchString(*u.CompletedAt)) || (u.Expires != nil && !drfTime.MatchString(*u.Expires)) {
		t.Fatalf("times not in DRF's ISO 8601: %s", a.raw)
	}
	return u
}

// refused checks an error answer: its status, and its body, which must be
// {"detail": detail} plus exactly the extra fields given.
func (a drfAnswer) refused(t *testing.T, status int, detail any, extra map[string]any) {
	t.Helper()
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(a.raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("status %d, body %q is not JSON", a.status, a.raw)
	}
	want := map[string]any{"detail": detail}
	for k, v := range extra {
		want[k] = json.Number(fmt.Sprint(v))
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(body)
	if a.status != status || !bytes.Equal(wantJSON, gotJSON) {
		t.Fatalf("answer %d %s, want %d %s", a.status, gotJSON, status, wantJSON)
	}
}

// drfForm builds a multipart body as python-requests does for
// data={...}, files={"file": chunk}: the fields first, then the file,
// named "file", with no Content-Type of its own.
func drfForm(fields [][2]string, file []byte, withFile bool) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	if withFile {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="file"`)
		p, _ := w.CreatePart(h)
		p.Write(file)
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// drfSend sends one request to target (a path or an absolute url).
func (e *env) drfSend(method, target string, header map[string]string, body []byte) drfAnswer {
	e.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = e.url + target
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return drfAnswer{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// drfPut sends a chunk as the original's README does: requests.put(url,
// headers={"Content-Range": …}, data={"filename": name}, files={"file": chunk}).
func (e *env) drfPut(target, contentRange, name string, chunk []byte) drfAnswer {
	e.t.Helper()
	body, ct := drfForm([][2]string{{"filename", name}}, chunk, true)
	h := map[string]string{"Content-Type": ct}
	if contentRange != "" {
		h["Content-Range"] = contentRange
	}
	return e.drfSend("PUT", target, h, body)
}

// drfComplete posts the checksum as requests.post(url, data={alg: hex}).
func (e *env) drfComplete(target string, fields url.Values) drfAnswer {
	e.t.Helper()
	return e.drfSend("POST", target, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(fields.Encode()))
}

// drfUploadAll sends data in chunks of size chunk the way the clients do:
// the first by PUT to the list, the rest by PUT to the url each answer
// gives. It returns the last answer's upload.
func (e *env) drfUploadAll(name string, data []byte, chunk int) drfUpload {
	e.t.Helper()
	target := "/drf/uploads"
	var u drfUpload
	for start := 0; start < len(data); start += chunk {
		end := min(start+chunk, len(data))
		cr := fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(data))
		a := e.drfPut(target, cr, name, data[start:end])
		if a.status != http.StatusOK {
			e.t.Fatalf("PUT %s (%s): %d %s", target, cr, a.status, a.raw)
		}
		next := a.upload(e.t)
		if start > 0 && next.ID != u.ID {
			e.t.Fatalf("chunk at %d answered for upload %s, not %s", start, next.ID, u.ID)
		}
		if next.Offset != int64(end) || next.Status != 1 || next.CompletedAt != nil || next.Expires == nil || next.Filename != name {
			e.t.Fatalf("after bytes to %d: %+v", end, next)
		}
		if want := e.url + "/drf/uploads/" + next.ID; next.URL != want {
			e.t.Fatalf("url %q, want %q", next.URL, want)
		}
		u, target = next, next.URL
	}
	return u
}

// drfStored is where the stored upload stands, read from the engine.
func (e *env) drfStored(id string) (int64, upload.State, int) {
	e.t.Helper()
	s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return s.Offset, s.State, len(e.stagedKeys())
}

// TestDRFChunkedUploadMD5: a 17 MiB file in 4 MiB chunks (the largest),
// PUT by url and completed with md5 as the original's README does; the
// object is the file. GET shows the upload, uncached; completing again is
// refused.
func TestDRFChunkedUploadMD5(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(17<<20, 81)
	u := e.drfUploadAll("big file.bin", data, 4<<20)
	sum := md5.Sum(data)
	done := e.drfComplete(u.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).upload(t)
	if done.ID != u.ID || done.Status != 2 || done.CompletedAt == nil || done.Expires != nil || done.Offset != int64(len(data)) {
		t.Fatalf("completed: %+v", done)
	}
	got, _ := e.object(upload.ObjectKey(u.ID, "big file.bin"))
	if !bytes.Equal(got, data) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("object differs from the file (%d of %d bytes)", len(got), len(data))
	}

	a := e.drfSend("GET", u.URL, nil, nil)
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("GET Cache-Control %q", cc)
	}
	if g := a.upload(t); g.ID != done.ID || g.CompletedAt == nil || *g.CompletedAt != *done.CompletedAt || g.Status != 2 || g.CreatedAt != done.CreatedAt || g.URL != u.URL {
		t.Fatalf("GET %+v, completion said %+v", g, done)
	}
	complete := `Upload has already been marked as "complete"`
	e.drfComplete(u.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).refused(t, 400, complete, nil)
	e.drfPut(u.URL, fmt.Sprintf("bytes 0-9/%d", len(data)), "x", make([]byte, 10)).refused(t, 400, complete, nil)
	if got2, _ := e.object(upload.ObjectKey(u.ID, "big file.bin")); !bytes.Equal(got2, data) {
		t.Fatal("a refused request changed the object")
	}
}

// TestDRFChunkedUploadSHA256: the same exchange completed with a sha256
// field in a multipart form; a wrong digest is refused first and changes
// nothing.
func TestDRFChunkedUploadSHA256(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(5<<20+123, 82)
	u := e.drfUploadAll("s.bin", data, 2<<20)
	sum := sha256.Sum256(data)
	wrong := sha256.Sum256(data[1:])
	post := func(digest []byte) drfAnswer {
		body, ct := drfForm([][2]string{{"sha256", hex.EncodeToString(digest)}}, nil, false)
		return e.drfSend("POST", u.URL, map[string]string{"Content-Type": ct}, body)
	}
	post(wrong[:]).refused(t, 400, "checksum does not match", nil)
	if off, st, _ := e.drfStored(u.ID); off != int64(len(data)) || st != upload.StateOpen {
		t.Fatalf("after a wrong checksum: offset %d state %s", off, st)
	}
	done := post(sum[:]).upload(t)
	if done.Status != 2 {
		t.Fatalf("completed: %+v", done)
	}
	got, _ := e.object(upload.ObjectKey(u.ID, "s.bin"))
	if sha256.Sum256(got) != sum {
		t.Fatal("object's sha256 differs from the file's")
	}
}

// TestDRFWholeFile: a POST without an id carries the whole file, its name
// and its checksum. A refused one leaves nothing behind.
func TestDRFWholeFile(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(3<<20+5, 83)
	sum := md5.Sum(data)
	post := func(fields [][2]string, file []byte, withFile bool) drfAnswer {
		body, ct := drfForm(fields, file, withFile)
		return e.drfSend("POST", "/drf/uploads", map[string]string{"Content-Type": ct}, body)
	}
	good := [][2]string{{"filename", "whole.bin"}, {"md5", hex.EncodeToString(sum[:])}}
	u := post(good, data, true).upload(t)
	if u.Status != 2 || u.Offset != int64(len(data)) || u.CompletedAt == nil || u.Filename != "whole.bin" {
		t.Fatalf("whole file: %+v", u)
	}
	if got, _ := e.object(upload.ObjectKey(u.ID, "whole.bin")); !bytes.Equal(got, data) {
		t.Fatal("object differs from the file")
	}
	empty := md5.Sum(nil)
	if u := post([][2]string{{"filename", "empty"}, {"md5", hex.EncodeToString(empty[:])}}, nil, true).upload(t); u.Offset != 0 || u.Status != 2 {
		t.Fatalf("empty file: %+v", u)
	}

	sessions := e.sessionCount()
	post(good[:1], data, true).refused(t, 400, "Checksum of type 'md5' is required", nil)
	post(good[1:], data, true).refused(t, 400, map[string]any{"filename": []any{"This field is required."}}, nil)
	post(good, nil, false).refused(t, 400, "No chunk file was submitted", nil)
	if n := e.sessionCount(); n != sessions {
		t.Fatalf("refused whole files made %d uploads", n-sessions)
	}
	post([][2]string{{"filename", "bad.bin"}, {"md5", strings.Repeat("0", 32)}}, data, true).refused(t, 400, "checksum does not match", nil)
	if staged, mpu := e.stagedKeys(), e.multipartUploads(); len(staged) != 0 || mpu != 0 {
		t.Fatalf("a refused whole file left %v staged and %d multipart uploads", staged, mpu)
	}
}

// TestDRFOffsetMismatch: a chunk that does not start at the offset is
// refused with both offsets, as the original's test has it, and changes
// nothing.
func TestDRFOffsetMismatch(t *testing.T) {
	e := newEnv(t, nil)
	const mib = 1 << 20
	data := randomBytes(3*mib, 84)
	u := e.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-%d/%d", mib-1, len(data)), "o.bin", data[:mib]).upload(t)
	_, _, staged := e.drfStored(u.ID)
	for _, start := range []int{2 * mib, 0} {
		cr := fmt.Sprintf("bytes %d-%d/%d", start, start+mib-1, len(data))
		e.drfPut(u.URL, cr, "o.bin", data[start:start+mib]).refused(t, 400, "Offsets do not match",
			map[string]any{"expected_offset": mib, "provided_offset": start})
		if off, st, n := e.drfStored(u.ID); off != mib || st != upload.StateOpen || n != staged {
			t.Fatalf("after a chunk at %d: offset %d state %s, %d staged (was %d)", start, off, st, n, staged)
		}
	}
	if g := e.drfSend("GET", u.URL, nil, nil).upload(t); g.Offset != mib {
		t.Fatalf("GET says offset %d", g.Offset)
	}
}

// TestDRFExpiredUnknownAndOthers: an expired upload answers 410 to every
// request, an unknown id 404, and another owner's upload is unknown.
func TestDRFExpiredUnknownAndOthers(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(2<<20, 85)
	sum := md5.Sum(data)
	md := url.Values{"md5": {hex.EncodeToString(sum[:])}}
	u := e.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-%d/%d", 1<<20-1, len(data)), "e.bin", data[:1<<20]).upload(t)

	unknown := e.url + "/drf/uploads/0123456789abcdef0123456789abcdef"
	e.drfPut(unknown, fmt.Sprintf("bytes %d-%d/%d", 1<<20, len(data)-1, len(data)), "e.bin", data[1<<20:]).refused(t, 404, "Not found.", nil)
	e.drfComplete(unknown, md).refused(t, 404, "Not found.", nil)
	e.drfSend("GET", unknown, nil, nil).refused(t, 404, "Not found.", nil)
	e.drfSend("GET", e.url+"/drf/uploads/not-an-id", nil, nil).refused(t, 404, "Not found.", nil)

	theirs, err := e.svc.Engine.CreateStream(context.Background(), upload.NewStream{Owner: "sub:alice", Name: "a", Size: 10, Hashes: []string{"md5"}})
	if err != nil {
		t.Fatal(err)
	}
	e.drfSend("GET", "/drf/uploads/"+theirs.ID, nil, nil).refused(t, 404, "Not found.", nil)
	e.drfPut("/drf/uploads/"+theirs.ID, "bytes 0-9/10", "a", make([]byte, 10)).refused(t, 404, "Not found.", nil)
	if resp := e.invokeAs("alice", api.CheckFunction, "GET", "/drf/uploads/"+theirs.ID, "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("alice's own GET: %d %s", resp.StatusCode, resp.Body)
	}

	e.clock.Advance(25 * time.Hour)
	e.drfPut(u.URL, fmt.Sprintf("bytes %d-%d/%d", 1<<20, len(data)-1, len(data)), "e.bin", data[1<<20:]).refused(t, 410, "Upload has expired", nil)
	e.drfComplete(u.URL, md).refused(t, 410, "Upload has expired", nil)
	e.drfSend("GET", u.URL, nil, nil).refused(t, 410, "Upload has expired", nil)
}

// TestDRFOverLimit: a file, chunk or name over a limit is refused with
// the limit named, and nothing is created.
func TestDRFOverLimit(t *testing.T) {
	e := newEnv(t, smallLimits)
	sessions := e.sessionCount()
	chunk := randomBytes(2<<20+1, 86)
	e.drfPut("/drf/uploads", "bytes 0-9/67108865", "big", make([]byte, 10)).
		refused(t, 400, "Size of file exceeds the limit (67108864 bytes)", map[string]any{"limit": 64 << 20})
	e.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-%d/%d", len(chunk)-1, 10<<20), "big", chunk).
		refused(t, 400, "Size of chunk exceeds the limit (2097152 bytes)", map[string]any{"limit": 2 << 20})
	e.drfPut("/drf/uploads", "bytes 0-9/10", strings.Repeat("n", 101), make([]byte, 10)).
		refused(t, 400, map[string]any{"filename": []any{"Ensure this field has no more than 100 bytes."}}, nil)
	sum := md5.Sum(chunk)
	body, ct := drfForm([][2]string{{"filename", "w"}, {"md5", hex.EncodeToString(sum[:])}}, chunk, true)
	e.drfSend("POST", "/drf/uploads", map[string]string{"Content-Type": ct}, body).
		refused(t, 400, "Size of file exceeds the limit for one request (2097152 bytes); send it in chunks", map[string]any{"limit": 2 << 20})
	if n := e.sessionCount(); n != sessions {
		t.Fatalf("refused requests made %d uploads", n-sessions)
	}
}

// TestDRFBadInput: malformed or missing headers, numbers out of range,
// wrong bodies and methods each get the original's answer, and the stored
// upload is unchanged after every one.
func TestDRFBadInput(t *testing.T) {
	e := newEnv(t, nil)
	const mib = 1 << 20
	data := randomBytes(3*mib, 87)
	u := e.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-%d/%d", mib-1, len(data)), "keep.bin", data[:mib]).upload(t)
	_, _, staged := e.drfStored(u.ID)
	next := data[mib : 2*mib]
	unchanged := func(what string) {
		t.Helper()
		if off, st, n := e.drfStored(u.ID); off != mib || st != upload.StateOpen || n != staged {
			t.Fatalf("after %s: offset %d state %s, %d staged (was %d)", what, off, st, n, staged)
		}
	}
	headers := []struct{ cr, detail string }{
		{"", "Error in request headers"},
		{"bytes nonsense", "Error in request headers"},
		{"bytes -1048576-2097151/3145728", "Error in request headers"},
		{"bytes 1048576-2097151", "Error in request headers"},
		{"bytes=1048576-2097151/3145728", "Error in request headers"},
		{"bytes 2097151-1048576/3145728", "Error in request headers"},
		{"bytes 1048576-4194304/3145728", "End of chunk exceeds reported total (3145728 bytes)"},
		{"bytes 1048576-3145728/3145728", "End of chunk exceeds reported total (3145728 bytes)"},
		{"bytes 0-100000/5", "End of chunk exceeds reported total (5 bytes)"},
		{"bytes 1048576-1048577/3145728", "File size doesn't match headers: file size is 1048576 but 2 reported"},
		{"bytes 1048576-2097151/4194304", "Reported total (4194304 bytes) does not match the size of the upload (3145728 bytes)"},
	}
	for _, h := range headers {
		e.drfPut(u.URL, h.cr, "keep.bin", next).refused(t, 400, h.detail, nil)
		unchanged(fmt.Sprintf("Content-Range %q", h.cr))
	}
	limit := map[string]any{"limit": upload.DefaultOptions().MaxFileSize}
	for _, cr := range []string{"bytes 0-9999/999999999999999999999", "bytes 99999999999999999999-99999999999999999999/999999999999999999999"} {
		e.drfPut(u.URL, cr, "keep.bin", next).refused(t, 400, "Size of file exceeds the limit (53687091200 bytes)", limit)
		unchanged(cr)
	}
	e.drfBadBodies(u.URL, next)
	unchanged("bad bodies")
	e.drfComplete(u.URL, url.Values{"sha512": {"00"}}).refused(t, 400, "Checksum of type 'md5' is required", nil)
	e.drfComplete(u.URL, url.Values{"md5": {strings.Repeat("0", 32)}}).refused(t, 400, "Upload "+u.ID+" has 1048576 of 3145728 bytes", nil)
	unchanged("early completion")
	for _, m := range []string{"PATCH", "DELETE"} {
		e.drfSend(m, u.URL, nil, nil).refused(t, 405, `Method "`+m+`" not allowed.`, nil)
	}
	e.drfSend("DELETE", "/drf/uploads", nil, nil).refused(t, 405, `Method "DELETE" not allowed.`, nil)
	unchanged("wrong methods")

	// Creating: the name is required and not blank, and the first chunk
	// starts the file.
	sessions := e.sessionCount()
	cr := fmt.Sprintf("bytes 0-%d/%d", mib-1, len(data))
	body, ct := drfForm(nil, data[:mib], true)
	e.drfSend("PUT", "/drf/uploads", map[string]string{"Content-Type": ct, "Content-Range": cr}, body).
		refused(t, 400, map[string]any{"filename": []any{"This field is required."}}, nil)
	e.drfPut("/drf/uploads", cr, "  ", data[:mib]).refused(t, 400, map[string]any{"filename": []any{"This field may not be blank."}}, nil)
	e.drfPut("/drf/uploads", "", "n.bin", data[:mib]).refused(t, 400, "Error in request headers", nil)
	e.drfPut("/drf/uploads", fmt.Sprintf("bytes %d-%d/%d", mib, 2*mib-1, len(data)), "n.bin", next).
		refused(t, 400, "Offsets do not match", map[string]any{"expected_offset": 0, "provided_offset": mib})
	if n := e.sessionCount(); n != sessions {
		t.Fatalf("refused creates made %d uploads", n-sessions)
	}
}

// drfBadBodies sends chunk PUTs whose bodies are wrong.
func (e *env) drfBadBodies(target string, chunk []byte) {
	t := e.t
	t.Helper()
	cr := fmt.Sprintf("bytes 1048576-%d/3145728", 1048576+len(chunk)-1)
	noFile, ct := drfForm([][2]string{{"filename", "keep.bin"}}, nil, false)
	e.drfSend("PUT", target, map[string]string{"Content-Type": ct, "Content-Range": cr}, noFile).
		refused(t, 400, "No chunk file was submitted", nil)
	e.drfSend("PUT", target, map[string]string{"Content-Range": cr}, nil).
		refused(t, 400, "No chunk file was submitted", nil)
	e.drfSend("PUT", target, map[string]string{"Content-Type": "application/octet-stream", "Content-Range": cr}, chunk).
		refused(t, 415, `Unsupported media type "application/octet-stream" in request.`, nil)
	e.drfSend("PUT", target, map[string]string{"Content-Type": "multipart/form-data", "Content-Range": cr}, chunk).
		refused(t, 400, "Multipart form parse error - Invalid boundary in multipart: None", nil)
	whole, ct := drfForm([][2]string{{"filename", "keep.bin"}}, chunk, true)
	a := e.drfSend("PUT", target, map[string]string{"Content-Type": ct, "Content-Range": cr}, whole[:len(whole)/2])
	if a.status != 400 || !bytes.Contains(a.raw, []byte("Multipart form parse error")) {
		t.Fatalf("truncated form: %d %s", a.status, a.raw)
	}
}

// TestDRFSampleEvents feeds the drf files of events/ to their functions'
// handlers, as `sam local invoke -e` would: create, append, status,
// complete (the events' md5 is the file's), whole file, other methods.
func TestDRFSampleEvents(t *testing.T) {
	e := newEnv(t, nil)
	send := func(file, function string, id string, status int) map[string]any {
		t.Helper()
		ev := readEvent(t, file)
		if id != "" {
			withID(&ev, id)
		}
		resp, err := httpadapter.NewV2(e.svc.Handler(function)).ProxyWithContext(context.Background(), ev)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var out map[string]any
		if resp.StatusCode != status || json.Unmarshal([]byte(resp.Body), &out) != nil {
			t.Fatalf("%s: %d %s, want %d", file, resp.StatusCode, resp.Body, status)
		}
		return out
	}
	created := send("drf-create.json", api.ReceiveFunction, "", 200)
	id, _ := created["id"].(string)
	if want := "https://r4nd0mapi1.execute-api.us-east-1.amazonaws.com/drf/uploads/" + id; created["url"] != want {
		t.Fatalf("url %v, want %s", created["url"], want)
	}
	send("drf-chunk.json", api.ReceiveFunction, id, 200)
	send("drf-chunk.json", api.ReceiveFunction, "", 404)
	if st := send("drf-status.json", api.CheckFunction, id, 200); st["offset"] != float64(24576) {
		t.Fatalf("status: %v", st)
	}
	if done := send("drf-complete.json", api.CompleteFunction, id, 200); done["status"] != float64(2) {
		t.Fatalf("complete: %v", done)
	}
	send("drf-whole.json", api.ReceiveFunction, "", 200)
	send("drf-other-method.json", api.CheckFunction, "", 405)
	send("drf-other-method-id.json", api.CheckFunction, id, 405)
}
