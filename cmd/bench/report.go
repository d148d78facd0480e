package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// row is one line of the table.
type row struct {
	Section  string
	Case     string
	Value    string
	Relative string
	Detail   string
}

// Check is one of the targets, checked.
type Check struct {
	Name string
	Pass bool
	Got  string
}

// ceiling is the median raw multipart throughput (bytes/s) for size at par,
// and how many runs, the slowest and the fastest.
func (r *Report) ceiling(size int64, par int) (median, lo, hi float64, n int) {
	var v []float64
	for _, c := range r.Ceiling {
		if c.Size == size && c.Par == par {
			v = append(v, float64(c.Size)/c.Seconds)
		}
	}
	if len(v) == 0 {
		return 0, 0, 0, 0
	}
	sort.Float64s(v)
	return v[len(v)/2], v[0], v[len(v)-1], len(v)
}

func (r *Report) rawComplete(size int64) float64 {
	var v []float64
	for _, c := range r.Ceiling {
		if c.Size == size && c.Par == 4 {
			v = append(v, c.Complete)
		}
	}
	return medianF(v)
}

// rawCPUPerGiB is the CPU time a raw ×4 upload of size took per GiB
// (median of the runs).
func (r *Report) rawCPUPerGiB(size int64) float64 {
	var v []float64
	for _, c := range r.Ceiling {
		if c.Size == size && c.Par == 4 {
			var t float64
			for _, x := range c.CPU {
				t += x
			}
			v = append(v, t/(float64(c.Size)/gib))
		}
	}
	return medianF(v)
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func mbps(bytesPerSecond float64) string { return fmt.Sprintf("%.1f MB/s", bytesPerSecond/1e6) }

func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// num writes a count with thousands separators, to one decimal below 100.
func num(x float64) string {
	if x != math.Trunc(x) && math.Abs(x) < 100 {
		return fmt.Sprintf("%.1f", x)
	}
	s := fmt.Sprintf("%.0f", x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func secs(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

func caseName(d string, chunk int64, par int, size int64) string {
	return fmt.Sprintf("%s · %s chunks · ×%d · %s", d, sizeName(chunk), par, sizeName(size))
}

// perGiB sums the counts of a dialect's runs at one chunk size on the
// small throughput file (both parallelisms), with the request budget.
type perGiB struct {
	Dialect                string
	Chunk                  int64
	GiB                    float64
	Counts                 Counts
	Chunks, Parts, Uploads int
	HandlerP1              float64            // handler seconds of the ×1 runs (of all runs if none ran ×1)
	HandlerByFnP1          map[string]float64 // the same, by function
	GiBP1                  float64
	HandlerAllPars         bool // no ×1 run: handler time from contended runs
}

// Budget is the bound on billable S3 requests.
func (p perGiB) Budget() int { return 2*p.Chunks + p.Parts + 3*p.Uploads }

func (p perGiB) per(x float64) float64 { return x / p.GiB }

func (r *Report) perGiB() []perGiB {
	var out []perGiB
	for _, d := range r.Dialects {
		for _, chunk := range r.Chunks {
			p := perGiB{Dialect: d, Chunk: chunk, Counts: newCounts(), HandlerByFnP1: map[string]float64{}}
			for _, run := range r.Runs {
				if run.Dialect != d || run.Chunk != chunk || run.Size != r.Sizes[0] || run.Skipped != "" {
					continue
				}
				p.Counts = p.Counts.Add(run.Counts)
				p.GiB += float64(run.Size) / gib
				p.Chunks += run.Chunks
				p.Parts += run.Parts
				p.Uploads += max(1, run.Uploads)
				if run.Par == 1 {
					for fn, s := range run.Counts.Handler {
						p.HandlerP1 += s
						p.HandlerByFnP1[fn] += s
					}
					p.GiBP1 += float64(run.Size) / gib
				}
			}
			if p.Uploads > 0 && p.GiBP1 == 0 {
				// Only parallel runs: their handler time, contended.
				p.HandlerAllPars = true
				for _, run := range r.Runs {
					if run.Dialect == d && run.Chunk == chunk && run.Size == r.Sizes[0] && run.Skipped == "" {
						for fn, s := range run.Counts.Handler {
							p.HandlerP1 += s
							p.HandlerByFnP1[fn] += s
						}
						p.GiBP1 += float64(run.Size) / gib
					}
				}
			}
			if p.Uploads > 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

// cpuShare is the part of the machine's CPU time the benchmark's
// processes (this one, versitygw, dynalite) used during the ×4 uploads,
// which are CPU-bound: well under 1 means other work was running.
func (r *Report) cpuShare() float64 {
	var cpu, wall float64
	for _, run := range r.Runs {
		if run.Par == 4 && run.Skipped == "" {
			cpu += run.Counts.CPUTotal()
			wall += run.Seconds
		}
	}
	if wall == 0 || r.CPUs == 0 {
		return 0
	}
	return cpu / (wall * float64(r.CPUs))
}

// heapLimit is the bound on a chunk request's peak heap.
func heapLimit(chunk int64) int64 { return 3*chunk + 32*mib }

// completion is the median time of the request that completed a file of
// size for dialect d at 4 MiB chunks (×4 where the client can).
func (r *Report) completion(d string, size int64) (total, s3 float64, n int) {
	var t, s []float64
	for _, run := range append(append([]Run(nil), r.Latency...), r.Runs...) {
		if run.Dialect == d && run.Size == size && run.Chunk == 4*mib && run.Skipped == "" && run.Par == completionPar(d) {
			t, s = append(t, run.Complete), append(s, run.S3Complete)
		}
	}
	return medianF(t), medianF(s), len(t)
}

// completionPar is the parallelism of a dialect's completion-latency
// uploads: 4, or 1 for the clients that send one chunk at a time.
func completionPar(d string) int {
	if isSequential(d) {
		return 1
	}
	return 4
}

// isTargetCase reports whether r is the throughput target's case (native,
// 4 MiB chunks ×4), judged at every file size.
func isTargetCase(r Run) bool { return r.Dialect == "native" && r.Chunk == 4*mib && r.Par == 4 }

func isSequential(d string) bool {
	for _, x := range dialects() {
		if x.Name == d {
			return x.Sequential
		}
	}
	return false
}

// Table builds the rows and the checks.
func (r *Report) Table() ([]row, []Check) {
	var rows []row
	var checks []Check
	small, large := r.Sizes[0], r.Sizes[len(r.Sizes)-1]

	// Ceilings.
	for _, size := range r.Sizes {
		c4, lo, hi, n := r.ceiling(size, 4)
		c1, _, _, _ := r.ceiling(size, 1)
		rows = append(rows, row{"ceiling", fmt.Sprintf("raw multipart · %s parts · ×4 · %s", sizeName(r.RawPart), sizeName(size)),
			mbps(c4), "100%", fmt.Sprintf("median of %d runs spread through the run (%s–%s)", n, mbps(lo), mbps(hi))})
		rows = append(rows, row{"ceiling", fmt.Sprintf("raw multipart · %s parts · ×1 · %s", sizeName(r.RawPart), sizeName(size)),
			mbps(c1), pct(c1 / c4), "one part at a time"})
	}

	// Throughput.
	for _, run := range r.Runs {
		name := caseName(run.Dialect, run.Chunk, run.Par, run.Size)
		if run.Skipped != "" {
			rows = append(rows, row{"throughput", name, "—", "—", "skipped: " + run.Skipped})
			continue
		}
		c4, _, _, _ := r.ceiling(run.Size, 4)
		bps := float64(run.Size) / run.Seconds
		detail := fmt.Sprintf("%d chunks, %d parts, %d requests in %s", run.Chunks, run.Parts, run.Requests, secs(run.Seconds))
		if run.Uploads > 1 {
			detail += fmt.Sprintf("; %d partial uploads at once, joined by a final one", run.Uploads-1)
		}
		if run.Retries > 0 {
			detail += fmt.Sprintf("; %d answers 503 retried", run.Retries)
		}
		if run.Warnings > 0 {
			detail += fmt.Sprintf("; %d service warnings/errors logged", run.Warnings)
		}
		rows = append(rows, row{"throughput", name, mbps(bps), pct(bps/c4) + " of raw ×4", detail})
		if isTargetCase(run) {
			// With repeats of this case, each against the ceiling run just
			// before it, the median of the ratios.
			ratio := bps / c4
			got := fmt.Sprintf("%s of %s = %s", mbps(bps), mbps(c4), pct(ratio))
			ratios := []float64{ratio}
			for _, x := range r.Repeats {
				if x.Dialect == run.Dialect && x.Size == run.Size && x.Chunk == run.Chunk && x.Par == run.Par && x.Ceiling > 0 {
					xb := float64(x.Size) / x.Seconds
					ratios = append(ratios, xb/x.Ceiling)
					got += fmt.Sprintf("; again %s of %s = %s", mbps(xb), mbps(x.Ceiling), pct(xb/x.Ceiling))
				}
			}
			if len(ratios) > 1 {
				ratio = medianF(ratios)
				got = fmt.Sprintf("median of %d runs each against a ceiling run: %s (", len(ratios), pct(ratio)) + got + ")"
			}
			if raw := r.rawCPUPerGiB(run.Size); raw > 0 && run.Counts.CPUTotal() > 0 {
				cpu := run.Counts.CPUTotal() / (float64(run.Size) / gib)
				got += fmt.Sprintf("; CPU %.1f s per GiB against the raw upload's %.1f: where both are CPU-bound, at most %s", cpu, raw, pct(raw/cpu))
			}
			checks = append(checks, Check{fmt.Sprintf("native, 4 MiB chunks ×4, %s: ≥ 35%% of the raw ceiling", sizeName(run.Size)),
				ratio >= 0.35, got})
		}
	}

	// tus beside tusd.
	vrows, vchecks := r.versusTable()
	rows, checks = append(rows, vrows...), append(checks, vchecks...)

	// Straight to S3.
	drows, dchecks := r.directTable()
	rows, checks = append(rows, drows...), append(checks, dchecks...)

	// Completion latency.
	for _, d := range r.Dialects {
		base, baseS3, _ := r.completion(d, r.Small)
		par := 4
		if isSequential(d) {
			par = 1
		}
		for _, size := range append([]int64{r.Small}, r.Sizes...) {
			t, s3, n := r.completion(d, size)
			if n == 0 {
				rows = append(rows, row{"completion", caseName(d, 4*mib, par, size), "—", "—", "not measured at this size (time budget; -full measures it)"})
				continue
			}
			detail := fmt.Sprintf("S3 CompleteMultipartUpload %s of it (raw upload's own: %s); the rest %s", secs(s3), secs(r.rawComplete(size)), secs(t-s3))
			if n > 1 {
				detail = fmt.Sprintf("median of %d; ", n) + detail
			}
			rows = append(rows, row{"completion", caseName(d, 4*mib, par, size), secs(t), fmt.Sprintf("%.1f× %s", t/base, sizeName(r.Small)), detail})
			if (d == "native" || d == "tus") && size == large && large != r.Small {
				// The S3 server's own CompleteMultipartUpload is left out:
				// versitygw copies the parts into one file, so its time grows
				// with the size for the raw upload just the same; what
				// chunkup adds to it must stay flat.
				own, baseOwn := t-s3, base-baseS3
				checks = append(checks, Check{fmt.Sprintf("%s completion, %s within 2× of %s (beyond S3's own CompleteMultipartUpload)", d, sizeName(large), sizeName(r.Small)),
					own <= 2*baseOwn, fmt.Sprintf("chunkup's part %s vs %s = %.1f×; the whole request %s vs %s = %.1f×, of which S3's CompleteMultipartUpload %s (the raw upload's own at %s: %s)",
						secs(own), secs(baseOwn), own/math.Max(baseOwn, 1e-9), secs(t), secs(base), t/base, secs(s3), sizeName(large), secs(r.rawComplete(large)))})
			}
		}
	}

	// Requests per GiB.
	for _, p := range r.perGiB() {
		c := p.Counts
		name := fmt.Sprintf("%s · %s chunks · per GiB (%s files)", p.Dialect, sizeName(p.Chunk), sizeName(small))
		var byOp []string
		for _, op := range c.OpNames("S3") {
			byOp = append(byOp, fmt.Sprintf("%s %s", op, num(p.per(float64(c.Ops["S3 "+op].Attempts)))))
		}
		billable := p.per(float64(c.S3Billable()))
		budget := p.per(float64(p.Budget()))
		rows = append(rows, row{"S3 requests", name,
			fmt.Sprintf("%s billable (PUT class %s, GET class %s); DELETE %s (free)", num(billable), num(p.per(float64(c.S3(classPut)))), num(p.per(float64(c.S3(classGet)))), num(p.per(float64(c.S3(classFree))))),
			fmt.Sprintf("%s of budget %s", pct(billable/budget), num(budget)),
			strings.Join(byOp, " · ") + fmt.Sprintf("; written %.2f GiB, read %.2f GiB", p.per(float64(c.S3BytesWritten()))/gib, p.per(float64(c.S3BytesRead()))/gib)})
		checks = append(checks, Check{fmt.Sprintf("%s, %s chunks: billable S3 requests ≤ 2/chunk + 1/part + 3/upload", p.Dialect, sizeName(p.Chunk)),
			c.S3Billable() <= int64(p.Budget()), fmt.Sprintf("%d ≤ %d (%d chunks, %d parts, %d uploads)", c.S3Billable(), p.Budget(), p.Chunks, p.Parts, p.Uploads)})

		rru, wru, reqs := c.Dynamo()
		var dbOps []string
		var index, lost float64
		for _, op := range c.OpNames("DynamoDB") {
			s := c.Ops["DynamoDB "+op]
			dbOps = append(dbOps, fmt.Sprintf("%s %s", op, num(p.per(float64(s.Attempts)))))
			index += s.IndexUnits
			lost += float64(s.CondFailed)
		}
		rows = append(rows, row{"DynamoDB units", name,
			fmt.Sprintf("%s RRU · %s WRU", num(p.per(rru)), num(p.per(wru))),
			fmt.Sprintf("%.2f RRU + %.2f WRU per chunk", rru/float64(p.Chunks), wru/float64(p.Chunks)),
			fmt.Sprintf("%s requests: %s; WRU include %s of the sweep index (modelled) and %s lost conditional writes",
				num(p.per(float64(reqs))), strings.Join(dbOps, " · "), num(p.per(index)), num(p.per(lost)))})

		var inv float64
		for _, n := range c.Invocations {
			inv += float64(n)
		}
		at := "at ×1"
		if p.HandlerAllPars {
			at = "at ×4 (no ×1 run)"
		}
		rows = append(rows, row{"API + Lambda", name,
			fmt.Sprintf("%s requests · %s HTTP API units", num(p.per(float64(c.APIRequests))), num(p.per(float64(c.APIIncrements)))),
			fmt.Sprintf("%.2f units per request (512 KB each)", float64(c.APIIncrements)/float64(c.APIRequests)),
			fmt.Sprintf("%s Lambda invocations; handler time %.1f s per GiB %s; %.2f GiB through API Gateway per GiB",
				num(p.per(inv)), p.HandlerP1/math.Max(p.GiBP1, 1e-9), at, p.per(float64(c.APIBytes))/gib)})

		rawCPU := r.rawCPUPerGiB(small)
		cpu := p.per(c.CPUTotal())
		rows = append(rows, row{"CPU", name,
			fmt.Sprintf("%.1f CPU-s per GiB", cpu),
			fmt.Sprintf("%.1f× raw ×4 (%.1f CPU-s per GiB)", cpu/rawCPU, rawCPU),
			fmt.Sprintf("clients + local gateway + handlers %.1f · versitygw %.1f · dynalite %.1f; with all %d CPUs to itself at most %s",
				p.per(c.CPU["bench"]), p.per(c.CPU["versitygw"]), p.per(c.CPU["dynalite"]), r.CPUs, mbps(float64(r.CPUs)*gib/cpu))})
	}

	// Heap per invocation.
	for _, h := range r.Heap {
		limit := heapLimit(h.Chunk)
		name := fmt.Sprintf("%s · %s chunks · one invocation at a time", h.Dialect, sizeName(h.Chunk))
		rows = append(rows, row{"heap", name,
			fmt.Sprintf("peak %s (median %s)", sizeName(int64(h.PeakMax)), sizeName(int64(h.PeakMedian))),
			fmt.Sprintf("%s of 3×chunk + 32 MiB (%s)", pct(float64(h.PeakMax)/float64(limit)), sizeName(limit)),
			fmt.Sprintf("allocated %s = %.1f× the chunk per chunk request (max %s); event %s; peak in %s; %d chunk requests, median %s, of which decoding the event %s; %s",
				sizeName(int64(h.AllocMed)), float64(h.AllocMed)/float64(h.Chunk), sizeName(int64(h.AllocMax)), sizeName(h.Payload), h.PeakRoute,
				h.Requests, secs(h.Seconds), secs(h.Decode), otherRequests(h))})
		checks = append(checks, Check{fmt.Sprintf("%s, %s chunks: peak heap per chunk request < 3× chunk + 32 MiB", h.Dialect, sizeName(h.Chunk)),
			int64(h.PeakMax) < limit, fmt.Sprintf("%s < %s", sizeName(int64(h.PeakMax)), sizeName(limit))})
	}
	for _, x := range r.RSS {
		mem := r.MemoryMB["ReceiveFunction"]
		rows = append(rows, row{"function memory", fmt.Sprintf("receive function binary · %s chunks · %d invocations", sizeName(x.Chunk), x.Invocations),
			fmt.Sprintf("max RSS %s", sizeName(x.MaxRSS)), fmt.Sprintf("%s of MemorySize %d MB", pct(float64(x.MaxRSS)/(float64(mem)*1e6)), mem),
			fmt.Sprintf("what Lambda reports as Max Memory Used; median chunk invocation %s", secs(x.Warm))})
	}

	// Cold start.
	if c := r.Cold; c != nil {
		rows = append(rows, row{"cold start", fmt.Sprintf("%s binary · %s", c.Function, c.Event), secs(c.Cold),
			fmt.Sprintf("%.0f× a warm invocation (%s)", c.Cold/c.Warm, secs(c.Warm)),
			fmt.Sprintf("process start → first answer, median of %d starts: init %s + first invocation %s; binary %s, max RSS %s; answered %s",
				c.Runs, secs(c.Init), secs(c.First), sizeName(c.Binary), sizeName(c.MaxRSS), c.Response)})
	}
	// The emulator's mode (make run) against the in-process one.
	if x := r.Emulated; x != nil && len(x.Emulated) > 0 && len(x.InProcess) > 0 {
		em, in := medianF(x.Emulated), medianF(x.InProcess)
		rows = append(rows, row{"emulator", fmt.Sprintf("native · %s chunks · ×%d · %s · built binaries under aws-lambda-rie", sizeName(x.Chunk), x.Par, sizeName(x.Size)),
			mbps(float64(x.Size) / em),
			fmt.Sprintf("%.2f× the in-process time (%s)", x.Ratio(), mbps(float64(x.Size)/in)),
			fmt.Sprintf("median of %d uploads in each mode, in turn, last in the run; %s against %s per upload of %d requests; the %d cold starts were in a warm-up upload before them",
				len(x.Emulated), secs(em), secs(in), x.Requests, x.ColdStarts)})
	}
	if r.ServiceLogCount > 0 {
		rows = append(rows, row{"service log", "warnings and errors the service logged", num(float64(r.ServiceLogCount)), "—", strings.Join(r.ServiceLog[:min(3, len(r.ServiceLog))], " ⏎ ")})
	}
	if len(r.Uncovered) > 0 {
		rows = append(rows, row{"coverage", "receive routes without a bench client", strings.Join(r.Uncovered, ", "), "—", "add a client in cmd/bench/dialects.go (or direct.go)"})
	}
	for _, c := range checks {
		v := "PASS"
		if !c.Pass {
			v = "FAIL"
		}
		rows = append(rows, row{"target", c.Name, v, "—", c.Got})
	}
	return rows, checks
}

// Markdown renders the table with its notes.
func (r *Report) Markdown() string {
	rows, _ := r.Table()
	var b strings.Builder
	fmt.Fprintf(&b, "# chunkup benchmark\n\n")
	fmt.Fprintf(&b, "`make bench` (cmd/bench) on %s, %s; local stack (dynalite, versitygw), one run of %s. ",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Machine, secs(r.Seconds))
	fmt.Fprintf(&b, "Every figure is a count or a ratio of things measured side by side in this run.")
	if share := r.cpuShare(); share > 0 {
		fmt.Fprintf(&b, " Load average %.1f at the start, %.1f at the end; during the ×4 uploads the benchmark's processes got %s of the machine's CPU time.",
			r.LoadStart, r.LoadEnd, pct(share))
		if share < 0.6 {
			b.WriteString(" **Other work kept the machine busy: the wall-clock figures (throughput, completion, ceiling) of this run are unreliable; the CPU and count rows are not affected.**")
		}
	}
	if r.Quick {
		fmt.Fprintf(&b, " **Quick mode: small files, for the test only.**")
	}
	b.WriteString("\n\n| section | case | value | relative | detail |\n|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for _, x := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", esc(x.Section), esc(x.Case), esc(x.Value), esc(x.Relative), esc(x.Detail))
	}
	b.WriteString(notes)
	return b.String()
}

const notes = `
Notes (how each figure is measured):

- **throughput**: a client uploads the file through the local gateway over real HTTP on loopback (the gateway
  turns each request into the API Gateway payload 2.0 event, base64 body included, and the handler gets it
  through aws-lambda-go-api-proxy, as on Lambda), from the first request to the answer that completes the file.
  The clients behave as the browser libraries do with their defaults: Resumable.js and Flow.js send a test GET
  before each chunk (testChunks) and cut a file into floor(size/chunk) chunks; the sequential clients (django,
  drf, jQuery-File-Upload) send one chunk at a time. **ceiling**: one raw multipart upload of the same bytes
  straight to the same versitygw, with the same checksum work (CRC64NVME per part and full-object, unsigned
  payload), measured several times between the chunkup runs; ratios are to the median at ×4. The large file is
  uploaded by native at 4 MiB ×4 (and more rows as the time budget allows, all with ` + "`-full`" + `). The
  target's case (native, 4 MiB ×4) runs twice more at the end on each file size, each right after a ceiling
  run of the same size; each size's target takes the median of its three ratios (the first against the median
  ceiling). The time budget (` + "`-budget`" + `) keeps room for these repeats: optional rows are skipped once
  they would not end, with the repeats after them, within it.
- **tus vs tusd**: chunkup's tus dialect (/files, through the local gateway) and tusd (its handler and s3store,
  as ` + "`tusd -s3-bucket`" + ` runs them, pinned in tools/tusd, on its own bucket of the same versitygw, no gateway in
  front) driven by the same tus 1.0 client in this program (creation, then PATCHes of one chunk at a time at
  the answered offset; with partial uploads, the file cut into 4 partials sent at once, each one PATCH at a
  time, joined by an Upload-Concat: final upload), same file and chunk size. Each case runs in pairs, chunkup
  and tusd one right after the other, the order swapped every round; a ratio is the median of the pairs'.
  Before the pairs each server takes one unmeasured upload of a small file (4 partial uploads), and before
  each run the disks are synced, so that no run pays for the start-up or the writes of another.
  tusd's S3 requests are its own count (its tusd_s3_request_duration_ms metric, one observation per request),
  which leaves out its UploadPartCopy and aborts; chunkup's are counted as for every row (S3 requests, DynamoDB
  units). The partial-uploads target is judged against tusd one PATCH at a time (how tus clients upload by
  default); the ratio to tusd's own partial uploads is shown beside it.
- **direct**: the client creates a direct upload, asks chunkup (through the gateway) to sign each part, PUTs
  the part straight to versitygw with the presigned URL, and asks chunkup to complete; the native direct mode
  binds each part to its CRC64NVME (S3 checks it, as the raw upload's parts are checked), the Companion routes
  (as Uppy's AwsS3 plugin calls them) send none. Each run is paired with a raw multipart upload of the same
  bytes, part size and parallelism (the ceiling's code), one right after the other, the order swapped every
  round; the ratio is the median of the pairs'. S3 requests are the service's (metered on its clients) plus the
  client's presigned PUTs, which S3 bills to the bucket's owner; "bodies" is the request bodies that reached
  the gateway, and so the functions: the target holds them to 64 KiB per upload (the create and completion
  JSON), so no byte of a file passes through a function.
- **completion**: the duration of the request that completes the file (native, django, drf: the completion
  request; the others: the chunk whose answer says the file is complete), at 4 MiB chunks, next to the time S3's
  CompleteMultipartUpload took inside it and the time the raw upload's own CompleteMultipartUpload took for the
  same size (versitygw's completion copies the parts into one file, so it grows with the size; S3's does not).
  The target holds chunkup's part of the request (the request less S3's CompleteMultipartUpload) to 2× of
  the small file's: reading the part records, combining their CRC64NVMEs, the conditional writes and the
  leftover listing must not grow with the file.
- **S3 requests, DynamoDB units, API + Lambda**: counted by SDK middleware on the service's own clients (every
  HTTP attempt, retries included) for the uploads on the small file at both parallelisms, plus the cleanup
  sweep that deletes their part records, divided by the GiB uploaded. Billable S3 requests are the PUT/COPY/POST/LIST
  class and the GET class; DeleteObjects and AbortMultipartUpload are free. The budget is 2 per chunk + 1 per
  part + 3 per upload. DynamoDB units are the ConsumedCapacity dynalite reports with ReturnConsumedCapacity
  TOTAL (reads in 4 KB units, strongly consistent = 1; writes in 1 KB units, the larger of the old and new item),
  plus 1 WRU per conditional write that lost (billed, not reported), plus the sparse sweep index's writes,
  which dynalite does not report: modelled as 1 WRU when a session enters or leaves it and 2 when its expiresAt
  moves. HTTP API units are each request's size (request line, headers, body) in 512 KB increments.
  Handler time is the time the functions' handlers ran in the ×1 runs (without the event's JSON decoding).
- **CPU**: CPU time of this process (the clients, the local gateway with its JSON and base64 work, the
  handlers) and of versitygw and dynalite, read from /proc around each upload, per GiB; next to the raw
  ×4 upload's. CPU time hardly changes when other work shares the machine, so it is the steadiest figure here.
- **heap**: the same clients, but each request is turned into its event and invoked in this process through
  the function's lambda.Handler (lambdahttp: event decode, the handler, response encode), one at a time, after a full
  GC; peak is the highest heap in use (runtime/metrics /memory/classes/heap/objects: live objects and garbage
  not yet swept) sampled every 20 µs above what was in use before; allocated is /gc/heap/allocs during the
  invocation. A file of two parts and one chunk, so part assembly and completion are among the requests.
  **function memory**: the receive function's real binary (built for this machine) fed chunk events through a
  local Runtime API; its peak resident memory (VmHWM) is what Lambda reports as Max Memory Used.
- **cold start**: functions/check built for this machine (-tags lambda.norpc -trimpath -s -w) started with
  AWS_LAMBDA_RUNTIME_API pointing at a Runtime API in the bench, fed events/native-status.json (naming a real
  upload): process start → the first answer, next to later invocations in the same process.
- **emulator**: the mode ` + "`make run`" + ` runs: the functions built for this machine as build-<LogicalId> builds them,
  each under the AWS Lambda Runtime Interface Emulator (pools of 4, one invocation at a time per instance), behind
  a second local gateway: each request's event goes over loopback HTTP to the emulator's invoke API, then over
  its Runtime API to the bootstrap, and the answer back. The same native upload is sent through that gateway
  and through the in-process one every other row uses, in turn; the ratio is of the median durations. It
  runs after everything else, so no other row shares the machine with the emulator's processes.
- Local timings are not AWS timings: this machine's disk, loopback and two cores are shared by the client,
  the gateway, the handlers, versitygw and dynalite. The ratios and counts are what carries over.
`

// otherRequests says how much heap the dialect's requests other than
// chunks took at most, or that the client sent none (MultipleUpload and
// jQuery-File-Upload send chunks only).
func otherRequests(h HeapRow) string {
	if h.OtherRoute == "" {
		return "no other requests"
	}
	return fmt.Sprintf("other requests peak %s (%s)", sizeName(int64(h.OtherPeak)), h.OtherRoute)
}
