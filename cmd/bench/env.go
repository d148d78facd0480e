package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/api"
	"chunkup/internal/config"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// env is the whole service on the local stack, wired as cmd/chunkup-local
// wires it, with meters on the way in (API Gateway), on the handlers
// (Lambda) and on the AWS clients (S3, DynamoDB).
type env struct {
	root   string
	tmpl   *samtemplate.Template
	stack  *stack.Stack
	cfg    config.Config
	svc    *api.Service
	table  string
	bucket string

	url    string // the local gateway, over real HTTP on loopback
	server *http.Server
	client *http.Client

	meter *meter
	api   *apiMeter
	funcs *functionMeter
	cpu   *cpuMeter
	log   *serviceLog

	// raw is an S3 client on the same server, not metered: the ceiling's.
	raw *s3.Client
	// later is the engine as the cleanup function sees it once a finished
	// upload is due (an expiry period after completion), on the same
	// metered clients.
	later *upload.Engine
}

func newEnv(ctx context.Context, log io.Writer) (*env, error) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		return nil, err
	}
	tmpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	stack, err := stack.Start(ctx, stack.Options{Log: log})
	if err != nil {
		return nil, err
	}
	e := &env{root: root, tmpl: tmpl, stack: stack, table: "chunkup-bench", bucket: "chunkup-bench"}
	if err := e.start(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) start(ctx context.Context) error {
	if err := e.stack.Provision(ctx, e.tmpl, e.table, e.bucket); err != nil {
		return err
	}
	environ := e.stack.Environ(e.table, e.bucket)
	cfg, err := config.FromEnv(func(k string) string { return environ[k] })
	if err != nil {
		return err
	}
	e.cfg = cfg

	e.meter, e.api, e.funcs, e.cpu, e.log = newMeter(), &apiMeter{}, newFunctionMeter(), newCPUMeter(), &serviceLog{}
	awsCfg := e.stack.AWSConfig()
	e.meter.install(&awsCfg)
	db, s3c, err := cfg.ClientsFrom(awsCfg)
	if err != nil {
		return err
	}
	// The service logs warnings and errors into the report; the gateway
	// (a line per request) says nothing.
	svcLog := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = api.NewOn(db, s3c, cfg, svcLog)
	opt := cfg.EngineOptions(svcLog)
	opt.Now = func() time.Time { return time.Now().Add(cfg.Expiry + time.Hour) }
	e.later = upload.New(dynamo.New(db, e.table), s3store.New(s3c, e.bucket), opt)
	e.raw = e.stack.NewS3Client()

	var routes []gateway.Route
	for _, r := range e.tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path})
	}
	gw, err := gateway.New(routes, e.funcs.wrap(e.svc.Handlers()), gateway.Options{Logger: quiet})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.url = "http://" + ln.Addr().String()
	e.server = &http.Server{Handler: e.api.wrap(gw), ReadHeaderTimeout: 10 * time.Second}
	go e.server.Serve(ln)
	e.client = &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
		Timeout:   2 * time.Minute,
	}
	return nil
}

// sweep runs the cleanup function as it runs once finished uploads are
// due: it deletes their part records and retires their sessions.
func (e *env) sweep(ctx context.Context) error {
	for {
		st, err := e.later.Sweep(ctx, 100)
		if err != nil {
			return err
		}
		if st.Expired+st.Completed+st.Released == 0 && st.Errors == 0 {
			return nil
		}
		if st.Errors > 0 {
			return fmt.Errorf("sweep: %d errors (see the service log)", st.Errors)
		}
	}
}

// counts is everything counted so far.
func (e *env) counts() Counts {
	c := newCounts()
	e.meter.snapshot(&c)
	e.api.snapshot(&c)
	e.funcs.snapshot(&c)
	e.cpu.snapshot(&c)
	return c
}

// serviceLog keeps the service's warnings and errors: the first few
// lines and a count.
type serviceLog struct {
	mu    sync.Mutex
	lines []string
	n     int
}

func (l *serviceLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.lines) < 20 {
		l.lines = append(l.lines, strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (l *serviceLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (e *env) close() {
	if e.server != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		e.server.Shutdown(shutdown)
		cancel()
	}
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	if e.stack != nil {
		if err := e.stack.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
}

// objectSize reads back a finished object's size, to check an upload
// really produced the file.
func (e *env) objectSize(ctx context.Context, key string) (int64, error) {
	out, err := e.raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}

// routeKeys is the service's route table as "METHOD /path" strings.
func (e *env) routeKeys() map[string]bool {
	out := map[string]bool{}
	for _, r := range e.svc.Routes() {
		out[strings.ToUpper(r.Method)+" "+r.Path] = true
	}
	return out
}

// templateRoutes are the routes the gateway serves (template.yaml's).
func (e *env) templateRoutes() map[string]bool {
	out := map[string]bool{}
	for _, r := range e.tmpl.Routes() {
		out[strings.ToUpper(r.Method)+" "+r.Path] = true
	}
	return out
}
