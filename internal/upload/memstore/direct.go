package memstore

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// Bucket is the name the in-memory bucket gives itself (Locate).
const Bucket = "memstore"

// What a client would send to the bucket itself (upload.Presigner), the
// download links (upload.Downloads), and the parts S3 copies or lists.
//
// A memstore cannot sign a request S3 (or anything else) would accept:
// its presigned URLs have the scheme memstore:// and name the bucket, the
// key and, as query parameters, what the signature would cover (the
// multipart upload, the part number, the expiry, the disposition). They
// are not fetchable; a test that needs a part "sent by the client" puts
// it with UploadPart.

// CopyPart copies the whole object srcKey into part number of multipart
// upload mpu of key, as S3's UploadPartCopy does: the part gets the
// object's bytes and their CRC64NVME; NoSuchKey if there is no such
// object, NoSuchUpload if no such upload.
func (b *Blobs) CopyPart(ctx context.Context, key, mpu string, number int, srcKey string) (string, error) {
	var etag string
	err := b.run(ctx, &b.mu, request{op: "CopyPart", main: func() error {
		u, err := b.upload(key, mpu)
		if err != nil {
			return err
		}
		if number < 1 || number > maxPartNum {
			return refusal("InvalidArgument", "Part number must be an integer between 1 and %d, inclusive", maxPartNum)
		}
		o, ok := b.objects[srcKey]
		if !ok {
			return refusal("NoSuchKey", "The specified key does not exist.")
		}
		p := part{data: o.data, crc: o.crc, md5: md5.Sum(o.data)} // o.data is never changed in place
		u.parts[number] = p
		etag = p.etag()
		return nil
	}})
	if err != nil {
		return "", fmt.Errorf("copy %s into part %d of %s: %w", srcKey, number, key, err)
	}
	return etag, nil
}

// ListUploadedParts lists the parts of multipart upload mpu of key, by
// number, each with its CRC64NVME; ErrNotFound if the upload is gone
// (aborted or completed).
func (b *Blobs) ListUploadedParts(ctx context.Context, key, mpu string) ([]upload.UploadedPart, error) {
	var parts []upload.UploadedPart
	err := b.run(ctx, &b.mu, request{op: "ListUploadedParts", main: func() error {
		parts = nil
		u, err := b.upload(key, mpu)
		if err != nil {
			return upload.ErrNotFound
		}
		for _, n := range slices.Sorted(maps.Keys(u.parts)) {
			p := u.parts[n]
			parts = append(parts, upload.UploadedPart{Number: n, ETag: p.etag(), Size: int64(len(p.data)), CRC64: crc64nvme.Encode(p.crc)})
		}
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("list parts of %s: %w", key, err)
	}
	return parts, nil
}

// PresignPart "signs" a PUT of part number of multipart upload mpu of
// key, as of at, valid for ttl: a memstore:// URL, not fetchable. As the
// S3 store, it takes a checksum only in CRC64NVME, and then names the
// checksum header the client must send.
func (b *Blobs) PresignPart(ctx context.Context, key, mpu string, number int, sum *upload.Checksum, at time.Time, ttl time.Duration) (upload.Presigned, error) {
	header := map[string]string{}
	if sum != nil {
		if sum.Alg != "crc64nvme" {
			return upload.Presigned{}, fmt.Errorf("presign part %d of %s: S3 checks a part's crc64nvme, not its %s", number, key, sum.Alg)
		}
		header["x-amz-checksum-crc64nvme"] = base64.StdEncoding.EncodeToString(sum.Digest)
	}
	q := url.Values{"uploadId": {mpu}, "partNumber": {strconv.Itoa(number)}}
	return upload.Presigned{Method: "PUT", URL: signed(key, q, at.Add(ttl)), Header: header, Expires: at.Add(ttl), ValidFor: ttl}, nil
}

// PresignPost "signs" a POST policy for key, reckoned from the time of
// day as the S3 store's is: the form goes to the bucket's memstore://
// URL (not fetchable), and its fields name the key, the content type if
// one is given, the metadata (as x-amz-meta-<name>) and (under
// x-memstore-) what the policy would bound.
func (b *Blobs) PresignPost(ctx context.Context, key, contentType string, meta map[string]string, maxSize int64, ttl time.Duration) (upload.PostForm, error) {
	expires := time.Now().Add(ttl)
	fields := map[string]string{
		"key":                 key,
		"x-memstore-max-size": strconv.FormatInt(maxSize, 10),
		"x-memstore-expires":  strconv.FormatInt(expires.Unix(), 10),
	}
	if contentType != "" {
		fields["Content-Type"] = contentType
	}
	for k, v := range meta {
		fields["x-amz-meta-"+k] = v
	}
	return upload.PostForm{URL: bucketURL, Fields: fields, Expires: expires, ValidFor: ttl}, nil
}

// Locate names the bucket and the object's (unsigned) URL in it.
func (b *Blobs) Locate(ctx context.Context, key string) (string, string, error) {
	return Bucket, bucketURL + "/" + key, nil
}

// PresignGet "signs" a GET of the object at key, answered with
// disposition, valid for ttl from the time of day: a memstore:// URL,
// not fetchable.
func (b *Blobs) PresignGet(ctx context.Context, key, disposition string, ttl time.Duration) (string, error) {
	q := url.Values{"response-content-disposition": {disposition}}
	return signed(key, q, time.Now().Add(ttl)), nil
}

// bucketURL is the in-memory bucket's URL.
const bucketURL = "memstore://" + Bucket

// signed is the memstore:// URL of key with query q and the expiry.
func signed(key string, q url.Values, expires time.Time) string {
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	return bucketURL + "/" + key + "?" + q.Encode()
}
