package storetest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// A blob contract case: one behaviour of a store, on a fresh bucket.
type blobCase struct {
	name string
	run  func(t *testing.T, b upload.Blobs)
}

// TestBlobs runs the contract of upload.Blobs, each case as a subtest on
// an empty bucket of its own that newStore makes.
func TestBlobs(t *testing.T, newStore func(t *testing.T) upload.Blobs) {
	for _, c := range blobCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

// data returns n random bytes (the same for the same seed).
func data(n int, seed byte) []byte {
	out := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(out)
	return out
}

var (
	bigPart   = data(5<<20, 1) // the smallest part S3 takes before the last
	smallPart = data(1000, 2)
)

func sum(b []byte) uint64 { return crc64nvme.Checksum(b) }

func readAll(t *testing.T, b upload.Blobs, key string) []byte {
	t.Helper()
	rc, err := b.OpenStaged(t.Context(), key)
	if err != nil {
		t.Fatalf("OpenStaged %s: %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return got
}

func list(t *testing.T, b upload.Blobs, prefix string) []string {
	t.Helper()
	keys, err := b.ListStaged(t.Context(), prefix)
	if err != nil {
		t.Fatalf("ListStaged %s: %v", prefix, err)
	}
	return keys
}

func startMultipart(t *testing.T, b upload.Blobs, key string) string {
	t.Helper()
	id, retried, err := b.CreateMultipart(t.Context(), key, "application/octet-stream", map[string]string{"upload-id": "x"})
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	if retried {
		t.Errorf("CreateMultipart reports a retry on a request sent once")
	}
	return id
}

func uploadPart(t *testing.T, b upload.Blobs, key, mpu string, n int, body []byte) upload.CompletedPart {
	t.Helper()
	etag, err := b.UploadPart(t.Context(), key, mpu, n, bytes.NewReader(body), int64(len(body)), sum(body))
	if err != nil {
		t.Fatalf("UploadPart %d: %v", n, err)
	}
	if etag == "" {
		t.Fatalf("UploadPart %d gave no ETag", n)
	}
	return upload.CompletedPart{Number: n, ETag: etag, CRC: sum(body)}
}

// head fails the test unless object key is whole (size and CRC64NVME).
func head(t *testing.T, b upload.Blobs, key string, whole []byte) upload.Object {
	t.Helper()
	obj, err := b.HeadObject(t.Context(), key)
	if err != nil {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	if obj.Key != key || obj.Size != int64(len(whole)) || obj.CRC64 != crc64nvme.Encode(sum(whole)) || obj.ETag == "" {
		t.Errorf("HeadObject = %+v, want key %s, %d bytes, CRC64 %s and an ETag", obj, key, len(whole), crc64nvme.Encode(sum(whole)))
	}
	if got := readAll(t, b, key); !bytes.Equal(got, whole) {
		t.Errorf("object %s holds %d bytes, not the %d written", key, len(got), len(whole))
	}
	return obj
}

func absent(t *testing.T, b upload.Blobs, key string) {
	t.Helper()
	if _, err := b.HeadObject(t.Context(), key); !errors.Is(err, upload.ErrNotFound) {
		t.Errorf("HeadObject %s: err = %v, want ErrNotFound", key, err)
	}
}

var blobCases = []blobCase{
	{"staged/put, read, list and delete", func(t *testing.T, b upload.Blobs) {
		keys := []string{"staging/u1/00000001-b", "staging/u1/00000000-a", "staging/u10/00000000-c"}
		for i, k := range keys {
			body := data(100+i, byte(i))
			ok(t, b.PutStaged(t.Context(), k, body, sum(body)), "PutStaged")
			if got := readAll(t, b, k); !bytes.Equal(got, body) {
				t.Errorf("%s reads back %d bytes, not the %d put", k, len(got), len(body))
			}
		}
		if got := list(t, b, "staging/u1/"); !slices.Equal(got, []string{"staging/u1/00000000-a", "staging/u1/00000001-b"}) {
			t.Errorf("ListStaged(staging/u1/) = %v, want u1's two keys in order", got)
		}
		ok(t, b.DeleteStaged(t.Context(), []string{"staging/u1/00000000-a", "staging/u1/missing"}), "DeleteStaged with a missing key")
		if got := list(t, b, "staging/"); !slices.Equal(got, []string{"staging/u1/00000001-b", "staging/u10/00000000-c"}) {
			t.Errorf("after DeleteStaged, ListStaged(staging/) = %v", got)
		}
		_, err := b.OpenStaged(t.Context(), "staging/u1/00000000-a")
		wantCode(t, err, "NoSuchKey", "OpenStaged of a deleted key")
		ok(t, b.DeleteStaged(t.Context(), nil), "DeleteStaged of nothing")
		if got := list(t, b, "nothing/"); len(got) != 0 {
			t.Errorf("ListStaged of an empty prefix = %v", got)
		}
	}},
	{"staged/bytes that do not match their CRC64NVME are refused", func(t *testing.T, b upload.Blobs) {
		err := b.PutStaged(t.Context(), "staging/bad", smallPart, sum(smallPart)+1)
		wantCode(t, err, "BadDigest", "PutStaged with a wrong CRC64NVME")
		if got := list(t, b, "staging/"); len(got) != 0 {
			t.Errorf("a refused put left %v", got)
		}
		_, err = b.PutObject(t.Context(), "uploads/bad", "", nil, smallPart, sum(smallPart)+1)
		wantCode(t, err, "BadDigest", "PutObject with a wrong CRC64NVME")
		absent(t, b, "uploads/bad")
	}},
	{"multipart/complete joins the parts, with the whole file's CRC64NVME", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/file.bin"
		mpu := startMultipart(t, b, key)
		parts := []upload.CompletedPart{uploadPart(t, b, key, mpu, 1, bigPart), uploadPart(t, b, key, mpu, 2, smallPart)}
		whole := append(slices.Clone(bigPart), smallPart...)
		obj, err := b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		ok(t, err, "CompleteMultipart")
		if obj.Key != key || obj.ETag == "" || obj.CRC64 != crc64nvme.Encode(sum(whole)) {
			t.Errorf("CompleteMultipart = %+v", obj)
		}
		head(t, b, key, whole)
		// A completion sent again (a retry whose first answer was lost)
		// answers as the first did; the upload takes no more parts.
		again, err := b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		if err != nil || again.ETag != obj.ETag || again.CRC64 != obj.CRC64 {
			t.Errorf("CompleteMultipart again = %+v, %v; want %+v", again, err, obj)
		}
		_, err = b.UploadPart(t.Context(), key, mpu, 3, bytes.NewReader(smallPart), int64(len(smallPart)), sum(smallPart))
		wantCode(t, err, "NoSuchUpload", "UploadPart after the completion")
		ok(t, b.AbortMultipart(t.Context(), key, mpu), "AbortMultipart of a completed upload")
		head(t, b, key, whole)
	}},
	{"multipart/a part under 5 MiB before the last is EntityTooSmall", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/small.bin"
		mpu := startMultipart(t, b, key)
		parts := []upload.CompletedPart{uploadPart(t, b, key, mpu, 1, smallPart), uploadPart(t, b, key, mpu, 2, smallPart)}
		whole := append(slices.Clone(smallPart), smallPart...)
		_, err := b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		wantCode(t, err, "EntityTooSmall", "CompleteMultipart")
		absent(t, b, key)
		// The upload survives: part 1 sent again, large enough, completes it.
		parts[0] = uploadPart(t, b, key, mpu, 1, bigPart)
		whole = append(slices.Clone(bigPart), smallPart...)
		_, err = b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		ok(t, err, "CompleteMultipart after part 1 was replaced")
		head(t, b, key, whole)
	}},
	{"multipart/a wrong whole-file CRC64NVME is BadDigest, and the upload survives", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/crc.bin"
		mpu := startMultipart(t, b, key)
		parts := []upload.CompletedPart{uploadPart(t, b, key, mpu, 1, bigPart), uploadPart(t, b, key, mpu, 2, smallPart)}
		whole := append(slices.Clone(bigPart), smallPart...)
		_, err := b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole)^1)
		wantCode(t, err, "BadDigest", "CompleteMultipart with a wrong CRC64NVME")
		absent(t, b, key)
		_, err = b.CompleteMultipart(t.Context(), key, mpu, parts, sum(whole))
		ok(t, err, "CompleteMultipart with the right CRC64NVME")
		head(t, b, key, whole)
	}},
	{"multipart/a part that does not match its CRC64NVME is BadDigest", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/part.bin"
		mpu := startMultipart(t, b, key)
		_, err := b.UploadPart(t.Context(), key, mpu, 1, bytes.NewReader(smallPart), int64(len(smallPart)), sum(smallPart)+1)
		wantCode(t, err, "BadDigest", "UploadPart with a wrong CRC64NVME")
	}},
	{"multipart/a part sent again replaces the part", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/again.bin"
		mpu := startMultipart(t, b, key)
		first := uploadPart(t, b, key, mpu, 1, data(5<<20, 9))
		again := uploadPart(t, b, key, mpu, 1, bigPart)
		last := uploadPart(t, b, key, mpu, 2, smallPart)
		whole := append(slices.Clone(bigPart), smallPart...)
		_, err := b.CompleteMultipart(t.Context(), key, mpu, []upload.CompletedPart{first, last}, sum(whole))
		refused(t, err, "CompleteMultipart naming the replaced part")
		_, err = b.CompleteMultipart(t.Context(), key, mpu, []upload.CompletedPart{again, last}, sum(whole))
		ok(t, err, "CompleteMultipart naming the part that replaced it")
		head(t, b, key, whole)
	}},
	{"multipart/the same bytes give the same ETag", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/same.bin"
		mpu := startMultipart(t, b, key)
		one, two := uploadPart(t, b, key, mpu, 1, bigPart), uploadPart(t, b, key, mpu, 1, bigPart)
		if one.ETag != two.ETag {
			t.Errorf("ETags %s and %s for the same bytes", one.ETag, two.ETag)
		}
	}},
	{"multipart/abort ends the upload; again is no error", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/abort.bin"
		mpu := startMultipart(t, b, key)
		part := uploadPart(t, b, key, mpu, 1, smallPart)
		ok(t, b.AbortMultipart(t.Context(), key, mpu), "AbortMultipart")
		ok(t, b.AbortMultipart(t.Context(), key, mpu), "AbortMultipart again")
		_, err := b.UploadPart(t.Context(), key, mpu, 2, bytes.NewReader(smallPart), int64(len(smallPart)), sum(smallPart))
		wantCode(t, err, "NoSuchUpload", "UploadPart after the abort")
		_, err = b.CompleteMultipart(t.Context(), key, mpu, []upload.CompletedPart{part}, sum(smallPart))
		wantCode(t, err, "NoSuchUpload", "CompleteMultipart after the abort")
		absent(t, b, key)
	}},
	{"multipart/abort all ends every upload of exactly the key", func(t *testing.T, b upload.Blobs) {
		key, longer := "uploads/u/all.bin", "uploads/u/all.bin2"
		a, c, other := startMultipart(t, b, key), startMultipart(t, b, key), startMultipart(t, b, longer)
		ok(t, b.AbortAllMultipart(t.Context(), key), "AbortAllMultipart")
		for _, mpu := range []string{a, c} {
			_, err := b.UploadPart(t.Context(), key, mpu, 1, bytes.NewReader(smallPart), int64(len(smallPart)), sum(smallPart))
			wantCode(t, err, "NoSuchUpload", "UploadPart to an upload AbortAllMultipart ended")
		}
		uploadPart(t, b, longer, other, 1, smallPart)
		ok(t, b.AbortAllMultipart(t.Context(), "uploads/u/none"), "AbortAllMultipart of a key with none")
	}},
	{"object/a finished object is read and deleted", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/done.bin"
		if _, err := b.PutObject(t.Context(), key, "", nil, smallPart, sum(smallPart)); err != nil {
			t.Fatal(err)
		}
		rc, err := b.OpenObject(t.Context(), key)
		ok(t, err, "OpenObject")
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, smallPart) {
			t.Errorf("OpenObject read %d bytes, %v; want the %d put", len(got), err, len(smallPart))
		}
		ok(t, b.DeleteObject(t.Context(), key), "DeleteObject")
		absent(t, b, key)
		ok(t, b.DeleteObject(t.Context(), key), "DeleteObject of a gone object")
		_, err = b.OpenObject(t.Context(), key)
		wantCode(t, err, "NoSuchKey", "OpenObject of a deleted object")
	}},
	{"object/an empty object is put whole", func(t *testing.T, b upload.Blobs) {
		key := "uploads/u/empty"
		obj, err := b.PutObject(t.Context(), key, "text/plain", map[string]string{"upload-id": "x"}, nil, sum(nil))
		ok(t, err, "PutObject")
		if obj.Key != key || obj.Size != 0 || obj.CRC64 != crc64nvme.Encode(sum(nil)) || obj.ETag == "" {
			t.Errorf("PutObject = %+v", obj)
		}
		head(t, b, key, nil)
		absent(t, b, "uploads/u/missing")
	}},
}
