package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"chunkup/internal/local/emulator"
	"chunkup/internal/local/gateway"
)

// Emulated is the row that sets `make run`'s mode against the in-process
// mode the rest of the benchmark measures: the same native upload through
// the functions' built binaries under the Lambda Runtime Interface
// Emulator, and through the handlers in this process, alternately.
type Emulated struct {
	Size  int64 `json:"size"`
	Chunk int64 `json:"chunk"`
	Par   int   `json:"par"`
	// InProcess and Emulated are the uploads' durations (first request →
	// the completing answer), in the order run.
	InProcess []float64 `json:"inProcessSeconds"`
	Emulated  []float64 `json:"emulatedSeconds"`
	Requests  int       `json:"requests"` // of one upload
	// ColdStarts are the emulator's, all in the warm-up upload before the
	// measured ones.
	ColdStarts int64 `json:"coldStarts"`
}

// Ratio is the emulated uploads' median duration over the in-process ones'.
func (x *Emulated) Ratio() float64 { return medianF(x.Emulated) / medianF(x.InProcess) }

// emulatedRuns measures the emulated row, last, so that no other row
// shares the machine with the emulator's processes: the functions built
// for this machine and started under the emulator on the bench's table
// and bucket, behind a second gateway (metered at its front door as the
// first is), then uploads of the same file through each gateway in turn.
func (e *env) emulatedRuns(ctx context.Context, o options, p plan, data []byte, rep *Report) error {
	x := &Emulated{Size: p.EmulatedSize, Chunk: 4 * mib, Par: 1}
	dir, err := os.MkdirTemp("", "chunkup-bench-functions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := e.stack.Environ(e.table, e.bucket)
	env["LOG_LEVEL"] = "WARN"  // as the in-process service logs
	env["EVENT_BUS_NAME"] = "" // and, as it, publishes no events
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	em, err := emulator.StartTemplate(ctx, e.root, e.tmpl, dir, e.table, e.bucket, env, emulator.Options{Logger: quiet})
	if err != nil {
		return fmt.Errorf("emulated row: %w", err)
	}
	defer em.Close()
	fns := map[string]gateway.Function{}
	for name, pool := range em.Pools() {
		fns[name] = pool
	}
	var routes []gateway.Route
	for _, r := range e.tmpl.Routes() {
		routes = append(routes, gateway.Route{Function: r.Function, Method: r.Method, Path: r.Path})
	}
	gw, err := gateway.NewWithFunctions(routes, fns, gateway.Options{Logger: quiet})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e.api.wrap(gw), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	emulatedURL := "http://" + ln.Addr().String()

	native := dialects()[0]
	seq := 0
	once := func(base string, size int64) (float64, int, error) {
		seq++
		f := file{name: fmt.Sprintf("emulated-%d.bin", seq), data: data[:size]}
		c := &client{http: e.client, base: base, s3CompleteTotal: func() float64 { return 0 }}
		start := time.Now()
		res, err := native.upload(ctx, c, f, x.Chunk, x.Par)
		if err != nil {
			return 0, 0, fmt.Errorf("emulated row, %s: %w", base, err)
		}
		took := time.Since(start).Seconds()
		if err := e.sweep(ctx); err != nil {
			return 0, 0, err
		}
		if got, err := e.objectSize(ctx, res.Key); err != nil || got != size {
			return 0, 0, fmt.Errorf("emulated row: the finished object %q has %d bytes, not %d (%v)", res.Key, got, size, err)
		}
		deleteObject(ctx, e.raw, e.bucket, res.Key)
		return took, res.Requests, nil
	}
	// A warm-up upload starts the functions' runtimes (the cold starts).
	if _, _, err := once(emulatedURL, x.Chunk+1); err != nil {
		return err
	}
	for _, pool := range em.Pools() {
		x.ColdStarts += pool.Stats().ColdStarts
	}
	for range p.EmulatedReps {
		for _, base := range []string{e.url, emulatedURL} {
			took, n, err := once(base, x.Size)
			if err != nil {
				return err
			}
			if base == e.url {
				x.InProcess = append(x.InProcess, took)
			} else {
				x.Emulated = append(x.Emulated, took)
			}
			x.Requests = n
		}
	}
	rep.Emulated = x
	o.logf("native %s chunks ×%d %s under the emulator: %.2f× the in-process time", sizeName(x.Chunk), x.Par, sizeName(x.Size), x.Ratio())
	return nil
}
