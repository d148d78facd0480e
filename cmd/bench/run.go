package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"chunkup/internal/local/emulator"
	"chunkup/internal/upload"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// options configure a benchmark run.
type options struct {
	Quick    bool          // small files, one repetition: for the test
	Full     bool          // 1 GiB for every throughput row
	Budget   time.Duration // time by which the optional runs and the target's repeats should end
	Dialects []string      // only these (all when empty)
	Progress io.Writer     // a line per step
	start    time.Time
}

// plan is what a run measures.
type plan struct {
	Sizes  []int64 // throughput file sizes: the small one for every row, the large one for some
	Small  int64   // the small completion-latency file
	Chunks []int64
	Pars   []int
	Reps   int // repetitions of the small completion-latency upload
	// TargetRepeats is how many more times the throughput target's case
	// runs at each file size.
	TargetRepeats int
	ColdRuns      int   // process starts for the cold start
	RawPart       int64 // part size of the raw ceiling uploads
	HeapChunks    []int64
	HeapParts     int  // parts in the isolated-invocation file (plus one chunk)
	LargeAll      bool // the optional large-file runs are planned (not in quick mode)
	AllPars       bool // every dialect at every parallelism (quick mode: native only)
	// HeapDialects limits the isolated invocations to these (all if empty).
	HeapDialects []string
	// EmulatedSize and EmulatedReps: the file and how many uploads of it
	// in each mode the emulated row makes.
	EmulatedSize int64
	EmulatedReps int
	// VersusReps is how many pairs of tus and tusd runs each target's
	// case makes.
	VersusReps int
	// DirectParts and DirectPars are the direct uploads' part sizes and
	// parallelisms; DirectReps the pairs of each case on the small file.
	DirectParts []int64
	DirectPars  []int
	DirectReps  int
}

func newPlan(o options) plan {
	p := plan{
		Sizes: []int64{256 * mib, 1 * gib}, Small: 8 * mib,
		Chunks: []int64{1 * mib, 4 * mib}, Pars: []int{1, 4},
		Reps: 3, TargetRepeats: 2, ColdRuns: 3, RawPart: 8 * mib, HeapChunks: []int64{1 * mib, 4 * mib}, HeapParts: 2, LargeAll: true, AllPars: true,
		EmulatedSize: 32 * mib, EmulatedReps: 3, VersusReps: 3,
		DirectParts: []int64{8 * mib, 64 * mib}, DirectPars: []int{4, 6}, DirectReps: 3,
	}
	if o.Quick {
		p.Small, p.Sizes, p.Reps, p.ColdRuns, p.TargetRepeats = 4*mib, []int64{8 * mib, 12 * mib}, 1, 2, 1
		p.HeapParts, p.LargeAll, p.AllPars, p.HeapDialects = 1, false, false, []string{"native", "resumable"}
		p.EmulatedSize, p.EmulatedReps, p.VersusReps, p.DirectReps = 8*mib, 1, 1, 1
		p.DirectParts = []int64{5 * mib, 8 * mib}
	}
	return p
}

// Report is everything one run measured; the table and the cost model are
// made from it (docs/bench.json keeps it for `bench -cost`).
type Report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Quick   bool      `json:"quick"`
	Full    bool      `json:"full"`
	Machine string    `json:"machine"`
	CPUs    int       `json:"cpus"`
	// Load averages (1 minute) at the start and the end: other work on the
	// machine shows here.
	LoadStart float64  `json:"loadStart"`
	LoadEnd   float64  `json:"loadEnd"`
	Sizes     []int64  `json:"sizes"`
	Small     int64    `json:"small"`
	Chunks    []int64  `json:"chunks"`
	Pars      []int    `json:"pars"`
	RawPart   int64    `json:"rawPart"`
	Dialects  []string `json:"dialects"`
	Uncovered []string `json:"uncovered,omitempty"` // chunk routes no driver covers
	// MemoryMB is each function's MemorySize in template.yaml.
	MemoryMB map[string]int `json:"memoryMB"`

	Ceiling []RawRun `json:"ceiling"`
	Runs    []Run    `json:"runs"`
	Latency []Run    `json:"latency"` // the small completion-latency uploads
	// Repeats are more runs of the throughput target's case (native,
	// 4 MiB chunks ×4) at each file size, each right after a ceiling run
	// of that size, so that each target is judged on the median of ratios
	// rather than one.
	Repeats []Run `json:"repeats,omitempty"`
	Heap    []HeapRow
	RSS     []RSSRow   `json:"rss"`
	Cold    *ColdStart `json:"cold"`
	// Emulated is the upload through the functions' binaries under the
	// Lambda Runtime Interface Emulator against the in-process mode.
	Emulated *Emulated `json:"emulated,omitempty"`
	// Versus is chunkup's tus dialect beside tusd (versus.go); TusdVersion
	// the tusd tools/tusd pins, TusdSkipped why tusd did not run, if it
	// did not.
	Versus []Versus `json:"versus,omitempty"`
	// Direct is the uploads straight to S3, each beside a raw multipart
	// upload of the same bytes (direct.go).
	Direct      []DirectCase `json:"direct,omitempty"`
	TusdVersion string       `json:"tusdVersion,omitempty"`
	TusdSkipped string       `json:"tusdSkipped,omitempty"`
	// ServiceLog is the first warnings and errors the service logged, and
	// how many there were.
	ServiceLog      []string `json:"serviceLog,omitempty"`
	ServiceLogCount int      `json:"serviceLogCount"`
}

// RawRun is one raw multipart upload to S3.
type RawRun struct {
	Size     int64              `json:"size"`
	Par      int                `json:"par"`
	Part     int64              `json:"part,omitempty"` // the direct cases' (the ceiling's is RawPart)
	Seconds  float64            `json:"seconds"`
	Complete float64            `json:"completeSeconds"`
	CPU      map[string]float64 `json:"cpuSeconds"`
}

// Run is one upload through chunkup.
type Run struct {
	Dialect  string  `json:"dialect"`
	Size     int64   `json:"size"`
	Chunk    int64   `json:"chunk"`
	Par      int     `json:"par"`
	Seconds  float64 `json:"seconds"`         // first request → the answer that completed the file
	Complete float64 `json:"completeSeconds"` // the request that completed the file
	// Ceiling is the raw ×4 upload of the same size run just before this
	// one (bytes per second), for the target's repeats.
	Ceiling    float64 `json:"ceiling,omitempty"`
	S3Complete float64 `json:"s3CompleteSeconds"`
	Chunks     int     `json:"chunks"`
	Parts      int     `json:"parts"`
	// Uploads are the uploads the client made of the file: 1, or for tus
	// with partial uploads, the partials and the final one.
	Uploads  int    `json:"uploads,omitempty"`
	Requests int    `json:"requests"`
	Retries  int    `json:"retries,omitempty"`  // 503 answers the client retried
	Warnings int    `json:"warnings,omitempty"` // warnings and errors the service logged
	Counts   Counts `json:"counts"`             // the upload and the sweep that cleans up after it
	Skipped  string `json:"skipped,omitempty"`
}

func (o options) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "bench %5.1fs: "+format+"\n", append([]any{time.Since(o.start).Seconds()}, args...)...)
	}
}

// run measures everything and returns the report.
func run(ctx context.Context, o options) (*Report, error) {
	p := newPlan(o)
	start := time.Now()
	o.start = start
	e, err := newEnv(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer e.close()
	rep := &Report{
		Started: start.UTC(), Quick: o.Quick, Full: o.Full, Sizes: p.Sizes, Small: p.Small,
		Chunks: p.Chunks, Pars: p.Pars, RawPart: p.RawPart, MemoryMB: map[string]int{},
		Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		CPUs:    runtime.NumCPU(), LoadStart: loadAverage(),
	}
	for _, f := range e.tmpl.Functions {
		if m, ok := f.Properties["MemorySize"]; ok {
			var n int
			fmt.Sscan(fmt.Sprint(m), &n)
			rep.MemoryMB[f.LogicalID] = n
		}
	}
	ds := e.available(o, rep)
	o.logf("local stack up; dialects %s", strings.Join(rep.Dialects, ", "))

	// Memory and cold start first, while this process holds little.
	if err := e.heapRuns(ctx, o, p, ds, rep); err != nil {
		return nil, err
	}
	if err := e.coldStart(ctx, o, p, rep); err != nil {
		return nil, err
	}
	// What those left is cleaned up before anything is counted.
	if err := e.sweep(ctx); err != nil {
		return nil, err
	}

	largest := slices.Max(p.Sizes)
	data := make([]byte, largest)
	rand.NewChaCha8([32]byte{'c', 'h', 'u', 'n', 'k', 'u', 'p'}).Read(data)
	sums := map[int64]string{}
	for _, s := range append([]int64{p.Small}, p.Sizes...) {
		sum := md5.Sum(data[:s])
		sums[s] = hex.EncodeToString(sum[:])
	}
	fileOf := func(size int64, name string) file { return file{name: name, data: data[:size], md5: sums[size]} }

	seq := 0
	name := func(d string, size, chunk int64, par int) string {
		seq++
		return fmt.Sprintf("%s-%s-%s-x%d-%d.bin", d, sizeName(size), sizeName(chunk), par, seq)
	}
	ceiling := func(size int64, par int) error {
		key := fmt.Sprintf("raw/%d-%d-%d", size, par, seq)
		seq++
		before := e.counts()
		r, err := rawUpload(ctx, e.raw, e.bucket, key, fileOf(size, key), p.RawPart, par)
		if err != nil {
			return err
		}
		cpu := e.counts().Sub(before).CPU
		deleteObject(ctx, e.raw, e.bucket, key)
		rep.Ceiling = append(rep.Ceiling, RawRun{Size: size, Par: par, Seconds: r.Total.Seconds(), Complete: r.Complete.Seconds(), CPU: cpu})
		o.logf("raw ×%d %s: %.1f MB/s", par, sizeName(size), float64(size)/r.Total.Seconds()/1e6)
		return nil
	}
	upload := func(d *dialect, size, chunk int64, par int, latency bool) error {
		r, err := e.measureUpload(ctx, d, fileOf(size, name(d.Name, size, chunk, par)), chunk, par)
		if err != nil {
			return err
		}
		if latency {
			rep.Latency = append(rep.Latency, r)
		} else {
			rep.Runs = append(rep.Runs, r)
			o.logf("%s %s chunks ×%d %s: %.1f MB/s, completion %.0f ms", d.Name, sizeName(chunk), par, sizeName(size),
				float64(size)/r.Seconds/1e6, r.Complete*1000)
		}
		return nil
	}

	// The small completion-latency uploads.
	for i := range p.Reps {
		for _, d := range ds {
			if i > 0 && d.Name != "native" {
				continue // repeated for the native target only
			}
			if err := upload(d, p.Small, 4*mib, parFor(d, 4), true); err != nil {
				return nil, err
			}
		}
	}
	if err := ceiling(p.Small, 4); err != nil {
		return nil, err
	}

	// targetRun is the throughput target's case at size, as first run.
	targetRun := func(size int64) (Run, bool) {
		i := slices.IndexFunc(rep.Runs, func(r Run) bool { return r.Size == size && r.Skipped == "" && isTargetCase(r) })
		if i < 0 {
			return Run{}, false
		}
		return rep.Runs[i], true
	}
	// repeatCost is how long the target's repeats at size should take: a
	// ceiling run and the case each time, as long as they took so far,
	// and a quarter more. It is 0 until both have run at that size.
	repeatCost := func(size int64) time.Duration {
		r, ok := targetRun(size)
		c4, _, _, n := rep.ceiling(size, 4)
		if !ok || n == 0 {
			return 0
		}
		pair := r.Seconds + float64(size)/c4
		return time.Duration(float64(p.TargetRepeats) * pair * 1.25 * float64(time.Second))
	}

	// tus beside tusd, on the small file, before the optional runs.
	if i := slices.IndexFunc(ds, func(d *dialect) bool { return d.Concat }); i >= 0 {
		if err := ceiling(p.Sizes[0], 4); err != nil {
			return nil, err
		}
		if err := e.versusRuns(ctx, o, p, ds[i], fileOf, rep); err != nil {
			return nil, err
		}
	}

	// Straight to S3, beside raw multipart uploads of the same bytes.
	var direct []*directClient
	svc, tmpl := e.routeKeys(), e.templateRoutes()
	for _, d := range directClients() {
		if !slices.ContainsFunc(d.Routes, func(r string) bool { return !svc[r] || !tmpl[r] }) && (len(o.Dialects) == 0 || slices.Contains(o.Dialects, d.Name)) {
			direct = append(direct, d)
		}
	}
	if err := e.directRuns(ctx, o, p, direct, fileOf, rep); err != nil {
		return nil, err
	}

	// The throughput runs, most wanted first; once the time budget, less
	// what the target's repeats after them will take, is spent, optional
	// runs are skipped (and shown as skipped). A ceiling measurement of
	// the same size comes every few runs.
	specs := runPlan(ds, p, o.Full)
	lastOf := map[int64]time.Duration{}
	sinceCeiling := map[int64]int{}
	for _, sp := range specs {
		elapsed := time.Since(start)
		estimate := lastOf[sp.size]
		if estimate == 0 {
			estimate = lastOf[p.Sizes[0]] * time.Duration(sp.size/p.Sizes[0])
		}
		var reserve time.Duration
		for _, size := range p.Sizes {
			reserve += repeatCost(size)
		}
		if sp.optional && o.Budget > 0 && elapsed+estimate*5/4+reserve > o.Budget {
			rep.Runs = append(rep.Runs, Run{Dialect: sp.d.Name, Size: sp.size, Chunk: sp.chunk, Par: sp.par,
				Skipped: fmt.Sprintf("time budget (%s of %s used, %s kept for the target's repeats)",
					elapsed.Round(time.Second), o.Budget, reserve.Round(time.Second))})
			continue
		}
		has := func(par int) bool {
			return slices.ContainsFunc(rep.Ceiling, func(c RawRun) bool { return c.Size == sp.size && c.Par == par })
		}
		if sinceCeiling[sp.size] >= 4 || !has(4) {
			if err := ceiling(sp.size, 4); err != nil {
				return nil, err
			}
			sinceCeiling[sp.size] = 0
		}
		if !has(1) {
			if err := ceiling(sp.size, 1); err != nil {
				return nil, err
			}
		}
		t := time.Now()
		if err := upload(sp.d, sp.size, sp.chunk, sp.par, false); err != nil {
			return nil, err
		}
		lastOf[sp.size] = time.Since(t)
		sinceCeiling[sp.size]++
	}
	// The target's case again at each size, each time after a ceiling
	// run of that size: on a shared machine one run is at the mercy of
	// whatever else runs then. A size's repeats run all or not at all (an
	// even number of ratios has no middle one), and not if they would end
	// more than a tenth past the budget, which the optional runs left
	// them. Where they do not run, a last ceiling run closes the size's
	// runs instead of their first one.
	for _, size := range p.Sizes {
		first, repeat := targetRun(size)
		repeat = repeat && p.TargetRepeats > 0
		if cost := repeatCost(size); repeat && o.Budget > 0 && time.Since(start)+cost > o.Budget+o.Budget/10 {
			o.logf("no repeats of the target's case at %s: %s of %s used, they would take %s",
				sizeName(size), time.Since(start).Round(time.Second), o.Budget, cost.Round(time.Second))
			repeat = false
		}
		if !repeat {
			if sinceCeiling[size] > 0 {
				if err := ceiling(size, 4); err != nil {
					return nil, err
				}
			}
			continue
		}
		d := ds[slices.IndexFunc(ds, func(d *dialect) bool { return d.Name == first.Dialect })]
		for range p.TargetRepeats {
			if err := ceiling(size, 4); err != nil {
				return nil, err
			}
			r, err := e.measureUpload(ctx, d, fileOf(size, name(d.Name, size, first.Chunk, first.Par)), first.Chunk, first.Par)
			if err != nil {
				return nil, err
			}
			last := rep.Ceiling[len(rep.Ceiling)-1]
			r.Ceiling = float64(last.Size) / last.Seconds
			rep.Repeats = append(rep.Repeats, r)
			o.logf("%s %s chunks ×%d %s again: %.1f MB/s", d.Name, sizeName(first.Chunk), first.Par, sizeName(size), float64(size)/r.Seconds/1e6)
		}
	}
	// Last, alone: the emulator's mode against the in-process one.
	if err := e.emulatedRuns(ctx, o, p, data, rep); err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Runs, func(i, j int) bool {
		a, b := rep.Runs[i], rep.Runs[j]
		if a.Size != b.Size {
			return a.Size < b.Size
		}
		if a.Dialect != b.Dialect {
			return slices.Index(rep.Dialects, a.Dialect) < slices.Index(rep.Dialects, b.Dialect)
		}
		if a.Chunk != b.Chunk {
			return a.Chunk < b.Chunk
		}
		return a.Par < b.Par
	})
	rep.Seconds, rep.LoadEnd = time.Since(start).Seconds(), loadAverage()
	e.log.mu.Lock()
	rep.ServiceLog, rep.ServiceLogCount = append([]string(nil), e.log.lines...), e.log.n
	e.log.mu.Unlock()
	return rep, nil
}

// runSpec is one throughput run.
type runSpec struct {
	d        *dialect
	size     int64
	chunk    int64
	par      int
	optional bool
}

// runPlan orders the throughput runs by how much they are wanted: native
// everywhere on the small file and at 4 MiB ×4 on the large one (the
// issue's target and the completion latency), and tus at 4 MiB ×1 on the
// large one (its completion latency), always; then every other
// dialect on the small file at 4 MiB, at 1 MiB, and at ×1; then the large
// file for the rest. With full, every run is made.
func runPlan(ds []*dialect, p plan, full bool) []runSpec {
	small, large := p.Sizes[0], p.Sizes[len(p.Sizes)-1]
	var out []runSpec
	add := func(d *dialect, size, chunk int64, par int, optional bool) {
		if d.Sequential && par > 1 {
			return
		}
		for _, r := range out {
			if r.d == d && r.size == size && r.chunk == chunk && r.par == par {
				return
			}
		}
		out = append(out, runSpec{d: d, size: size, chunk: chunk, par: par, optional: optional && !full})
	}
	for _, d := range ds {
		if d.Name == "native" {
			for _, chunk := range p.Chunks {
				for _, par := range p.Pars {
					add(d, small, chunk, par, false)
				}
			}
			add(d, large, 4*mib, 4, false)
		}
		if d.Concat {
			// tus's completion latency at the large file (its small-file
			// runs are beside tusd's).
			add(d, large, 4*mib, 1, false)
		}
	}
	best := slices.Max(p.Pars)
	for _, chunk := range []int64{4 * mib, 1 * mib} {
		for _, seq := range []bool{false, true} { // the sequential clients are slowest
			for _, d := range ds {
				// tus runs on the small file beside tusd (versus.go).
				if d.Sequential == seq && !d.Concat {
					add(d, small, chunk, parFor(d, best), true)
				}
			}
		}
	}
	if p.AllPars {
		for _, d := range ds {
			if d.Concat {
				continue
			}
			for _, chunk := range p.Chunks {
				for _, par := range p.Pars {
					add(d, small, chunk, par, true)
				}
			}
		}
	}
	if p.LargeAll {
		for _, chunk := range []int64{4 * mib, 1 * mib} {
			for _, d := range ds {
				add(d, large, chunk, parFor(d, best), true)
			}
		}
	}
	if full {
		for _, d := range ds {
			for _, chunk := range p.Chunks {
				for _, par := range p.Pars {
					add(d, large, chunk, par, false)
				}
			}
		}
	}
	return out
}

// parFor is the parallelism a dialect's client can use.
func parFor(d *dialect, par int) int {
	if d.Sequential {
		return 1
	}
	return par
}

// available picks the dialects whose routes the service serves, and notes
// chunk routes that no driver (a dialect's or a direct client's) covers.
func (e *env) available(o options, rep *Report) []*dialect {
	svc, tmpl := e.routeKeys(), e.templateRoutes()
	covered := map[string]bool{}
	var out []*dialect
	for _, d := range dialects() {
		ok := true
		for _, r := range d.Routes {
			covered[r] = true
			ok = ok && svc[r] && tmpl[r]
		}
		if ok && (len(o.Dialects) == 0 || slices.Contains(o.Dialects, d.Name)) {
			out = append(out, d)
			rep.Dialects = append(rep.Dialects, d.Name)
		}
	}
	for _, d := range directClients() {
		for _, r := range d.Routes {
			covered[r] = true
		}
	}
	for _, r := range e.svc.Routes() {
		k := r.Method + " " + r.Path
		if r.Function == "ReceiveFunction" && !covered[k] {
			rep.Uncovered = append(rep.Uncovered, k)
		}
	}
	return out
}

// measureUpload uploads f through d, has the sweep clean up after it as
// the cleanup function would, and returns the counts of both.
func (e *env) measureUpload(ctx context.Context, d *dialect, f file, chunk int64, par int) (Run, error) {
	r := Run{Dialect: d.Name, Size: f.size(), Chunk: chunk, Par: par, Uploads: 1}
	if err := r.plan(d); err != nil {
		return r, err
	}
	c := &client{http: e.client, base: e.url, s3CompleteTotal: e.s3CompleteSeconds}
	before, logged := e.counts(), e.log.count()
	start := time.Now()
	res, err := d.upload(ctx, c, f, chunk, par)
	if err != nil {
		return r, fmt.Errorf("%s, %s chunks ×%d, %s: %w", d.Name, sizeName(chunk), par, sizeName(f.size()), err)
	}
	r.Seconds = time.Since(start).Seconds()
	r.Complete, r.S3Complete, r.Requests, r.Retries = res.Complete.Seconds(), res.S3Complete.Seconds(), res.Requests, res.Retries
	return r, e.settle(ctx, &r, d.Name, res.Key, f.size(), before, logged)
}

// settle ends run r of an upload whose object is key: the cleanup
// function, once the upload is due, deletes its part records and retires
// its session; r gets the counts and warnings since before and logged;
// the object must have size bytes, and is deleted.
func (e *env) settle(ctx context.Context, r *Run, name, key string, size int64, before Counts, logged int) error {
	if err := e.sweep(ctx); err != nil {
		return fmt.Errorf("after %s: %w", name, err)
	}
	r.Counts = e.counts().Sub(before)
	r.Warnings = e.log.count() - logged
	got, err := e.objectSize(ctx, key)
	if err != nil {
		return fmt.Errorf("%s: the finished object %q: %w", name, key, err)
	}
	if got != size {
		return fmt.Errorf("%s: the finished object has %d bytes, not %d", name, got, size)
	}
	deleteObject(ctx, e.raw, e.bucket, key)
	return nil
}

// plan sets the chunks, parts and uploads the client cuts r's file into.
// A concat client's partial uploads each have a plan of their own, and
// their final upload one part per partial.
func (r *Run) plan(d *dialect) error {
	sizes := []int64{r.Size}
	if d.Concat && r.Par > 1 {
		sizes = sizes[:0]
		for i := range int64(r.Par) {
			sizes = append(sizes, r.Size*(i+1)/int64(r.Par)-r.Size*i/int64(r.Par))
		}
		r.Uploads, r.Parts = r.Par+1, r.Par
	}
	for _, size := range sizes {
		g := upload.Geometry{Size: size, ChunkSize: r.Chunk, Chunks: chunkCount(size, r.Chunk)}
		if d.Name == "resumable" || d.Name == "flow" {
			g.Chunks = max(1, int(size/r.Chunk))
		}
		plan, err := upload.NewPlan(g)
		if err != nil {
			return err
		}
		r.Chunks += plan.Chunks
		r.Parts += plan.Parts
	}
	return nil
}

func (e *env) s3CompleteSeconds() float64 {
	e.meter.mu.Lock()
	defer e.meter.mu.Unlock()
	if s := e.meter.ops["S3 CompleteMultipartUpload"]; s != nil {
		return s.Seconds
	}
	return 0
}

// heapRuns measures isolated invocations of every dialect at each chunk
// size: an upload of two parts and a chunk, one request at a time.
func (e *env) heapRuns(ctx context.Context, o options, p plan, ds []*dialect, rep *Report) error {
	var routes []routeInfo
	for _, r := range e.svc.Routes() {
		routes = append(routes, routeInfo{Function: r.Function, Method: r.Method, Path: r.Path})
	}
	l := newLambdaRunner(routes, e.svc.Handler)
	for _, chunk := range p.HeapChunks {
		plan, err := upload.NewPlan(upload.Geometry{Size: 64 * chunk, ChunkSize: chunk, Chunks: 64})
		if err != nil {
			return err
		}
		size := int64(p.HeapParts*plan.ChunksPerPart+1) * chunk
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{'h', 'e', 'a', 'p'}).Read(data)
		for _, d := range ds {
			if len(p.HeapDialects) > 0 && !slices.Contains(p.HeapDialects, d.Name) {
				continue
			}
			f := file{name: fmt.Sprintf("heap-%s-%s.bin", d.Name, sizeName(chunk)), data: data}
			row, err := heapRun(ctx, l, d, f, chunk)
			if err != nil {
				return err
			}
			rep.Heap = append(rep.Heap, row)
			o.logf("heap %s %s chunks: peak %s, allocated %s per chunk request", d.Name, sizeName(chunk), sizeName(int64(row.PeakMax)), sizeName(int64(row.AllocMax)))
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	return nil
}

// coldStart builds the check and receive functions for this machine and
// starts them against a local Runtime API: the check function with
// events/native-status.json (made to name a real upload) to time its cold
// start next to warm invocations, and the receive function with chunk
// events to read its peak resident memory per chunk size.
func (e *env) coldStart(ctx context.Context, o options, p plan, rep *Report) error {
	dir, err := os.MkdirTemp("", "chunkup-bench-fn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.logf("building the check and receive functions for %s/%s", runtime.GOOS, runtime.GOARCH)
	bins, err := emulator.Build(ctx, e.root, dir, "CheckFunction", "ReceiveFunction")
	if err != nil {
		return err
	}
	stackEnv := e.stack.Environ(e.table, e.bucket)

	// An upload for the status event to find.
	c := &client{http: e.client, base: e.url, s3CompleteTotal: func() float64 { return 0 }}
	id, err := createNative(ctx, c, "cold.bin", 12*mib, 4*mib)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(e.root, "events", "native-status.json"))
	if err != nil {
		return err
	}
	ev, err := retarget(raw, id)
	if err != nil {
		return err
	}
	mem := rep.MemoryMB["CheckFunction"]
	var colds, inits, firsts, warms []time.Duration
	var maxRSS int64
	var status string
	for i := 0; i < p.ColdRuns; i++ {
		evs := [][]byte{ev, ev, ev, ev, ev, ev}
		run, err := runFunction(ctx, bins["CheckFunction"], lambdaEnv(stackEnv, "CheckFunction", mem, dir), evs)
		if err != nil {
			return err
		}
		colds, inits, firsts = append(colds, run.Cold), append(inits, run.Init), append(firsts, run.First)
		warms = append(warms, run.Warm...)
		maxRSS = max(maxRSS, run.MaxRSS)
		status = run.Responses[0]
	}
	fi, _ := os.Stat(bins["CheckFunction"])
	rep.Cold = &ColdStart{
		Function: "CheckFunction", Event: "events/native-status.json", Runs: p.ColdRuns,
		Cold: median(colds).Seconds(), Init: median(inits).Seconds(), First: median(firsts).Seconds(),
		Warm: median(warms).Seconds(), MaxRSS: maxRSS, Binary: fi.Size(), Response: status,
	}
	o.logf("cold start %.0f ms (init %.0f ms), warm %.1f ms", rep.Cold.Cold*1000, rep.Cold.Init*1000, rep.Cold.Warm*1000)

	// The receive function's peak memory over a run of chunks.
	for _, chunk := range p.HeapChunks {
		plan, err := upload.NewPlan(upload.Geometry{Size: 64 * chunk, ChunkSize: chunk, Chunks: 64})
		if err != nil {
			return err
		}
		n := 2*plan.ChunksPerPart + 1
		size := int64(n) * chunk
		id, err := createNative(ctx, c, "rss.bin", size, chunk)
		if err != nil {
			return err
		}
		data := make([]byte, chunk)
		rand.NewChaCha8([32]byte{'r', 's', 's'}).Read(data)
		var evs [][]byte
		for i := 0; i < n; i++ {
			ev, err := chunkEvent(id, i, data)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		run, err := runFunction(ctx, bins["ReceiveFunction"], lambdaEnv(stackEnv, "ReceiveFunction", rep.MemoryMB["ReceiveFunction"], dir), evs)
		if err != nil {
			return err
		}
		for i, s := range run.Responses {
			if s != "200" {
				return fmt.Errorf("receive function: chunk %d answered %s", i, s)
			}
		}
		rep.RSS = append(rep.RSS, RSSRow{Chunk: chunk, Invocations: n, MaxRSS: run.MaxRSS, Warm: median(run.Warm).Seconds()})
		o.logf("receive function, %s chunks: max RSS %s", sizeName(chunk), sizeName(run.MaxRSS))
	}
	return nil
}

// loadAverage is the 1-minute load average, 0 where /proc is missing.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}

func sizeName(n int64) string {
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= mib && n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	case n >= mib && n < 8*mib && n%(8*kib) == 0:
		return fmt.Sprintf("%d KiB", n/kib)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	case n >= kib:
		return fmt.Sprintf("%.0f KiB", float64(n)/kib)
	}
	return fmt.Sprintf("%d B", n)
}
