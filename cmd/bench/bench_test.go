package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"chunkup/internal/local/samtemplate"
)

// TestQuick runs the whole benchmark on small files against the local
// stack, so that it cannot rot: every row the plan promises is in the
// table, and the counts hang together. Nothing here asserts a time or a
// target: those belong to `make bench`.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the local stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := run(ctx, options{Quick: true, Progress: &progress})
	if err != nil {
		t.Fatalf("bench -quick: %v\n%s", err, progress.String())
	}
	if len(rep.Dialects) < 2 || rep.Dialects[0] != "native" || rep.Dialects[1] != "resumable" {
		t.Fatalf("dialects %v: want native and resumable at least", rep.Dialects)
	}
	p := newPlan(options{Quick: true})
	small, large := p.Sizes[0], p.Sizes[len(p.Sizes)-1]

	// Every throughput run the plan makes was made, with consistent counts.
	runs := map[string]Run{}
	for _, r := range rep.Runs {
		if r.Skipped != "" {
			t.Errorf("%s %s ×%d %s skipped in quick mode: %s", r.Dialect, sizeName(r.Chunk), r.Par, sizeName(r.Size), r.Skipped)
			continue
		}
		runs[fmt.Sprintf("%s/%d/%d/%d", r.Dialect, r.Size, r.Chunk, r.Par)] = r
		checkCounts(t, r)
	}
	var ds []*dialect
	for _, d := range dialects() {
		if contains(rep.Dialects, d.Name) {
			ds = append(ds, d)
		}
	}
	for _, sp := range runPlan(ds, p, false) {
		if _, ok := runs[fmt.Sprintf("%s/%d/%d/%d", sp.d.Name, sp.size, sp.chunk, sp.par)]; !ok {
			t.Errorf("no run of %s at %s chunks ×%d, %s", sp.d.Name, sizeName(sp.chunk), sp.par, sizeName(sp.size))
		}
	}
	for _, want := range []string{fmt.Sprintf("native/%d/%d/4", large, 4*mib), fmt.Sprintf("resumable/%d/%d/4", small, mib)} {
		if _, ok := runs[want]; !ok {
			t.Errorf("no run %s", want)
		}
	}
	for _, r := range rep.Latency {
		checkCounts(t, r)
	}
	if want := len(rep.Dialects) + p.Reps - 1; len(rep.Latency) != want {
		t.Errorf("%d small completion-latency uploads, want %d", len(rep.Latency), want)
	}

	// Ceilings at every size and both parallelisms.
	for _, size := range p.Sizes {
		for _, par := range []int{1, 4} {
			if m, _, _, n := rep.ceiling(size, par); n == 0 || m <= 0 {
				t.Errorf("no raw ceiling at %s ×%d", sizeName(size), par)
			}
		}
	}

	// Heap, function memory, cold start.
	if want := len(p.HeapDialects) * len(p.HeapChunks); len(rep.Heap) != want {
		t.Errorf("%d heap rows, want %d", len(rep.Heap), want)
	}
	for _, h := range rep.Heap {
		if h.Requests < 3 || h.PeakMax == 0 || h.AllocMax < uint64(h.Chunk) || h.Payload < h.Chunk {
			t.Errorf("heap %s %s: %+v", h.Dialect, sizeName(h.Chunk), h)
		}
	}
	if len(rep.RSS) != len(p.HeapChunks) {
		t.Errorf("%d function memory rows, want %d", len(rep.RSS), len(p.HeapChunks))
	}
	for _, x := range rep.RSS {
		if x.MaxRSS < x.Chunk {
			t.Errorf("receive function at %s chunks: max RSS %d", sizeName(x.Chunk), x.MaxRSS)
		}
	}
	if c := rep.Cold; c == nil || c.Cold <= 0 || c.Warm <= 0 || c.Init <= 0 || c.Cold < c.Init || c.Response != "200" {
		t.Errorf("cold start: %+v", rep.Cold)
	}

	if x := rep.Emulated; x == nil || len(x.Emulated) != p.EmulatedReps || len(x.InProcess) != p.EmulatedReps || x.Ratio() <= 0 || x.ColdStarts == 0 {
		t.Errorf("emulated row: %+v", rep.Emulated)
	}

	// The table: every section, a row per case, a line per target.
	rows, checks := rep.Table()
	count := map[string]int{}
	for _, r := range rows {
		count[r.Section]++
	}
	nd, nc := len(rep.Dialects), len(p.Chunks)
	want := map[string]int{
		"ceiling":         2 * len(p.Sizes),
		"throughput":      len(rep.Runs),
		"completion":      nd * (1 + len(p.Sizes)),
		"S3 requests":     nd * nc,
		"DynamoDB units":  nd * nc,
		"API + Lambda":    nd * nc,
		"CPU":             nd * nc,
		"heap":            len(p.HeapDialects) * len(p.HeapChunks),
		"function memory": len(p.HeapChunks),
		"cold start":      1,
		"emulator":        1,
		"tus vs tusd":     len(versusCases(p)) * (1 + tusdRan(rep)),
		"direct":          len(rep.Direct) + len(rep.directPerGiB(small)),
		"target":          len(checks),
	}
	for section, n := range want {
		if count[section] != n {
			t.Errorf("table section %q has %d rows, want %d", section, count[section], n)
		}
	}
	// The kinds of target: throughput (both sizes), completion (native
	// and tus), S3 requests (a dialect and chunk size each), heap (the
	// same), tus beside tusd (two), direct uploads (a case each, no byte
	// through a function, and the cost at 64 MiB parts when measured).
	costCheck := 0
	if _, ok := rep.directCost(listPrices, "direct", 64*mib, large); ok {
		costCheck = 1
	}
	judged := 0
	for _, dc := range rep.Direct {
		if dc.Size == small {
			judged++
		}
	}
	if wantChecks := 2 + 2 + nd*nc + len(p.HeapDialects)*len(p.HeapChunks) + 2 + judged + 1 + costCheck; len(checks) != wantChecks {
		t.Errorf("%d targets checked, want %d", len(checks), wantChecks)
	}
	checkVersus(t, rep, p)
	checkDirect(t, rep, p)
	// The throughput target's case ran again at each size, each time
	// right after a ceiling run of that size, and each size's target is
	// the median of the pairs.
	if want := p.TargetRepeats * len(p.Sizes); len(rep.Repeats) != want {
		t.Fatalf("%d repeats of the target's case, want %d (%d at each of %d sizes)", len(rep.Repeats), want, p.TargetRepeats, len(p.Sizes))
	}
	// The repeats' ceiling runs are the last ceiling runs, one before each
	// repeat, in the same order.
	paired := rep.Ceiling[len(rep.Ceiling)-len(rep.Repeats):]
	for i, x := range rep.Repeats {
		checkCounts(t, x)
		if size := p.Sizes[i/p.TargetRepeats]; x.Dialect != "native" || x.Size != size || x.Chunk != 4*mib || x.Par != 4 {
			t.Errorf("repeat %d: %s %s ×%d %s, want the target's case at %s", i, x.Dialect, sizeName(x.Chunk), x.Par, sizeName(x.Size), sizeName(size))
		}
		if c := paired[i]; c.Size != x.Size || c.Par != 4 || x.Ceiling <= 0 || x.Ceiling != float64(c.Size)/c.Seconds {
			t.Errorf("repeat %d at %s paired with ceiling %.0f B/s; the ceiling run before it: ×%d %s at %.0f B/s",
				i, sizeName(x.Size), x.Ceiling, c.Par, sizeName(c.Size), float64(c.Size)/c.Seconds)
		}
	}
	wantMedian := fmt.Sprintf("median of %d runs each against a ceiling run", 1+p.TargetRepeats)
	for _, size := range p.Sizes {
		name := fmt.Sprintf("native, 4 MiB chunks ×4, %s: ≥ 35%% of the raw ceiling", sizeName(size))
		i := slices.IndexFunc(checks, func(c Check) bool { return c.Name == name })
		if i < 0 {
			t.Errorf("no target %q", name)
			continue
		}
		if got := checks[i].Got; !strings.Contains(got, wantMedian) || strings.Count(got, "; again ") != p.TargetRepeats {
			t.Errorf("target %q: %q does not say %q with each of the %d repeats", name, got, wantMedian, p.TargetRepeats)
		}
	}
	md := rep.Markdown()
	if n := strings.Count(md, "\n| "); n != len(rows)+1 {
		t.Errorf("markdown has %d table lines, want %d", n, len(rows)+1)
	}
	cost := rep.CostMarkdown(listPrices)
	for _, d := range rep.Dialects {
		for _, chunk := range p.Chunks {
			if !strings.Contains(cost, fmt.Sprintf("| %s | %s |", d, sizeName(chunk))) {
				t.Errorf("cost model has no line for %s at %s chunks", d, sizeName(chunk))
			}
		}
	}
	if !strings.Contains(cost, "REST API") || !strings.Contains(cost, "cheaper") {
		t.Errorf("cost model lacks the HTTP/REST comparison:\n%s", cost)
	}
	for _, size := range p.Sizes {
		for _, g := range rep.directPerGiB(size) {
			if !strings.Contains(cost, fmt.Sprintf("| %s | %s | %s |", g.Client, sizeName(g.Part), sizeName(size))) {
				t.Errorf("cost model has no direct line for %s at %s parts, %s files", g.Client, sizeName(g.Part), sizeName(size))
			}
		}
	}
	if testing.Verbose() {
		os.Stdout.WriteString(md)
	}
}

// checkCounts checks that one upload's counts hang together.
func checkCounts(t *testing.T, r Run) {
	t.Helper()
	name := fmt.Sprintf("%s %s ×%d %s", r.Dialect, sizeName(r.Chunk), r.Par, sizeName(r.Size))
	c := r.Counts
	op := func(k string) int64 { return c.Ops[k].Attempts }
	uploads := max(1, r.Uploads)
	switch {
	case r.Seconds <= 0 || r.Complete <= 0 || r.Complete > r.Seconds:
		t.Errorf("%s: times %.3f s, completion %.3f s", name, r.Seconds, r.Complete)
	case r.Chunks < 1 || r.Parts < 1 || r.Requests < r.Chunks:
		t.Errorf("%s: %d chunks, %d parts, %d requests", name, r.Chunks, r.Parts, r.Requests)
	case op("S3 PutObject") < int64(r.Chunks):
		t.Errorf("%s: %d staged PUTs for %d chunks", name, op("S3 PutObject"), r.Chunks)
	// One request starts each upload's multipart upload (a claim in the
	// session), however many parts complete at once; tus's partial
	// uploads are uploads of their own, and so is the final one.
	case op("S3 UploadPart") < 1 || op("S3 CreateMultipartUpload") != int64(uploads) || op("S3 AbortMultipartUpload") != 0 ||
		op("S3 CompleteMultipartUpload") != int64(uploads):
		t.Errorf("%s: S3 operations %v", name, c.Ops)
	// Every byte is staged and uploaded in a part; each part's chunks are
	// read back but the one whose request assembles it (from memory); a
	// final upload reads the partials under 5 MiB once more.
	case c.S3BytesWritten() < 2*r.Size || c.S3BytesRead() > int64(min(uploads, 2))*(r.Size+r.Size/64) || c.S3BytesRead() < r.Size-int64(r.Parts)*r.Chunk:
		t.Errorf("%s: %d bytes written to S3 and %d read, for a %d-byte file staged once in %d parts", name, c.S3BytesWritten(), c.S3BytesRead(), r.Size, r.Parts)
	case c.S3Billable() <= 0 || c.S3(classPut)+c.S3(classGet)+c.S3(classFree) != totalS3(c):
		t.Errorf("%s: S3 classes do not add up: %v", name, c.Ops)
	case int64(r.Requests) != c.APIRequests || c.APIIncrements < c.APIRequests || c.APIBytes < r.Size:
		t.Errorf("%s: client sent %d requests; API Gateway saw %d (%d bytes, %d units)", name, r.Requests, c.APIRequests, c.APIBytes, c.APIIncrements)
	case sumInvocations(c) != c.APIRequests:
		t.Errorf("%s: %d invocations for %d requests", name, sumInvocations(c), c.APIRequests)
	}
	rru, wru, reqs := c.Dynamo()
	if rru <= 0 || wru <= 0 || reqs <= 0 {
		t.Errorf("%s: DynamoDB %v RRU, %v WRU, %d requests", name, rru, wru, reqs)
	}
}

// tusdRan is 1 if tusd ran beside chunkup's tus, else 0.
func tusdRan(rep *Report) int {
	if rep.TusdSkipped != "" {
		return 0
	}
	return 1
}

// checkVersus checks the tus/tusd comparison: every case, each pair's
// runs, chunkup's first run of each case among the throughput rows, and
// tusd's own counts of its S3 requests. Without a tusd binary (make test
// does not build it) the report must say why tusd did not run.
func checkVersus(t *testing.T, rep *Report, p plan) {
	t.Helper()
	cases := versusCases(p)
	if len(rep.Versus) != len(cases) {
		t.Fatalf("%d tus/tusd cases, want %d", len(rep.Versus), len(cases))
	}
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tusdPath(root); (err == nil) != (rep.TusdSkipped == "") {
		t.Errorf("tusd binary: %v; the report says %q", err, rep.TusdSkipped)
	}
	for i, v := range rep.Versus {
		vc := cases[i]
		if v.Chunk != vc.chunk || v.Par != vc.par || len(v.Chunkup) != vc.reps || len(v.Tusd) != vc.reps*tusdRan(rep) {
			t.Errorf("tus/tusd case %d: %s ×%d with %d chunkup and %d tusd runs; want %s ×%d, %d pairs", i, sizeName(v.Chunk), v.Par, len(v.Chunkup), len(v.Tusd), sizeName(vc.chunk), vc.par, vc.reps)
			continue
		}
		if !slices.ContainsFunc(rep.Runs, func(r Run) bool {
			return r.Dialect == "tus" && r.Chunk == v.Chunk && r.Par == v.Par && r.Seconds == v.Chunkup[0].Seconds
		}) {
			t.Errorf("tus %s ×%d: its first run is not a throughput row", sizeName(v.Chunk), v.Par)
		}
		for _, r := range v.Tusd {
			op := func(k string) int64 { return r.Counts.Ops["S3 "+k].Attempts }
			if r.Seconds <= 0 || r.Complete <= 0 || r.Complete > r.Seconds || r.Counts.CPU["tusd"] <= 0 ||
				// A final upload of partials under 5 MiB is one PutObject.
				op("UploadPart") < 1 || op("CreateMultipartUpload") != int64(r.Uploads) || op("CompleteMultipartUpload") < int64(max(1, r.Uploads-1)) {
				t.Errorf("tusd %s ×%d: %.3f s, completion %.3f s, CPU %v, S3 %v", sizeName(r.Chunk), r.Par, r.Seconds, r.Complete, r.Counts.CPU, r.Counts.Ops)
			}
		}
	}
}

// checkDirect checks the direct uploads: every planned case with its
// pairs, and that each run's bytes went to S3 in the client's own PUTs,
// none through the gateway or a function.
func checkDirect(t *testing.T, rep *Report, p plan) {
	t.Helper()
	var cs []*directClient
	for _, d := range directClients() {
		if slices.ContainsFunc(rep.Direct, func(dc DirectCase) bool { return dc.Client == d.Name }) {
			cs = append(cs, d)
		}
	}
	if len(cs) != len(directClients()) {
		t.Errorf("direct uploads by %d clients, want %d", len(cs), len(directClients()))
	}
	want := directPlan(cs, p)
	if len(rep.Direct) != len(want) {
		t.Fatalf("%d direct cases, want %d", len(rep.Direct), len(want))
	}
	for i, dc := range rep.Direct {
		w := want[i]
		if dc.Client != w.client.Name || dc.Size != w.size || dc.Part != w.part || dc.Par != w.par || len(dc.Runs) != w.reps || len(dc.Raw) != w.reps {
			t.Errorf("direct case %d: %+v, want %s %s parts ×%d %s with %d pairs", i, dc, w.client.Name, sizeName(w.part), w.par, sizeName(w.size), w.reps)
			continue
		}
		for _, r := range dc.Runs {
			c := r.Counts
			put := c.Ops[presignedOp]
			op := func(k string) int64 { return c.Ops["S3 "+k].Attempts }
			switch {
			case r.Seconds <= 0 || r.Complete <= 0 || r.Complete > r.Seconds:
				t.Errorf("%s: times %.3f s, completion %.3f s", dc.Client, r.Seconds, r.Complete)
			case put.Attempts != int64(r.Parts) || put.BytesOut != r.Size || put.Failed != 0:
				t.Errorf("%s %s: the client's presigned PUTs %+v for %d parts of %d bytes", dc.Client, sizeName(r.Size), put, r.Parts, r.Size)
			// The service sends S3 only its completion's list of parts.
			case c.APIBodyBytes > maxDirectBody || c.S3BytesWritten() > maxDirectBody || op("UploadPart") != 0:
				t.Errorf("%s %s: %d body bytes through the gateway, %d bytes written to S3 by the service", dc.Client, sizeName(r.Size), c.APIBodyBytes, c.S3BytesWritten())
			case op("CreateMultipartUpload") != 1 || op("CompleteMultipartUpload") != 1 || op("AbortMultipartUpload") != 0:
				t.Errorf("%s %s: S3 operations %v", dc.Client, sizeName(r.Size), c.Ops)
			case int64(r.Requests) != c.APIRequests || sumInvocations(c) != c.APIRequests || c.APIRequests < int64(r.Parts)+2:
				t.Errorf("%s %s: client sent %d requests; API Gateway saw %d, %d invocations", dc.Client, sizeName(r.Size), r.Requests, c.APIRequests, sumInvocations(c))
			}
		}
		for _, raw := range dc.Raw {
			if raw.Seconds <= 0 || raw.Part != dc.Part || raw.Par != dc.Par || raw.Size != dc.Size {
				t.Errorf("direct case %d: raw run %+v", i, raw)
			}
		}
	}
}

func totalS3(c Counts) int64 {
	var n int64
	for k, v := range c.Ops {
		if strings.HasPrefix(k, "S3 ") {
			n += v.Attempts
		}
	}
	return n
}

func sumInvocations(c Counts) int64 {
	var n int64
	for _, v := range c.Invocations {
		n += v
	}
	return n
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
