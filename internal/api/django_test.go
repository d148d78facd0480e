package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"chunkup/internal/api"
)

// djangoAnswer is what django-chunked-upload's views answer.
type djangoAnswer struct {
	UploadID  string `json:"upload_id"`
	Offset    int64  `json:"offset"`
	Expires   string `json:"expires"`
	Detail    string `json:"detail"`
	Limit     int64  `json:"limit"`
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	CRC64NVME string `json:"crc64nvme"`
	MD5       string `json:"md5"`
	Filename  string `json:"filename"`
}

// djangoChunk is one chunk POST as the demo page's jQuery-File-Upload
// sends it: a multipart form with the page's extra fields (csrf token,
// then upload_id from the first answer on) and the chunk as a file part,
// with Content-Range and Content-Disposition headers.
type djangoChunk struct {
	uploadID string
	field    string // the file field; "file" if empty
	name     string
	data     []byte
	rng      string // Content-Range; none if empty
	extra    map[string]string
}

func (c djangoChunk) request(base string) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrfmiddlewaretoken", "kq3Zb8mV2nT9xLeR4pW7yC1dF6gH0jKs")
	if c.uploadID != "" {
		mw.WriteField("upload_id", c.uploadID)
	}
	if c.data != nil {
		field := c.field
		if field == "" {
			field = "file"
		}
		fw, _ := mw.CreateFormFile(field, c.name)
		fw.Write(c.data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/chunked-upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Content-Disposition", `attachment; filename="`+url.PathEscape(c.name)+`"`)
	if c.rng != "" {
		req.Header.Set("Content-Range", c.rng)
	}
	for k, v := range c.extra {
		req.Header.Set(k, v)
	}
	return req
}

func (e *env) djangoDo(req *http.Request) (int, djangoAnswer) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a djangoAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("%s %s: %d %q is not JSON", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	return resp.StatusCode, a
}

func (e *env) djangoSend(c djangoChunk) (int, djangoAnswer) {
	e.t.Helper()
	return e.djangoDo(c.request(e.url))
}

// djangoComplete posts the completion as the demo's $.ajax does: a
// url-encoded form.
func (e *env) djangoComplete(form url.Values) (int, djangoAnswer) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/chunked-upload/complete", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	return e.djangoDo(req)
}

func contentRange(start, n, total int) string {
	return fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, total)
}

// djangoUpload sends data in chunks of size chunk, as the demo does, and
// returns the upload_id.
func (e *env) djangoUpload(name string, data []byte, chunk int, upTo int) string {
	e.t.Helper()
	id := ""
	for start := 0; start < upTo; start += chunk {
		piece := data[start:min(start+chunk, len(data))]
		st, a := e.djangoSend(djangoChunk{uploadID: id, name: name, data: piece, rng: contentRange(start, len(piece), len(data))})
		if st != 200 || a.Offset != int64(start+len(piece)) {
			e.t.Fatalf("chunk at %d: %d %+v", start, st, a)
		}
		if id != "" && a.UploadID != id {
			e.t.Fatalf("chunk at %d answered upload_id %s, want %s", start, a.UploadID, id)
		}
		id = a.UploadID
	}
	return id
}

var (
	djangoTime    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	uploadIDShape = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func md5Hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// TestDjangoUploadLikeTheDemo: a 17 MiB file in chunks, completion with
// a wrong md5 (refused, nothing lost), with the right one, then twice.
func TestDjangoUploadLikeTheDemo(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(17<<20+321, 81)
	const chunk = 1_000_000
	id := ""
	for start := 0; start < len(data); start += chunk {
		piece := data[start:min(start+chunk, len(data))]
		// The demo names its file field "the_file": chunkup takes the
		// form's only file whatever its name.
		st, a := e.djangoSend(djangoChunk{uploadID: id, field: "the_file", name: "holiday.mov", data: piece, rng: contentRange(start, len(piece), len(data))})
		if st != 200 || a.Offset != int64(start+len(piece)) || !uploadIDShape.MatchString(a.UploadID) {
			t.Fatalf("chunk at %d: %d %+v", start, st, a)
		}
		if id != "" && a.UploadID != id {
			t.Fatalf("upload_id changed from %s to %s", id, a.UploadID)
		}
		exp, err := time.Parse(time.RFC3339, a.Expires)
		if !djangoTime.MatchString(a.Expires) || err != nil || exp.Before(time.Now().Add(23*time.Hour)) {
			t.Fatalf("expires %q is not Django's ISO 8601 a day ahead", a.Expires)
		}
		id = a.UploadID
	}
	if st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data[1:])}}); st != 400 || a.Detail != "md5 checksum does not match" {
		t.Fatalf("wrong md5: %d %+v", st, a)
	}
	st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}})
	if st != 200 || a.UploadID != id || a.Offset != int64(len(data)) || a.Size != int64(len(data)) || a.Filename != "holiday.mov" || a.MD5 != md5Hex(data) {
		t.Fatalf("complete: %d %+v", st, a)
	}
	got, crc := e.object(a.Key)
	if !bytes.Equal(got, data) || crc == "" || a.CRC64NVME != crc || !strings.HasSuffix(a.Key, "/holiday.mov") {
		t.Fatalf("object %s differs from the file (%d bytes, crc %q vs %q)", a.Key, len(got), crc, a.CRC64NVME)
	}
	if st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}); st != 400 || a.Detail != `Upload has already been marked as "complete"` {
		t.Fatalf("complete twice: %d %+v", st, a)
	}
	last := data[len(data)-100:]
	if st, a := e.djangoSend(djangoChunk{uploadID: id, name: "holiday.mov", data: last, rng: contentRange(len(data)-100, 100, len(data))}); st != 400 || !strings.Contains(a.Detail, "complete") {
		t.Fatalf("chunk after completion: %d %+v", st, a)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged pieces left: %v", left)
	}
}

// TestDjangoWholeFileWithoutContentRange: jQuery-File-Upload sends no
// Content-Range for a file that fits one chunk; the original takes the
// chunk as the whole file, and so does chunkup. An empty file too.
func TestDjangoWholeFileWithoutContentRange(t *testing.T) {
	e := newEnv(t, nil)
	for _, data := range [][]byte{randomBytes(70_000, 82), {}} {
		st, a := e.djangoSend(djangoChunk{name: "small.txt", data: data})
		if st != 200 || a.Offset != int64(len(data)) {
			t.Fatalf("%d-byte file: %d %+v", len(data), st, a)
		}
		st, a = e.djangoComplete(url.Values{"upload_id": {a.UploadID}, "md5": {md5Hex(data)}})
		if st != 200 || a.Size != int64(len(data)) {
			t.Fatalf("complete %d-byte file: %d %+v", len(data), st, a)
		}
		if got, _ := e.object(a.Key); !bytes.Equal(got, data) {
			t.Fatalf("%d-byte file stored as %d bytes", len(data), len(got))
		}
	}
}

// djangoRefusal is a bad chunk and the answer it must get.
type djangoRefusal struct {
	what   string
	chunk  djangoChunk
	status int
	detail string // a part of the detail
	offset int64  // for "Offsets do not match"
	limit  int64
}

// TestDjangoBadChunks: each bad chunk for an upload in progress gets the
// original's status and a detail that says what is wrong (and the limit,
// for a limit); the upload is unchanged afterwards and still finishes.
func TestDjangoBadChunks(t *testing.T) {
	e := newEnv(t, smallLimits)
	data := randomBytes(3<<20+10, 83)
	const mib = 1 << 20
	id := e.djangoUpload("keep.bin", data, mib, mib)
	staged := e.stagedKeys()
	next := data[mib : 2*mib]
	cont := func(rng string, body []byte) djangoChunk {
		return djangoChunk{uploadID: id, name: "keep.bin", data: body, rng: rng}
	}
	total := len(data)
	cases := []djangoRefusal{
		{"no file", djangoChunk{uploadID: id, rng: contentRange(mib, mib, total)}, 400, "No chunk file was submitted", 0, 0},
		{"unknown upload_id", djangoChunk{uploadID: strings.Repeat("ab", 16), name: "x", data: next, rng: contentRange(mib, mib, total)}, 404, "no upload", 0, 0},
		{"malformed upload_id", djangoChunk{uploadID: "../../etc", name: "x", data: next, rng: contentRange(mib, mib, total)}, 404, "no upload", 0, 0},
		{"no Content-Range", cont("", next), 400, "Content-Range", 0, 0},
		{"Content-Range without TOTAL", cont(fmt.Sprintf("bytes %d-%d", mib, 2*mib-1), next), 400, "Error in request headers", 0, 0},
		{"Content-Range with =", cont(fmt.Sprintf("bytes=%d-%d/%d", mib, 2*mib-1, total), next), 400, "Error in request headers", 0, 0},
		{"negative START", cont(fmt.Sprintf("bytes -%d-%d/%d", mib, 2*mib-1, total), next), 400, "Error in request headers", 0, 0},
		{"START after END", cont(fmt.Sprintf("bytes %d-%d/%d", 2*mib, mib, total), next), 400, "Error in request headers", 0, 0},
		{"END beyond TOTAL", cont(fmt.Sprintf("bytes %d-%d/%d", mib, total, total), next), 400, "Error in request headers", 0, 0},
		{"huge numbers", cont("bytes 99999999999999999999-99999999999999999999/99999999999999999999", next), 400, "Error in request headers", 0, 0},
		{"TOTAL over the limit", cont(contentRange(mib, mib, 64<<20+1), next), 400, "exceeds the limit (67108864 bytes)", 0, 64 << 20},
		{"another TOTAL", cont(contentRange(mib, mib, total+1), next), 400, fmt.Sprint(total), 0, 0},
		{"START behind the offset", cont(contentRange(0, mib, total), data[:mib]), 400, "Offsets do not match", mib, 0},
		{"START ahead of the offset", cont(contentRange(2*mib, mib, total), data[2*mib:3*mib]), 400, "Offsets do not match", mib, 0},
		{"chunk shorter than Content-Range", cont(contentRange(mib, mib, total), next[:1000]), 400, "File size doesn't match headers", 0, 0},
		{"chunk over the chunk limit", cont(contentRange(mib, 2*mib+1, total), data[mib:3*mib+1]), 400, "limit of 2097152 bytes", 0, 2 << 20},
	}
	for _, c := range cases {
		st, a := e.djangoSend(c.chunk)
		if st != c.status || !strings.Contains(a.Detail, c.detail) || a.Offset != c.offset || a.Limit != c.limit {
			t.Errorf("%s: %d %+v, want %d %q offset %d limit %d", c.what, st, a, c.status, c.detail, c.offset, c.limit)
		}
	}
	s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, id)
	if err != nil || s.Offset != mib || s.State != "open" || !slices.Equal(e.stagedKeys(), staged) {
		t.Fatalf("bad chunks changed the upload: %v, offset %d, staged %v (was %v)", err, s.Offset, e.stagedKeys(), staged)
	}
	for start := mib; start < total; start += mib {
		piece := data[start:min(start+mib, total)]
		if st, a := e.djangoSend(cont(contentRange(start, len(piece), total), piece)); st != 200 {
			t.Fatalf("chunk at %d after the bad ones: %d %+v", start, st, a)
		}
	}
	if st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}); st != 200 {
		t.Fatalf("complete after the bad chunks: %d %+v", st, a)
	}
}

// TestDjangoBadFirstChunks: a refused first chunk leaves nothing behind.
func TestDjangoBadFirstChunks(t *testing.T) {
	e := newEnv(t, smallLimits)
	data := randomBytes(3<<20, 84)
	cases := []djangoRefusal{
		{"START not 0", djangoChunk{name: "a.bin", data: data[5:1005], rng: contentRange(5, 1000, len(data))}, 400, "Offsets do not match", 0, 0},
		{"TOTAL over the limit", djangoChunk{name: "a.bin", data: data[:1000], rng: contentRange(0, 1000, 1<<40)}, 400, "exceeds the limit (67108864 bytes)", 0, 64 << 20},
		{"name over the limit", djangoChunk{name: strings.Repeat("n", 101), data: data[:1<<20], rng: contentRange(0, 1<<20, len(data))}, 400, "limit is 100 bytes", 0, 100},
		{"not a form", djangoChunk{name: "a.bin", data: data[:1000], rng: contentRange(0, 1000, len(data)), extra: map[string]string{"Content-Type": "application/octet-stream"}}, 400, "No chunk file was submitted", 0, 0},
	}
	for _, c := range cases {
		st, a := e.djangoSend(c.chunk)
		if st != c.status || !strings.Contains(a.Detail, c.detail) || a.Offset != c.offset || a.Limit != c.limit {
			t.Errorf("%s: %d %+v, want %d %q offset %d limit %d", c.what, st, a, c.status, c.detail, c.offset, c.limit)
		}
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("refused first chunks left staged pieces: %v", left)
	}
}

// TestDjangoCompletionRefusals: missing fields, unknown, incomplete.
func TestDjangoCompletionRefusals(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(2<<20, 85)
	id := e.djangoUpload("half.bin", data, 1<<20, 1<<20)
	cases := []struct {
		form   url.Values
		status int
		detail string
	}{
		{url.Values{"upload_id": {id}}, 400, "Both 'upload_id' and 'md5' are required"},
		{url.Values{"md5": {md5Hex(data)}}, 400, "Both 'upload_id' and 'md5' are required"},
		{url.Values{"upload_id": {strings.Repeat("0", 32)}, "md5": {md5Hex(data)}}, 404, "no upload"},
		{url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}, 400, "1048576 of 2097152 bytes"},
	}
	for _, c := range cases {
		if st, a := e.djangoComplete(c.form); st != c.status || !strings.Contains(a.Detail, c.detail) {
			t.Errorf("complete %v: %d %+v, want %d %q", c.form, st, a, c.status, c.detail)
		}
	}
	// A JSON body is not the form the original reads.
	req, _ := http.NewRequest("POST", e.url+"/chunked-upload/complete", strings.NewReader(`{"upload_id":"`+id+`","md5":"`+md5Hex(data)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if st, a := e.djangoDo(req); st != 400 || !strings.Contains(a.Detail, "required") {
		t.Errorf("JSON completion: %d %+v", st, a)
	}
}

// TestDjangoExpired: a day after its last chunk an upload answers 410 to
// chunks and to completion.
func TestDjangoExpired(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(2<<20, 86)
	id := e.djangoUpload("late.bin", data, 1<<20, 1<<20)
	e.clock.Advance(24*time.Hour + time.Minute)
	piece := data[1<<20:]
	if st, a := e.djangoSend(djangoChunk{uploadID: id, name: "late.bin", data: piece, rng: contentRange(1<<20, len(piece), len(data))}); st != 410 || a.Detail != "Upload has expired" {
		t.Fatalf("chunk after expiry: %d %+v", st, a)
	}
	if st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}); st != 410 || a.Detail != "Upload has expired" {
		t.Fatalf("complete after expiry: %d %+v", st, a)
	}
}

// TestDjangoOwnerScope: another caller's upload_id is unknown to them.
func TestDjangoOwnerScope(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(50_000, 87)
	req := djangoChunk{name: "mine.txt", data: data}.request("")
	body, _ := io.ReadAll(req.Body)
	resp := e.invokeAs("alice", api.ReceiveFunction, "POST", "/chunked-upload", "", req.Header.Get("Content-Type"), body)
	var a djangoAnswer
	json.Unmarshal([]byte(resp.Body), &a)
	if resp.StatusCode != 200 || a.Offset != 50_000 {
		t.Fatalf("alice's file: %d %s", resp.StatusCode, resp.Body)
	}
	form := url.Values{"upload_id": {a.UploadID}, "md5": {md5Hex(data)}}.Encode()
	resp = e.invokeAs("bob", api.CompleteFunction, "POST", "/chunked-upload/complete", "", "application/x-www-form-urlencoded", []byte(form))
	if resp.StatusCode != 404 {
		t.Fatalf("bob completes alice's upload: %d %s", resp.StatusCode, resp.Body)
	}
	resp = e.invokeAs("alice", api.CompleteFunction, "POST", "/chunked-upload/complete", "", "application/x-www-form-urlencoded", []byte(form))
	if resp.StatusCode != 200 {
		t.Fatalf("alice completes her upload: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestDjangoWrongMethod: only POST is routed; the gateway answers others
// as API Gateway does, 404.
func TestDjangoWrongMethod(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/chunked-upload"}, {"PUT", "/chunked-upload"}, {"GET", "/chunked-upload/complete"}, {"DELETE", "/chunked-upload/complete"},
	} {
		if st := e.call(c.method, c.path, nil, nil); st != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, st)
		}
	}
}
