// Command tusd-s3 is tusd, the tus reference server (github.com/tus/tusd/v2,
// pinned by this module), as `tusd -s3-bucket B -s3-endpoint E` runs it:
// tusd's own protocol handler over its s3store and in-memory locker, with
// the same S3 client settings (path-style requests to the endpoint,
// credentials from the AWS SDK's environment) and the s3store's and the
// handler's defaults, which are tusd's flags' defaults (50 MiB preferred
// parts, 5 MiB minimum, 20 buffered parts, 10 part uploads at once,
// content hashes on, concatenation and termination on). Its metrics,
// s3store's request counts among them, are served on /metrics.
//
// It is built from tusd's packages rather than its cmd/tusd so that
// `make bench` does not compile the Google Cloud, Azure and gRPC hook
// clients that tusd's command links in and the benchmark never uses.
//
//	tusd-s3 -listen 127.0.0.1:8080 -bucket B -endpoint http://127.0.0.1:7070
package main

import (
	"context"
	"flag"
	"fmt"
	"golang.org/x/exp/slog"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"github.com/tus/tusd/v2/pkg/prometheuscollector"
	"github.com/tus/tusd/v2/pkg/s3store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tusd-s3:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	base := flag.String("base-path", "/files/", "the uploads' base path")
	bucket := flag.String("bucket", "", "S3 bucket (required)")
	endpoint := flag.String("endpoint", "", "S3 endpoint of an S3-compatible server (path-style requests)")
	flag.Parse()
	if *bucket == "" {
		return fmt.Errorf("-bucket is required")
	}

	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		return fmt.Errorf("S3 configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = endpoint
			o.UsePathStyle = true
		}
	})
	store := s3store.New(*bucket, client)
	composer := handler.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	store.RegisterMetrics(prometheus.DefaultRegisterer)

	h, err := handler.NewHandler(handler.Config{
		BasePath:                         *base,
		StoreComposer:                    composer,
		Logger:                           slog.New(slog.NewTextHandler(io.Discard, nil)),
		AcquireLockTimeout:               20 * time.Second,
		GracefulRequestCompletionTimeout: 10 * time.Second,
		NetworkTimeout:                   60 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("tus handler: %w", err)
	}
	prometheus.MustRegister(prometheuscollector.New(h.Metrics))

	mux := http.NewServeMux()
	trimmed := strings.TrimSuffix(*base, "/")
	mux.Handle(trimmed+"/", http.StripPrefix(trimmed+"/", h))
	mux.Handle(trimmed, http.StripPrefix(trimmed, h))
	mux.Handle("/metrics", promhttp.Handler())
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second}
	return srv.ListenAndServe()
}
