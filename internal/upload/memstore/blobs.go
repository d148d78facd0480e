package memstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// maxPartNum is S3's highest part number.
const maxPartNum = upload.MaxParts

// Blobs is upload.Blobs in memory, with the S3 store's semantics (see
// the package doc): one bucket of objects and the multipart uploads in
// progress. Its zero value is not usable; call NewBlobs.
type Blobs struct {
	Faults

	mu      sync.Mutex
	objects map[string]object
	uploads map[string]*multipart // by upload id
	// done keeps what each completed upload answered, by upload id: a
	// completion sent again answers the same.
	done   map[string]upload.Object
	nextID int
	crc    *crc64nvme.Combiner
}

var _ upload.Blobs = (*Blobs)(nil)

// NewBlobs returns an empty bucket.
func NewBlobs() *Blobs {
	return &Blobs{Faults: newFaults(blobOps), objects: map[string]object{}, uploads: map[string]*multipart{}, done: map[string]upload.Object{}, crc: crc64nvme.NewCombiner()}
}

var blobOps = map[string]bool{
	"PutStaged": false, "OpenStaged": false, "DeleteStaged": false, "ListStaged": false,
	"OpenObject": false, "DeleteObject": false,
	"CreateMultipart": false, "UploadPart": false, "CompleteMultipart": false,
	"AbortMultipart": false, "AbortAllMultipart": false, "PutObject": false, "HeadObject": false,
}

type object struct {
	data []byte
	crc  uint64
	etag string
}

type multipart struct {
	key   string
	parts map[int]part
}

type part struct {
	data []byte
	crc  uint64
	md5  [md5.Size]byte
}

func (p part) etag() string { return `"` + hex.EncodeToString(p.md5[:]) + `"` }

// etagOf is S3's ETag of an object written whole: its MD5, quoted.
func etagOf(data []byte) string { return part{md5: md5.Sum(data)}.etag() }

// checkCRC refuses bytes whose CRC64NVME is not crc, as S3 does.
func checkCRC(data []byte, crc uint64) error {
	if got := crc64nvme.Checksum(data); got != crc {
		return refusal("BadDigest", "The CRC64NVME you specified (%s) did not match the calculated checksum (%s).", crc64nvme.Encode(crc), crc64nvme.Encode(got))
	}
	return nil
}

// PutStaged stores one chunk's bytes under key, if crc is theirs.
func (b *Blobs) PutStaged(ctx context.Context, key string, data []byte, crc uint64) error {
	data = slices.Clone(data)
	err := b.run(ctx, &b.mu, request{op: "PutStaged", main: func() error {
		if err := checkCRC(data, crc); err != nil {
			return err
		}
		b.objects[key] = object{data: data, crc: crc, etag: etagOf(data)}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// OpenStaged reads a staged chunk; NoSuchKey if there is none.
func (b *Blobs) OpenStaged(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.open(ctx, "OpenStaged", key)
}

// OpenObject reads a finished object; NoSuchKey if there is none.
func (b *Blobs) OpenObject(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.open(ctx, "OpenObject", key)
}

// DeleteObject removes a finished object; one already gone is not an
// error.
func (b *Blobs) DeleteObject(ctx context.Context, key string) error {
	return b.remove(ctx, "DeleteObject", []string{key})
}

func (b *Blobs) open(ctx context.Context, op, key string) (io.ReadCloser, error) {
	var data []byte
	err := b.run(ctx, &b.mu, request{op: op, main: func() error {
		o, ok := b.objects[key]
		if !ok {
			return refusal("NoSuchKey", "The specified key does not exist.")
		}
		data = o.data // never changed in place: a put replaces it
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// DeleteStaged removes objects; missing keys are not an error.
func (b *Blobs) DeleteStaged(ctx context.Context, keys []string) error {
	return b.remove(ctx, "DeleteStaged", keys)
}

func (b *Blobs) remove(ctx context.Context, op string, keys []string) error {
	if len(keys) == 0 {
		return nil // the S3 store sends no request
	}
	err := b.run(ctx, &b.mu, request{op: op, main: func() error {
		for _, k := range keys {
			delete(b.objects, k)
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("delete %d staged objects: %w", len(keys), err)
	}
	return nil
}

// ListStaged returns the keys under prefix, in S3's order.
func (b *Blobs) ListStaged(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := b.run(ctx, &b.mu, request{op: "ListStaged", main: func() error {
		keys = nil
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return keys, nil
}

// CreateMultipart starts a multipart upload of key. Under Retry it
// starts two, as S3 does when the SDK resends the request, and returns
// the second with retried set; any failure reports retried, as the S3
// store does.
func (b *Blobs) CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, bool, error) {
	var id string
	attempts := 0
	err := b.run(ctx, &b.mu, request{op: "CreateMultipart", main: func() error {
		attempts++
		b.nextID++
		id = "mpu-" + strconv.Itoa(b.nextID)
		b.uploads[id] = &multipart{key: key, parts: map[int]part{}}
		return nil
	}})
	if err != nil {
		return "", true, fmt.Errorf("create multipart upload %s: %w", key, err)
	}
	return id, attempts > 1, nil
}

// upload returns multipart upload id of key; NoSuchUpload if there is
// none.
func (b *Blobs) upload(key, id string) (*multipart, error) {
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return nil, refusal("NoSuchUpload", "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	}
	return u, nil
}

// UploadPart reads size bytes from body and stores them as part number
// of the upload, replacing any part of that number, if crc is theirs.
func (b *Blobs) UploadPart(ctx context.Context, key, mpu string, number int, body io.Reader, size int64, crc uint64) (string, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(body, data); err != nil { // a body short of size fails the request
		return "", fmt.Errorf("upload part %d of %s: %w", number, key, err)
	}
	var etag string
	err := b.run(ctx, &b.mu, request{op: "UploadPart", main: func() error {
		u, err := b.upload(key, mpu)
		if err != nil {
			return err
		}
		if number < 1 || number > maxPartNum {
			return refusal("InvalidArgument", "Part number must be an integer between 1 and %d, inclusive", maxPartNum)
		}
		if err := checkCRC(data, crc); err != nil {
			return err
		}
		p := part{data: data, crc: crc, md5: md5.Sum(data)}
		u.parts[number] = p
		etag = p.etag()
		return nil
	}})
	if err != nil {
		return "", fmt.Errorf("upload part %d of %s: %w", number, key, err)
	}
	return etag, nil
}

// CompleteMultipart joins the listed parts into the object key, as S3
// does: in ascending order, each with its ETag and CRC64NVME, every part
// but the last at least upload.MinPartSize, and the whole object's CRC64NVME
// crc. A refused completion leaves the upload as it was; a completed one
// takes no more parts, and a completion of it sent again answers as the
// first did (as versitygw does: it keeps retried completions
// idempotent). The answer carries no size, as S3's does not.
func (b *Blobs) CompleteMultipart(ctx context.Context, key, mpu string, parts []upload.CompletedPart, crc uint64) (upload.Object, error) {
	var obj upload.Object
	err := b.run(ctx, &b.mu, request{op: "CompleteMultipart", main: func() error {
		if done, ok := b.done[mpu]; ok && done.Key == key {
			obj = done
			return nil
		}
		u, err := b.upload(key, mpu)
		if err != nil {
			return err
		}
		data, whole, err := u.join(parts, b.crc)
		if err != nil {
			return err
		}
		if whole != crc {
			return refusal("BadDigest", "The CRC64NVME you specified (%s) did not match the calculated checksum (%s).", crc64nvme.Encode(crc), crc64nvme.Encode(whole))
		}
		b.objects[key] = object{data: data, crc: crc, etag: multipartETag(u, parts)}
		delete(b.uploads, mpu)
		obj = upload.Object{Key: key, ETag: b.objects[key].etag, CRC64: crc64nvme.Encode(crc)}
		b.done[mpu] = obj
		return nil
	}})
	if err != nil {
		return upload.Object{}, fmt.Errorf("complete multipart upload %s: %w", key, err)
	}
	return obj, nil
}

// join checks the parts a completion lists against those uploaded and
// returns their bytes together, with their CRC64NVME (combined from the
// parts', as S3 has it).
func (u *multipart) join(parts []upload.CompletedPart, crc *crc64nvme.Combiner) ([]byte, uint64, error) {
	if len(parts) == 0 {
		return nil, 0, refusal("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	size := 0
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return nil, 0, refusal("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		have, ok := u.parts[p.Number]
		if !ok || strings.Trim(have.etag(), `"`) != strings.Trim(p.ETag, `"`) || have.crc != p.CRC {
			return nil, 0, refusal("InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
		}
		if i < len(parts)-1 && len(have.data) < upload.MinPartSize {
			return nil, 0, refusal("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
		}
		size += len(have.data)
	}
	data := make([]byte, 0, size)
	var whole uint64
	for i, p := range parts {
		have := u.parts[p.Number]
		if i == 0 {
			whole = have.crc
		} else {
			whole = crc.Combine(whole, have.crc, int64(len(have.data)))
		}
		data = append(data, have.data...)
	}
	return data, whole, nil
}

// multipartETag is S3's ETag of an object made of parts: the MD5 of the
// parts' MD5s, and their count.
func multipartETag(u *multipart, parts []upload.CompletedPart) string {
	h := md5.New()
	for _, p := range parts {
		sum := u.parts[p.Number].md5
		h.Write(sum[:])
	}
	return `"` + hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)) + `"`
}

// AbortMultipart discards a multipart upload and its parts; one already
// gone is not an error.
func (b *Blobs) AbortMultipart(ctx context.Context, key, mpu string) error {
	err := b.run(ctx, &b.mu, request{op: "AbortMultipart", main: func() error {
		if _, err := b.upload(key, mpu); err == nil {
			delete(b.uploads, mpu)
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("abort multipart upload %s: %w", key, err)
	}
	return nil
}

// AbortAllMultipart discards every multipart upload in progress for
// exactly key.
func (b *Blobs) AbortAllMultipart(ctx context.Context, key string) error {
	err := b.run(ctx, &b.mu, request{op: "AbortAllMultipart", main: func() error {
		for id, u := range b.uploads {
			if u.key == key {
				delete(b.uploads, id)
			}
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("list multipart uploads of %s: %w", key, err)
	}
	return nil
}

// PutObject writes an object whole, if crc is its bytes' CRC64NVME.
func (b *Blobs) PutObject(ctx context.Context, key, contentType string, meta map[string]string, data []byte, crc uint64) (upload.Object, error) {
	data = slices.Clone(data)
	err := b.run(ctx, &b.mu, request{op: "PutObject", main: func() error {
		if err := checkCRC(data, crc); err != nil {
			return err
		}
		b.objects[key] = object{data: data, crc: crc, etag: etagOf(data)}
		return nil
	}})
	if err != nil {
		return upload.Object{}, fmt.Errorf("put %s: %w", key, err)
	}
	return upload.Object{Key: key, Size: int64(len(data)), ETag: etagOf(data), CRC64: crc64nvme.Encode(crc)}, nil
}

// HeadObject describes an object; ErrNotFound if there is none.
func (b *Blobs) HeadObject(ctx context.Context, key string) (upload.Object, error) {
	var obj upload.Object
	err := b.run(ctx, &b.mu, request{op: "HeadObject", main: func() error {
		o, ok := b.objects[key]
		if !ok {
			return upload.ErrNotFound
		}
		obj = upload.Object{Key: key, Size: int64(len(o.data)), ETag: o.etag, CRC64: crc64nvme.Encode(o.crc)}
		return nil
	}})
	if err != nil {
		return upload.Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	return obj, nil
}

// Object returns the bytes of object key, for a test to check, and
// whether it exists.
func (b *Blobs) Object(key string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	return slices.Clone(o.data), ok
}

// Keys returns every object's key, in order.
func (b *Blobs) Keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(maps.Keys(b.objects))
}

// Multiparts returns the keys of the multipart uploads in progress, one
// for each upload, in order.
func (b *Blobs) Multiparts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for _, u := range b.uploads {
		keys = append(keys, u.key)
	}
	slices.Sort(keys)
	return keys
}
