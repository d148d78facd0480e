package api_test

// Direct uploads through the Companion routes (@uppy/aws-s3's
// companionEndpoint) and the native API's direct mode: the parts go from
// the client straight to versitygw with URLs chunkup signs; chunkup
// lists, checks and completes them. Every refusal leaves what is stored
// as it was.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

const mib = 1 << 20

type companionCreated struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	Bucket   string `json:"bucket"`
}

type companionDone struct {
	Location  string `json:"location"`
	Key       string `json:"key"`
	Bucket    string `json:"bucket"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	CRC64NVME string `json:"crc64nvme"`
}

type companionPart struct {
	PartNumber int    `json:"PartNumber"`
	ETag       string `json:"ETag"`
	Size       int64  `json:"Size,omitempty"`
}

// jsonBody renders v as a request body.
func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func (e *env) companionCreate(name string) companionCreated {
	e.t.Helper()
	var c companionCreated
	if st := e.call("POST", "/s3/multipart", jsonBody(map[string]any{"filename": name, "type": "application/octet-stream", "metadata": map[string]string{"name": name}}), &c); st != 200 {
		e.t.Fatalf("create %q: %d", name, st)
	}
	return c
}

// partPath is a Companion route about upload c, with its key.
func partPath(c companionCreated, suffix string) string {
	return "/s3/multipart/" + c.UploadID + suffix + "?key=" + url.QueryEscape(c.Key)
}

// signPart asks for part n's URL and returns it (or the error answer's status).
func (e *env) signPart(c companionCreated, n int) (string, int) {
	e.t.Helper()
	var out struct {
		URL     string `json:"url"`
		Expires int    `json:"expires"`
		Error   string `json:"error"`
	}
	st := e.call("GET", partPath(c, fmt.Sprintf("/%d", n)), nil, &out)
	if st == 200 && (out.URL == "" || out.Expires <= 0) {
		e.t.Fatalf("sign part %d: %+v", n, out)
	}
	return out.URL, st
}

// putS3 PUTs data to a presigned URL as a browser would, and returns the
// status and the ETag.
func putS3(t *testing.T, u string, header map[string]string, data []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("PUT", u, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag")
}

// sendParts signs and PUTs each part of data, cut at the sizes given, and
// returns the parts as Uppy lists them at completion.
func (e *env) sendParts(c companionCreated, data []byte, sizes ...int) []companionPart {
	e.t.Helper()
	var parts []companionPart
	off := 0
	for i, n := range sizes {
		u, st := e.signPart(c, i+1)
		if st != 200 {
			e.t.Fatalf("sign part %d: %d", i+1, st)
		}
		code, etag := putS3(e.t, u, nil, data[off:off+n])
		if code != 200 || etag == "" {
			e.t.Fatalf("PUT part %d: %d", i+1, code)
		}
		parts = append(parts, companionPart{PartNumber: i + 1, ETag: etag})
		off += n
	}
	return parts
}

func (e *env) companionComplete(c companionCreated, parts []companionPart) (companionDone, int, string) {
	e.t.Helper()
	var out struct {
		companionDone
		Error string `json:"error"`
	}
	st := e.call("POST", partPath(c, "/complete"), jsonBody(map[string]any{"parts": parts}), &out)
	return out.companionDone, st, out.Error
}

// TestCompanionUpload: an upload as @uppy/aws-s3 makes it through the
// Companion routes: no byte of the file passes through chunkup, the
// object is the file with the CRC64NVME S3 verified, and a completion
// sent again answers the same object.
func TestCompanionUpload(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(12*mib+12345, 1301)
	c := e.companionCreate("../etc/Holiday Photo.bin")
	if c.Key != "uploads/"+c.UploadID+"/Holiday_Photo.bin" || c.Bucket != e.bucket {
		t.Fatalf("create answered %+v: the key must be chunkup's, the bucket the stack's", c)
	}
	parts := e.sendParts(c, data, 5*mib, 5*mib, 2*mib+12345)

	var listed []companionPart
	if st := e.call("GET", partPath(c, ""), nil, &listed); st != 200 || len(listed) != 3 {
		t.Fatalf("list parts: %d %+v", st, listed)
	}
	for i, p := range listed {
		if p.PartNumber != i+1 || p.ETag != parts[i].ETag {
			t.Fatalf("listed part %d: %+v, sent %+v", i+1, p, parts[i])
		}
	}
	done, st, msg := e.companionComplete(c, parts)
	if st != 200 {
		t.Fatalf("complete: %d %s", st, msg)
	}
	got, crc := e.object(c.Key)
	if !bytes.Equal(got, data) {
		t.Fatal("the object is not the file")
	}
	want := crc64nvme.Encode(crc64nvme.Checksum(data))
	if done.Key != c.Key || done.Size != int64(len(data)) || done.CRC64NVME != want || crc != want || done.ETag == "" || done.Bucket != e.bucket {
		t.Fatalf("completion answered %+v; want key %s, size %d, crc %s (S3 holds %s)", done, c.Key, len(data), want, crc)
	}
	if done.Location == "" || !bytes.HasSuffix([]byte(done.Location), []byte("/"+c.Key)) {
		t.Fatalf("location %q does not name the object", done.Location)
	}
	head, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &c.Key})
	if err != nil {
		t.Fatal(err)
	}
	// Uppy's metadata of the file (companionCreate sends its name) is the object's, beside chunkup's.
	if head.Metadata["meta-name"] != url.PathEscape("../etc/Holiday Photo.bin") || head.Metadata["dialect"] != "companion" || head.Metadata["upload-id"] != c.UploadID {
		t.Fatalf("object metadata %v: want Uppy's name under meta-name, the dialect and the upload id", head.Metadata)
	}
	if n := e.blobs.putStaged.Load() + e.blobs.uploadParts.Load(); n != 0 || e.blobs.dataBytes() != 0 {
		t.Fatalf("%d chunk or part writes, %d bytes went through chunkup; want none", n, e.blobs.dataBytes())
	}
	again, st, _ := e.companionComplete(c, parts)
	if st != 200 || again != done {
		t.Fatalf("a completion sent again: %d %+v, want %+v", st, again, done)
	}
	var status nativeUpload
	if st := e.call("GET", "/v1/uploads/"+c.UploadID, nil, &status); st != 200 || status.State != "complete" || status.CRC64NVME != want {
		t.Fatalf("the session: %d %+v", st, status)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left open", n)
	}
}

// TestCompanionAbort: DELETE ends the session and the multipart upload
// with the parts sent to S3.
func TestCompanionAbort(t *testing.T) {
	e := newEnv(t, nil)
	c := e.companionCreate("a.bin")
	e.sendParts(c, randomBytes(5*mib, 1302), 5*mib)
	var out map[string]any
	if st := e.call("DELETE", partPath(c, ""), nil, &out); st != 200 || len(out) != 0 {
		t.Fatalf("abort: %d %v", st, out)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left open after the abort", n)
	}
	if _, st := e.signPart(c, 2); st != http.StatusGone {
		t.Fatalf("signing a part of an aborted upload: %d, want 410", st)
	}
}

// TestCompanionRefusals: each refusal leaves everything stored as it was.
func TestCompanionRefusals(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(6*mib, 1303)

	t.Run("a part number out of range", func(t *testing.T) {
		c := e.companionCreate("range.bin")
		before := e.storage()
		for _, n := range []string{"0", "10001", "-1", "x"} {
			var out struct {
				Error string `json:"error"`
			}
			if st := e.call("GET", partPath(c, "/"+n), nil, &out); st != 400 || out.Error == "" {
				t.Fatalf("part %s: %d %+v, want 400 with an error", n, st, out)
			}
		}
		e.unchanged("signing parts out of range", before, e.storage(), false)
	})

	t.Run("a wrong key on every route", func(t *testing.T) {
		c := e.companionCreate("key.bin")
		e.sendParts(c, data, 5*mib)
		before := e.storage()
		for _, key := range []string{"uploads/" + c.UploadID + "/other.bin", ""} {
			bad := c
			bad.Key = key
			for _, r := range []struct{ method, path string }{
				{"GET", partPath(bad, "/2")}, {"GET", partPath(bad, "")},
				{"POST", partPath(bad, "/complete")}, {"DELETE", partPath(bad, "")},
			} {
				if st := e.call(r.method, r.path, jsonBody(map[string]any{"parts": []companionPart{}}), nil); st != 404 {
					t.Fatalf("%s %s: %d, want 404", r.method, r.path, st)
				}
			}
		}
		e.unchanged("requests with another key", before, e.storage(), false)
	})

	t.Run("a completion whose parts do not add up", func(t *testing.T) {
		c := e.companionCreate("short.bin")
		parts := e.sendParts(c, data, 1*mib, 5*mib) // the first is under S3's 5 MiB
		before := e.storage()
		if _, st, msg := e.companionComplete(c, parts); st != 400 || msg == "" {
			t.Fatalf("complete with a small first part: %d %q, want 400", st, msg)
		}
		if _, st, _ := e.companionComplete(c, parts[:1]); st != 409 {
			t.Fatalf("complete listing fewer parts than S3 holds: %d, want 409", st)
		}
		wrong := []companionPart{parts[0], {PartNumber: 2, ETag: `"0123"`}}
		if _, st, _ := e.companionComplete(c, wrong); st != 409 {
			t.Fatalf("complete with another ETag: %d, want 409", st)
		}
		e.unchanged("refused completions", before, e.storage(), false)
		// Corrected: part 1 sent again at 5 MiB, the parts add up.
		fixed := e.sendParts(c, data, 5*mib, 1*mib)
		if done, st, msg := e.companionComplete(c, fixed); st != 200 || done.Size != 6*mib {
			t.Fatalf("the corrected completion: %d %s %+v", st, msg, done)
		}
		if got, _ := e.object(c.Key); !bytes.Equal(got, data) {
			t.Fatal("the corrected object is not the file")
		}
	})

	t.Run("a completion with a part missing", func(t *testing.T) {
		c := e.companionCreate("gap.bin")
		u, _ := e.signPart(c, 1)
		putS3(t, u, nil, data[:5*mib])
		u, _ = e.signPart(c, 3)
		putS3(t, u, nil, data[5*mib:])
		before := e.storage()
		if _, st, msg := e.companionComplete(c, nil); st != 409 || msg == "" {
			t.Fatalf("complete with part 2 missing: %d %q, want 409", st, msg)
		}
		e.unchanged("a refused completion", before, e.storage(), false)
	})
}

// TestCompanionExpiry: an expired URL is refused by S3 and leaves the
// upload as it was; an expired session is refused on every route, and
// the sweep ends it and aborts its multipart upload.
func TestCompanionExpiry(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(5*mib, 1304)

	e.clock.Advance(-time.Hour) // the URL is signed an hour ago...
	c := e.companionCreate("late.bin")
	u, st := e.signPart(c, 1)
	if st != 200 {
		t.Fatalf("sign: %d", st)
	}
	e.clock.Advance(time.Hour) // ...and used now, 45 minutes after it expired
	before := e.storage()
	// A small body: versitygw answers before reading it, and resets a
	// connection that is still sending a large one.
	if code, _ := putS3(t, u, nil, data[:4096]); code != http.StatusForbidden {
		t.Fatalf("PUT to an expired URL: %d, want 403", code)
	}
	e.unchanged("a PUT to an expired URL", before, e.storage(), false)

	parts := e.sendParts(c, data, 5*mib)
	e.clock.Advance(25 * time.Hour)
	before = e.storage()
	if _, st := e.signPart(c, 2); st != http.StatusGone {
		t.Fatalf("sign after the expiry: %d, want 410", st)
	}
	if st := e.call("GET", partPath(c, ""), nil, nil); st != http.StatusGone {
		t.Fatalf("list after the expiry: %d, want 410", st)
	}
	if _, st, _ := e.companionComplete(c, parts); st != http.StatusGone {
		t.Fatalf("complete after the expiry: %d, want 410", st)
	}
	e.unchanged("requests to an expired upload", before, e.storage(), false)
	if st, err := e.svc.Engine.Sweep(context.Background(), 10); err != nil || st.Expired != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left open after the sweep", n)
	}
}

// TestCompanionIsolation: another owner's upload id is unknown on every
// route, with its key or without, and nothing is signed for it.
func TestCompanionIsolation(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	c := alice.companionCreate("alice.bin")
	parts := alice.sendParts(c, randomBytes(5*mib, 1305), 5*mib)
	before := e.storage()
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", partPath(c, "/2"), nil}, {"GET", partPath(c, ""), nil},
		{"POST", partPath(c, "/complete"), map[string]any{"parts": parts}}, {"DELETE", partPath(c, ""), nil},
		{"GET", "/v1/uploads/" + c.UploadID + "/parts/2", nil}, {"GET", "/v1/uploads/" + c.UploadID, nil},
		{"POST", "/v1/uploads/" + c.UploadID + "/complete", nil}, {"DELETE", "/v1/uploads/" + c.UploadID, nil},
	} {
		var out map[string]any
		if st := bob.call(r.method, r.path, jsonBody(r.body), &out); st != 404 {
			t.Fatalf("bob's %s %s: %d %v, want 404", r.method, r.path, st, out)
		}
		if _, signed := out["url"]; signed {
			t.Fatalf("bob's %s %s was given a URL", r.method, r.path)
		}
	}
	e.unchanged("bob's requests", before, e.storage(), false)
	if _, st, msg := alice.companionComplete(c, parts); st != 200 {
		t.Fatalf("alice's completion: %d %s", st, msg)
	}
}

// TestNativeDirect: the native API's direct mode, with each part's URL
// bound to its CRC64NVME, so that S3 refuses other bytes; the declared
// size bounds the part numbers and is checked at completion.
func TestNativeDirect(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) { o.MaxFileSize = 64 * mib })
	data := randomBytes(11*mib, 1306)

	var tooBig nativeError
	if st := e.call("POST", "/v1/uploads", jsonBody(map[string]any{"name": "big.bin", "size": 64*mib + 1, "direct": true}), &tooBig); st != 413 || tooBig.Error.Limit != 64*mib {
		t.Fatalf("a declared size over the limit: %d %+v, want 413 naming the limit", st, tooBig)
	}
	var up struct {
		ID       string `json:"id"`
		Direct   bool   `json:"direct"`
		PartSize int64  `json:"partSize"`
		Parts    int    `json:"parts"`
	}
	if st := e.call("POST", "/v1/uploads", jsonBody(map[string]any{"name": "d.bin", "size": len(data), "direct": true, "checksum": "crc64nvme=" + crc64nvme.Encode(crc64nvme.Checksum(data))}), &up); st != 201 || !up.Direct || up.PartSize != 5*mib || up.Parts != 3 {
		t.Fatalf("create: %d %+v, want 3 parts of 5 MiB", st, up)
	}
	before := e.storage()
	if st := e.call("GET", "/v1/uploads/"+up.ID+"/parts/4", nil, nil); st != 400 {
		t.Fatalf("part 4 of 3: %d, want 400", st)
	}
	if st := e.call("PUT", "/v1/uploads/"+up.ID+"/chunks/0", bytes.NewReader(data[:100]), nil); st != 400 {
		t.Fatalf("a chunk through chunkup to a direct upload: %d, want 400", st)
	}
	e.unchanged("refused requests", before, e.storage(), false)

	type signed struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	for k := 0; k < 3; k++ {
		part := data[k*5*mib : min((k+1)*5*mib, len(data))]
		sum := crc64nvme.Encode(crc64nvme.Checksum(part))
		var s signed
		if st := e.call("GET", fmt.Sprintf("/v1/uploads/%s/parts/%d?checksum=%s", up.ID, k+1, url.QueryEscape("crc64nvme="+sum)), nil, &s); st != 200 || s.Headers["x-amz-checksum-crc64nvme"] != sum {
			t.Fatalf("sign part %d: %d %+v", k+1, st, s)
		}
		if k == 0 {
			bad := append([]byte(nil), part...)
			bad[7] ^= 0x40
			if code, _ := putS3(t, s.URL, s.Headers, bad); code/100 == 2 {
				t.Fatalf("S3 took other bytes for part 1: %d", code)
			}
		}
		if code, _ := putS3(t, s.URL, s.Headers, part); code != 200 {
			t.Fatalf("PUT part %d: %d", k+1, code)
		}
	}
	var st nativeUpload
	var uploaded struct {
		Uploaded []struct {
			Part int   `json:"part"`
			Size int64 `json:"size"`
		} `json:"uploaded"`
	}
	e.call("GET", "/v1/uploads/"+up.ID, nil, &uploaded)
	if len(uploaded.Uploaded) != 3 || uploaded.Uploaded[2].Size != mib {
		t.Fatalf("status lists %+v, want the 3 parts S3 holds", uploaded.Uploaded)
	}
	if code := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &st); code != 200 || st.State != "complete" {
		t.Fatalf("complete: %d %+v", code, st)
	}
	if got, _ := e.object(st.Key); !bytes.Equal(got, data) {
		t.Fatal("the object is not the file")
	}
}

// TestNativeDirectSize: parts that do not add up to the declared size are
// refused at completion, and the upload stays open for a corrected retry.
func TestNativeDirectSize(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(6*mib, 1307)
	var up nativeUpload
	if st := e.call("POST", "/v1/uploads", jsonBody(map[string]any{"name": "d.bin", "size": len(data), "direct": true}), &up); st != 201 {
		t.Fatalf("create: %d", st)
	}
	var s struct {
		URL string `json:"url"`
	}
	e.call("GET", "/v1/uploads/"+up.ID+"/parts/1", nil, &s)
	putS3(t, s.URL, nil, data[:5*mib])
	e.call("GET", "/v1/uploads/"+up.ID+"/parts/2", nil, &s)
	putS3(t, s.URL, nil, data[5*mib:6*mib-1]) // one byte short
	before := e.storage()
	var refused nativeError
	if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &refused); st != 409 || refused.Error.Code != string(upload.CodeIncomplete) {
		t.Fatalf("complete one byte short: %d %+v, want 409", st, refused)
	}
	e.unchanged("a refused completion", before, e.storage(), false)
	e.call("GET", "/v1/uploads/"+up.ID+"/parts/2", nil, &s)
	putS3(t, s.URL, nil, data[5*mib:])
	var done nativeUpload
	if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 || done.State != "complete" {
		t.Fatalf("the corrected completion: %d %+v", st, done)
	}
}

// TestCompanionParams: a small file in one POST form (/s3/params) is a
// session too, complete once the sweep (or S3's notification) finds its
// object; a form never posted expires.
func TestCompanionParams(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(70_000, 1308)
	var p struct {
		Method   string            `json:"method"`
		URL      string            `json:"url"`
		Fields   map[string]string `json:"fields"`
		Expires  int               `json:"expires"`
		Key      string            `json:"key"`
		UploadID string            `json:"uploadId"`
	}
	if st := e.call("GET", "/s3/params?filename=small.txt&type=text%2Fplain&metadata%5Bname%5D=small.txt", nil, &p); st != 200 || p.Method != "POST" || p.Fields["key"] != p.Key || p.Expires <= 0 {
		t.Fatalf("params: %d %+v", st, p)
	}
	postForm(t, p.URL, p.Fields, "small.txt", data)
	var unused struct {
		UploadID string `json:"uploadId"`
	}
	e.call("GET", "/s3/params?filename=never.txt&type=text%2Fplain", nil, &unused)

	// The sweep is the backstop for S3's event: it settles both soon
	// after their forms expire, not a day later.
	e.clock.Advance(time.Duration(p.Expires)*time.Second + upload.FormGrace + time.Minute)
	st, err := e.svc.Engine.Sweep(context.Background(), 10)
	if err != nil || st.Completed != 1 || st.Expired != 1 {
		t.Fatalf("sweep: %+v %v, want the posted one completed and the other expired", st, err)
	}
	var status nativeUpload
	if code := e.call("GET", "/v1/uploads/"+p.UploadID, nil, &status); code != 200 || status.State != "complete" || status.CRC64NVME != crc64nvme.Encode(crc64nvme.Checksum(data)) {
		t.Fatalf("the posted upload: %d %+v", code, status)
	}
	if code := e.call("GET", "/v1/uploads/"+unused.UploadID, nil, &status); code != 200 || status.State != "expired" {
		t.Fatalf("the form never posted: %d %+v", code, status)
	}
	// The form carried Uppy's metadata and chunkup's onto the object.
	head, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &p.Key})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["meta-name"] != "small.txt" || head.Metadata["upload-id"] != p.UploadID || head.Metadata["dialect"] != "companion" {
		t.Fatalf("the posted object's metadata %v: want Uppy's name under meta-name, the upload id and the dialect", head.Metadata)
	}
}

// TestCompanionParamsSettledByS3Event: S3's Object Created event for a
// form upload's object (events/s3-object-created.json, as the
// FormUploaded rule passes it on) settles the upload at once; the event
// delivered again changes nothing, and one about another object is
// dropped without an error.
func TestCompanionParamsSettledByS3Event(t *testing.T) {
	e := newEnvWith(t, envOptions{events: true})
	data := randomBytes(40_000, 1309)
	var p struct {
		URL      string            `json:"url"`
		Fields   map[string]string `json:"fields"`
		Key      string            `json:"key"`
		UploadID string            `json:"uploadId"`
	}
	if st := e.call("GET", "/s3/params?filename=notified.txt&type=text%2Fplain", nil, &p); st != 200 {
		t.Fatalf("params: %d", st)
	}
	postForm(t, p.URL, p.Fields, "notified.txt", data)
	var status nativeUpload
	if e.call("GET", "/v1/uploads/"+p.UploadID, nil, &status); status.State != "open" {
		t.Fatalf("before S3's event the upload is %q, want open", status.State)
	}

	event := func(key string) events.EventBridgeEvent {
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(readEventFile(t, "s3-object-created.json"), &ev); err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.Unmarshal(ev.Detail, &d)
		d["bucket"] = map[string]any{"name": e.bucket}
		d["object"].(map[string]any)["key"] = key
		ev.Detail, _ = json.Marshal(d)
		return ev
	}
	for i := range 2 {
		st, err := e.svc.Sweep(context.Background(), event(p.Key))
		if err != nil || st.Completed != 1 {
			t.Fatalf("S3's event, delivery %d: %+v %v, want the upload settled", i+1, st, err)
		}
	}
	want := crc64nvme.Encode(crc64nvme.Checksum(data))
	if code := e.call("GET", "/v1/uploads/"+p.UploadID, nil, &status); code != 200 || status.State != "complete" || status.CRC64NVME != want {
		t.Fatalf("after S3's event: %d %+v, want complete with crc %s", code, status, want)
	}
	e.oneCompleted(p.Key, data, "companion")
	if st, err := e.svc.Sweep(context.Background(), event("uploads/0123456789abcdef0123456789abcdef/other.bin")); err != nil || st.Completed != 0 {
		t.Fatalf("an event about another object: %+v %v, want it dropped", st, err)
	}
}

// postForm sends data to S3 as a browser sends a file in an S3 POST
// form: the signed fields, then the file; S3 must take it.
func postForm(t *testing.T, u string, fields map[string]string, name string, data []byte) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(data)
	w.Close()
	resp, err := http.Post(u, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST form: %d", resp.StatusCode)
	}
}
