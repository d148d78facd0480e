// Command chunkup-local runs the whole service on this machine, with no
// AWS account and no Docker: it starts dynalite and versitygw, creates the
// table and bucket as template.yaml declares them, and serves the API on
// loopback through a local gateway that turns each request into the API
// Gateway event the functions get on AWS. In front of the API it serves a
// demo page at / and the client libraries it loads (site.go). `make run`
// starts it.
//
// The functions run as `sam build` ships them: each one's bootstrap,
// built for this machine with the flags of the Makefile's
// build-<LogicalId> targets, under the AWS Lambda Runtime Interface
// Emulator, a pool of instances per function (emulator.go). With
// -in-process the gateway calls the handlers in this process instead, for
// the benchmark and for debugging.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"chunkup/internal/api"
	"chunkup/internal/config"
	"chunkup/internal/local/auth"
	"chunkup/internal/local/emulator"
	"chunkup/internal/local/eventbus"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/hookfunc"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
	"chunkup/internal/upload"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chunkup-local:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:3000", "address to serve the API on")
	dir := flag.String("data", ".local/data", "where the local servers keep their data")
	sweep := flag.Duration("sweep", time.Minute, "how often the cleanup function runs")
	eventsTo := flag.String("events-to", "", "forward every upload event, as EventBridge delivers it to a target (JSON, POST), to this URL")
	preCreateTo := flag.String("pre-create-to", "", "turn the pre-create hook on: POST each hook event (JSON) to this URL, whose JSON answer is the hook function's")
	onCompleteTo := flag.String("on-complete-to", "", "turn the on-complete hook on: POST each hook event (JSON) to this URL, whose JSON answer is the hook function's")
	hookTimeout := flag.Duration("hook-timeout", upload.DefaultHookTimeout, "how long a hook may take (HookTimeoutSeconds), in whole seconds")
	useAuth := flag.Bool("auth", false, "require a JWT on every API request, as the stack does with AuthIssuer set; tokens come from a local issuer at GET /_local/token?sub=NAME")
	inProcess := flag.Bool("in-process", false, "call the functions' handlers in this process instead of running their built binaries under the Lambda Runtime Interface Emulator (for the benchmark and debugging)")
	concurrency := flag.Int("concurrency", defaultConcurrency, "the unreserved concurrency: how many invocations of the functions without reserved concurrency (ReservedConcurrentExecutions in template.yaml) run at once, all together, as an account's unreserved concurrency")
	throttleFunctions := flag.Bool("throttle-functions", true, "answer a request whose function has its concurrency all in use as API Gateway answers a throttled Lambda function, 500 {\"message\":\"Internal Server Error\"}, at once; false makes it wait for a free slot")
	throttleRoutes := flag.Bool("throttle-routes", true, "apply template.yaml's stage throttle (MaxRequestsPerSecond, MaxBurst per route): over it a request is answered 429 {\"message\":\"Too Many Requests\"}")
	overrides := params{}
	flag.Var(overrides, "param", "a template parameter's value, Name=Value, as sam deploy --parameter-overrides takes it (e.g. MaxBurst=2, CompleteReservedConcurrency=0); repeatable")
	rie := flag.String("rie", "", "the aws-lambda-rie binary (default: $"+emulator.EnvRIE+", else .local/bin/aws-lambda-rie)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	root, err := samtemplate.FindRoot()
	if err != nil {
		return err
	}
	tmpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	if err := overrides.check(tmpl); err != nil {
		return err
	}
	var throttle *gateway.Throttle
	if *throttleRoutes {
		if throttle, err = stageThrottle(tmpl, overrides); err != nil {
			return err
		}
	}
	stackLog, err := openLog(filepath.Join(*dir, "servers.log"))
	if err != nil {
		return err
	}
	defer stackLog.Close()
	stack, err := stack.Start(ctx, stack.Options{Dir: *dir, Persist: true, Log: stackLog})
	if err != nil {
		return err
	}
	defer stack.Close()
	const table, bucket = "chunkup-uploads", "chunkup-uploads"
	if err := stack.Provision(ctx, tmpl, table, bucket); err != nil {
		return err
	}

	events, eventsURL, err := startEventBus(ctx, *eventsTo, log)
	if err != nil {
		return err
	}
	env := stack.Environ(table, bucket)
	env["EVENT_BUS_NAME"], env["EVENTS_ENDPOINT"] = "default", eventsURL
	hooks, err := startHooks(ctx, stack.Region, *preCreateTo, *onCompleteTo, log)
	if err != nil {
		return err
	}
	for k, v := range hooks.env(*hookTimeout) {
		env[k] = v
	}
	cfg, err := config.FromEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return err
	}
	db, s3c, err := cfg.ClientsFrom(stack.AWSConfig())
	if err != nil {
		return err
	}
	var fns functions
	if *inProcess {
		awsCfg := stack.AWSConfig()
		app := api.App{Events: cfg.Publisher(awsCfg), PreCreate: cfg.PreCreateHook(awsCfg), OnComplete: cfg.CompleteHook(awsCfg)}
		fns = newInProcess(api.NewWithApp(db, s3c, app, cfg, log))
	} else {
		em, err := startEmulator(ctx, emulatorOptions{root: root, tmpl: tmpl, env: env, table: table, bucket: bucket,
			dir: *dir, rie: *rie, concurrency: *concurrency, throttle: *throttleFunctions, params: overrides,
			region: stack.Region}, log)
		if err != nil {
			return err
		}
		defer em.close()
		fns = em
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	var issuer *auth.Issuer
	if *useAuth {
		if issuer, err = newIssuer(ln.Addr().String(), *dir); err != nil {
			return err
		}
	}
	gw, err := newGateway(tmpl, fns, issuer, throttle, log)
	if err != nil {
		return err
	}
	site := newSite(root, gw, s3c, cfg.Bucket, issuer, events.ListHandler(), log)
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	go sweepEvery(ctx, fns, *sweep, log)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	greet(ln.Addr().String(), stack, *dir, eventsURL, *eventsTo, fns.describe(), describeThrottle(throttle))
	hooks.greet()
	if issuer != nil {
		greetAuth(ln.Addr().String(), issuer)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(os.Stderr, "\nchunkup-local: stopped; local servers shut down.")
	return nil
}

// defaultConcurrency is -concurrency's default: more invocations at once
// than a browser opens connections to one host (six), so that one page
// is never throttled by the functions alone.
const defaultConcurrency = 10

// newGateway serves the template's routes, with CORS open to any origin so
// that a page served from elsewhere can use the local API, the stage
// throttle when throttle is not nil, and, when issuer is not nil, a JWT
// authorizer that trusts the local issuer in front of every route.
func newGateway(tmpl *samtemplate.Template, fns functions, issuer *auth.Issuer, throttle *gateway.Throttle, log *slog.Logger) (http.Handler, error) {
	var routes []gateway.Route
	for _, r := range tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path, Public: r.Public})
	}
	cors := api.CORS()
	opts := gateway.Options{
		AllowedOrigins: []string{"*"},
		AllowHeaders:   cors.AllowHeaders,
		ExposeHeaders:  cors.ExposeHeaders,
		AllowMethods:   cors.AllowMethods,
		MaxAge:         cors.MaxAge,
		Logger:         log,
		Throttle:       throttle,
	}
	if issuer != nil {
		opts.Authorizer = &gateway.JWTAuthorizer{Issuer: issuer.URL(), Audience: []string{issuer.Audience()}, Keys: issuer}
	}
	return fns.gateway(routes, opts)
}

// localAudience is the aud of the local issuer's tokens, standing in for a
// Cognito app client id.
const localAudience = "chunkup-local"

// newIssuer is the local stand-in for the stack's identity provider. Its
// key is kept in the data directory, so tokens outlive a restart.
func newIssuer(addr, dir string) (*auth.Issuer, error) {
	iss, err := auth.New(auth.Options{
		URL:      "http://" + addr + "/_local",
		Audience: localAudience,
		KeyFile:  filepath.Join(dir, "auth", "issuer-key.pem"),
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return iss, nil
}

// startEventBus starts the local EventBridge on a free loopback port,
// forwarding each event to forwardTo if set, and returns it with its URL.
// It stops with ctx.
func startEventBus(ctx context.Context, forwardTo string, log *slog.Logger) (*eventbus.Bus, string, error) {
	if forwardTo != "" {
		if u, err := url.Parse(forwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("-events-to=%q: want an http:// or https:// URL", forwardTo)
		}
	}
	bus := eventbus.New(eventbus.Options{ForwardTo: forwardTo, Logger: log.With("server", "eventbridge")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("local EventBridge: %w", err)
	}
	srv := &http.Server{Handler: bus, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return bus, "http://" + ln.Addr().String(), nil
}

// localHooks is the local stand-in for the hook functions, when a hook
// is on: where it serves, and the functions it stands in for.
type localHooks struct {
	url                   string
	preCreate, onComplete string // the functions' ARNs, "" when off
	preTo, completeTo     string
}

// startHooks starts the stand-in for the hook functions on a free
// loopback port if either hook is on, each forwarding to its URL. It
// stops with ctx.
func startHooks(ctx context.Context, region, preCreateTo, onCompleteTo string, log *slog.Logger) (localHooks, error) {
	h := localHooks{preTo: preCreateTo, completeTo: onCompleteTo}
	fns := map[string]string{}
	for _, hook := range []struct {
		flag, to, name string
		arn            *string
	}{{"pre-create-to", preCreateTo, "chunkup-local-pre-create", &h.preCreate}, {"on-complete-to", onCompleteTo, "chunkup-local-on-complete", &h.onComplete}} {
		if hook.to == "" {
			continue
		}
		if u, err := url.Parse(hook.to); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return h, fmt.Errorf("-%s=%q: want an http:// or https:// URL", hook.flag, hook.to)
		}
		*hook.arn = "arn:aws:lambda:" + region + ":000000000000:function:" + hook.name
		fns[*hook.arn] = hook.to
	}
	if len(fns) == 0 {
		return h, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return h, fmt.Errorf("local hook functions: %w", err)
	}
	srv := &http.Server{Handler: hookfunc.New(hookfunc.Options{Functions: fns, Logger: log.With("server", "lambda")}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	h.url = "http://" + ln.Addr().String()
	return h, nil
}

// env is what the functions' environment says of the hooks.
func (h localHooks) env(timeout time.Duration) map[string]string {
	if h.url == "" {
		return nil
	}
	return map[string]string{
		"PRE_CREATE_FUNCTION": h.preCreate, "ON_COMPLETE_FUNCTION": h.onComplete, "HOOKS_ENDPOINT": h.url,
		"HOOK_TIMEOUT_SECONDS": strconv.FormatInt(max(int64(timeout/time.Second), 1), 10),
	}
}

// greet says where the hooks go, if any is on.
func (h localHooks) greet() {
	if h.preTo != "" {
		fmt.Printf("  pre-create hook:      %s (as %s)\n", h.preTo, h.preCreate)
	}
	if h.completeTo != "" {
		fmt.Printf("  on-complete hook:     %s (as %s)\n", h.completeTo, h.onComplete)
	}
}

// sweepEvery runs the cleanup function as its EventBridge schedule would.
func sweepEvery(ctx context.Context, fns functions, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fns.sweep(ctx); err != nil && ctx.Err() == nil {
				log.Error("scheduled cleanup failed", "error", err)
			}
		}
	}
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// describeThrottle says how the routes are throttled, for the startup lines.
func describeThrottle(t *gateway.Throttle) string {
	if t == nil {
		return "none (-throttle-routes=false)"
	}
	return fmt.Sprintf("%g requests per second, burst %d, per route (MaxRequestsPerSecond, MaxBurst); over it 429", t.RatePerSecond, t.Burst)
}

func greet(addr string, stack *stack.Stack, dir, eventsURL, eventsTo, functions, throttle string) {
	base := "http://" + addr
	forward := ""
	if eventsTo != "" {
		forward = ", forwarded to " + eventsTo
	}
	fmt.Printf(`
chunkup is running locally at %[1]s
  demo page:            %[1]s/
  DynamoDB (dynalite):  %[2]s
  S3 (versitygw):       %[3]s   bucket chunkup-uploads
  EventBridge (local):  %[5]s   events at %[1]s/_local/events%[6]s
  data:                 %[4]s
  functions:            %[7]s
  throttle:             %[8]s

Try it:
  curl -s -X POST %[1]s/v1/uploads -H 'content-type: application/json' \
       -d '{"name":"hello.txt","size":6}'
  curl -s -X PUT  %[1]s/v1/uploads/<id>/chunks/0 --data-binary 'hello'$'\n'
  curl -s -X POST %[1]s/v1/uploads/<id>/complete

Point Resumable.js at %[1]s/resumable. Ctrl-C stops everything.
`, base, stack.DynamoEndpoint, stack.S3Endpoint, dir, eventsURL, forward, functions, throttle)
}

// greetAuth says how to get a token when every request needs one.
func greetAuth(addr string, issuer *auth.Issuer) {
	base := "http://" + addr
	fmt.Printf(`
Authorization is ON (-auth): every API request needs a JWT, as on a stack
deployed with AuthIssuer set; without one the answer is 401. The tokens come
from a local issuer (%[2]s, audience %[3]s), and only from
this machine:

  token=$(curl -s '%[1]s/_local/token?sub=alice' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  curl -s -X POST %[1]s/v1/uploads -H "authorization: Bearer $token" \
       -H 'content-type: application/json' -d '{"name":"hello.txt","size":6}'

Uploads belong to the token's sub: another sub's token sees none of them.
The demo page sends no token, so it gets 401s in this mode.
`, base, issuer.URL(), issuer.Audience())
}
