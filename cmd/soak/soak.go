package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/api"
	"chunkup/internal/config"
	"chunkup/internal/local/faultproxy"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// Config is what one soak run does.
type Config struct {
	Duration    time.Duration // how long clients start and send uploads
	Uploads     int           // at most this many uploads
	Concurrency int           // uploads under way at once
	Dialects    []string      // the dialects to drive, in turn
	MaxSize     int           // largest file, in bytes

	FaultRate float64           // share of S3 and DynamoDB requests that get a fault
	Faults    []faultproxy.Kind // the kinds to inject; empty: all
	MaxDelay  time.Duration     // longest Delay fault
	// FaultMatch and FaultLimit aim the faults at chosen requests (see
	// faultproxy.Options), for reproducing one failure.
	FaultMatch func(faultproxy.Request) bool
	FaultLimit int64

	DropRate    float64 // share of client requests the client drops
	DupRate     float64 // share of chunks sent twice
	AbandonRate float64 // share of uploads the client walks away from

	ClockJump  time.Duration // how often the engine's clock jumps past the claim timeout; 0: never
	SweepEvery time.Duration // how often the cleanup function runs during the soak; 0: never

	Seed     uint64
	Log      io.Writer // the service's logs; nil drops them
	Progress io.Writer // a line every few seconds; nil: quiet
}

// Run sets up the service on the local stack behind fault proxies, runs
// the soak, resumes what the clients left unfinished, verifies every file,
// sweeps, and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	e, err := setUp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer e.tearDown()
	rep := &Report{Config: cfg, st: newStats()}
	start := time.Now()
	files := e.soak(ctx, rep)
	rep.SoakTime = time.Since(start)
	if err := e.settle(ctx, rep); err != nil {
		return nil, err
	}
	e.resume(ctx, files, rep)
	if err := e.settle(ctx, rep); err != nil {
		return nil, err
	}
	e.verify(ctx, files, rep)
	if err := e.countOpen(ctx, rep); err != nil {
		return nil, err
	}
	if err := e.sweep(ctx, rep); err != nil {
		return nil, err
	}
	e.recheck(ctx, files, rep)
	if err := e.orphans(ctx, files, rep); err != nil {
		return nil, err
	}
	rep.count(files)
	rep.Wrong = append(rep.Wrong, rep.st.wrongs...)
	rep.S3, rep.DynamoDB, rep.ClientS3 = e.s3p.Stats(), e.dbp.Stats(), e.clientS3p.Stats()
	rep.Total = time.Since(start)
	return rep, nil
}

// env is the service under test and what the soak needs around it.
type env struct {
	cfg      Config
	stack    *stack.Stack
	s3p, dbp *faultproxy.Proxy
	// clientS3p stands between the clients and S3: the parts of direct
	// uploads go through it, straight from the client to the bucket.
	clientS3p *faultproxy.Proxy
	clientS3  string // its host:port
	engine    *upload.Engine
	opt       upload.Options
	clock     *clock
	srv       *http.Server
	url       string
	hc        *http.Client
	inflight  atomic.Int64 // function invocations still running

	table, bucket string
	s3            *s3.Client       // straight to versitygw: no faults
	db            *dynamodb.Client // straight to dynalite: no faults
	store         *dynamo.Store    // the engine's store, read without faults
}

// setUp starts the local stack, the two fault proxies in front of it, and
// the service (the template's routes through the local gateway) with its
// clients pointed at the proxies and its clock under the soak's control.
func setUp(ctx context.Context, cfg Config) (*env, error) {
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	stack, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, stack: stack, clock: &clock{}, table: "soak-uploads", bucket: "soak-uploads"}
	if err := e.build(ctx, tmpl); err != nil {
		e.tearDown()
		return nil, err
	}
	return e, nil
}

func (e *env) build(ctx context.Context, tmpl *samtemplate.Template) error {
	if err := e.stack.Provision(ctx, tmpl, e.table, e.bucket); err != nil {
		return err
	}
	var err error
	proxy := func(b faultproxy.Backend, target string, seed uint64) (*faultproxy.Proxy, string, error) {
		p, err := faultproxy.New(faultproxy.Options{Backend: b, Target: target, Rate: e.cfg.FaultRate,
			Kinds: e.cfg.Faults, MaxDelay: e.cfg.MaxDelay, Seed: seed, Log: e.cfg.Log, Match: e.cfg.FaultMatch, Limit: e.cfg.FaultLimit})
		if err != nil {
			return nil, "", err
		}
		u, err := p.Start()
		return p, u, err
	}
	var s3URL, dbURL string
	if e.s3p, s3URL, err = proxy(faultproxy.S3, e.stack.S3Endpoint, e.cfg.Seed^1); err != nil {
		return err
	}
	if e.dbp, dbURL, err = proxy(faultproxy.DynamoDB, e.stack.DynamoEndpoint, e.cfg.Seed^2); err != nil {
		return err
	}
	var clientURL string
	if e.clientS3p, clientURL, err = proxy(faultproxy.S3, e.stack.S3Endpoint, e.cfg.Seed^3); err != nil {
		return err
	}
	e.clientS3 = strings.TrimPrefix(clientURL, "http://")

	// The service is configured as chunkup-local configures it, but with
	// its endpoints at the proxies; its SDK clients keep their standard
	// retryer, as on Lambda.
	vars := e.stack.Environ(e.table, e.bucket)
	vars["S3_ENDPOINT"], vars["DYNAMODB_ENDPOINT"] = s3URL, dbURL
	conf, err := config.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	db, s3c, err := conf.ClientsFrom(e.stack.AWSConfig())
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if e.cfg.Log != nil {
		log = slog.New(slog.NewTextHandler(e.cfg.Log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	e.opt = conf.EngineOptions(log)
	e.opt.Now = e.clock.Now
	e.engine = upload.New(dynamo.New(db, conf.Table), s3store.New(s3c, conf.Bucket), e.opt)
	svc := api.New(e.engine, log)

	handlers := map[string]http.Handler{}
	for name, h := range svc.Handlers() {
		handlers[name] = e.counted(h)
	}
	var routes []gateway.Route
	for _, r := range tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path})
	}
	gw, err := gateway.New(routes, handlers, gateway.Options{Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	e.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	e.url = "http://" + ln.Addr().String()
	e.hc = &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 4 * max(e.cfg.Concurrency, 1), IdleConnTimeout: 30 * time.Second},
		Timeout:   2 * time.Minute,
	}
	e.s3, e.db = e.stack.NewS3Client(), e.stack.NewDynamoClient()
	e.store = dynamo.New(e.db, e.table)
	return nil
}

// setRate sets the share of requests that get a fault on every proxy.
func (e *env) setRate(rate float64) {
	for _, p := range []*faultproxy.Proxy{e.s3p, e.dbp, e.clientS3p} {
		p.SetRate(rate)
	}
}

// counted keeps count of the invocations a function is running, which go
// on after the client has gone (as a Lambda invocation does).
func (e *env) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Add(-1)
		h.ServeHTTP(w, r)
	})
}

func (e *env) tearDown() {
	if e.srv != nil {
		e.srv.Close()
	}
	for _, p := range []*faultproxy.Proxy{e.s3p, e.dbp, e.clientS3p} {
		if p != nil {
			p.Close()
		}
	}
	if err := e.stack.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "soak: stopping the local stack:", err)
	}
}

// soak runs the clients until the duration or the upload count is
// reached, with faults, drops, duplicates, clock jumps and sweeps going
// on. Uploads under way at the deadline are cut off where they stand.
func (e *env) soak(ctx context.Context, rep *Report) []*file {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Duration)
	defer cancel()
	c := &caller{base: e.url, hc: e.hc, s3Via: e.clientS3, dropRate: e.cfg.DropRate, dupRate: e.cfg.DupRate, abandon: true, st: rep.st}

	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); e.jumpClock(ctx, rep) }()
	go func() { defer bg.Done(); e.sweepDuring(ctx, rep) }()
	go func() { defer bg.Done(); e.progress(ctx, rep) }()

	var (
		mu    sync.Mutex
		files []*file
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for w := 0; w < max(e.cfg.Concurrency, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(next.Add(1)) - 1
				if n >= e.cfg.Uploads {
					return
				}
				d := len(e.cfg.Dialects)
				f := newFile(n, n/d, e.cfg.Dialects[n%d], e.cfg.Seed, e.cfg.MaxSize, e.cfg.AbandonRate)
				mu.Lock()
				files = append(files, f)
				mu.Unlock()
				rep.started.Add(1)
				f.outcome(f.client.send(ctx, c), "soak")
				if f.finished {
					rep.finishedSoak.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	bg.Wait()
	c.wg.Wait()
	return files
}

// outcome records how a run of the client ended, and lets go of the
// file's bytes unless it may still be resumed.
func (f *file) outcome(err error, phase string) {
	f.lastErr = err
	if phase == "soak" {
		f.soakErr = err
	}
	if err == nil {
		f.finished, f.phase = true, phase
	}
	if f.finished || walkedAway(err) {
		f.data = nil
	}
}

// jumpClock moves the engine's clock past the claim timeout now and then,
// so that claims held by requests still at work lapse under them.
func (e *env) jumpClock(ctx context.Context, rep *Report) {
	if e.cfg.ClockJump <= 0 {
		return
	}
	for pause(ctx, e.cfg.ClockJump) {
		e.clock.advance(e.opt.ClaimTimeout + time.Second)
		rep.ClockJumps++
	}
}

// sweepDuring runs the cleanup function on a schedule, as EventBridge
// does, while uploads go on (and its own requests meet faults too).
func (e *env) sweepDuring(ctx context.Context, rep *Report) {
	if e.cfg.SweepEvery <= 0 {
		return
	}
	for pause(ctx, e.cfg.SweepEvery) {
		st, err := e.engine.Sweep(context.WithoutCancel(ctx), 100)
		rep.SweepsDuring++
		rep.SweepErrors += st.Errors
		if err != nil {
			rep.SweepErrors++
		}
	}
}

func (e *env) progress(ctx context.Context, rep *Report) {
	if e.cfg.Progress == nil {
		return
	}
	start := time.Now()
	for pause(ctx, 10*time.Second) {
		fmt.Fprintf(e.cfg.Progress, "soak: %3.0fs  uploads %d started, %d finished  requests %d  faults s3 %d, dynamodb %d\n",
			time.Since(start).Seconds(), rep.started.Load(), rep.finishedSoak.Load(), rep.st.requests.Load(),
			e.s3p.Stats().Total(), e.dbp.Stats().Total())
	}
}

// settle waits until no function invocation is running: work a client
// walked away from goes on, and must be over before anything is judged.
func (e *env) settle(ctx context.Context, rep *Report) error {
	deadline := time.Now().Add(2 * time.Minute)
	for e.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d invocations still running two minutes after the clients stopped", e.inflight.Load())
		}
		if !pause(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// resume turns the faults off and has every client that neither finished
// nor walked away come back later (after any claim a dead request held
// has lapsed) and finish its file the way its library resumes.
func (e *env) resume(ctx context.Context, files []*file, rep *Report) {
	e.setRate(0)
	e.clock.advance(e.opt.ClaimTimeout + time.Second)
	c := &caller{base: e.url, hc: e.hc, s3Via: e.clientS3, st: rep.st}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var left []*file
	for _, f := range files {
		if !f.finished && !walkedAway(f.lastErr) {
			left = append(left, f)
		}
	}
	each(left, max(e.cfg.Concurrency, 1), func(f *file) {
		f.load(e.cfg.Seed)
		f.outcome(f.client.send(ctx, c), "resume")
	})
}
