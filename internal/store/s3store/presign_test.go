package s3store_test

// The store's presigned requests, sent as a browser sends them, against
// versitygw: a part PUT to a presigned URL lands in its multipart upload
// with the CRC64NVME S3 computed, which ListUploadedParts reports and the
// completion verifies; a URL bound to a checksum refuses other bytes; an
// expired URL and a URL for another part number are refused; a POST
// form puts the object and refuses what its policy does not allow.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack/stacktest"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func newStore(t *testing.T) (*s3store.Store, *s3.Client, string) {
	t.Helper()
	st := stacktest.ForTest(t)
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Load(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, bucket := st.NewTableAndBucket(t, tmpl)
	c := st.NewS3Client()
	return s3store.New(c, bucket), c, bucket
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// send does a presigned request as a client would: its URL, its headers
// and the body, nothing signed on the way.
func send(t *testing.T, p upload.Presigned, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(p.Method, p.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.Header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

func TestPresignedPartsCompleteWithS3sChecksums(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	key := "uploads/0123456789abcdef0123456789abcdef/file.bin"
	mpu, _, err := st.CreateMultipart(ctx, key, "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{random(t, 5<<20), random(t, 1234)}
	now := time.Now()
	for i, data := range parts {
		p, err := st.PresignPart(ctx, key, mpu, i+1, nil, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Method != http.MethodPut || !strings.Contains(p.URL, "partNumber=") || !strings.Contains(p.URL, "X-Amz-Signature=") {
			t.Fatalf("presigned part: %+v", p)
		}
		code, h, body := send(t, p, data)
		if code != http.StatusOK || h.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %d %s", i+1, code, body)
		}
	}
	listed, err := st.ListUploadedParts(ctx, key, mpu)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("listed %d parts, want 2: %+v", len(listed), listed)
	}
	var done []upload.CompletedPart
	join := crc64nvme.NewCombiner()
	var whole uint64
	for i, p := range listed {
		want := crc64nvme.Checksum(parts[i])
		if p.Number != i+1 || p.Size != int64(len(parts[i])) || p.CRC64 != crc64nvme.Encode(want) {
			t.Fatalf("part %d listed as %+v; want size %d, crc %s", i+1, p, len(parts[i]), crc64nvme.Encode(want))
		}
		done = append(done, upload.CompletedPart{Number: p.Number, ETag: p.ETag, CRC: want})
		if i == 0 {
			whole = want
		} else {
			whole = join.Combine(whole, want, int64(len(parts[i])))
		}
	}
	obj, err := st.CompleteMultipart(ctx, key, mpu, done, whole)
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if obj.CRC64 != crc64nvme.Encode(whole) {
		t.Fatalf("object crc %s, want %s", obj.CRC64, crc64nvme.Encode(whole))
	}
	if _, err := st.ListUploadedParts(ctx, key, mpu); !errors.Is(err, upload.ErrNotFound) {
		t.Fatalf("parts of a completed upload: %v, want ErrNotFound", err)
	}
}

func TestPresignedPartRefusals(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	key := "uploads/0123456789abcdef0123456789abcdef/file.bin"
	mpu, _, err := st.CreateMultipart(ctx, key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	data := random(t, 4096)
	crc := crc64nvme.Checksum(data)
	var crcBytes [8]byte
	for i := range crcBytes {
		crcBytes[i] = byte(crc >> (56 - 8*i))
	}
	sha := sha256.Sum256(data)
	other := append([]byte(nil), data...)
	other[0] ^= 1

	t.Run("a URL bound to a CRC64NVME refuses other bytes", func(t *testing.T) {
		p, err := st.PresignPart(ctx, key, mpu, 1, &upload.Checksum{Alg: "crc64nvme", Digest: crcBytes[:]}, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Header["x-amz-checksum-crc64nvme"] != base64.StdEncoding.EncodeToString(crcBytes[:]) {
			t.Fatalf("headers to send: %v", p.Header)
		}
		if code, _, body := send(t, p, other); code/100 == 2 {
			t.Fatalf("other bytes: %d %s", code, body)
		}
		if code, _, body := send(t, p, data); code != http.StatusOK {
			t.Fatalf("the right bytes: %d %s", code, body)
		}
	})
	t.Run("a URL is not bound to a SHA-256", func(t *testing.T) {
		// S3 takes a part's checksum in its multipart upload's algorithm
		// only (versitygw: "Checksum Type mismatch"), so the store refuses
		// to sign one.
		if _, err := st.PresignPart(ctx, key, mpu, 2, &upload.Checksum{Alg: "sha256", Digest: sha[:]}, time.Now(), time.Minute); err == nil {
			t.Fatal("signed a part URL bound to a SHA-256")
		}
	})
	t.Run("a URL without its checksum header is refused", func(t *testing.T) {
		p, err := st.PresignPart(ctx, key, mpu, 3, &upload.Checksum{Alg: "crc64nvme", Digest: crcBytes[:]}, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		p.Header = nil
		if code, _, body := send(t, p, data); code/100 == 2 {
			t.Fatalf("without the header: %d %s", code, body)
		}
	})
	t.Run("an expired URL is refused", func(t *testing.T) {
		p, err := st.PresignPart(ctx, key, mpu, 4, nil, time.Now().Add(-time.Hour), 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, body := send(t, p, data); code != http.StatusForbidden {
			t.Fatalf("expired URL: %d %s", code, body)
		}
	})
	t.Run("a URL is for its part number only", func(t *testing.T) {
		p, err := st.PresignPart(ctx, key, mpu, 5, nil, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		p.URL = strings.Replace(p.URL, "partNumber=5", "partNumber=6", 1)
		if code, _, body := send(t, p, data); code != http.StatusForbidden {
			t.Fatalf("another part number: %d %s", code, body)
		}
	})
	listed, err := st.ListUploadedParts(ctx, key, mpu)
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int
	for _, p := range listed {
		numbers = append(numbers, p.Number)
	}
	if len(numbers) != 1 || numbers[0] != 1 {
		t.Fatalf("S3 holds parts %v; want only 1, the one sent with its own bytes", numbers)
	}
}

// postForm posts a form of fields and then file, as Uppy does.
func postForm(t *testing.T, f upload.PostForm, contentType string, file []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range f.Fields {
		w.WriteField(k, v)
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{`form-data; name="file"; filename="f.bin"`}
	h["Content-Type"] = []string{contentType}
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(file)
	w.Close()
	resp, err := http.Post(f.URL, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func TestPresignedPostForm(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	key := "uploads/0123456789abcdef0123456789abcdef/small.txt"
	form, err := st.PresignPost(ctx, key, "text/plain", nil, 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if form.Fields["key"] != key || form.Fields["policy"] == "" || form.Fields["Content-Type"] != "text/plain" {
		t.Fatalf("form fields: %v", form.Fields)
	}
	if code, body := postForm(t, form, "text/plain", random(t, 1001)); code/100 == 2 {
		t.Fatalf("a file over the policy's size: %d %s", code, body)
	}
	if _, err := st.HeadObject(ctx, key); !errors.Is(err, upload.ErrNotFound) {
		t.Fatalf("after a refused post: %v", err)
	}
	data := random(t, 1000)
	if code, body := postForm(t, form, "text/plain", data); code/100 != 2 {
		t.Fatalf("post: %d %s", code, body)
	}
	obj, err := st.HeadObject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != 1000 || obj.CRC64 != crc64nvme.Encode(crc64nvme.Checksum(data)) {
		t.Fatalf("posted object: %+v, want 1000 bytes with crc %s", obj, crc64nvme.Encode(crc64nvme.Checksum(data)))
	}
}

// TestBucketCORS: the local S3 server, given the template's CORS rules
// by the stack, answers a page's preflight for a part's PUT, and lets the
// page read the part's ETag, without which Uppy cannot finish a part.
func TestBucketCORS(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	key := "uploads/0123456789abcdef0123456789abcdef/cors.bin"
	mpu, _, err := st.CreateMultipart(ctx, key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.PresignPart(ctx, key, mpu, 1, nil, time.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pre, _ := http.NewRequest("OPTIONS", p.URL, nil)
	pre.Header.Set("Origin", "http://page.test")
	pre.Header.Set("Access-Control-Request-Method", "PUT")
	pre.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("PUT", p.URL, bytes.NewReader([]byte("x")))
	req.Header.Set("Origin", "http://page.test")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers")), "etag") {
		t.Fatalf("PUT from a page: %d, exposes %q; want ETag exposed", resp.StatusCode, resp.Header.Get("Access-Control-Expose-Headers"))
	}
}
