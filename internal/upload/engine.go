package upload

import (
	"context"
	"log/slog"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// The engine and its options. Every stage of an upload's life is a
// method of Engine, in the file named for the stage (see the package
// doc).

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
	// PresignExpiry is how long a URL that sends bytes straight to S3
	// (a direct upload's part, a POST form) stays valid; never past the
	// upload's own expiry.
	PresignExpiry time.Duration
	// Retention is how long records of finished or ended uploads are kept
	// before DynamoDB's TTL removes them.
	Retention time.Duration
	// Now tells the time, and After waits on that clock (as time.After
	// does); tests move them. Every lease, expiry and wait of the engine
	// runs on them.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Logger receives the engine's structured logs.
	Logger *slog.Logger
	// Events, if not nil, is told of every upload that completes, is
	// aborted or expires (events.go); nil publishes nothing.
	Events Publisher
	// Meter, if not nil, counts uploads started and ended and the bytes
	// stored, for the operator's metrics (meter.go); nil counts nothing.
	Meter Meter
	// PreCreate, if not nil, vets every upload before it is created, and
	// OnComplete is told of every upload whose object is finished
	// (hooks.go); nil calls nothing. Each call may take HookTimeout.
	PreCreate   PreCreateHook
	OnComplete  CompleteHook
	HookTimeout time.Duration
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
		PresignExpiry:   15 * time.Minute,
		Retention:       30 * 24 * time.Hour,
		HookTimeout:     DefaultHookTimeout,
		Now:             time.Now,
		After:           time.After,
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
	orDefault(&opt.PresignExpiry, def.PresignExpiry)
	orDefault(&opt.Retention, def.Retention)
	orDefault(&opt.HookTimeout, def.HookTimeout)
	if opt.Now == nil {
		opt.Now = def.Now
	}
	if opt.After == nil {
		opt.After = def.After
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

// DialectKey is the context key under which handlers put the name of the
// client family a request comes from ("native", "resumable", …); the
// uploads it starts record it (Session.Dialect).
type DialectKey struct{}

// dialectOf is the dialect ctx names, if any.
func dialectOf(ctx context.Context) string {
	d, _ := ctx.Value(DialectKey{}).(string)
	return d
}

// lifetimeEnd is when upload s must be finished by (Options.MaxLifetime).
func (e *Engine) lifetimeEnd(s *Session) time.Time { return s.CreatedAt.Add(e.opt.MaxLifetime) }
