package stack_test

// What the blob store relies on from S3, proven against versitygw: multipart
// uploads whose finished object carries a full-object CRC64NVME.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"chunkup/internal/local/stack/stacktest"
)

// crc64NVME is the CRC-64/NVME checksum S3 uses, base64 of its big-endian
// bytes as the x-amz-checksum-crc64nvme header carries it.
func crc64NVME(data []byte) string {
	sum := crc64.Checksum(data, crc64.MakeTable(0x9a6c9329ac4bc9b5))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sum)
	return base64.StdEncoding.EncodeToString(b[:])
}

func TestCRC64NVMEKnownValue(t *testing.T) {
	// CRC-64/NVME check value of "123456789" (0xAE8B14860A799888).
	if got, want := crc64NVME([]byte("123456789")), "rosUhgp5mIg="; got != want {
		t.Fatalf("crc64NVME(123456789) = %s, want %s", got, want)
	}
}

// onlyReader hides every method but Read, so the SDK cannot seek the body.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// partUploader uploads one part; the variants differ in how the body and
// its checksum travel.
type partUploader func(ctx context.Context, c *s3.Client, in *s3.UploadPartInput, body []byte) (*s3.UploadPartOutput, error)

// precomputedSeekable sends a seekable body with the CRC64NVME computed by
// the caller (the SDK signs the payload's SHA-256).
func precomputedSeekable(ctx context.Context, c *s3.Client, in *s3.UploadPartInput, body []byte) (*s3.UploadPartOutput, error) {
	in.Body = bytes.NewReader(body)
	in.ChecksumCRC64NVME = aws.String(crc64NVME(body))
	return c.UploadPart(ctx, in)
}

// sdkComputed lets the SDK compute the CRC64NVME itself.
func sdkComputed(ctx context.Context, c *s3.Client, in *s3.UploadPartInput, body []byte) (*s3.UploadPartOutput, error) {
	in.Body = bytes.NewReader(body)
	in.ChecksumAlgorithm = s3types.ChecksumAlgorithmCrc64nvme
	return c.UploadPart(ctx, in)
}

// precomputedStreamUnsigned sends an unseekable body with a precomputed
// CRC64NVME header and UNSIGNED-PAYLOAD instead of the body's SHA-256:
// what a service that streams a part without buffering it would do.
func precomputedStreamUnsigned(ctx context.Context, c *s3.Client, in *s3.UploadPartInput, body []byte) (*s3.UploadPartOutput, error) {
	in.Body = onlyReader{bytes.NewReader(body)}
	in.ContentLength = aws.Int64(int64(len(body)))
	in.ChecksumCRC64NVME = aws.String(crc64NVME(body))
	return c.UploadPart(ctx, in, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
}

// multipart runs a two-part upload (5 MiB + 1 byte) with a full-object
// CRC64NVME and returns the key and the expected checksum.
func multipart(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string, upload partUploader) (data []byte, sum string) {
	t.Helper()
	data = randomBytes(t, 5<<20+1)
	sum = crc64NVME(data)
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &bucket, Key: &key,
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc64nvme,
		ChecksumType:      s3types.ChecksumTypeFullObject,
	})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	if create.ChecksumAlgorithm != s3types.ChecksumAlgorithmCrc64nvme || create.ChecksumType != s3types.ChecksumTypeFullObject {
		t.Errorf("CreateMultipartUpload answered algorithm %q type %q", create.ChecksumAlgorithm, create.ChecksumType)
	}
	var parts []s3types.CompletedPart
	for i, body := range [][]byte{data[:5<<20], data[5<<20:]} {
		num := int32(i + 1)
		out, err := upload(ctx, c, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: create.UploadId, PartNumber: &num,
		}, body)
		if err != nil {
			t.Fatalf("UploadPart %d: %v", num, err)
		}
		if got := aws.ToString(out.ChecksumCRC64NVME); got != crc64NVME(body) {
			t.Errorf("UploadPart %d answered CRC64NVME %q, want %q", num, got, crc64NVME(body))
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: &num, ChecksumCRC64NVME: out.ChecksumCRC64NVME})
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: create.UploadId,
		MultipartUpload:   &s3types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC64NVME: aws.String(sum),
		ChecksumType:      s3types.ChecksumTypeFullObject,
	})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload with the full-object CRC64NVME: %v", err)
	}
	if got := aws.ToString(done.ChecksumCRC64NVME); got != sum || done.ChecksumType != s3types.ChecksumTypeFullObject {
		t.Errorf("CompleteMultipartUpload answered CRC64NVME %q type %q, want %q FULL_OBJECT", got, done.ChecksumType, sum)
	}
	return data, sum
}

// checkObject proves the stored object's bytes and its reported checksum.
func checkObject(t *testing.T, ctx context.Context, c *s3.Client, bucket, key string, data []byte, sum string) {
	t.Helper()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if got := aws.ToString(head.ChecksumCRC64NVME); got != sum {
		t.Errorf("HeadObject CRC64NVME = %q, want %q", got, sum)
	}
	if head.ChecksumType != s3types.ChecksumTypeFullObject {
		t.Errorf("HeadObject ChecksumType = %q, want FULL_OBJECT", head.ChecksumType)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(data)) {
		t.Errorf("HeadObject ContentLength = %d, want %d", aws.ToInt64(head.ContentLength), len(data))
	}

	attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{
		Bucket: &bucket, Key: &key,
		ObjectAttributes: []s3types.ObjectAttributes{
			s3types.ObjectAttributesChecksum, s3types.ObjectAttributesObjectSize, s3types.ObjectAttributesObjectParts,
		},
	})
	if err != nil {
		t.Fatalf("GetObjectAttributes: %v", err)
	}
	if attrs.Checksum == nil || aws.ToString(attrs.Checksum.ChecksumCRC64NVME) != sum {
		t.Errorf("GetObjectAttributes checksum = %+v, want CRC64NVME %q", attrs.Checksum, sum)
	} else if attrs.Checksum.ChecksumType != s3types.ChecksumTypeFullObject {
		t.Errorf("GetObjectAttributes ChecksumType = %q, want FULL_OBJECT", attrs.Checksum.ChecksumType)
	}
	if aws.ToInt64(attrs.ObjectSize) != int64(len(data)) {
		t.Errorf("GetObjectAttributes ObjectSize = %d", aws.ToInt64(attrs.ObjectSize))
	}

	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	defer get.Body.Close()
	got, err := io.ReadAll(get.Body) // the SDK validates the checksum while reading
	if err != nil {
		t.Fatalf("read object: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Error("object bytes differ from what was uploaded")
	}
}

func TestVersityGWMultipartFullObjectCRC64NVME(t *testing.T) {
	ctx := ctxFor(t)
	stack, _, bucket := stacktest.Provisioned(t)
	c := stack.NewS3Client()
	for name, upload := range map[string]partUploader{
		"precomputed checksum, seekable body":            precomputedSeekable,
		"SDK-computed checksum":                          sdkComputed,
		"precomputed checksum, unseekable unsigned body": precomputedStreamUnsigned,
	} {
		t.Run(name, func(t *testing.T) {
			key := "final/" + name
			data, sum := multipart(t, ctx, c, bucket, key, upload)
			checkObject(t, ctx, c, bucket, key, data, sum)
		})
	}
}

// TestVersityGWRules pins down the S3 behaviour the engine depends on, each
// as versitygw v1.8.0 shows it (and S3 documents it).
func TestVersityGWRules(t *testing.T) {
	ctx := ctxFor(t)
	stack, _, bucket := stacktest.Provisioned(t)
	c := stack.NewS3Client()
	small := randomBytes(t, 1000)
	big := randomBytes(t, 5<<20)
	one, two := int32(1), int32(2)

	newUpload := func(t *testing.T, key string) *string {
		t.Helper()
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: &bucket, Key: &key,
			ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc64nvme, ChecksumType: s3types.ChecksumTypeFullObject,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.UploadId
	}
	part := func(t *testing.T, key string, id *string, num *int32, body []byte) s3types.CompletedPart {
		t.Helper()
		out, err := precomputedSeekable(ctx, c, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: id, PartNumber: num}, body)
		if err != nil {
			t.Fatalf("UploadPart %d: %v", *num, err)
		}
		return s3types.CompletedPart{ETag: out.ETag, PartNumber: num, ChecksumCRC64NVME: out.ChecksumCRC64NVME}
	}
	complete := func(key string, id *string, parts []s3types.CompletedPart, sum *string) (*s3.CompleteMultipartUploadOutput, error) {
		in := &s3.CompleteMultipartUploadInput{
			Bucket: &bucket, Key: &key, UploadId: id,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
		}
		if sum != nil {
			in.ChecksumCRC64NVME, in.ChecksumType = sum, s3types.ChecksumTypeFullObject
		}
		return c.CompleteMultipartUpload(ctx, in)
	}

	t.Run("part with a wrong checksum is BadDigest", func(t *testing.T) {
		key := "rules/bad-part"
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: newUpload(t, key), PartNumber: &one,
			Body: bytes.NewReader(small), ChecksumCRC64NVME: aws.String(crc64NVME([]byte("other"))),
		})
		if apiCode(err) != "BadDigest" {
			t.Errorf("err = %v, want BadDigest", err)
		}
	})

	t.Run("wrong full-object checksum is BadDigest", func(t *testing.T) {
		key := "rules/bad-full"
		id := newUpload(t, key)
		parts := []s3types.CompletedPart{part(t, key, id, &one, big), part(t, key, id, &two, small)}
		if _, err := complete(key, id, parts, aws.String(crc64NVME(small))); apiCode(err) != "BadDigest" {
			t.Errorf("err = %v, want BadDigest", err)
		}
		// The upload survives a refused completion and can still finish.
		if _, err := complete(key, id, parts, aws.String(crc64NVME(append(slices.Clone(big), small...)))); err != nil {
			t.Errorf("retry with the right checksum: %v", err)
		}
	})

	t.Run("completion must name each part's checksum", func(t *testing.T) {
		key := "rules/no-part-sums"
		id := newUpload(t, key)
		p1, p2 := part(t, key, id, &one, big), part(t, key, id, &two, small)
		p1.ChecksumCRC64NVME, p2.ChecksumCRC64NVME = nil, nil
		if _, err := complete(key, id, []s3types.CompletedPart{p1, p2}, nil); apiCode(err) != "InvalidRequest" {
			t.Errorf("err = %v, want InvalidRequest", err)
		}
	})

	t.Run("without a full-object checksum the server computes it", func(t *testing.T) {
		key := "rules/server-sum"
		id := newUpload(t, key)
		parts := []s3types.CompletedPart{part(t, key, id, &one, big), part(t, key, id, &two, small)}
		out, err := complete(key, id, parts, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := crc64NVME(append(slices.Clone(big), small...))
		if aws.ToString(out.ChecksumCRC64NVME) != want || out.ChecksumType != s3types.ChecksumTypeFullObject {
			t.Errorf("complete answered %q %q, want %q FULL_OBJECT", aws.ToString(out.ChecksumCRC64NVME), out.ChecksumType, want)
		}
	})

	t.Run("a part under 5 MiB before the last is EntityTooSmall", func(t *testing.T) {
		key := "rules/too-small"
		id := newUpload(t, key)
		parts := []s3types.CompletedPart{part(t, key, id, &one, small), part(t, key, id, &two, small)}
		if _, err := complete(key, id, parts, nil); apiCode(err) != "EntityTooSmall" {
			t.Errorf("err = %v, want EntityTooSmall", err)
		}
	})

	t.Run("a part number sent again replaces the part", func(t *testing.T) {
		key := "rules/resend"
		id := newUpload(t, key)
		part(t, key, id, &one, small)
		part(t, key, id, &one, small)
		out, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: &key, UploadId: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parts) != 1 || aws.ToString(out.Parts[0].ChecksumCRC64NVME) != crc64NVME(small) {
			t.Errorf("ListParts = %+v, want one part with its CRC64NVME", out.Parts)
		}
	})

	t.Run("abort ends the upload", func(t *testing.T) {
		key := "rules/abort"
		id := newUpload(t, key)
		part(t, key, id, &one, small)
		abort := &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: id}
		if _, err := c.AbortMultipartUpload(ctx, abort); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AbortMultipartUpload(ctx, abort); apiCode(err) != "NoSuchUpload" {
			t.Errorf("second abort: err = %v, want NoSuchUpload", err)
		}
		_, err := precomputedSeekable(ctx, c, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: id, PartNumber: &one}, small)
		if apiCode(err) != "NoSuchUpload" {
			t.Errorf("part after abort: err = %v, want NoSuchUpload", err)
		}
	})

	t.Run("If-None-Match * refuses to overwrite", func(t *testing.T) {
		put := func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &bucket, Key: aws.String("rules/once"), Body: bytes.NewReader(small), IfNoneMatch: aws.String("*"),
			})
			return err
		}
		if err := put(); err != nil {
			t.Fatal(err)
		}
		if err := put(); apiCode(err) != "PreconditionFailed" {
			t.Errorf("second put: err = %v, want PreconditionFailed", err)
		}
	})

	t.Run("streamed put with a precomputed checksum", func(t *testing.T) {
		put := func(key, sum string, opts ...func(*s3.Options)) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &bucket, Key: aws.String(key), Body: onlyReader{bytes.NewReader(small)},
				ContentLength: aws.Int64(int64(len(small))), ChecksumCRC64NVME: aws.String(sum),
			}, opts...)
			return err
		}
		unsigned := s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		if err := put("rules/stream", crc64NVME(small), unsigned); err != nil {
			t.Errorf("unsigned streamed put: %v", err)
		}
		if err := put("rules/stream-bad", crc64NVME([]byte("other")), unsigned); apiCode(err) != "BadDigest" {
			t.Errorf("unsigned streamed put with a wrong checksum: err = %v, want BadDigest", err)
		}
		// Without UNSIGNED-PAYLOAD the SDK must hash the body for the
		// signature, which it cannot do with a body it cannot rewind.
		if err := put("rules/stream-signed", crc64NVME(small)); err == nil || apiCode(err) != "" {
			t.Errorf("signed streamed put: err = %v, want the SDK's own refusal", err)
		}
	})
}

// TestVersityGWPutWhileFolderEmptied runs the race the engine runs on
// every part: a staged chunk is put under an upload's staging prefix
// while the chunks of the part before are deleted from it. versitygw's
// POSIX backend removes a folder that a delete leaves empty, and a put
// that made the folder just before then fails to link its file into it,
// answering 409 ExistingObjectIsDirectory (AWS has no folders and no such
// race). The stack's clients retry that answer; no put may fail.
func TestVersityGWPutWhileFolderEmptied(t *testing.T) {
	ctx := ctxFor(t)
	stack, _, bucket := stacktest.Provisioned(t)
	c := stack.NewS3Client()
	body := randomBytes(t, 64<<10)
	const rounds = 300
	var failed atomic.Int32
	var wg sync.WaitGroup
	for i := range rounds {
		dir := fmt.Sprintf("staging/race-%d/", i%4)
		old := dir + "old"
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &old, Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("round %d: put %s: %v", i, old, err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &old}); err != nil {
				t.Errorf("round %d: delete: %v", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("%snew-%d", dir, i)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
				failed.Add(1)
				t.Logf("round %d: put %s: %v", i, key, err)
			}
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
				t.Errorf("round %d: delete %s: %v", i, key, err)
			}
		}()
		wg.Wait()
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d puts failed while a delete emptied their folder", n, rounds)
	}
}
