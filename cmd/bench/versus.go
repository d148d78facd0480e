package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

// Versus is one case of chunkup's tus dialect measured side by side with
// tusd, the tus reference server, on the same S3 server, with the same
// client, file and chunk size, in pairs run one right after the other.
type Versus struct {
	Chunk int64 `json:"chunk"`
	// Par is 1 for one PATCH at a time, else the partial uploads sent at
	// once and joined by a final one (concatenation).
	Par     int   `json:"par"`
	Chunkup []Run `json:"chunkup"`
	Tusd    []Run `json:"tusd"`
}

// Ratio is the median of the pairs' throughput ratios, chunkup over
// tusd, and how many pairs there were.
func (v Versus) Ratio() (float64, int) {
	var ratios []float64
	for i := range min(len(v.Chunkup), len(v.Tusd)) {
		ratios = append(ratios, v.Tusd[i].Seconds/v.Chunkup[i].Seconds)
	}
	return medianF(ratios), len(ratios)
}

// versusCase is a case of the comparison and how often its pair runs.
type versusCase struct {
	chunk int64
	par   int
	reps  int
}

// versusCases are the comparison's cases: 4 MiB chunks one PATCH at a
// time and in 4 partial uploads, the targets' cases, several times; 1 MiB
// chunks one at a time once.
func versusCases(p plan) []versusCase {
	return []versusCase{{4 * mib, 1, p.VersusReps}, {4 * mib, 4, p.VersusReps}, {1 * mib, 1, 1}}
}

// versusRuns measures tus against tusd on the small throughput file: the
// pairs of each case in turn, round after round, each pair's order
// swapped every round so that neither server always runs on a machine
// the other just warmed or loaded. chunkup's first run of each case is
// also a throughput row of its own (with its counts per GiB). Without a
// tusd binary, chunkup's runs are made alone and the report says why.
func (e *env) versusRuns(ctx context.Context, o options, p plan, d *dialect, f func(int64, string) file, rep *Report) error {
	size := p.Sizes[0]
	var t *tusd
	bin, err := tusdPath(e.root)
	if err == nil {
		t, err = e.startTusd(ctx, bin)
	}
	if err != nil {
		rep.TusdSkipped = err.Error()
		o.logf("tus beside tusd: %v; chunkup's tus runs alone", err)
	} else {
		defer t.close()
		rep.TusdVersion = tusdVersion(e.root)
	}
	if err := e.versusWarmUp(ctx, d, t, f(min(size, 32*mib), "tus-warm-up.bin")); err != nil {
		return err
	}
	cases := versusCases(p)
	rep.Versus = make([]Versus, len(cases))
	for round := range slices.MaxFunc(cases, func(a, b versusCase) int { return a.reps - b.reps }).reps {
		for i, vc := range cases {
			if round >= vc.reps {
				continue
			}
			v := &rep.Versus[i]
			v.Chunk, v.Par = vc.chunk, vc.par
			name := fmt.Sprintf("tus-%s-%s-x%d-%d.bin", sizeName(size), sizeName(vc.chunk), vc.par, round)
			ours := func() error {
				r, err := e.measureUpload(ctx, d, f(size, name), vc.chunk, vc.par)
				if err != nil {
					return err
				}
				if round == 0 {
					rep.Runs = append(rep.Runs, r)
				}
				v.Chunkup = append(v.Chunkup, r)
				o.logf("tus %s chunks ×%d %s: %.1f MB/s", sizeName(vc.chunk), vc.par, sizeName(size), float64(size)/r.Seconds/1e6)
				return nil
			}
			theirs := func() error {
				if t == nil {
					return nil
				}
				r, err := e.measureTusd(ctx, t, f(size, name), vc.chunk, vc.par)
				if err != nil {
					return err
				}
				v.Tusd = append(v.Tusd, r)
				o.logf("tusd %s chunks ×%d %s: %.1f MB/s", sizeName(vc.chunk), vc.par, sizeName(size), float64(size)/r.Seconds/1e6)
				return nil
			}
			order := []func() error{ours, theirs}
			if round%2 == 1 {
				order[0], order[1] = theirs, ours
			}
			for _, run := range order {
				// Each run starts with the last one's writes on disk,
				// not still being flushed while it is timed.
				syscall.Sync()
				if err := run(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// versusWarmUp uploads f (a small file) to each server, in 4 partial
// uploads of 4 MiB chunks, unmeasured, before the pairs: the first upload
// of a run otherwise pays for what no later one does (connections opened,
// dynalite's JIT, the servers' first allocations), and the first pair
// was a third slower than the rest for both servers.
func (e *env) versusWarmUp(ctx context.Context, d *dialect, t *tusd, f file) error {
	const chunk, par = 4 * mib, 4
	if _, err := e.measureUpload(ctx, d, f, chunk, par); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if t == nil {
		return nil
	}
	if _, err := e.measureTusd(ctx, t, f, chunk, par); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

var tusdRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/tus/tusd/v2\s+(\S+)`)

// tusdVersion is the tusd version tools/tusd/go.mod pins.
func tusdVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "tools", "tusd", "go.mod"))
	if err != nil {
		return "unknown"
	}
	if m := tusdRequire.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return "unknown"
}

// versusName names a case of the comparison.
func versusName(server string, v Versus, size int64) string {
	how := "one PATCH at a time"
	if v.Par > 1 {
		how = fmt.Sprintf("%d partial uploads at once + final", v.Par)
	}
	return fmt.Sprintf("%s · %s chunks · %s · %s", server, sizeName(v.Chunk), how, sizeName(size))
}

// versusTable is the comparison's rows and its two targets: chunkup's tus
// at 4 MiB chunks one at a time at least 0.9× tusd's throughput, and with
// 4 partial uploads at least 1.5× tusd's (tusd one PATCH at a time, the
// way tus clients upload by default; the ratio to tusd's own partial
// uploads is shown beside it).
func (r *Report) versusTable() ([]row, []Check) {
	var rows []row
	var checks []Check
	size := r.Sizes[0]
	c4, _, _, _ := r.ceiling(size, 4)
	find := func(chunk int64, par int) (Versus, bool) {
		i := slices.IndexFunc(r.Versus, func(v Versus) bool { return v.Chunk == chunk && v.Par == par })
		if i < 0 {
			return Versus{}, false
		}
		return r.Versus[i], true
	}
	for _, v := range r.Versus {
		ours := medianBps(v.Chunkup)
		ratio, n := v.Ratio()
		var pairs []string
		for i := range n {
			pairs = append(pairs, fmt.Sprintf("%s vs %s", mbps(float64(size)/v.Chunkup[i].Seconds), mbps(float64(size)/v.Tusd[i].Seconds)))
		}
		rel, detail := "—", fmt.Sprintf("median of %d runs; %s", len(v.Chunkup), r.tusdMissing())
		if n > 0 {
			rel = fmt.Sprintf("%.2f× tusd", ratio)
			detail = fmt.Sprintf("median of %d pairs, each chunkup vs tusd one right after the other: %s", n, strings.Join(pairs, "; "))
		}
		rows = append(rows, row{"tus vs tusd", versusName("chunkup tus", v, size), mbps(ours), rel, detail})
		if len(v.Tusd) > 0 {
			t := v.Tusd[0]
			var ops []string
			per := func(x int64) float64 { return float64(x) * gib / float64(size) }
			var total int64
			for _, op := range t.Counts.OpNames("S3") {
				n := t.Counts.Ops["S3 "+op].Attempts
				total += n
				ops = append(ops, fmt.Sprintf("%s %s", op, num(per(n))))
			}
			theirs := medianBps(v.Tusd)
			rows = append(rows, row{"tus vs tusd", versusName("tusd "+r.TusdVersion+" (s3store)", v, size), mbps(theirs), pct(theirs/c4) + " of raw ×4",
				fmt.Sprintf("median of %d runs; S3 requests per GiB by tusd's own metrics: %s in all (%s%s); CPU %.1f s per GiB (client %.1f · tusd %.1f · versitygw %.1f)",
					len(v.Tusd), num(per(total)), strings.Join(ops, " · "), tusdUncounted(v), per64(t.Counts.CPUTotal(), size),
					per64(t.Counts.CPU["bench"], size), per64(t.Counts.CPU["tusd"], size), per64(t.Counts.CPU["versitygw"], size))})
		}
	}
	seq, okSeq := find(4*mib, 1)
	par, okPar := find(4*mib, 4)
	if !okSeq || !okPar {
		return rows, checks
	}
	ratio, n := seq.Ratio()
	got := fmt.Sprintf("median of %d pairs: %.2f×", n, ratio)
	if n == 0 {
		got = r.tusdMissing()
	}
	checks = append(checks, Check{"tus, 4 MiB chunks one PATCH at a time: ≥ 0.9× tusd's throughput (same run, client, file, chunk size)", n > 0 && ratio >= 0.9, got})
	// The partial uploads against tusd one PATCH at a time, pair by pair
	// (each partial run against the sequential tusd run of its round).
	var ratios []float64
	for i := range min(len(par.Chunkup), len(seq.Tusd)) {
		ratios = append(ratios, seq.Tusd[i].Seconds/par.Chunkup[i].Seconds)
	}
	pr := medianF(ratios)
	got = fmt.Sprintf("median of %d: %.2f× tusd one PATCH at a time", len(ratios), pr)
	if same, m := par.Ratio(); m > 0 {
		got += fmt.Sprintf("; against tusd's own 4 partial uploads %.2f×", same)
	}
	if len(ratios) == 0 {
		got = r.tusdMissing()
	}
	checks = append(checks, Check{"tus, 4 MiB chunks in 4 partial uploads at once: ≥ 1.5× tusd's throughput (tusd one PATCH at a time)", len(ratios) > 0 && pr >= 1.5, got})
	return rows, checks
}

// tusdUncounted says which of tusd's S3 requests its metrics leave out.
func tusdUncounted(v Versus) string {
	if v.Par > 1 {
		return fmt.Sprintf("; not in them: its %d UploadPartCopy and the aborts", v.Par)
	}
	return ""
}

func (r *Report) tusdMissing() string {
	if r.TusdSkipped != "" {
		return "tusd not run: " + r.TusdSkipped
	}
	return "tusd not run"
}

func medianBps(runs []Run) float64 {
	var v []float64
	for _, x := range runs {
		v = append(v, float64(x.Size)/x.Seconds)
	}
	return medianF(v)
}

func per64(x float64, size int64) float64 { return x * gib / float64(size) }
