// Command bench is `make bench`: it runs chunkup on the local stack
// (dynalite and versitygw) and prints one table of figures measured side
// by side in one run — throughput of every dialect against a raw
// multipart upload to the same S3 server, chunkup's tus beside tusd (the
// tus reference server, on the same S3 server, driven by the same client),
// direct uploads straight to S3 beside raw multipart uploads of the same
// bytes, completion latency against file size, S3 requests and DynamoDB
// units per GiB, heap per invocation, and a function's cold start — with
// the issues' targets checked. It writes the
// table to docs/bench.md, the measurements to docs/bench.json and the cost
// model made from them to docs/cost.md.
//
//	go run ./cmd/bench            # the benchmark (make bench)
//	go run ./cmd/bench -quick     # small files: a smoke run
//	go run ./cmd/bench -full      # the large file for every throughput row
//	go run ./cmd/bench -cost      # print the cost model again from docs/bench.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"chunkup/internal/local/samtemplate"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	quick := flag.Bool("quick", false, "small files and one repetition (a smoke run)")
	full := flag.Bool("full", false, "upload the large file for every throughput row (takes much longer)")
	// make bench must end within 10 minutes on a fresh clone, where
	// building versitygw and the bench with a cold Go cache takes about
	// two and a half (7m30s made 10m25s in all), and tusd (tools/tusd)
	// most of a minute more; tus beside tusd and the direct uploads run
	// before the optional rows, so these give way first.
	budget := flag.Duration("budget", 5*time.Minute, "skip optional runs that would not end, with the target's repeats after them, by this time (0: none)")
	only := flag.String("dialects", "", "comma-separated dialects to run (default: every one the route table serves)")
	costOnly := flag.Bool("cost", false, "print the cost model from the -json file of an earlier run, and write -cost-out")
	out := flag.String("out", "docs/bench.md", "where to write the table")
	jsonOut := flag.String("json", "docs/bench.json", "where to write (or, with -cost, read) the measurements")
	costOut := flag.String("cost-out", "docs/cost.md", "where to write the cost model")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (clients, local gateway, handlers) to this file")
	flag.Parse()

	root, err := samtemplate.FindRoot()
	if err != nil {
		return err
	}
	at := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	if *costOnly {
		data, err := os.ReadFile(at(*jsonOut))
		if err != nil {
			return fmt.Errorf("%w (run the benchmark first: make bench)", err)
		}
		var rep Report
		if err := json.Unmarshal(data, &rep); err != nil {
			return err
		}
		md := rep.CostMarkdown(listPrices)
		fmt.Print(md)
		return write(at(*costOut), md)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := options{Quick: *quick, Full: *full, Budget: *budget, Progress: os.Stderr}
	if *only != "" {
		o.Dialects = strings.Split(*only, ",")
	}
	rep, err := run(ctx, o)
	if err != nil {
		return err
	}
	md := rep.Markdown()
	fmt.Print(md)
	_, checks := rep.Table()
	pass := 0
	for _, c := range checks {
		if c.Pass {
			pass++
		}
	}
	fmt.Printf("\ntargets: %d of %d pass\n", pass, len(checks))
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := write(at(*jsonOut), string(data)+"\n"); err != nil {
		return err
	}
	if err := write(at(*out), md); err != nil {
		return err
	}
	return write(at(*costOut), rep.CostMarkdown(listPrices))
}

func write(path, s string) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
