package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/api"
	"chunkup/internal/upload"
)

// tusAnswer is one answer of the tus routes.
type tusAnswer struct {
	status int
	header http.Header
	body   string
}

// tusDo sends one tus request; Tus-Resumable: 1.0.0 is added unless
// header sets it (to "" for none).
func (e *env) tusDo(method, path string, header map[string]string, body []byte) tusAnswer {
	e.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = e.url + path
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return tusAnswer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// want fails the test unless the answer has status, and, but for OPTIONS,
// Tus-Resumable.
func (a tusAnswer) want(t *testing.T, what string, status int) tusAnswer {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d %q (headers %v), want %d", what, a.status, a.body, a.header, status)
	}
	if a.header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("%s: no Tus-Resumable on the answer: %v", what, a.header)
	}
	return a
}

func (a tusAnswer) offset(t *testing.T) int64 {
	t.Helper()
	n, err := strconv.ParseInt(a.header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("Upload-Offset %q: %v", a.header.Get("Upload-Offset"), err)
	}
	return n
}

// tusCreate creates an upload of size bytes with metadata and returns
// its path.
func (e *env) tusCreate(size int, meta string) string {
	e.t.Helper()
	a := e.tusDo("POST", "/files", map[string]string{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta}, nil).want(e.t, "create", 201)
	loc := a.header.Get("Location")
	if !strings.HasPrefix(loc, "http://127.0.0.1:") || !strings.Contains(loc, "/files/") {
		e.t.Fatalf("Location %q is not an absolute upload URL", loc)
	}
	exp, err := http.ParseTime(a.header.Get("Upload-Expires"))
	if err != nil || exp.Before(time.Now()) {
		e.t.Fatalf("Upload-Expires %q: %v", a.header.Get("Upload-Expires"), err)
	}
	return loc[strings.Index(loc, "/files/"):]
}

// tusPatch sends data at offset.
func (e *env) tusPatch(path string, offset int, data []byte, header map[string]string) tusAnswer {
	e.t.Helper()
	h := map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(offset)}
	for k, v := range header {
		h[k] = v
	}
	return e.tusDo("PATCH", path, h, data)
}

// tusSend sends data in chunks of chunk bytes from offset, each checked
// by sha1, and returns the last answer.
func (e *env) tusSend(path string, data []byte, from, chunk int) tusAnswer {
	e.t.Helper()
	var last tusAnswer
	for off := from; off < len(data); off += chunk {
		piece := data[off:min(off+chunk, len(data))]
		sum := sha1.Sum(piece)
		last = e.tusPatch(path, off, piece, map[string]string{"Upload-Checksum": "sha1 " + base64.StdEncoding.EncodeToString(sum[:])}).
			want(e.t, fmt.Sprintf("PATCH at %d", off), 204)
		if got := last.offset(e.t); got != int64(off+len(piece)) {
			e.t.Fatalf("PATCH at %d: Upload-Offset %d", off, got)
		}
	}
	return last
}

// tusFinished checks the answer that finished the file: the object's key
// and CRC64NVME, and the object is data.
func (e *env) tusFinished(a tusAnswer, data []byte) string {
	e.t.Helper()
	key, crc := a.header.Get("Chunkup-Object-Key"), a.header.Get("Chunkup-Object-Crc64nvme")
	if key == "" || crc == "" {
		e.t.Fatalf("the finishing answer names no object: %v", a.header)
	}
	got, gotCRC := e.object(key)
	if !bytes.Equal(got, data) || gotCRC != crc {
		e.t.Fatalf("object %s: %d bytes (want %d), CRC64NVME %s (answer said %s)", key, len(got), len(data), gotCRC, crc)
	}
	return key
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestTusUpload: OPTIONS says what the server speaks; a 13 MiB file is
// created with metadata and sent in 3 MiB PATCHes (parts of 5 MiB are
// assembled from them), each with its sha1; HEAD shows the offset and
// metadata, uncached; the last PATCH finishes the file and names the
// object, which is the file and carries the metadata; HEAD afterwards
// shows the whole file and the object.
func TestTusUpload(t *testing.T) {
	e := newEnv(t, nil)
	opt := e.tusDo("OPTIONS", "/files", map[string]string{"Tus-Resumable": ""}, nil)
	if opt.status != 204 || opt.header.Get("Tus-Version") != "1.0.0" ||
		opt.header.Get("Tus-Extension") != "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation" ||
		opt.header.Get("Tus-Max-Size") != strconv.FormatInt(upload.DefaultOptions().MaxFileSize, 10) ||
		!strings.Contains(opt.header.Get("Tus-Checksum-Algorithm"), "sha1") {
		t.Fatalf("OPTIONS: %d %v", opt.status, opt.header)
	}
	data := randomBytes(13<<20, 1201)
	meta := "filename " + b64("holiday video.mp4") + ",filetype " + b64("video/mp4") + ",relativePath " + b64("trips/2026/holiday video.mp4") + ",empty"
	path := e.tusCreate(len(data), meta)
	head := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200)
	if head.offset(t) != 0 || head.header.Get("Upload-Length") != strconv.Itoa(len(data)) || head.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("HEAD of the new upload: %v", head.header)
	}
	if got := head.header.Get("Upload-Metadata"); got != "empty,filename "+b64("holiday video.mp4")+",filetype "+b64("video/mp4")+",relativePath "+b64("trips/2026/holiday video.mp4") {
		t.Fatalf("Upload-Metadata %q", got)
	}
	e.tusSend(path, data[:9<<20], 0, 3<<20)
	if head := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200); head.offset(t) != 9<<20 || head.header.Get("Chunkup-Object-Key") != "" {
		t.Fatalf("HEAD part way: %v", head.header)
	}
	last := e.tusSend(path, data, 9<<20, 3<<20)
	if last.header.Get("Upload-Expires") != "" {
		t.Fatalf("the finished upload still expires: %v", last.header)
	}
	key := e.tusFinished(last, data)
	if !strings.HasSuffix(key, "/holiday_video.mp4") {
		t.Fatalf("key %q is not named for the file", key)
	}
	obj, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	if ct := *obj.ContentType; ct != "video/mp4" || obj.Metadata["meta-relativepath"] != "trips%2F2026%2Fholiday%20video.mp4" || obj.Metadata["meta-filetype"] != "video%2Fmp4" {
		t.Fatalf("object type %q, metadata %v", ct, obj.Metadata)
	}
	after := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD after", 200)
	if after.offset(t) != int64(len(data)) || after.header.Get("Chunkup-Object-Key") != key || after.header.Get("Chunkup-Object-Crc64nvme") != last.header.Get("Chunkup-Object-Crc64nvme") {
		t.Fatalf("HEAD of the finished upload: %v", after.header)
	}
	if len(e.stagedKeys()) != 0 || e.multipartUploads() != 0 {
		t.Fatalf("left behind: staged %v, %d multipart uploads", e.stagedKeys(), e.multipartUploads())
	}
}

// TestTusCreationWithUpload: a POST carrying the whole of a small file
// answers 201 with its Upload-Offset and the finished object; one
// carrying the first bytes of a larger file answers their offset, and
// PATCHes finish it; an empty file is finished at creation.
func TestTusCreationWithUpload(t *testing.T) {
	e := newEnv(t, nil)
	octet := "application/offset+octet-stream"
	small := randomBytes(70_000, 1202)
	a := e.tusDo("POST", "/files", map[string]string{"Upload-Length": "70000", "Content-Type": octet, "Upload-Metadata": "filename " + b64("a.bin")}, small).want(t, "POST whole", 201)
	if a.offset(t) != 70_000 {
		t.Fatalf("Upload-Offset %d", a.offset(t))
	}
	e.tusFinished(a, small)

	big := randomBytes(6<<20, 1203)
	a = e.tusDo("POST", "/files", map[string]string{"Upload-Length": strconv.Itoa(len(big)), "Content-Type": octet}, big[:4<<20]).want(t, "POST first bytes", 201)
	if a.offset(t) != 4<<20 || a.header.Get("Chunkup-Object-Key") != "" {
		t.Fatalf("POST with the first 4 MiB: %v", a.header)
	}
	loc := a.header.Get("Location")
	key := e.tusFinished(e.tusSend(loc[strings.Index(loc, "/files/"):], big, 4<<20, 4<<20), big)
	if !strings.HasSuffix(key, "/file") {
		t.Fatalf("a file without a name is %q", key)
	}

	a = e.tusDo("POST", "/files", map[string]string{"Upload-Length": "0"}, nil).want(t, "POST empty", 201)
	if a.header.Get("Upload-Offset") != "" {
		t.Fatalf("a creation without data has Upload-Offset: %v", a.header)
	}
	if got, _ := e.object(a.header.Get("Chunkup-Object-Key")); len(got) != 0 {
		t.Fatalf("empty file: %d bytes", len(got))
	}
}

// TestTusDeferLength: an upload created with Upload-Defer-Length: 1
// shows it on HEAD, takes bytes, learns its length from a later PATCH
// (which may carry no bytes) and is finished by it; a second, different
// length is refused.
func TestTusDeferLength(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(7<<20, 1204)
	a := e.tusDo("POST", "/files", map[string]string{"Upload-Defer-Length": "1"}, nil).want(t, "POST deferred", 201)
	path := a.header.Get("Location")[strings.Index(a.header.Get("Location"), "/files/"):]
	if h := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200); h.header.Get("Upload-Defer-Length") != "1" || h.header.Get("Upload-Length") != "" {
		t.Fatalf("HEAD of a deferred upload: %v", h.header)
	}
	e.tusSend(path, data, 0, 4<<20)
	before := e.storage()
	e.tusPatch(path, len(data), nil, map[string]string{"Upload-Length": strconv.Itoa(len(data) - 1)}).want(t, "length under the offset", 413)
	e.unchanged("a length under the offset", before, e.storage(), false)
	done := e.tusPatch(path, len(data), nil, map[string]string{"Upload-Length": strconv.Itoa(len(data))}).want(t, "PATCH with the length", 204)
	e.tusFinished(done, data)
	if h := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200); h.header.Get("Upload-Length") != strconv.Itoa(len(data)) || h.offset(t) != int64(len(data)) {
		t.Fatalf("HEAD after: %v", h.header)
	}
}

// TestTusMethodOverride: POSTs with X-HTTP-Method-Override stand for
// PATCH, HEAD and DELETE.
func TestTusMethodOverride(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(10_000, 1205)
	path := e.tusCreate(len(data), "")
	over := func(m string) map[string]string {
		return map[string]string{"X-HTTP-Method-Override": m, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
	}
	e.tusDo("POST", path, over("PATCH"), data[:6000]).want(t, "POST as PATCH", 204)
	if h := e.tusDo("POST", path, over("HEAD"), nil).want(t, "POST as HEAD", 200); h.offset(t) != 6000 || h.body != "" {
		t.Fatalf("POST as HEAD: %v %q", h.header, h.body)
	}
	e.tusDo("POST", path, over("PUT"), nil).want(t, "POST as PUT", 405)
	e.tusDo("POST", path, map[string]string{}, nil).want(t, "POST without override", 405)
	e.tusDo("POST", path, over("DELETE"), nil).want(t, "POST as DELETE", 204)
	e.tusDo("HEAD", path, nil, nil).want(t, "HEAD after DELETE", 410)
}

// TestTusRefusals: every refusal of protocols.md §7 has its status and
// leaves everything stored as it was: 412 for another version, 415 for
// another content type, 409 for another offset, 460 for a checksum that
// does not match, 400 for an unknown algorithm, 413 past the length, 404
// for an unknown upload, 410 once it expired and once it was deleted.
func TestTusRefusals(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(30_000, 1206)
	path := e.tusCreate(len(data), "filename "+b64("r.bin"))
	e.tusPatch(path, 0, data[:10000], nil).want(t, "first PATCH", 204)
	octet := map[string]string{}
	sum := func(alg string, b []byte) string {
		switch alg {
		case "md5":
			s := md5.Sum(b)
			return "md5 " + base64.StdEncoding.EncodeToString(s[:])
		case "sha256":
			s := sha256.Sum256(b)
			return "sha256 " + base64.StdEncoding.EncodeToString(s[:])
		case "crc32c":
			s := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
			return "crc32c " + base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
		}
		s := sha1.Sum(b)
		return "sha1 " + base64.StdEncoding.EncodeToString(s[:])
	}
	next := data[10000:20000]
	cases := []struct {
		what   string
		do     func() tusAnswer
		status int
	}{
		{"PATCH without Tus-Resumable", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Tus-Resumable": ""})
		}, 412},
		{"PATCH of version 0.2.2", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Tus-Resumable": "0.2.2"})
		}, 412},
		{"HEAD of version 0.2.2", func() tusAnswer { return e.tusDo("HEAD", path, map[string]string{"Tus-Resumable": "0.2.2"}, nil) }, 412},
		{"POST of version 0.2.2", func() tusAnswer {
			return e.tusDo("POST", "/files", map[string]string{"Tus-Resumable": "0.2.2", "Upload-Length": "5"}, nil)
		}, 412},
		{"PATCH as octet-stream", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Content-Type": "application/octet-stream"})
		}, 415},
		{"PATCH at a past offset", func() tusAnswer { return e.tusPatch(path, 0, next, octet) }, 409},
		{"PATCH at a future offset", func() tusAnswer { return e.tusPatch(path, 20000, next, octet) }, 409},
		{"PATCH with a wrong sha1", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Upload-Checksum": sum("sha1", data[:10000])})
		}, 460},
		{"PATCH with a wrong md5", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Upload-Checksum": sum("md5", data[:10000])})
		}, 460},
		{"PATCH with a wrong crc32c", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Upload-Checksum": sum("crc32c", data[:10000])})
		}, 460},
		{"PATCH with an unknown algorithm", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Upload-Checksum": "sha3 " + base64.StdEncoding.EncodeToString(make([]byte, 32))})
		}, 400},
		{"PATCH past Upload-Length", func() tusAnswer { return e.tusPatch(path, 10000, append(bytes.Clone(data[10000:]), 1), nil) }, 413},
		{"PATCH with another Upload-Length", func() tusAnswer {
			return e.tusPatch(path, 10000, next, map[string]string{"Upload-Length": "40000"})
		}, 400},
		{"POST over Tus-Max-Size", func() tusAnswer {
			return e.tusDo("POST", "/files", map[string]string{"Upload-Length": strconv.FormatInt(upload.DefaultOptions().MaxFileSize+1, 10)}, nil)
		}, 413},
		{"POST with metadata not base64", func() tusAnswer {
			return e.tusDo("POST", "/files", map[string]string{"Upload-Length": "5", "Upload-Metadata": "filename a.bin"}, nil)
		}, 400},
		{"POST without a length", func() tusAnswer { return e.tusDo("POST", "/files", nil, nil) }, 400},
		{"HEAD of an unknown upload", func() tusAnswer { return e.tusDo("HEAD", "/files/0123456789abcdef0123456789abcdef", nil, nil) }, 404},
		{"PATCH of an unknown upload", func() tusAnswer {
			return e.tusPatch("/files/0123456789abcdef0123456789abcdef", 0, next, nil)
		}, 404},
	}
	for _, c := range cases {
		before := e.storage()
		a := c.do().want(t, c.what, c.status)
		if c.status == 409 && a.offset(t) != 10000 {
			t.Fatalf("%s: 409 with Upload-Offset %d, want the upload's 10000", c.what, a.offset(t))
		}
		if c.status == 412 && a.header.Get("Tus-Version") != "1.0.0" {
			t.Fatalf("%s: 412 without Tus-Version: %v", c.what, a.header)
		}
		e.unchanged(c.what, before, e.storage(), false)
	}
	if h := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200); h.offset(t) != 10000 {
		t.Fatalf("the refusals moved the offset to %d", h.offset(t))
	}
	// The right checksums, of every algorithm, are taken.
	for i, alg := range []string{"md5", "sha256", "crc32c"} {
		piece := data[10000+i*6000 : 16000+i*6000]
		e.tusPatch(path, 10000+i*6000, piece, map[string]string{"Upload-Checksum": sum(alg, piece)}).want(t, alg+" PATCH", 204)
	}

	// Expiry: 410 to every request, nothing changed.
	e.clock.Advance(upload.DefaultOptions().Expiry + time.Minute)
	before := e.storage()
	e.tusDo("HEAD", path, nil, nil).want(t, "HEAD after expiry", 410)
	e.tusPatch(path, 28000, data[28000:], nil).want(t, "PATCH after expiry", 410)
	e.unchanged("requests after expiry", before, e.storage(), false)

	// Termination: 204, then 410; nothing of the upload is left.
	e.clock.Advance(-upload.DefaultOptions().Expiry - time.Minute)
	path = e.tusCreate(len(data), "")
	e.tusPatch(path, 0, data[:10000], nil).want(t, "PATCH", 204)
	e.tusDo("DELETE", path, nil, nil).want(t, "DELETE", 204)
	before = e.storage()
	e.tusDo("HEAD", path, nil, nil).want(t, "HEAD after DELETE", 410)
	e.tusPatch(path, 10000, next, nil).want(t, "PATCH after DELETE", 410)
	e.unchanged("requests after DELETE", before, e.storage(), false)
	for _, k := range e.stagedKeys() {
		if strings.Contains(k, path[len("/files/"):]) {
			t.Fatalf("DELETE left %s", k)
		}
	}
}

// TestTusPatchRace: two PATCHes at the same offset at once: one is
// taken (204), the other answered 409 with the new offset; the file is
// the winner's bytes.
func TestTusPatchRace(t *testing.T) {
	e := newEnv(t, nil)
	for round := range 4 {
		a, b := randomBytes(40_000, uint64(1300+round)), randomBytes(40_000, uint64(1400+round))
		path := e.tusCreate(80_000, "")
		var wg sync.WaitGroup
		answers := make([]tusAnswer, 2)
		start := make(chan struct{})
		for i, body := range [][]byte{a, b} {
			wg.Go(func() {
				<-start
				answers[i] = e.tusPatch(path, 0, body, nil)
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for i, ans := range answers {
			switch ans.status {
			case 204:
				if won >= 0 {
					t.Fatalf("round %d: both PATCHes at offset 0 were taken", round)
				}
				won = i
			case 409:
				if ans.header.Get("Upload-Offset") != "40000" {
					t.Fatalf("round %d: 409 with Upload-Offset %q", round, ans.header.Get("Upload-Offset"))
				}
			default:
				t.Fatalf("round %d: PATCH answered %d %q", round, ans.status, ans.body)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither PATCH was taken", round)
		}
		first := [][]byte{a, b}[won]
		rest := randomBytes(40_000, uint64(1500+round))
		e.tusFinished(e.tusPatch(path, 40_000, rest, nil).want(t, "last PATCH", 204), append(bytes.Clone(first), rest...))
	}
}

// TestTusHeadFinishes: when the PATCH that brings the last byte cannot
// finish the file (S3 fails the completion), it answers 503 to retry; the
// client's HEAD then finishes it and shows the whole file and the object.
func TestTusHeadFinishes(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(6<<20, 1207)
	path := e.tusCreate(len(data), "")
	e.tusSend(path, data[:4<<20], 0, 4<<20)
	e.blobs.failCompletes.Store(1)
	a := e.tusPatch(path, 4<<20, data[4<<20:], nil).want(t, "last PATCH, completion failing", 503)
	if a.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %v", a.header)
	}
	h := e.tusDo("HEAD", path, nil, nil).want(t, "HEAD", 200)
	if h.offset(t) != int64(len(data)) {
		t.Fatalf("HEAD: %v", h.header)
	}
	e.tusFinished(h, data)
}

// TestTusOwners: another owner's upload URL is unknown to every method
// (404), and nothing of it changes; its owner goes on and finishes it.
func TestTusOwners(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	data := randomBytes(50_000, 1208)
	path := alice.tusCreate(len(data), "filename "+b64("mine.txt"))
	alice.tusPatch(path, 0, data[:20_000], nil).want(t, "alice's PATCH", 204)
	bobTries := func() {
		t.Helper()
		bob.tusDo("HEAD", path, nil, nil).want(t, "bob's HEAD", 404)
		bob.tusPatch(path, 20_000, data[20_000:], nil).want(t, "bob's PATCH", 404)
		bob.tusDo("DELETE", path, nil, nil).want(t, "bob's DELETE", 404)
		bob.tusDo("POST", path, map[string]string{"X-HTTP-Method-Override": "DELETE"}, nil).want(t, "bob's POST as DELETE", 404)
	}
	before := e.storage()
	bobTries()
	e.unchanged("bob's requests", before, e.storage(), false)
	done := alice.tusPatch(path, 20_000, data[20_000:], nil).want(t, "alice's last PATCH", 204)
	e.tusFinished(done, data)
	finished := e.storage()
	bobTries()
	e.unchanged("bob's requests after completion", finished, e.storage(), false)
	if s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, path[len("/files/"):]); err == nil {
		t.Fatalf("an anonymous caller sees alice's upload: %+v", s)
	}
}

// tusPartial creates a partial upload of data, sends it, and returns its
// path.
func (e *env) tusPartial(data []byte, chunk int) string {
	e.t.Helper()
	a := e.tusDo("POST", "/files", map[string]string{"Upload-Length": strconv.Itoa(len(data)), "Upload-Concat": "partial"}, nil).want(e.t, "create partial", 201)
	loc := a.header.Get("Location")
	path := loc[strings.Index(loc, "/files/"):]
	if len(data) > 0 {
		e.tusSend(path, data, 0, chunk)
	}
	if h := e.tusDo("HEAD", path, nil, nil).want(e.t, "HEAD partial", 200); h.header.Get("Upload-Concat") != "partial" {
		e.t.Fatalf("HEAD of a partial upload: %v", h.header)
	}
	return path
}

// TestTusConcatenation: partial uploads of at least 5 MiB are joined by
// S3's copy, with nothing read back through chunkup; smaller ones are
// read and joined; the final object is the file, its CRC64NVME checked by
// S3; HEAD of the final shows Upload-Concat and the whole length; a PATCH
// to the final is 403; the partials' objects are gone once joined.
func TestTusConcatenation(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(17<<20, 1209)
	cuts := []int{0, 6 << 20, 12 << 20, 17 << 20}
	var paths []string
	for i := range 3 {
		paths = append(paths, e.tusPartial(data[cuts[i]:cuts[i+1]], 4<<20))
	}
	read, written, parts := e.blobs.bytesRead.Load()+e.blobs.objectBytesRead.Load(), e.blobs.bytesWritten.Load(), e.blobs.uploadParts.Load()
	final := e.tusDo("POST", "/files", map[string]string{"Upload-Concat": "final;" + e.url + paths[0] + " " + paths[1] + " " + paths[2],
		"Upload-Metadata": "filename " + b64("joined.bin")}, nil).want(t, "create final", 201)
	if r, w, p := e.blobs.bytesRead.Load()+e.blobs.objectBytesRead.Load()-read, e.blobs.bytesWritten.Load()-written, e.blobs.uploadParts.Load()-parts; r != 0 || w != 0 || p != 0 {
		t.Fatalf("joining partials of 5 MiB and more read %d bytes, wrote %d, uploaded %d parts through chunkup", r, w, p)
	}
	key := e.tusFinished(final, data)
	loc := final.header.Get("Location")
	fpath := loc[strings.Index(loc, "/files/"):]
	h := e.tusDo("HEAD", fpath, nil, nil).want(t, "HEAD final", 200)
	if h.header.Get("Upload-Concat") != "final;"+strings.Join(paths, " ") || h.offset(t) != int64(len(data)) || h.header.Get("Chunkup-Object-Key") != key {
		t.Fatalf("HEAD of the final upload: %v", h.header)
	}
	before := e.storage()
	e.tusPatch(fpath, len(data), []byte("x"), nil).want(t, "PATCH to the final upload", 403)
	e.unchanged("a PATCH to the final upload", before, e.storage(), false)
	for _, p := range paths {
		s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, p[len("/files/"):])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &s.Key}); err == nil {
			t.Fatalf("partial %s's object %s is still there", p, s.Key)
		}
	}

	small := randomBytes(300_000, 1210)
	a, b := e.tusPartial(small[:100_000], 50_000), e.tusPartial(small[100_000:], 100_000)
	empty := e.tusPartial(nil, 1)
	read = e.blobs.objectBytesRead.Load()
	defer func() {
		if got := e.blobs.objectBytesRead.Load() - read; got != 300_000 {
			t.Errorf("small partials: read %d bytes of their objects, want their 300000", got)
		}
	}()
	e.tusFinished(e.tusDo("POST", "/files", map[string]string{"Upload-Concat": "final;" + a + " " + empty + " " + b}, nil).want(t, "create small final", 201), small)
}

// TestTusConcatenationRefusals: a final upload that names an unfinished
// partial, an upload that is not partial, an unknown upload or another
// owner's partial is refused with 400, and nothing is stored for it.
func TestTusConcatenationRefusals(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	data := randomBytes(60_000, 1211)
	done := alice.tusPartial(data[:30_000], 30_000)
	a := alice.tusDo("POST", "/files", map[string]string{"Upload-Length": "30000", "Upload-Concat": "partial"}, nil).want(t, "create partial", 201)
	unfinished := a.header.Get("Location")[strings.Index(a.header.Get("Location"), "/files/"):]
	alice.tusPatch(unfinished, 0, data[30_000:50_000], nil).want(t, "PATCH", 204)
	whole := alice.tusCreate(10, "")
	bobs := bob.tusPartial(data[50_000:], 10_000)
	for what, list := range map[string]string{
		"an unfinished partial":   done + " " + unfinished,
		"an upload not partial":   done + " " + whole,
		"an unknown upload":       done + " /files/0123456789abcdef0123456789abcdef",
		"another owner's partial": done + " " + bobs,
		"a URL of another API":    done + " /drf/uploads/0123456789abcdef0123456789abcdef",
		"no uploads":              "",
	} {
		before := e.storage()
		alice.tusDo("POST", "/files", map[string]string{"Upload-Concat": "final;" + list}, nil).want(t, "final with "+what, 400)
		e.unchanged("a final with "+what, before, e.storage(), false)
	}
	before := e.storage()
	bob.tusDo("POST", "/files", map[string]string{"Upload-Concat": "final;" + done}, nil).want(t, "bob's final of alice's partial", 400)
	e.unchanged("bob's final of alice's partial", before, e.storage(), false)
}
