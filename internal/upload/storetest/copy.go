package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// The parts S3 copies (tus's concatenation) or lists (direct uploads),
// and what the presigner says of the requests it signs. The URLs
// themselves are not sent here: an in-memory store cannot sign one S3
// would take (the S3 store's tests send them to versitygw).

// unquoted is an ETag without its quotes, as S3 gives it in one answer
// and not another.
func unquoted(etag string) string { return strings.Trim(etag, `"`) }

var copyCases = []blobCase{
	{"multipart/CopyPart copies a whole object into a part, which ListUploadedParts lists", func(t *testing.T, b upload.Blobs) {
		src, key := "uploads/src/part.bin", "uploads/dst/whole.bin"
		_, err := b.PutObject(t.Context(), src, "application/octet-stream", nil, bigPart, sum(bigPart))
		ok(t, err, "PutObject of the source")
		mpu := startMultipart(t, b, key)
		etag, err := b.CopyPart(t.Context(), key, mpu, 1, src)
		ok(t, err, "CopyPart")
		if etag == "" {
			t.Fatal("CopyPart gave no ETag")
		}
		last := uploadPart(t, b, key, mpu, 2, smallPart)
		listed, err := b.ListUploadedParts(t.Context(), key, mpu)
		ok(t, err, "ListUploadedParts")
		want := []upload.UploadedPart{
			{Number: 1, ETag: etag, Size: int64(len(bigPart)), CRC64: crc64nvme.Encode(sum(bigPart))},
			{Number: 2, ETag: last.ETag, Size: int64(len(smallPart)), CRC64: crc64nvme.Encode(sum(smallPart))},
		}
		if len(listed) != len(want) {
			t.Fatalf("ListUploadedParts = %+v, want %+v", listed, want)
		}
		for i, p := range listed {
			w := want[i]
			if p.Number != w.Number || unquoted(p.ETag) != unquoted(w.ETag) || p.Size != w.Size || p.CRC64 != w.CRC64 {
				t.Errorf("listed part %d = %+v, want %+v", i+1, p, w)
			}
		}
		whole := append(bytes.Clone(bigPart), smallPart...)
		parts := []upload.CompletedPart{{Number: 1, ETag: etag, CRC: sum(bigPart)}, last}
		_, err = b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		ok(t, err, "CompleteMultipart")
		head(t, b, key, whole)
		if _, err := b.ListUploadedParts(t.Context(), key, mpu); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("ListUploadedParts of a completed upload: err = %v, want ErrNotFound", err)
		}
	}},
	{"multipart/CopyPart of a missing object, or into a missing upload, is refused", func(t *testing.T, b upload.Blobs) {
		key := "uploads/dst/whole.bin"
		mpu := startMultipart(t, b, key)
		_, err := b.CopyPart(t.Context(), key, mpu, 1, "uploads/src/missing.bin")
		wantCode(t, err, "NoSuchKey", "CopyPart of a missing object")
		src := "uploads/src/part.bin"
		_, err = b.PutObject(t.Context(), src, "", nil, smallPart, sum(smallPart))
		ok(t, err, "PutObject of the source")
		ok(t, b.AbortMultipart(t.Context(), key, mpu), "AbortMultipart")
		_, err = b.CopyPart(t.Context(), key, mpu, 1, src)
		wantCode(t, err, "NoSuchUpload", "CopyPart into an aborted upload")
		if _, err := b.ListUploadedParts(t.Context(), key, mpu); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("ListUploadedParts of an aborted upload: err = %v, want ErrNotFound", err)
		}
	}},
	{"presign/a part's signature: its upload and number, its checksum header, its expiry", func(t *testing.T, b upload.Blobs) {
		key := "uploads/dst/direct.bin"
		mpu := startMultipart(t, b, key)
		at, ttl := time.Now().Truncate(time.Second), 15*time.Minute
		digest := binary.BigEndian.AppendUint64(nil, sum(smallPart))
		p, err := b.PresignPart(t.Context(), key, mpu, 3, &upload.Checksum{Alg: "crc64nvme", Digest: digest}, at, ttl)
		ok(t, err, "PresignPart")
		u, err := url.Parse(p.URL)
		ok(t, err, "parse the part's URL")
		q := u.Query()
		if p.Method != "PUT" || !strings.HasSuffix(u.Path, "/"+key) || q.Get("uploadId") != mpu || q.Get("partNumber") != "3" ||
			!p.Expires.Equal(at.Add(ttl)) || p.ValidFor != ttl {
			t.Errorf("PresignPart = %s %s, expires %v valid %v; want PUT of part 3 of %s at %s, expiring %v after %v", p.Method, p.URL, p.Expires, p.ValidFor, mpu, key, at.Add(ttl), ttl)
		}
		if got, want := p.Header["x-amz-checksum-crc64nvme"], base64.StdEncoding.EncodeToString(digest); got != want {
			t.Errorf("checksum header = %q, want %q (headers %v)", got, want, p.Header)
		}
		plain, err := b.PresignPart(t.Context(), key, mpu, 1, nil, at, ttl)
		ok(t, err, "PresignPart with no checksum")
		if _, has := plain.Header["x-amz-checksum-crc64nvme"]; has {
			t.Errorf("a part signed with no checksum asks for one: %v", plain.Header)
		}
		if _, err := b.PresignPart(t.Context(), key, mpu, 1, &upload.Checksum{Alg: "sha256", Digest: make([]byte, 32)}, at, ttl); err == nil {
			t.Error("PresignPart with a sha256: no error, want one (S3 checks a part's crc64nvme only)")
		}
	}},
	{"presign/a POST form, a download link and an object's place", func(t *testing.T, b upload.Blobs) {
		key := "uploads/dst/form.bin"
		ttl := 10 * time.Minute
		before := time.Now()
		form, err := b.PresignPost(t.Context(), key, "text/plain", map[string]string{"upload-id": "dst"}, 1<<20, ttl)
		ok(t, err, "PresignPost")
		if form.URL == "" || form.Fields["key"] != key || form.Fields["Content-Type"] != "text/plain" || form.Fields["x-amz-meta-upload-id"] != "dst" || form.ValidFor != ttl ||
			form.Expires.Before(before.Add(ttl)) || form.Expires.After(time.Now().Add(ttl)) {
			t.Errorf("PresignPost = %+v, want a form for %s of text/plain valid for %v", form, key, ttl)
		}
		anyType, err := b.PresignPost(t.Context(), key, "", nil, 1<<20, ttl)
		ok(t, err, "PresignPost of any type")
		if _, has := anyType.Fields["Content-Type"]; has {
			t.Errorf("a form of any type names one: %v", anyType.Fields)
		}
		link, err := b.PresignGet(t.Context(), key, `attachment; filename="form.bin"`, ttl)
		ok(t, err, "PresignGet")
		u, err := url.Parse(link)
		ok(t, err, "parse the download link")
		if !strings.HasSuffix(u.Path, "/"+key) || u.Query().Get("response-content-disposition") != `attachment; filename="form.bin"` {
			t.Errorf("PresignGet = %s, want a GET of %s answered as an attachment", link, key)
		}
		bucket, at, err := b.Locate(t.Context(), key)
		ok(t, err, "Locate")
		if bucket == "" || !strings.HasSuffix(at, "/"+key) || strings.Contains(at, "?") {
			t.Errorf("Locate = %q, %q; want the bucket and the unsigned URL of %s", bucket, at, key)
		}
	}},
}
