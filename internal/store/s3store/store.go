// Package s3store keeps chunkup's staged chunks and builds finished files
// in one S3 bucket, as upload.Blobs.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// Store is upload.Blobs on one S3 bucket.
type Store struct {
	s3      API
	presign *s3.PresignClient // nil unless the client is an *s3.Client
	bucket  string
}

// New returns a store on bucket. Its download links (PresignGet) are
// signed by client, which must be an *s3.Client for them.
func New(client API, bucket string) *Store {
	st := &Store{s3: client, bucket: bucket}
	if c, ok := client.(*s3.Client); ok {
		st.presign = s3.NewPresignClient(c)
	}
	return st
}

// PresignGet signs a GET of the object at key, with the answer's
// Content-Disposition set, valid for ttl (and no longer than the
// signing credentials).
func (st *Store) PresignGet(ctx context.Context, key, disposition string, ttl time.Duration) (string, error) {
	if st.presign == nil {
		return "", fmt.Errorf("presign GET %s: the store's S3 client cannot sign links", key)
	}
	req, err := st.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: &st.bucket, Key: &key, ResponseContentDisposition: aws.String(disposition),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign GET %s: %w", key, err)
	}
	return req.URL, nil
}

var _ upload.Blobs = (*Store)(nil)

// API is the part of the S3 client that the store calls; *s3.Client
// provides it, and a test may wrap it.
type API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObjects(context.Context, *s3.DeleteObjectsInput, ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	UploadPartCopy(context.Context, *s3.UploadPartCopyInput, ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListMultipartUploads(context.Context, *s3.ListMultipartUploadsInput, ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error)
}

// unsigned leaves a request's payload out of its SigV4 signature. Every
// write carries a CRC64NVME that S3 checks against the bytes, and TLS
// protects them on the way, so hashing each byte again with SHA-256 for
// the signature (which the SDK otherwise does) only spends CPU: 3% of the
// benchmark's, on every chunk written.
func unsigned(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// PutStaged stores a chunk; S3 checks it against its CRC64NVME, so the
// payload goes unsigned (see unsigned).
func (st *Store) PutStaged(ctx context.Context, key string, data []byte, crc uint64) error {
	_, err := st.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            &st.bucket,
		Key:               &key,
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc)),
	}, unsigned)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// OpenStaged reads a staged chunk.
func (st *Store) OpenStaged(ctx context.Context, key string) (io.ReadCloser, error) {
	return st.open(ctx, key)
}

// OpenObject reads a finished object.
func (st *Store) OpenObject(ctx context.Context, key string) (io.ReadCloser, error) {
	return st.open(ctx, key)
}

// DeleteObject removes a finished object; one already gone is not an
// error.
func (st *Store) DeleteObject(ctx context.Context, key string) error {
	return st.DeleteStaged(ctx, []string{key})
}

func (st *Store) open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := st.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &st.bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return out.Body, nil
}

// DeleteStaged removes staged chunks, a thousand per request.
func (st *Store) DeleteStaged(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(1000, len(keys))
		objs := make([]types.ObjectIdentifier, n)
		for i, k := range keys[:n] {
			objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		keys = keys[n:]
		out, err := st.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &st.bucket,
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete %d staged objects: %w", n, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return fmt.Errorf("delete %s: %s", aws.ToString(e.Key), aws.ToString(e.Message))
			}
		}
	}
	return nil
}

// ListStaged lists the keys under prefix.
func (st *Store) ListStaged(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(st.s3, &s3.ListObjectsV2Input{Bucket: &st.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// CreateMultipart starts the final object's multipart upload, asking S3
// for a full-object CRC64NVME. It reports whether the SDK sent the request
// more than once: each attempt that reached S3 may have started an upload.
func (st *Store) CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, bool, error) {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            &st.bucket,
		Key:               &key,
		Metadata:          meta,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		ChecksumType:      types.ChecksumTypeFullObject,
	}
	if contentType != "" {
		in.ContentType = &contentType
	}
	out, err := st.s3.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", true, fmt.Errorf("create multipart upload %s: %w", key, err)
	}
	attempts, ok := retry.GetAttemptResults(out.ResultMetadata)
	return aws.ToString(out.UploadId), !ok || len(attempts.Results) > 1, nil
}

// UploadPart streams one part. Its CRC64NVME is known in advance (combined
// from the chunks'), so the body need not be seekable: the payload goes
// unsigned and S3 verifies the checksum instead.
func (st *Store) UploadPart(ctx context.Context, key, mpu string, number int, body io.Reader, size int64, crc uint64) (string, error) {
	out, err := st.s3.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            &st.bucket,
		Key:               &key,
		UploadId:          &mpu,
		PartNumber:        aws.Int32(int32(number)),
		Body:              body,
		ContentLength:     aws.Int64(size),
		ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc)),
	}, unsigned)
	if err != nil {
		return "", fmt.Errorf("upload part %d of %s: %w", number, key, err)
	}
	return aws.ToString(out.ETag), nil
}

// CopyPart copies the whole object srcKey into part number of a
// multipart upload, on S3's side.
func (st *Store) CopyPart(ctx context.Context, key, mpu string, number int, srcKey string) (string, error) {
	src := st.bucket + "/" + url.PathEscape(srcKey)
	out, err := st.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket:     &st.bucket,
		Key:        &key,
		UploadId:   &mpu,
		PartNumber: aws.Int32(int32(number)),
		CopySource: &src,
	})
	if err != nil {
		return "", fmt.Errorf("copy %s into part %d of %s: %w", srcKey, number, key, err)
	}
	if out.CopyPartResult == nil {
		return "", fmt.Errorf("copy %s into part %d of %s: no result", srcKey, number, key)
	}
	return aws.ToString(out.CopyPartResult.ETag), nil
}

// CompleteMultipart joins the parts; S3 checks the whole object's
// CRC64NVME against crc.
func (st *Store) CompleteMultipart(ctx context.Context, key, mpu string, parts []upload.CompletedPart, crc uint64) (upload.Object, error) {
	list := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		list[i] = types.CompletedPart{
			PartNumber:        aws.Int32(int32(p.Number)),
			ETag:              aws.String(p.ETag),
			ChecksumCRC64NVME: aws.String(crc64nvme.Encode(p.CRC)),
		}
	}
	out, err := st.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:            &st.bucket,
		Key:               &key,
		UploadId:          &mpu,
		MultipartUpload:   &types.CompletedMultipartUpload{Parts: list},
		ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc)),
		ChecksumType:      types.ChecksumTypeFullObject,
	})
	if err != nil {
		return upload.Object{}, fmt.Errorf("complete multipart upload %s: %w", key, err)
	}
	obj := upload.Object{Key: key, ETag: aws.ToString(out.ETag), CRC64: aws.ToString(out.ChecksumCRC64NVME)}
	if obj.CRC64 == "" {
		obj.CRC64 = crc64nvme.Encode(crc)
	}
	return obj, nil
}

// AbortMultipart discards a multipart upload; one already gone is fine.
func (st *Store) AbortMultipart(ctx context.Context, key, mpu string) error {
	_, err := st.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &st.bucket, Key: &key, UploadId: &mpu})
	if err != nil && !isCode(err, "NoSuchUpload", "NotFound") {
		return fmt.Errorf("abort multipart upload %s: %w", key, err)
	}
	return nil
}

// AbortAllMultipart aborts every multipart upload open for exactly key.
func (st *Store) AbortAllMultipart(ctx context.Context, key string) error {
	p := s3.NewListMultipartUploadsPaginator(st.s3, &s3.ListMultipartUploadsInput{Bucket: &st.bucket, Prefix: &key})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list multipart uploads of %s: %w", key, err)
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) != key {
				continue
			}
			if err := st.AbortMultipart(ctx, key, aws.ToString(u.UploadId)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PutObject writes a small final object in one request.
func (st *Store) PutObject(ctx context.Context, key, contentType string, meta map[string]string, data []byte, crc uint64) (upload.Object, error) {
	in := &s3.PutObjectInput{
		Bucket:            &st.bucket,
		Key:               &key,
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		Metadata:          meta,
		ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc)),
	}
	if contentType != "" {
		in.ContentType = &contentType
	}
	out, err := st.s3.PutObject(ctx, in, unsigned)
	if err != nil {
		return upload.Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	return upload.Object{Key: key, Size: int64(len(data)), ETag: aws.ToString(out.ETag), CRC64: crc64nvme.Encode(crc)}, nil
}

// HeadObject describes a finished object.
func (st *Store) HeadObject(ctx context.Context, key string) (upload.Object, error) {
	out, err := st.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &st.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		if isCode(err, "NotFound", "NoSuchKey") {
			return upload.Object{}, fmt.Errorf("head %s: %w", key, upload.ErrNotFound)
		}
		return upload.Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	return upload.Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), CRC64: aws.ToString(out.ChecksumCRC64NVME)}, nil
}

func isCode(err error, codes ...string) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	for _, c := range codes {
		if api.ErrorCode() == c {
			return true
		}
	}
	return false
}
