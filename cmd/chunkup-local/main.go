// Command chunkup-local runs the whole service on this machine, with no
// AWS account and no Docker: it starts dynalite and versitygw, creates the
// table and bucket as template.yaml declares them, and serves the API on
// loopback through a local gateway that turns each request into the API
// Gateway event the functions get on AWS. In front of the API it serves a
// demo page at / and the client libraries it loads (site.go). `make run`
// starts it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"chunkup/internal/api"
	"chunkup/internal/config"
	"chunkup/internal/gateway"
	"chunkup/internal/localstack"
	"chunkup/internal/samtemplate"
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
	stackLog, err := openLog(filepath.Join(*dir, "servers.log"))
	if err != nil {
		return err
	}
	defer stackLog.Close()
	stack, err := localstack.Start(ctx, localstack.Options{Dir: *dir, Persist: true, Log: stackLog})
	if err != nil {
		return err
	}
	defer stack.Close()
	const table, bucket = "chunkup-uploads", "chunkup-uploads"
	if err := stack.Provision(ctx, tmpl, table, bucket); err != nil {
		return err
	}

	env := stack.Environ(table, bucket)
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
	svc := api.NewOn(db, s3c, cfg, log)
	gw, err := newGateway(tmpl, svc, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	site := newSite(root, gw, s3c, cfg.Bucket, log)
	srv := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
	go sweepEvery(ctx, svc, *sweep)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	greet(ln.Addr().String(), stack, *dir)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(os.Stderr, "\nchunkup-local: stopped; local servers shut down.")
	return nil
}

// newGateway serves the template's routes, with CORS open to any origin so
// that a page served from elsewhere can use the local API.
func newGateway(tmpl *samtemplate.Template, svc *api.Service, log *slog.Logger) (http.Handler, error) {
	var routes []gateway.Route
	for _, r := range tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path})
	}
	cors := api.CORS()
	return gateway.New(routes, svc.Handlers(), gateway.Options{
		AllowedOrigins: []string{"*"},
		AllowHeaders:   cors.AllowHeaders,
		ExposeHeaders:  cors.ExposeHeaders,
		AllowMethods:   cors.AllowMethods,
		MaxAge:         cors.MaxAge,
		Logger:         log,
	})
}

// sweepEvery runs the cleanup function as its EventBridge schedule would.
func sweepEvery(ctx context.Context, svc *api.Service, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			svc.Engine.Sweep(ctx, 100)
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

func greet(addr string, stack *localstack.Stack, dir string) {
	base := "http://" + addr
	fmt.Printf(`
chunkup is running locally at %[1]s
  demo page:            %[1]s/
  DynamoDB (dynalite):  %[2]s
  S3 (versitygw):       %[3]s   bucket chunkup-uploads
  data:                 %[4]s

Try it:
  curl -s -X POST %[1]s/v1/uploads -H 'content-type: application/json' \
       -d '{"name":"hello.txt","size":6}'
  curl -s -X PUT  %[1]s/v1/uploads/<id>/chunks/0 --data-binary 'hello'$'\n'
  curl -s -X POST %[1]s/v1/uploads/<id>/complete

Point Resumable.js at %[1]s/resumable. Ctrl-C stops everything.
`, base, stack.DynamoEndpoint, stack.S3Endpoint, dir)
}
