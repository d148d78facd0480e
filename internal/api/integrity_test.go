package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

func (e *env) putNativeWith(id string, n int, data []byte, header, value string) (int, nativeError) {
	e.t.Helper()
	req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v1/uploads/%s/chunks/%d", e.url, id, n), bytes.NewReader(data))
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var er nativeError
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &er)
	return resp.StatusCode, er
}

func (e *env) createNativeChecked(name string, size, chunk int64, checksum string) (int, nativeUpload, nativeError) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "size": size, "chunkSize": chunk, "checksum": checksum})
	req, _ := http.NewRequest("POST", e.url+"/v1/uploads", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var up nativeUpload
	var er nativeError
	json.Unmarshal(raw, &up)
	json.Unmarshal(raw, &er)
	return resp.StatusCode, up, er
}

// TestChunkChecksums: a chunk whose checksum does not match is refused
// before anything is stored; a matching one is kept.
func TestChunkChecksums(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(2<<20, 91)
	up := e.createNative("c.bin", int64(len(data)), chunk)
	c0 := chunkOf(data, chunk, 0)
	sum := sha256.Sum256(c0)
	wrong := sha256.Sum256(c0[1:])
	md := md5.Sum(c0)
	cases := []struct {
		header, value string
		status        int
		code          string
	}{
		{"X-Chunk-Checksum", "sha256=" + base64.StdEncoding.EncodeToString(wrong[:]), 400, "checksum_mismatch"},
		{"X-Chunk-Checksum", "crc64nvme=" + crc64nvme.Encode(crc64nvme.Checksum(c0[1:])), 400, "checksum_mismatch"},
		{"Content-MD5", base64.StdEncoding.EncodeToString(wrong[:16]), 400, "checksum_mismatch"},
		{"X-Chunk-Checksum", "sha512=abc", 400, "invalid_request"},
		{"X-Chunk-Checksum", "sha256=tooshort", 400, "invalid_request"},
	}
	for _, c := range cases {
		st, er := e.putNativeWith(up.ID, 0, c0, c.header, c.value)
		if st != c.status || er.Error.Code != c.code {
			t.Errorf("%s: %s: %d %+v, want %d %s", c.header, c.value, st, er, c.status, c.code)
		}
	}
	if left := e.stagedKeys(); len(left) != 0 || e.blobs.putStaged.Load() != 0 {
		t.Fatalf("refused chunks were staged: %v", left)
	}
	if st, er := e.putNativeWith(up.ID, 0, c0, "X-Chunk-Checksum", "sha256="+base64.StdEncoding.EncodeToString(sum[:])); st != 200 {
		t.Fatalf("matching sha256: %d %+v", st, er)
	}
	if st, er := e.putNativeWith(up.ID, 1, chunkOf(data, chunk, 1), "Content-MD5", base64.StdEncoding.EncodeToString(md[:])); st != 400 || er.Error.Code != "checksum_mismatch" {
		t.Fatalf("chunk 1 with chunk 0's md5: %d %+v", st, er)
	}
	var st nativeUpload
	e.call("GET", "/v1/uploads/"+up.ID, nil, &st)
	if st.Received != 1 {
		t.Fatalf("received %d chunks, want 1", st.Received)
	}
}

// TestWholeFileChecksums: a whole-file CRC64NVME is checked from the
// parts' checksums (a mismatch leaves the upload open); a sha256 is
// checked by reading the file back once (a mismatch discards it).
func TestWholeFileChecksums(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(6<<20+3, 92)
	good := sha256.Sum256(data)
	other := sha256.Sum256(data[1:])
	send := func(id string) {
		for n := 0; n*chunk < len(data); n++ {
			if st, _ := e.putNative(id, n, chunkOf(data, chunk, n)); st != 200 {
				t.Fatalf("chunk %d: %d", n, st)
			}
		}
	}
	complete := func(id string) (int, nativeUpload, nativeError) {
		var up nativeUpload
		var er nativeError
		req, _ := http.NewRequest("POST", e.url+"/v1/uploads/"+id+"/complete", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		json.Unmarshal(raw, &up)
		json.Unmarshal(raw, &er)
		return resp.StatusCode, up, er
	}

	for _, sum := range []string{
		"crc64nvme=" + crc64nvme.Encode(crc64nvme.Checksum(data)),
		"sha256=" + base64.StdEncoding.EncodeToString(good[:]),
	} {
		code, up, _ := e.createNativeChecked("ok.bin", int64(len(data)), chunk, sum)
		if code != 201 {
			t.Fatalf("%s: create %d", sum, code)
		}
		send(up.ID)
		if code, done, er := complete(up.ID); code != 200 || done.State != "complete" {
			t.Fatalf("%s: complete %d %+v", sum, code, er)
		}
	}

	code, up, _ := e.createNativeChecked("badcrc.bin", int64(len(data)), chunk, "crc64nvme="+crc64nvme.Encode(crc64nvme.Checksum(data[1:])))
	if code != 201 {
		t.Fatal("create with crc")
	}
	send(up.ID)
	if code, _, er := complete(up.ID); code != 400 || er.Error.Code != "checksum_mismatch" {
		t.Fatalf("wrong crc64nvme: %d %+v", code, er)
	}
	var st nativeUpload
	if e.call("GET", "/v1/uploads/"+up.ID, nil, &st); st.State != "open" {
		t.Fatalf("after a crc mismatch the upload is %s, want open", st.State)
	}

	code, up, _ = e.createNativeChecked("badsha.bin", int64(len(data)), chunk, "sha256="+base64.StdEncoding.EncodeToString(other[:]))
	if code != 201 {
		t.Fatal("create with sha256")
	}
	send(up.ID)
	code, _, er := complete(up.ID)
	if code != 400 || er.Error.Code != "checksum_mismatch" || !strings.Contains(er.Error.Message, "discarded") {
		t.Fatalf("wrong sha256: %d %+v", code, er)
	}
	if e.call("GET", "/v1/uploads/"+up.ID, nil, &st); st.State != "aborted" {
		t.Fatalf("after a sha256 mismatch the upload is %s, want aborted", st.State)
	}
	key := "uploads/" + up.ID + "/badsha.bin"
	if _, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key}); err == nil {
		t.Fatal("the mismatched file was kept")
	}
	if n := e.multipartUploads(); n != 1 { // the open badcrc upload's
		t.Fatalf("%d multipart uploads open, want 1", n)
	}

	code, _, er = e.createNativeChecked("huge.bin", 2<<30, 4<<20, "sha256="+base64.StdEncoding.EncodeToString(good[:]))
	if code != 413 || er.Error.Limit != 1<<30 {
		t.Fatalf("sha256 on a 2 GiB indexed upload: %d %+v", code, er)
	}
}

// TestContentTypeAllowList: with an allow-list, a file is judged by its
// first bytes, not by the type the client declares.
func TestContentTypeAllowList(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) { o.AllowedTypes = []string{"image/png", "application/pdf"} })
	png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(4096, 93)...)
	fake := append([]byte("MZ\x90\x00"), randomBytes(4096, 94)...) // an executable named .png

	var er nativeError
	body := `{"name":"x.exe","size":10,"type":"application/x-msdownload"}`
	if st := e.call("POST", "/v1/uploads", strings.NewReader(body), &er); st != 415 || er.Error.Code != "content_type_not_allowed" {
		t.Fatalf("declared type outside the list: %d %+v", st, er)
	}
	var up nativeUpload
	if st := e.call("POST", "/v1/uploads", strings.NewReader(fmt.Sprintf(`{"name":"photo.png","size":%d,"type":"image/png"}`, len(fake))), &up); st != 201 {
		t.Fatalf("create with an allowed type: %d", st)
	}
	if st, out := e.putNative(up.ID, 0, fake); st != 415 {
		t.Fatalf("executable bytes as a png: %d %v", st, out)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("refused bytes were staged: %v", left)
	}
	if st := e.call("POST", "/v1/uploads", strings.NewReader(fmt.Sprintf(`{"name":"photo.png","size":%d}`, len(png))), &up); st != 201 {
		t.Fatalf("create without a type: %d", st)
	}
	if st, _ := e.putNative(up.ID, 0, png); st != 200 {
		t.Fatalf("real png refused: %d", st)
	}
	// Resumable.js: refused with a status it treats as permanent.
	f := resumableFile{data: fake, name: "photo.png", chunkSize: 1 << 20, identifier: "fake-png"}
	if st, out := e.sendResumable(f, 1); st != 400 && st != 415 {
		t.Fatalf("resumable with executable bytes: %d %v", st, out)
	}
}
