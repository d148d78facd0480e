package s3store

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/upload"
)

// What a client sends to the bucket itself: presigned part uploads and
// POST policies (upload.Presigner), and the listing of the parts it sent.

// PresignPart signs a PUT of one part, as of at. A CRC64NVME the client
// stated becomes the part's x-amz-checksum-crc64nvme header, which the
// signature covers: S3 refuses the part unless its bytes match. No other
// algorithm can be: S3 takes a part's checksum only in the algorithm of
// its multipart upload (CreateMultipart asks for CRC64NVME).
func (st *Store) PresignPart(ctx context.Context, key, mpu string, number int, sum *upload.Checksum, at time.Time, ttl time.Duration) (upload.Presigned, error) {
	in := &s3.UploadPartInput{
		Bucket:     &st.bucket,
		Key:        &key,
		UploadId:   &mpu,
		PartNumber: aws.Int32(int32(number)),
	}
	if sum != nil {
		v := base64.StdEncoding.EncodeToString(sum.Digest)
		switch sum.Alg {
		case "crc64nvme":
			in.ChecksumCRC64NVME = &v
		default:
			return upload.Presigned{}, fmt.Errorf("presign part %d of %s: S3 checks a part's crc64nvme, not its %s", number, key, sum.Alg)
		}
	}
	req, err := st.presign.PresignUploadPart(ctx, in, func(o *s3.PresignOptions) {
		o.Expires = ttl
		o.Presigner = signedAt{v4.NewSigner(), at}
	})
	if err != nil {
		return upload.Presigned{}, fmt.Errorf("presign part %d of %s: %w", number, key, err)
	}
	return upload.Presigned{Method: req.Method, URL: req.URL, Header: clientHeaders(req.SignedHeader), Expires: at.Add(ttl), ValidFor: ttl}, nil
}

// signedAt is the SDK's presigner with the signing time set by the
// caller (the engine's clock) rather than read from the SDK's.
type signedAt struct {
	signer *v4.Signer
	at     time.Time
}

func (p signedAt) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return p.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region, p.at, optFns...)
}

// clientHeaders are the signed headers a browser must send itself: all
// but Host, which it sends anyway and may not set.
func clientHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for name, vs := range h {
		if strings.EqualFold(name, "Host") || len(vs) == 0 {
			continue
		}
		out[strings.ToLower(name)] = vs[0]
	}
	return out
}

// PresignPost signs a POST policy for key: one form upload of at most
// maxSize bytes, with contentType if one is given and the metadata meta,
// each an exact condition of the policy and a field of the form. The SDK
// signs it as of its own clock, so the form's expiry is reckoned from the
// time of day.
func (st *Store) PresignPost(ctx context.Context, key, contentType string, meta map[string]string, maxSize int64, ttl time.Duration) (upload.PostForm, error) {
	conditions := []any{
		map[string]string{"key": key},
		[]any{"content-length-range", 0, maxSize},
	}
	if contentType != "" {
		conditions = append(conditions, map[string]string{"Content-Type": contentType})
	}
	for k, v := range meta {
		conditions = append(conditions, map[string]string{"x-amz-meta-" + k: v})
	}
	now := time.Now()
	req, err := st.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &st.bucket, Key: &key}, func(o *s3.PresignPostOptions) {
		o.Expires = ttl
		o.Conditions = conditions
	})
	if err != nil {
		return upload.PostForm{}, fmt.Errorf("presign post of %s: %w", key, err)
	}
	fields := req.Values
	if contentType != "" {
		fields["Content-Type"] = contentType
	}
	for k, v := range meta {
		fields["x-amz-meta-"+k] = v
	}
	return upload.PostForm{URL: bucketURL(req.URL, key), Fields: fields, Expires: now.Add(ttl), ValidFor: ttl}, nil
}

// bucketURL is where a POST policy's form goes: the bucket itself (the
// SDK resolves the bucket's URL; an object's, should it give one, is cut
// to the bucket's). chunkup's keys hold only characters that URLs carry
// as they are (upload.ObjectKey).
func bucketURL(resolved, key string) string {
	u, _, _ := strings.Cut(resolved, "?")
	u = strings.TrimSuffix(u, "/"+key)
	return strings.TrimSuffix(u, "/")
}

// Locate names the bucket and the object's URL there: the bucket's URL,
// as the SDK resolves it for a POST form (nothing is sent), and the key.
func (st *Store) Locate(ctx context.Context, key string) (string, string, error) {
	req, err := st.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &st.bucket, Key: &key})
	if err != nil {
		return "", "", fmt.Errorf("locate %s: %w", key, err)
	}
	return st.bucket, bucketURL(req.URL, key) + "/" + key, nil
}

// ListUploadedParts lists the parts S3 holds of a multipart upload, a
// thousand per request.
func (st *Store) ListUploadedParts(ctx context.Context, key, mpu string) ([]upload.UploadedPart, error) {
	var parts []upload.UploadedPart
	p := s3.NewListPartsPaginator(st.s3, &s3.ListPartsInput{Bucket: &st.bucket, Key: &key, UploadId: &mpu})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isCode(err, "NoSuchUpload", "NotFound") {
				return nil, fmt.Errorf("list parts of %s: %w", key, upload.ErrNotFound)
			}
			return nil, fmt.Errorf("list parts of %s: %w", key, err)
		}
		for _, part := range page.Parts {
			parts = append(parts, upload.UploadedPart{
				Number: int(aws.ToInt32(part.PartNumber)),
				ETag:   aws.ToString(part.ETag),
				Size:   aws.ToInt64(part.Size),
				CRC64:  aws.ToString(part.ChecksumCRC64NVME),
			})
		}
	}
	return parts, nil
}
