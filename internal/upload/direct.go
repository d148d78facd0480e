package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Direct uploads: the client sends the file's bytes straight to S3, with
// URLs that chunkup presigns for the owner's key, multipart upload and
// part number only, and chunkup completes the upload from the parts S3
// lists. Its S3 multipart upload starts with the session. A small file
// may go in one POST form instead (SignForm), and is complete once S3
// holds it. Completion, abort, expiry and the sweep are every upload's.
//
// Entry points: Engine.CreateDirect, Engine.SignPart, Engine.DirectParts,
// Engine.CompleteDirect, Engine.AbortDirect, Engine.SignForm,
// Engine.SettleForm, Engine.Locate.
// Calls: completion (complete.go); the parts S3 lists (listed.go).

// NewDirect describes a direct upload a client wants to start.
type NewDirect struct {
	Owner       string
	Name        string
	ContentType string
	// Size is the file's size, if the client states it (Declared).
	Size     int64
	Declared bool
	// PartSize is the size of every part but the last that the client
	// will send; 0 takes the part plan's (see directPlan).
	PartSize int64
	// Verify, if set, is the whole file's checksum, checked at completion.
	Verify *Checksum
	// Metadata is the client's, for the final object (within
	// MaxMetadataBytes) and the events, as NewUpload's.
	Metadata map[string]string
}

// ClaimedPart is a part as a client says it sent it to S3.
type ClaimedPart struct {
	Number int
	ETag   string
}

// CreateDirect starts a direct upload: its session and its S3 multipart
// upload. Nothing is signed yet.
func (e *Engine) CreateDirect(ctx context.Context, req NewDirect) (*Session, error) {
	s, err := e.newDirect(ctx, req)
	if err != nil {
		return nil, err
	}
	mpu, retried, err := e.blobs.CreateMultipart(ctx, s.Key, s.ContentType, objectMeta(s))
	if err != nil {
		return nil, fmt.Errorf("start multipart upload of %s: %w", s.ID, err)
	}
	s.MultipartID, s.MultipartRetried = mpu, retried
	if err := e.sessions.CreateSession(ctx, s); err != nil {
		// No session records the multipart upload, so nothing else would
		// abort it before the bucket's lifecycle rule does.
		if aerr := e.blobs.AbortMultipart(context.WithoutCancel(ctx), s.Key, mpu); aerr != nil {
			e.log(ctx, s).Warn("abort unrecorded multipart upload", "err", aerr)
		}
		return nil, fmt.Errorf("create session: %w", err)
	}
	e.started(ctx, s, "direct upload created", "size", s.Size, "declared", s.Direct.Declared, "part_size", s.Direct.PartSize, "max_part", s.Direct.MaxPart)
	return s, nil
}

// newDirect is the session of a new direct upload, checked against the
// limits and vetted by the pre-create hook; its multipart upload is not
// started yet.
func (e *Engine) newDirect(ctx context.Context, req NewDirect) (*Session, error) {
	if err := e.checkFile(req.Name, req.Size); err != nil {
		return nil, err
	}
	if err := e.checkDeclaredType(req.ContentType); err != nil {
		return nil, err
	}
	if err := CheckMetadata(req.Metadata); err != nil {
		return nil, err
	}
	if v := req.Verify; v != nil && v.Alg != "crc64nvme" && (!req.Declared || req.Size > MaxReadBackVerify) {
		return nil, overLimit(CodeFileTooLarge, MaxReadBackVerify,
			"a whole-file %s is verified by reading the file back, for files of a stated size of at most %d bytes (use crc64nvme, which has no limit)", v.Alg, int64(MaxReadBackVerify))
	}
	plan, err := directPlan(req)
	if err != nil {
		return nil, err
	}
	ask := PreCreateRequest{Owner: req.Owner, Name: req.Name, Type: req.ContentType, Metadata: req.Metadata, Direct: true}
	if req.Declared {
		size := req.Size
		ask.Size = &size
	}
	v, err := e.vet(ctx, ask)
	if err != nil {
		return nil, err
	}
	s := e.newDirectSession(ctx, req.Owner, req.Name, req.ContentType, v)
	s.Size, s.Direct = req.Size, plan
	if req.Verify != nil {
		s.Verify = req.Verify.String()
	}
	return s, nil
}

// newDirectSession is an open direct upload's session with nothing
// planned yet, of the dialect the request names (DialectKey), made as
// the pre-create hook said (v: its key and metadata).
func (e *Engine) newDirectSession(ctx context.Context, owner, name, contentType string, v vetted) *Session {
	now := e.opt.Now().UTC()
	id := newID()
	return &Session{
		ID: id, Owner: owner, Name: name, ContentType: contentType, Key: v.key(id, name), Metadata: v.meta,
		Kind: Direct, State: StateOpen, CreatedAt: now, UpdatedAt: now, Dialect: dialectOf(ctx),
		ExpiresAt: now.Add(min(e.opt.Expiry, e.opt.MaxLifetime)),
	}
}

// directPlan cuts a direct upload into parts as the Lambda path would:
// of max(5 MiB, ceil(size/10,000)) bytes, or of the client's part size
// if it is within S3's limits. Without a declared size any part number
// S3 allows may be signed.
func directPlan(req NewDirect) (DirectPlan, error) {
	part := req.PartSize
	switch {
	case part < 0:
		return DirectPlan{}, refuse(CodeInvalid, "part size %d must be positive", part)
	case part > MaxPartSize:
		return DirectPlan{}, overLimit(CodeChunkTooLarge, MaxPartSize, "part size %d bytes is over S3's limit of %d bytes", part, int64(MaxPartSize))
	case part > 0 && part < MinPartSize && (!req.Declared || part < req.Size):
		return DirectPlan{}, overLimit(CodeChunkTooSmall, MinPartSize, "part size %d bytes is under S3's minimum of %d bytes for every part but the last", part, int64(MinPartSize))
	}
	if !req.Declared {
		return DirectPlan{PartSize: part, MaxPart: MaxParts}, nil
	}
	if req.Size == 0 {
		return DirectPlan{}, refuse(CodeInvalid, "an empty file has no parts to send to S3: upload it in one request")
	}
	if part == 0 {
		part = max(int64(MinPartSize), ceilDiv(req.Size, MaxParts))
	}
	n := ceilDiv(req.Size, part)
	if n > MaxParts {
		return DirectPlan{}, overLimit(CodeTooManyChunks, MaxParts, "%d-byte parts cut a %d-byte file into %d parts, over S3's limit of %d parts", part, req.Size, n, MaxParts)
	}
	return DirectPlan{Declared: true, PartSize: part, MaxPart: int(n)}, nil
}

// direct returns the owner's direct upload id, whose key is key unless
// key is empty (clients that name the upload by its key as well send it
// back); any other upload answers as unknown, as another owner's does.
func (e *Engine) direct(ctx context.Context, owner, id, key string) (*Session, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if s.Kind != Direct || (key != "" && key != s.Key) {
		return nil, refuse(CodeNotFound, "no direct upload %q with key %q", id, key)
	}
	return s, nil
}

// SignPart signs a URL that PUTs part number (from 1) of the owner's open
// direct upload id straight to S3: for that upload's key, multipart upload
// and part number only, valid for Options.PresignExpiry and never past the
// upload's expiry, which it moves forward as a chunk does. With sum, the
// URL holds S3 to that CRC64NVME of the part.
func (e *Engine) SignPart(ctx context.Context, owner, id, key string, number int, sum *Checksum) (*Session, Presigned, error) {
	if number < 1 || number > MaxParts {
		return nil, Presigned{}, overLimit(CodeChunkRange, MaxParts, "part number %d is out of range: S3 numbers parts from 1 to %d", number, MaxParts)
	}
	s, err := e.direct(ctx, owner, id, key)
	if err != nil {
		return nil, Presigned{}, err
	}
	if err := e.refuseState(s); err != nil {
		return nil, Presigned{}, err
	}
	if s.Direct.Form {
		return nil, Presigned{}, refuse(CodeInvalid, "upload %s goes to S3 in one form and has no parts", s.ID)
	}
	if number < 1 || number > s.Direct.MaxPart {
		return nil, Presigned{}, overLimit(CodeChunkRange, int64(s.Direct.MaxPart), "part number %d is out of range: upload %s has parts 1 to %d", number, s.ID, s.Direct.MaxPart)
	}
	if sum != nil && sum.Alg != "crc64nvme" {
		return nil, Presigned{}, refuse(CodeInvalid, "S3 checks a direct upload's part against its crc64nvme (the multipart upload's algorithm), not its %s", sum.Alg)
	}
	e.keepAlive(ctx, s)
	now := e.opt.Now()
	p, err := e.blobs.PresignPart(ctx, s.Key, s.MultipartID, number, sum, now, e.presignTTL(s, now))
	if err != nil {
		return nil, Presigned{}, fmt.Errorf("sign part %d of %s: %w", number, s.ID, err)
	}
	return s, p, nil
}

// presignTTL is how long a URL signed at now for upload s stays valid:
// Options.PresignExpiry, cut short by the upload's expiry (S3 takes no
// less than a second).
func (e *Engine) presignTTL(s *Session, now time.Time) time.Duration {
	return max(time.Second, min(e.opt.PresignExpiry, s.ExpiresAt.Sub(now)).Truncate(time.Second))
}

// DirectParts lists the parts S3 holds of the owner's open direct upload
// id, as a client resuming it asks.
func (e *Engine) DirectParts(ctx context.Context, owner, id, key string) (*Session, []UploadedPart, error) {
	s, err := e.direct(ctx, owner, id, key)
	if err != nil {
		return nil, nil, err
	}
	if err := e.refuseState(s); err != nil {
		return nil, nil, err
	}
	if s.Direct.Form {
		return s, nil, nil
	}
	parts, err := e.uploadedParts(ctx, s)
	return s, parts, err
}

// CompleteDirect finishes the owner's direct upload id from the parts S3
// lists, which must make the file (see listedParts); claimed, if not nil,
// are the parts the client says it sent, which must be those. A refusal
// leaves the upload open and its parts in place, for a corrected retry;
// completing a complete upload answers with the same object.
func (e *Engine) CompleteDirect(ctx context.Context, owner, id, key string, claimed []ClaimedPart) (*Session, error) {
	s, err := e.direct(ctx, owner, id, key)
	if err != nil {
		return nil, err
	}
	return e.completeWith(ctx, s, claimed)
}

// AbortDirect aborts the owner's direct upload id, as Abort does, and
// with it the multipart upload in S3 and the parts sent there.
func (e *Engine) AbortDirect(ctx context.Context, owner, id, key string) error {
	if _, err := e.direct(ctx, owner, id, key); err != nil {
		return err
	}
	return e.Abort(ctx, owner, id)
}

// Locate names the bucket that holds the object key and the object's
// URL there (unsigned: reading it takes the bucket's own permissions).
func (e *Engine) Locate(ctx context.Context, key string) (bucket, url string, err error) {
	return e.blobs.Locate(ctx, key)
}

// SignForm starts a direct upload that goes to S3 in one POST form (an
// S3 POST policy) of at most MaxFileSize bytes, valid as SignPart's URLs
// are. The upload is complete once S3 holds its object: the bucket's
// notification, or the sweep, completes it (SettleForm).
func (e *Engine) SignForm(ctx context.Context, owner, name, contentType string, meta map[string]string) (*Session, PostForm, error) {
	if err := e.checkFile(name, 0); err != nil {
		return nil, PostForm{}, err
	}
	if err := e.checkDeclaredType(contentType); err != nil {
		return nil, PostForm{}, err
	}
	if err := CheckMetadata(meta); err != nil {
		return nil, PostForm{}, err
	}
	v, err := e.vet(ctx, PreCreateRequest{Owner: owner, Name: name, Type: contentType, Metadata: meta, Direct: true})
	if err != nil {
		return nil, PostForm{}, err
	}
	s := e.newDirectSession(ctx, owner, name, contentType, v)
	// It finishes by itself: the sweep finishes it if S3 holds its
	// object by its expiry (sweepComplete), and expires it otherwise. It
	// expires FormGrace after its form does, so the sweep is a backstop
	// within the hour, not a day later.
	s.Direct.Form, s.AutoComplete = true, true
	now := e.opt.Now()
	ttl := e.presignTTL(s, now)
	s.ExpiresAt = minTime(s.ExpiresAt, now.Add(ttl+FormGrace).UTC())
	form, err := e.blobs.PresignPost(ctx, s.Key, contentType, objectMeta(s), min(e.opt.MaxFileSize, MaxFormSize), ttl)
	if err != nil {
		return nil, PostForm{}, fmt.Errorf("sign the form of %s: %w", s.ID, err)
	}
	if err := e.sessions.CreateSession(ctx, s); err != nil {
		return nil, PostForm{}, fmt.Errorf("create session: %w", err)
	}
	e.started(ctx, s, "direct form upload created", "key", s.Key)
	return s, form, nil
}

// MaxFormSize is the largest object S3 takes in one POST form.
const MaxFormSize = 5 << 30

// FormGrace is how long after its form's expiry a form upload's session
// expires: S3 checks the policy's expiry when a POST begins, and a POST
// of MaxFormSize bytes begun just before then may take this long.
const FormGrace = time.Hour

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// SettleForm completes the form upload whose object S3 now holds at key,
// as the bucket's notification of a new object tells; a key that is no
// form upload's is ignored (false).
func (e *Engine) SettleForm(ctx context.Context, key string) (bool, error) {
	id, ok := IDOfKey(key)
	if !ok {
		return false, nil
	}
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read session %s: %w", id, err)
	}
	if s.Kind != Direct || !s.Direct.Form || s.Key != key {
		return false, nil
	}
	if _, err := e.complete(ctx, s); err != nil {
		return false, err
	}
	return true, nil
}
