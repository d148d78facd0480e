// Command soak is chunkup's fault-injection soak (`make soak`). It runs
// the whole service on the local stack (dynalite and versitygw, the local
// gateway, the template's routes) with a fault-injecting proxy between
// the service and each of its backends, and one between the clients and
// S3 (the parts of direct uploads), and drives many uploads at once
// in every dialect, each as its client library sends them: chunks in
// random order where the protocol allows, duplicates, requests the client
// drops midway or stops waiting for, and each family's own retries. The
// proxies answer a share of S3 and DynamoDB requests with the services'
// throttling and internal errors, hold them, or cut the connection before
// or after the request took effect; the engine's clock jumps past the
// claim timeout now and then; the cleanup function runs on its schedule.
//
// When the time or the upload count is up, what the clients did not
// finish is resumed without faults, every finished file is checked byte
// for byte and by its CRC64NVME in S3, every upload a client ended itself
// is checked to have left nothing, the clock is moved past every expiry
// and the sweep run, and whatever is left behind (staged chunks, open
// multipart uploads, sessions in the sweep's index, part and identifier
// records) is counted.
// The command exits with status 1 if any file was lost, any answer was
// wrong (a duplicate completion naming another object, a checksum that is
// not the object's), or anything was left behind.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"chunkup/internal/local/faultproxy"
)

func main() {
	cfg, logPath, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		defer f.Close()
		cfg.Log = f
	}
	cfg.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	rep.Print(os.Stdout)
	if rep.Failed() {
		os.Exit(1)
	}
}

// parseFlags reads the command line into a Config, and the path of the
// service's log, if one was asked for.
func parseFlags(args []string) (Config, string, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	var cfg Config
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Minute, "how long clients start and send uploads")
	fs.IntVar(&cfg.Uploads, "uploads", 400, "the most uploads to start")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "uploads under way at once")
	dialects := fs.String("dialects", strings.Join(allDialects(), ","), "the dialects to drive, in turn")
	maxSize := fs.Int("max-size", 12<<20, "the largest file, in bytes (files over 5 MiB span several S3 parts)")
	fs.Float64Var(&cfg.FaultRate, "fault-rate", 0.05, "share of S3 and DynamoDB requests that get a fault")
	kinds := fs.String("faults", "all", "the faults to inject: all, or a list of "+kindNames())
	fs.DurationVar(&cfg.MaxDelay, "max-delay", time.Second, "the longest delay fault")
	fs.Float64Var(&cfg.DropRate, "drop-rate", 0.03, "share of client requests the client drops (midway, or unanswered)")
	fs.Float64Var(&cfg.DupRate, "dup-rate", 0.1, "share of chunks the clients send twice")
	fs.Float64Var(&cfg.AbandonRate, "abandon-rate", 0.05, "share of uploads the clients walk away from, for the sweep to clean up")
	fs.DurationVar(&cfg.ClockJump, "clock-jump", 20*time.Second, "how often the service's clock jumps past the claim timeout (0: never)")
	fs.DurationVar(&cfg.SweepEvery, "sweep-every", 15*time.Second, "how often the cleanup function runs during the soak (0: never)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed (0: from the time; the report prints it)")
	logPath := fs.String("log", "", "write the service's logs to this file")
	if err := fs.Parse(args); err != nil {
		return Config{}, "", err
	}
	cfg.MaxSize = *maxSize
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	for _, d := range strings.Split(*dialects, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if !slices.Contains(allDialects(), d) {
			return Config{}, "", fmt.Errorf("unknown dialect %q (known: %s)", d, strings.Join(allDialects(), ", "))
		}
		cfg.Dialects = append(cfg.Dialects, d)
	}
	if *kinds != "all" {
		for _, k := range strings.Split(*kinds, ",") {
			kind, err := faultproxy.ParseKind(strings.TrimSpace(k))
			if err != nil {
				return Config{}, "", err
			}
			cfg.Faults = append(cfg.Faults, kind)
		}
	}
	switch {
	case len(cfg.Dialects) == 0:
		return Config{}, "", fmt.Errorf("no dialect to drive")
	case cfg.Duration <= 0 || cfg.Uploads <= 0 || cfg.Concurrency <= 0:
		return Config{}, "", fmt.Errorf("-duration, -uploads and -concurrency must be positive")
	case cfg.MaxSize < 1:
		return Config{}, "", fmt.Errorf("-max-size must be at least 1")
	case cfg.FaultRate < 0 || cfg.FaultRate > 1 || cfg.DropRate < 0 || cfg.DropRate > 1 || cfg.DupRate < 0 || cfg.DupRate > 1 || cfg.AbandonRate < 0 || cfg.AbandonRate > 1:
		return Config{}, "", fmt.Errorf("rates must be between 0 and 1")
	}
	return cfg, *logPath, nil
}

func kindNames() string {
	var names []string
	for _, k := range faultproxy.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ",")
}
