// Package api binds the dialects' handlers to the routes of template.yaml
// and groups them by the Lambda function that serves them, so that each
// function and the local gateway serve exactly the same handlers.
package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"chunkup/internal/config"
	"chunkup/internal/dialect/companion"
	"chunkup/internal/dialect/django"
	"chunkup/internal/dialect/drf"
	"chunkup/internal/dialect/fileupload"
	"chunkup/internal/dialect/multipleupload"
	"chunkup/internal/dialect/native"
	"chunkup/internal/dialect/resumable"
	"chunkup/internal/dialect/tus"
	"chunkup/internal/metrics"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// The functions of template.yaml, by logical id.
const (
	ReceiveFunction  = "ReceiveFunction"
	CheckFunction    = "CheckFunction"
	CompleteFunction = "CompleteFunction"
	CleanupFunction  = "CleanupFunction"
)

// Anonymous owns every upload made without an authenticated caller.
const Anonymous = "anonymous"

// Route is one HTTP route and the function that serves it.
type Route struct {
	Function string
	Method   string // GET, POST, … or ANY (every method)
	Path     string // as template.yaml writes it, e.g. /v1/uploads/{id}
	handler  http.HandlerFunc
}

// Service is chunkup's HTTP API and sweep over one engine.
type Service struct {
	Engine *upload.Engine
	Log    *slog.Logger
	routes []Route
	// meter, if not nil, records the metrics of every request and sweep
	// (and is the engine's meter).
	meter *metrics.Recorder
}

// New returns the service over an engine.
func New(engine *upload.Engine, log *slog.Logger) *Service {
	s := &Service{Engine: engine, Log: log}
	n := native.New(engine, Owner, log)
	rs := resumable.New(engine, "resumable", Owner, log)
	fl := resumable.NewDialect(engine, resumable.FlowJS(), Owner, log)
	mu := multipleupload.New(engine, Owner, log)
	s.routes = []Route{
		{ReceiveFunction, "POST", "/v1/uploads", n.Create},
		{ReceiveFunction, "PUT", "/v1/uploads/{id}/chunks/{n}", n.PutChunk},
		{ReceiveFunction, "POST", "/resumable", rs.Upload},
		{ReceiveFunction, "POST", "/flow", fl.Upload},
		{ReceiveFunction, "ANY", "/multipleupload/upload", mu.File},
		{ReceiveFunction, "ANY", "/multipleupload/upload-chunk", mu.Chunk},
		{ReceiveFunction, "OPTIONS", "/multipleupload/upload", preflight},
		{ReceiveFunction, "OPTIONS", "/multipleupload/upload-chunk", preflight},
		{ReceiveFunction, "GET", "/v1/uploads/{id}/parts/{n}", n.SignPart},
		{CheckFunction, "GET", "/v1/uploads", n.List},
		{CheckFunction, "GET", "/v1/uploads/{id}", n.Status},
		{CheckFunction, "GET", "/v1/uploads/{id}/content", n.Content},
		{CheckFunction, "GET", "/resumable", rs.Test},
		{CheckFunction, "GET", "/flow", fl.Test},
		{CompleteFunction, "POST", "/v1/uploads/{id}/complete", n.Complete},
		{CompleteFunction, "DELETE", "/v1/uploads/{id}", n.Abort},
	}
	d := drf.New(engine, "/drf/uploads", DialectOf("/drf/uploads"), Owner, Anonymous, log)
	s.routes = append(s.routes,
		Route{ReceiveFunction, "PUT", "/drf/uploads", d.Create},
		Route{ReceiveFunction, "POST", "/drf/uploads", d.Whole},
		Route{ReceiveFunction, "PUT", "/drf/uploads/{id}", d.Append},
		Route{CheckFunction, "GET", "/drf/uploads", d.List},
		Route{CheckFunction, "GET", "/drf/uploads/{id}", d.Get},
		Route{CheckFunction, "ANY", "/drf/uploads", d.Other},
		Route{CheckFunction, "ANY", "/drf/uploads/{id}", d.Other},
		Route{CheckFunction, "OPTIONS", "/drf/uploads", d.Other},
		Route{CheckFunction, "OPTIONS", "/drf/uploads/{id}", d.Other},
		Route{CompleteFunction, "POST", "/drf/uploads/{id}", d.Complete},
	)
	dj := django.New(engine, Owner, log)
	fu := fileupload.New(engine, Owner, log)
	s.routes = append(s.routes,
		Route{ReceiveFunction, "POST", "/chunked-upload", dj.Chunk},
		Route{CompleteFunction, "POST", "/chunked-upload/complete", dj.Complete},
		Route{ReceiveFunction, "POST", "/fileupload", fu.Upload},
		Route{ReceiveFunction, "PUT", "/fileupload", fu.Upload},
		Route{ReceiveFunction, "PATCH", "/fileupload", fu.Upload},
		Route{CheckFunction, "GET", "/fileupload", fu.Resume},
	)
	// tus: a HEAD may finish an upload whose finishing PATCH failed, so it
	// is served where uploads are finished; a POST with
	// X-HTTP-Method-Override may stand for any method, so it is served
	// where every one of them can be.
	tu := tus.New(engine, "/files", Owner, log)
	s.routes = append(s.routes,
		Route{ReceiveFunction, "POST", "/files", tu.Create},
		Route{ReceiveFunction, "PATCH", "/files/{id}", tu.Patch},
		Route{ReceiveFunction, "POST", "/files/{id}", tu.Override},
		Route{CompleteFunction, "HEAD", "/files/{id}", tu.Head},
		Route{CompleteFunction, "DELETE", "/files/{id}", tu.Delete},
		Route{CheckFunction, "OPTIONS", "/files", tu.Options},
		Route{CheckFunction, "OPTIONS", "/files/{id}", tu.Options},
	)
	// Direct uploads sign with the function's own credentials, so the
	// routes that sign, and those that list parts, run where the role may
	// write to the bucket and list multipart parts.
	cs := companion.New(engine, Owner, log)
	s.routes = append(s.routes,
		Route{ReceiveFunction, "POST", "/s3/multipart", cs.Create},
		Route{ReceiveFunction, "GET", "/s3/multipart/{uploadId}/{partNumber}", cs.SignPart},
		Route{ReceiveFunction, "GET", "/s3/multipart/{uploadId}", cs.ListParts},
		Route{ReceiveFunction, "GET", "/s3/params", cs.Params},
		Route{CompleteFunction, "POST", "/s3/multipart/{uploadId}/complete", cs.Complete},
		Route{CompleteFunction, "DELETE", "/s3/multipart/{uploadId}", cs.Abort},
	)
	return s
}

// preflight answers a CORS preflight that reaches a function. On AWS a
// preflight to a path with an ANY route goes to that route, authorizer and
// all, not to API Gateway's own answer; such paths have an OPTIONS route
// that needs no token (template.yaml), served here or by the dialect's own
// OPTIONS answer. API Gateway puts the CORS headers on this empty answer.
func preflight(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// FromConfig builds the service on the DynamoDB table and S3 bucket that
// cfg names: the work each function does once per container.
func FromConfig(ctx context.Context, cfg config.Config, log *slog.Logger) (*Service, error) {
	awsCfg, err := cfg.AWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("build AWS clients: %w", err)
	}
	db, s3c, err := cfg.ClientsFrom(awsCfg)
	if err != nil {
		return nil, fmt.Errorf("build AWS clients: %w", err)
	}
	app := App{Events: cfg.Publisher(awsCfg), PreCreate: cfg.PreCreateHook(awsCfg), OnComplete: cfg.CompleteHook(awsCfg), Meter: metrics.New(os.Stdout, cfg.Stack)}
	return NewWithApp(db, s3c, app, cfg, log), nil
}

// NewOn builds the service on the given clients, publishing no events.
func NewOn(db *dynamodb.Client, s3c *s3.Client, cfg config.Config, log *slog.Logger) *Service {
	return NewWithEvents(db, s3c, nil, cfg, log)
}

// NewWithEvents builds the service on the given clients, publishing
// uploads' events with events (none if nil).
func NewWithEvents(db *dynamodb.Client, s3c *s3.Client, events upload.Publisher, cfg config.Config, log *slog.Logger) *Service {
	return NewWithApp(db, s3c, App{Events: events}, cfg, log)
}

// NewMetered builds the service as NewWithEvents does, recording its
// metrics with meter.
func NewMetered(db *dynamodb.Client, s3c *s3.Client, events upload.Publisher, meter *metrics.Recorder, cfg config.Config, log *slog.Logger) *Service {
	return NewWithApp(db, s3c, App{Events: events, Meter: meter}, cfg, log)
}

// App is how the service tells the application of its uploads, and asks
// it: the publisher of uploads' events, the application's hooks and the
// recorder of its metrics, each nil when off.
type App struct {
	Events     upload.Publisher
	PreCreate  upload.PreCreateHook
	OnComplete upload.CompleteHook
	Meter      *metrics.Recorder
}

// NewWithApp builds the service on the given clients, telling the
// application of uploads (and asking it) through app.
func NewWithApp(db *dynamodb.Client, s3c *s3.Client, app App, cfg config.Config, log *slog.Logger) *Service {
	opt := cfg.EngineOptions(log)
	opt.Events, opt.PreCreate, opt.OnComplete = app.Events, app.PreCreate, app.OnComplete
	if app.Meter != nil {
		opt.Meter = app.Meter
	}
	engine := upload.New(dynamo.New(db, cfg.Table), s3store.New(s3c, cfg.Bucket), opt)
	s := New(engine, log)
	s.meter = app.Meter
	return s
}

// CORSConfig is what browsers are told about cross-origin requests: the
// headers the dialects' clients send and the ones they read.
type CORSConfig struct {
	AllowHeaders  []string
	ExposeHeaders []string
	AllowMethods  []string
	MaxAge        int
}

// CORS returns the CORS settings, the same that template.yaml gives the
// HTTP API (a test holds the two together).
func CORS() CORSConfig {
	return CORSConfig{
		AllowHeaders: []string{
			"content-type", "content-range", "content-disposition", "x-chunk-checksum",
			"x-upload-id", "x-chunk-index", "x-chunk-count", "x-file-name", "x-file-size", "authorization",
			// tus
			"origin", "x-requested-with", "x-request-id", "x-http-method-override", "tus-resumable",
			"upload-length", "upload-offset", "upload-metadata", "upload-defer-length", "upload-concat", "upload-checksum",
		},
		ExposeHeaders: []string{"range", "location", "x-request-id",
			// tus, and where chunkup put the finished file
			"upload-offset", "upload-length", "upload-metadata", "upload-defer-length", "upload-concat", "upload-expires",
			"tus-version", "tus-resumable", "tus-max-size", "tus-extension", "tus-checksum-algorithm",
			"chunkup-object-key", "chunkup-object-crc64nvme",
			// the application's answer to a tus upload's completion
			"chunkup-app",
		},
		AllowMethods: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
		MaxAge:       600,
	}
}

// Routes lists every HTTP route the service serves.
func (s *Service) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler returns the HTTP handler of one function: its routes and no
// others.
func (s *Service) Handler(function string) http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes {
		if r.Function != function {
			continue
		}
		pattern := r.Method + " " + r.Path
		if r.Method == "ANY" {
			pattern = r.Path // every method; the handler answers the ones it refuses
		}
		var h http.Handler = r.handler
		if s.meter != nil {
			h = s.meter.Handler(DialectOf(r.Path), h)
		}
		mux.Handle(pattern, withDialect(DialectOf(r.Path), h))
	}
	return s.withRequestID(mux)
}

// DialectOf names the client family whose routes path belongs to, by
// its first segment: "native" for /v1, "django" for /chunked-upload,
// "tus" for /files, "companion" for /s3,
// the segment itself otherwise (resumable, flow, drf, …). Uploads record
// it (upload.Session.Dialect), and their events and objects carry it.
func DialectOf(path string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch first {
	case "v1":
		return "native"
	case "chunked-upload":
		return "django"
	case "files":
		return "tus"
	case "s3":
		return "companion"
	}
	return first
}

// withDialect tells the engine which client family next serves.
func withDialect(dialect string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), upload.DialectKey{}, dialect)))
	})
}

// Handlers returns the HTTP handler of every HTTP function, by logical id.
func (s *Service) Handlers() map[string]http.Handler {
	out := map[string]http.Handler{}
	for _, r := range s.routes {
		if _, ok := out[r.Function]; !ok {
			out[r.Function] = s.Handler(r.Function)
		}
	}
	return out
}

// withRequestID puts API Gateway's request id into the context, where the
// engine's logs pick it up, and echoes it to the client for support.
func (s *Service) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
			r = r.WithContext(context.WithValue(r.Context(), upload.RequestIDKey{}, rc.RequestID))
			w.Header().Set("X-Request-Id", rc.RequestID)
		}
		next.ServeHTTP(w, r)
	})
}

// Owner names the caller of a request: the subject of the JWT that API
// Gateway's authorizer verified, or Anonymous where no authorizer runs.
func Owner(r *http.Request) string {
	rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
	if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		return Anonymous
	}
	if sub := rc.Authorizer.JWT.Claims["sub"]; sub != "" {
		return "sub:" + sub
	}
	return Anonymous
}

// Sweep is the cleanup function's work on each event EventBridge sends
// it: on the schedule's, it expires stale uploads and repairs what a
// crash left (Engine.Sweep); on S3's Object Created (template.yaml's
// FormUploaded rule), it settles the form upload whose object that is.
func (s *Service) Sweep(ctx context.Context, ev events.EventBridgeEvent) (upload.SweepStats, error) {
	if ev.Source == "aws.s3" {
		return s.settleForm(ctx, ev)
	}
	if s.meter != nil {
		var flush func(string, map[string]float64)
		ctx, flush = s.meter.Gather(ctx)
		defer func() { flush("", nil) }()
	}
	st, err := s.Engine.Sweep(ctx, 100)
	if s.meter != nil {
		s.meter.Count(ctx, metrics.EventsOwed, "", float64(st.Owed))
		s.meter.Count(ctx, metrics.SweepErrors, "", float64(st.Errors))
	}
	s.Log.InfoContext(ctx, "sweep done", "event_id", ev.ID, "expired", st.Expired, "completed", st.Completed, "released", st.Released, "announced", st.Announced, "errors", st.Errors)
	if err != nil {
		return st, fmt.Errorf("sweep: %w", err)
	}
	return st, nil
}

// objectCreated is the detail of S3's Object Created event, what of it
// is read.
type objectCreated struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key string `json:"key"`
	} `json:"object"`
	Reason string `json:"reason"`
}

// settleForm completes the form upload whose object S3 says it now
// holds. An event about any other object is logged and dropped; a fault
// is returned, so that EventBridge delivers the event again.
func (s *Service) settleForm(ctx context.Context, ev events.EventBridgeEvent) (upload.SweepStats, error) {
	var d objectCreated
	if ev.DetailType != "Object Created" || json.Unmarshal(ev.Detail, &d) != nil || d.Object.Key == "" {
		s.Log.WarnContext(ctx, "S3 event ignored: not an Object Created with a key", "event_id", ev.ID, "detail_type", ev.DetailType)
		return upload.SweepStats{}, nil
	}
	keys := []string{d.Object.Key}
	if k, err := url.QueryUnescape(d.Object.Key); err == nil && k != d.Object.Key {
		keys = append(keys, k) // S3's notifications URL-encode keys
	}
	for _, key := range keys {
		ok, err := s.Engine.SettleForm(ctx, key)
		if err != nil {
			return upload.SweepStats{}, fmt.Errorf("settle the form upload of %s: %w", key, err)
		}
		if ok {
			s.Log.InfoContext(ctx, "form upload settled", "event_id", ev.ID, "key", key, "reason", d.Reason)
			return upload.SweepStats{Completed: 1}, nil
		}
	}
	s.Log.InfoContext(ctx, "S3 event ignored: no open form upload has this object", "event_id", ev.ID, "key", d.Object.Key, "reason", d.Reason)
	return upload.SweepStats{}, nil
}

// Setup reads the configuration from the environment and builds the
// service: what a function's main does once per container.
func Setup(ctx context.Context) (*Service, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	log := cfg.Logger()
	return FromConfig(ctx, cfg, log)
}
