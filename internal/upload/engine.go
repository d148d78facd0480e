package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"
	"unicode/utf8"

	"chunkup/internal/wire/crc64nvme"
)

// Limits are the bounds every upload is held to.
type Limits struct {
	MaxFileSize   int64
	MaxChunkSize  int64
	MaxChunks     int
	MaxNameLength int
	// AllowedTypes, if not empty, lists the content types a file may have
	// ("image/*", "application/pdf"), judged by its first bytes.
	AllowedTypes []string
}

// Options configure an Engine. Zero fields take the defaults of
// DefaultOptions.
type Options struct {
	Limits
	// Expiry is how long an open upload lives after its last chunk.
	Expiry time.Duration
	// MaxLifetime is how long an upload may stay open from its start,
	// however busy: the bucket's lifecycle rules abort multipart uploads
	// and delete staged chunks some days after they were made, whatever
	// the session says, so an upload must be finished before then.
	MaxLifetime time.Duration
	// ClaimTimeout is how long a request may hold the right to assemble a
	// part or finish an upload before another may take it over. It must
	// outlast the longest request (API Gateway stops waiting at 30 s).
	ClaimTimeout time.Duration
	// DuplicateWait is how long a re-sent chunk waits for another request
	// that is assembling its part before answering busy. It must leave the
	// request time to answer before API Gateway's 30 s.
	DuplicateWait time.Duration
	// MaxBufferedPart is the largest part read whole into memory before it
	// is uploaded: its staged chunks are fetched in parallel, and the SDK
	// can resend a seekable body when S3 fails. Larger parts (files over
	// about 160 GB) are streamed chunk by chunk.
	MaxBufferedPart int64
	// Retention is how long records of finished or ended uploads are kept
	// before DynamoDB's TTL removes them.
	Retention time.Duration
	// Now tells the time; tests move it.
	Now func() time.Time
	// Logger receives the engine's structured logs.
	Logger *slog.Logger
}

// LifetimeOf is the MaxLifetime that fits a bucket whose lifecycle rules
// act days after a multipart upload starts or a staged chunk is written:
// an hour less, so that the completion of an upload begun just before
// the end has the S3 data it needs. S3 acts at the first midnight (UTC)
// after the days have passed, never sooner.
func LifetimeOf(days int) time.Duration {
	return time.Duration(days)*24*time.Hour - time.Hour
}

// DefaultOptions are the limits and timings chunkup runs with unless
// configured otherwise.
func DefaultOptions() Options {
	return Options{
		Limits: Limits{
			MaxFileSize:   50 << 30,
			MaxChunkSize:  4 << 20,
			MaxChunks:     100000,
			MaxNameLength: 255,
		},
		Expiry:          24 * time.Hour,
		MaxLifetime:     LifetimeOf(3),
		ClaimTimeout:    45 * time.Second,
		DuplicateWait:   20 * time.Second,
		MaxBufferedPart: 16 << 20,
		Retention:       30 * 24 * time.Hour,
		Now:             time.Now,
		Logger:          slog.Default(),
	}
}

// Engine runs uploads on a session store and a blob store.
type Engine struct {
	sessions Sessions
	blobs    Blobs
	opt      Options
	crcJoin  *crc64nvme.Combiner
}

// New returns an engine over the given stores.
func New(sessions Sessions, blobs Blobs, opt Options) *Engine {
	def := DefaultOptions()
	orDefault(&opt.MaxFileSize, def.MaxFileSize)
	orDefault(&opt.MaxChunkSize, def.MaxChunkSize)
	orDefault(&opt.MaxChunks, def.MaxChunks)
	orDefault(&opt.MaxNameLength, def.MaxNameLength)
	orDefault(&opt.Expiry, def.Expiry)
	orDefault(&opt.MaxLifetime, def.MaxLifetime)
	orDefault(&opt.ClaimTimeout, def.ClaimTimeout)
	orDefault(&opt.DuplicateWait, def.DuplicateWait)
	orDefault(&opt.MaxBufferedPart, def.MaxBufferedPart)
	orDefault(&opt.Retention, def.Retention)
	if opt.Now == nil {
		opt.Now = def.Now
	}
	if opt.Logger == nil {
		opt.Logger = def.Logger
	}
	return &Engine{sessions: sessions, blobs: blobs, opt: opt, crcJoin: crc64nvme.NewCombiner()}
}

// orDefault sets *v to def when it is the zero value: an option left unset.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Limits returns the limits the engine enforces.
func (e *Engine) Limits() Limits { return e.opt.Limits }

// NewUpload describes an upload a client wants to start.
type NewUpload struct {
	Owner       string
	Identifier  string // the client's own id for the file; uploads with one are found by it
	Name        string
	ContentType string
	Geometry
	// AutoComplete finishes the upload as soon as its last chunk is in,
	// as clients without a completion request (Resumable.js) need.
	AutoComplete bool
	// Verify, if set, is the whole file's checksum, checked at completion.
	Verify *Checksum
}

// MaxReadBackVerify is the largest indexed upload whose md5, sha1 or
// sha256 may be verified: its chunks arrive in any order, so the finished
// file is read back once to hash it. CRC64NVME has no such limit: it is
// combined from the chunks' and S3 verifies it.
const MaxReadBackVerify = 1 << 30

// Create starts a new upload session. Nothing is written to S3 until the
// first part is assembled.
func (e *Engine) Create(ctx context.Context, req NewUpload) (*Session, error) {
	s, err := e.newSession(req)
	if err != nil {
		return nil, err
	}
	if err := e.sessions.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	e.log(ctx, s).Info("upload created", "size", s.Size, "chunks", s.Chunks, "parts", s.Parts)
	return s, nil
}

func (e *Engine) newSession(req NewUpload) (*Session, error) {
	if err := e.checkRequest(req); err != nil {
		return nil, err
	}
	if v := req.Verify; v != nil && v.Alg != "crc64nvme" && req.Size > MaxReadBackVerify {
		return nil, overLimit(CodeFileTooLarge, MaxReadBackVerify,
			"a whole-file %s is verified by reading the file back, for files of at most %d bytes; this one is %d bytes (use crc64nvme, which has no limit)", v.Alg, int64(MaxReadBackVerify), req.Size)
	}
	plan, err := NewPlan(req.Geometry)
	if err != nil {
		return nil, refuse(CodeInvalid, "%s", err.Error())
	}
	now := e.opt.Now().UTC()
	id := newID()
	verify := ""
	if req.Verify != nil {
		verify = req.Verify.String()
	}
	return &Session{
		Verify:       verify,
		ID:           id,
		Owner:        req.Owner,
		Identifier:   req.Identifier,
		Name:         req.Name,
		ContentType:  req.ContentType,
		Key:          ObjectKey(id, req.Name),
		Plan:         plan,
		State:        StateOpen,
		CreatedAt:    now,
		UpdatedAt:    now,
		ExpiresAt:    now.Add(min(e.opt.Expiry, e.opt.MaxLifetime)),
		AutoComplete: req.AutoComplete,
	}, nil
}

func (e *Engine) checkRequest(req NewUpload) error {
	if err := e.checkFile(req.Name, req.Size); err != nil {
		return err
	}
	if err := e.checkDeclaredType(req.ContentType); err != nil {
		return err
	}
	l := e.opt.Limits
	switch {
	case req.ChunkSize <= 0:
		return refuse(CodeInvalid, "chunk size %d must be positive", req.ChunkSize)
	case req.ChunkSize > l.MaxChunkSize:
		return overLimit(CodeChunkTooLarge, l.MaxChunkSize, "chunk size %d bytes is over the limit of %d bytes", req.ChunkSize, l.MaxChunkSize)
	case req.Chunks > l.MaxChunks:
		return overLimit(CodeTooManyChunks, int64(l.MaxChunks), "%d chunks is over the limit of %d chunks per upload", req.Chunks, l.MaxChunks)
	case req.Chunks > 0 && req.Geometry.check() == nil && req.ChunkLen(req.Chunks-1) > l.MaxChunkSize:
		return overLimit(CodeChunkTooLarge, l.MaxChunkSize, "the last chunk would be %d bytes, over the limit of %d bytes", req.ChunkLen(req.Chunks-1), l.MaxChunkSize)
	}
	return nil
}

// checkFile checks what every upload must satisfy: a name within the
// length limit and a size within the file size limit.
func (e *Engine) checkFile(name string, size int64) error {
	l := e.opt.Limits
	switch {
	case name == "":
		return refuse(CodeInvalid, "a file name is required")
	case len(name) > l.MaxNameLength:
		return overLimit(CodeNameTooLong, int64(l.MaxNameLength), "file name is %d bytes; the limit is %d bytes", len(name), l.MaxNameLength)
	case !utf8.ValidString(name):
		return refuse(CodeInvalid, "file name is not valid UTF-8")
	case size < 0:
		return refuse(CodeInvalid, "file size %d is negative", size)
	case size > l.MaxFileSize:
		return overLimit(CodeFileTooLarge, l.MaxFileSize, "file size %d bytes is over the limit of %d bytes", size, l.MaxFileSize)
	}
	return nil
}

// Get returns the owner's upload id. Another owner's upload answers as
// unknown.
func (e *Engine) Get(ctx context.Context, owner, id string) (*Session, error) {
	if !validID(id) {
		return nil, refuse(CodeNotFound, "no upload %q", id)
	}
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && s.Owner != owner) {
		return nil, refuse(CodeNotFound, "no upload %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	e.settleExpiry(s)
	return s, nil
}

// settleExpiry shows an open session past its expiry as expired, whether
// or not the sweep has reached it: DynamoDB's TTL is housekeeping only.
func (e *Engine) settleExpiry(s *Session) {
	if s.State == StateOpen && !e.opt.Now().Before(s.ExpiresAt) {
		s.State = StateExpired
	}
}

// ObjectKey is the final object's key for an upload: derived from the
// upload id and a sanitized file name, never from raw client input.
func ObjectKey(id, name string) string {
	return "uploads/" + id + "/" + SanitizeName(name)
}

// stagingPrefix is where an upload's chunks wait to become parts.
func stagingPrefix(id string) string { return "staging/" + id + "/" }

func stagingKey(id string, index int) string {
	return fmt.Sprintf("%s%08d-%s", stagingPrefix(id), index, newID()[:12])
}

func objectMeta(s *Session) map[string]string {
	return map[string]string{
		"upload-id":     s.ID,
		"original-name": url.PathEscape(s.Name),
	}
}

// newID returns 32 random hex digits, the shape django-chunked-upload's
// clients expect of an upload id.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// validID reports whether id has the shape newID gives.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (e *Engine) log(ctx context.Context, s *Session) *slog.Logger {
	l := e.opt.Logger.With("upload_id", s.ID)
	if rid, ok := ctx.Value(RequestIDKey{}).(string); ok {
		l = l.With("request_id", rid)
	}
	return l
}

// RequestIDKey is the context key under which handlers put the request id,
// so the engine's logs name it.
type RequestIDKey struct{}

// lifetimeEnd is when upload s must be finished by (Options.MaxLifetime).
func (e *Engine) lifetimeEnd(s *Session) time.Time { return s.CreatedAt.Add(e.opt.MaxLifetime) }
