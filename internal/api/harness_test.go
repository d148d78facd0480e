package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/api"
	"chunkup/internal/local/auth"
	"chunkup/internal/local/emulator"
	"chunkup/internal/local/eventbus"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/hookfunc"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/store/bus"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/store/hook"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// env is the whole service on the local stack: the engine over real
// DynamoDB and S3 servers, the functions' handlers, and the local gateway
// in front of them.
type env struct {
	t      *testing.T
	svc    *api.Service
	url    string
	s3     *s3.Client
	bucket string
	db     *dynamodb.Client
	table  string
	blobs  *countingBlobs
	clock  *clock
	tmpl   *samtemplate.Template
	// gw is the local gateway; views of the env for other callers (as, in
	// isolation_test.go) send their requests to it.
	gw http.Handler
	// issuer mints the tokens of an env made with auth on, nil otherwise.
	issuer *auth.Issuer
	// em runs the functions' binaries of an env made emulated, nil
	// otherwise.
	em *emulator.Emulator
	// bus is the local EventBridge the engine publishes to, in an env
	// made with events on; nil otherwise.
	bus *eventbus.Bus
}

// envOptions are the ways a test's stack may differ from the default one.
type envOptions struct {
	// tweak adjusts the engine's options.
	tweak func(*upload.Options)
	// auth puts a JWT authorizer trusting a local issuer in front of every
	// route, as a stack deployed with AuthIssuer set has.
	auth bool
	// dynamo adjusts the DynamoDB client the engine uses (not the test's
	// own), as a test that counts the engine's requests needs.
	dynamo func(*dynamodb.Options)
	// emulated puts the functions' built binaries under the Lambda Runtime
	// Interface Emulator behind the gateway, on the env's table and
	// bucket, publishing to a local EventBridge (env.bus), as `make run`
	// does, instead of the handlers of svc. The env's engine (svc.Engine,
	// blobs, clock) then serves only what the test itself asks of it.
	emulated bool
	// events has the engine publish uploads' events, through the
	// EventBridge client and publisher the functions use, to a local
	// EventBridge (env.bus).
	events bool
	// preCreateTo and onCompleteTo turn the application's hooks on: the
	// engine invokes them, through the Lambda client and hook caller the
	// functions use, on the local hook functions, which forward each
	// event to these URLs.
	preCreateTo, onCompleteTo string
}

type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func newEnv(t *testing.T, tweak func(*upload.Options)) *env {
	t.Helper()
	return newEnvWith(t, envOptions{tweak: tweak})
}

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	tweak := o.tweak
	stack := stackFor(t)
	tmpl := loadTemplate(t)
	table, bucket := stack.NewTableAndBucket(t, tmpl)
	db, s3c := stack.NewDynamoClient(), stack.NewS3Client()
	c := &clock{}
	blobs := &countingBlobs{Blobs: s3store.New(s3c, bucket)}
	opt := upload.DefaultOptions()
	opt.Now = c.Now
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CHUNKUP_TEST_LOG") != "" {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if tweak != nil {
		tweak(&opt)
	}
	engineDB := db
	if o.dynamo != nil {
		engineDB = dynamodb.New(db.Options(), o.dynamo)
	}
	var eb *eventbus.Bus
	var ebURL string
	if o.events || o.emulated {
		eb = eventbus.New(eventbus.Options{Logger: opt.Logger})
		ebSrv := httptest.NewServer(eb)
		t.Cleanup(ebSrv.Close)
		ebURL = ebSrv.URL
	}
	if o.events {
		client := eventbridge.NewFromConfig(stack.AWSConfig(), func(eo *eventbridge.Options) { eo.BaseEndpoint = aws.String(ebURL) })
		opt.Events = bus.New(client, "default", bucket)
	}
	if o.preCreateTo != "" || o.onCompleteTo != "" {
		const preARN, completeARN = "arn:aws:lambda:us-east-1:000000000000:function:test-pre-create", "arn:aws:lambda:us-east-1:000000000000:function:test-on-complete"
		fns := httptest.NewServer(hookfunc.New(hookfunc.Options{Logger: opt.Logger,
			Functions: map[string]string{preARN: o.preCreateTo, completeARN: o.onCompleteTo}}))
		t.Cleanup(fns.Close)
		client := lambda.NewFromConfig(stack.AWSConfig(), func(lo *lambda.Options) { lo.BaseEndpoint = aws.String(fns.URL) })
		if o.preCreateTo != "" {
			opt.PreCreate = hook.New(client, preARN, bucket)
		}
		if o.onCompleteTo != "" {
			opt.OnComplete = hook.New(client, completeARN, bucket)
		}
	}
	engine := upload.New(dynamo.New(engineDB, table), blobs, opt)
	svc := api.New(engine, opt.Logger)
	var routes []gateway.Route
	for _, r := range tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path, Public: r.Public})
	}
	gwOpts := gateway.Options{AllowedOrigins: []string{"*"}, Logger: opt.Logger}
	var issuer *auth.Issuer
	if o.auth {
		var err error
		issuer, err = auth.New(auth.Options{URL: "https://issuer.test/chunkup", Audience: "chunkup-test"})
		if err != nil {
			t.Fatal(err)
		}
		gwOpts.Authorizer = &gateway.JWTAuthorizer{Issuer: issuer.URL(), Audience: []string{issuer.Audience()}, Keys: issuer}
	}
	var gw http.Handler
	var em *emulator.Emulator
	var err error
	if o.emulated {
		gw, em, err = emulatedGateway(t, stack, tmpl, table, bucket, ebURL, routes, gwOpts)
	} else {
		gw, err = gateway.New(routes, svc.Handlers(), gwOpts)
	}
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &env{t: t, svc: svc, url: srv.URL, s3: s3c, bucket: bucket, db: db, table: table, blobs: blobs, clock: c, tmpl: tmpl,
		gw: gw, issuer: issuer, em: em, bus: eb}
}

// stagedKeys lists the staged chunks left in the bucket.
func (e *env) stagedKeys() []string {
	e.t.Helper()
	out, err := e.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: aws.String("staging/")})
	if err != nil {
		e.t.Fatalf("list staging: %v", err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// multipartUploads lists the multipart uploads still open in the bucket.
func (e *env) multipartUploads() int {
	e.t.Helper()
	out, err := e.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		e.t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

// object reads a finished object and its CRC64NVME.
func (e *env) object(key string) ([]byte, string) {
	e.t.Helper()
	ctx := context.Background()
	out, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		e.t.Fatalf("read %s: %v", key, err)
	}
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key, ChecksumMode: "ENABLED"})
	if err != nil {
		e.t.Fatalf("head %s: %v", key, err)
	}
	return data, aws.ToString(head.ChecksumCRC64NVME)
}

// countingBlobs counts the requests and bytes the engine sends to S3.
type countingBlobs struct {
	upload.Blobs
	putStaged, uploadParts, completes atomic.Int64
	creates, listsMultipart           atomic.Int64
	bytesRead, bytesWritten           atomic.Int64
	objectBytesRead                   atomic.Int64 // of finished objects (OpenObject)
	// failParts makes that many next part uploads fail, as a dropped
	// connection to S3 would; failCreates the same for starting multipart
	// uploads, and failCompletes for completing them.
	failParts, failCreates, failCompletes atomic.Int64
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func (b *countingBlobs) PutStaged(ctx context.Context, key string, data []byte, crc uint64) error {
	b.putStaged.Add(1)
	b.bytesWritten.Add(int64(len(data)))
	return b.Blobs.PutStaged(ctx, key, data, crc)
}

func (b *countingBlobs) OpenStaged(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.Blobs.OpenStaged(ctx, key)
	if err != nil {
		return nil, err
	}
	return countingReader{rc, &b.bytesRead}, nil
}

func (b *countingBlobs) OpenObject(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.Blobs.OpenObject(ctx, key)
	if err != nil {
		return nil, err
	}
	return countingReader{rc, &b.objectBytesRead}, nil
}

func (b *countingBlobs) UploadPart(ctx context.Context, key, mpu string, n int, body io.Reader, size int64, crc uint64) (string, error) {
	if b.failParts.Add(-1) >= 0 {
		return "", errors.New("injected fault: connection reset")
	}
	b.failParts.Add(1)
	b.uploadParts.Add(1)
	b.bytesWritten.Add(size)
	return b.Blobs.UploadPart(ctx, key, mpu, n, body, size, crc)
}

func (b *countingBlobs) CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (string, bool, error) {
	if b.failCreates.Add(-1) >= 0 {
		return "", true, errors.New("injected fault: connection reset")
	}
	b.failCreates.Add(1)
	b.creates.Add(1)
	return b.Blobs.CreateMultipart(ctx, key, contentType, meta)
}

func (b *countingBlobs) AbortAllMultipart(ctx context.Context, key string) error {
	b.listsMultipart.Add(1)
	return b.Blobs.AbortAllMultipart(ctx, key)
}

func (b *countingBlobs) CompleteMultipart(ctx context.Context, key, mpu string, parts []upload.CompletedPart, crc uint64) (upload.Object, error) {
	if b.failCompletes.Add(-1) >= 0 {
		return upload.Object{}, errors.New("injected fault: connection reset")
	}
	b.failCompletes.Add(1)
	b.completes.Add(1)
	return b.Blobs.CompleteMultipart(ctx, key, mpu, parts, crc)
}

// dataBytes is everything read from and written to S3 so far.
func (b *countingBlobs) dataBytes() int64 { return b.bytesRead.Load() + b.bytesWritten.Load() }
