package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// prices are AWS list prices in us-east-1, each with where it was checked.
type prices struct {
	Date string
	// API Gateway.
	HTTPPerMillion float64 // per million requests (first 300 million a month), each 512 KB counting as one
	RESTPerMillion float64 // per million requests (first 333 million a month)
	// Lambda, arm64.
	LambdaGBSecond   float64
	LambdaPerMillion float64
	// S3 Standard.
	S3PutPer1000  float64 // PUT, COPY, POST, LIST
	S3GetPer1000  float64 // GET and all other requests (DELETE and CANCEL are free)
	S3GBMonth     float64 // first 50 TB
	DDBWritePerM  float64 // on-demand, per million write request units
	DDBReadPerM   float64 // on-demand, per million read request units
	ClientMbps    float64 // the client's upload bandwidth the storage model assumes
	BytesPerTB    float64
	HoursPerMonth float64
}

var listPrices = prices{
	Date:           "2026-11-22",
	HTTPPerMillion: 1.00, RESTPerMillion: 3.50,
	LambdaGBSecond: 0.0000133334, LambdaPerMillion: 0.20,
	S3PutPer1000: 0.005, S3GetPer1000: 0.0004, S3GBMonth: 0.023,
	DDBWritePerM: 0.625, DDBReadPerM: 0.125,
	ClientMbps: 100, BytesPerTB: 1e12, HoursPerMonth: 730,
}

const priceSources = `Prices: AWS list prices for us-east-1 as of %s, checked against
- API Gateway (https://aws.amazon.com/api-gateway/pricing/, as transcribed on 2026-09-20 in
  api-evangelist/amazon-web-services plans/amazon-web-services-plans-pricing.yml): HTTP APIs $1.00 per million
  requests for the first 300 million a month, "HTTP APIs are metered in 512 KB increments"; REST APIs $3.50
  per million for the first 333 million.
- Lambda (https://aws.amazon.com/lambda/pricing/): $0.20 per million requests; arm64 $0.0000133334 per
  GB-second (first 6 billion GB-seconds a month), the arm64 base rate artillery's price table
  (lib/platform/aws-lambda/prices.js) also carries.
- S3 Standard (https://aws.amazon.com/s3/pricing/): $0.005 per 1,000 PUT, COPY, POST, LIST requests;
  $0.0004 per 1,000 GET and all other requests; DELETE and CANCEL requests are free; storage $0.023 per
  GB-month for the first 50 TB. (The stored copies of the pricing page render their rate tables from tokens;
  these rates are AWS's published ones and were not contradicted by any stored source.)
- DynamoDB on-demand (https://aws.amazon.com/dynamodb/pricing/on-demand/, the read/write request unit
  definitions; rates after the November 2024 reduction as airbyte.com/data-engineering-resources/dynamodb-pricing
  quotes them): $0.625 per million write request units, $0.125 per million read request units.
Free tiers, data transfer (uploads into AWS are free) and the finished object's own storage are left out.
`

// costLine is the cost of one GiB uploaded, by service.
type costLine struct {
	Dialect          string
	Chunk            int64
	File             int64   // the direct lines' file size
	S3Requests       float64 // the direct lines' billable S3 requests per GiB
	HTTP, REST       float64 // API Gateway
	HTTPUnits        float64 // per GiB
	Requests         float64 // per GiB
	LambdaReq, GBSec float64
	Lambda           float64
	S3Req            float64
	S3Storage        float64
	DynamoDB         float64
}

// requests is the cost of the requests alone: API Gateway (HTTP API),
// Lambda, S3 requests and DynamoDB, without the storage.
func (c costLine) requests() float64 { return c.HTTP + c.Lambda + c.S3Req + c.DynamoDB }

func (c costLine) total(rest bool) float64 {
	api := c.HTTP
	if rest {
		api = c.REST
	}
	return api + c.Lambda + c.S3Req + c.S3Storage + c.DynamoDB
}

// partSize is the engine's part for chunk size c: at least 5 MiB, whole
// chunks (files under 50 GB, where the 10,000-part limit does not bite).
func partSize(c int64) int64 { return c * ((5*mib + c - 1) / c) }

// storageGBMonths models how long uploaded bytes sit in S3 before the
// finished object exists, per GiB uploaded as files of fileSize at the
// client's bandwidth: a staged chunk waits on average half the time its
// part takes to arrive; an assembled part waits on average half the time
// the file takes.
func (p prices) storageGBMonths(fileSize, chunk int64) float64 {
	bps := p.ClientMbps * 1e6 / 8
	staged := float64(partSize(chunk)) / bps / 2
	parts := float64(fileSize) / bps / 2
	return (staged + parts) / 3600 / p.HoursPerMonth // GiB uploaded × seconds → GiB-months
}

func (r *Report) costs(p prices) []costLine {
	var out []costLine
	for _, g := range r.perGiB() {
		c := g.Counts
		l := costLine{Dialect: g.Dialect, Chunk: g.Chunk}
		l.Requests = g.per(float64(c.APIRequests))
		l.HTTPUnits = g.per(float64(c.APIIncrements))
		l.HTTP = l.HTTPUnits * p.HTTPPerMillion / 1e6
		l.REST = l.Requests * p.RESTPerMillion / 1e6
		var inv float64
		for _, n := range c.Invocations {
			inv += float64(n)
		}
		l.LambdaReq = g.per(inv)
		// Billed duration: handler time at ×1 plus half a millisecond of
		// rounding per invocation, times each function's memory.
		var gbs float64
		for fn, s := range g.HandlerByFnP1 {
			mem := float64(r.MemoryMB[fn]) / 1024
			gbs += (s/g.GiBP1 + 0.0005*g.per(float64(c.Invocations[fn]))) * mem
		}
		l.GBSec = gbs
		l.Lambda = l.LambdaReq*p.LambdaPerMillion/1e6 + gbs*p.LambdaGBSecond
		l.S3Req = g.per(float64(c.S3(classPut)))*p.S3PutPer1000/1000 + g.per(float64(c.S3(classGet)))*p.S3GetPer1000/1000
		l.S3Storage = p.storageGBMonths(r.Sizes[0], g.Chunk) * p.S3GBMonth
		rru, wru, _ := c.Dynamo()
		l.DynamoDB = g.per(rru)*p.DDBReadPerM/1e6 + g.per(wru)*p.DDBWritePerM/1e6
		out = append(out, l)
	}
	return out
}

// directCosts are the direct uploads' costs per GiB, by client and part
// size, from their runs on the small file. Lambda is billed for the
// handlers' time as measured in those (parallel) runs, plus the rounding
// per invocation; S3 counts the clients' presigned part PUTs with the
// service's requests; the parts sit in S3 until the completion, half the
// file's upload time on average.
func (r *Report) directCosts(p prices) []costLine {
	var out []costLine
	bps := p.ClientMbps * 1e6 / 8
	var all []directGiB
	for _, size := range r.Sizes {
		all = append(all, r.directPerGiB(size)...)
	}
	for _, g := range all {
		c := g.Counts
		l := costLine{Dialect: g.Client, Chunk: g.Part, File: g.Size, S3Requests: g.per(float64(c.S3Billable()))}
		l.Requests = g.per(float64(c.APIRequests))
		l.HTTPUnits = g.per(float64(c.APIIncrements))
		l.HTTP = l.HTTPUnits * p.HTTPPerMillion / 1e6
		l.REST = l.Requests * p.RESTPerMillion / 1e6
		var inv, gbs float64
		for fn, n := range c.Invocations {
			inv += float64(n)
			gbs += (g.per(c.Handler[fn]) + 0.0005*g.per(float64(n))) * float64(r.MemoryMB[fn]) / 1024
		}
		l.LambdaReq, l.GBSec = g.per(inv), gbs
		l.Lambda = l.LambdaReq*p.LambdaPerMillion/1e6 + gbs*p.LambdaGBSecond
		l.S3Req = g.per(float64(c.S3(classPut)))*p.S3PutPer1000/1000 + g.per(float64(c.S3(classGet)))*p.S3GetPer1000/1000
		l.S3Storage = float64(g.Size) / bps / 2 / 3600 / p.HoursPerMonth * p.S3GBMonth
		rru, wru, _ := c.Dynamo()
		l.DynamoDB = g.per(rru)*p.DDBReadPerM/1e6 + g.per(wru)*p.DDBWritePerM/1e6
		out = append(out, l)
	}
	return out
}

// directCost is one client's direct cost line at a part and file size.
func (r *Report) directCost(p prices, client string, part, size int64) (costLine, bool) {
	for _, l := range r.directCosts(p) {
		if l.Dialect == client && l.Chunk == part && l.File == size {
			return l, true
		}
	}
	return costLine{}, false
}

// directCostMarkdown is the cost model's direct section.
func (r *Report) directCostMarkdown(p prices) string {
	lines := r.directCosts(p)
	if len(lines) == 0 {
		return ""
	}
	tb := p.BytesPerTB / gib
	var b strings.Builder
	b.WriteString("## Straight to S3 (direct uploads)\n\n")
	b.WriteString("The client PUTs each part to S3 with a URL chunkup presigns; API Gateway and Lambda see only the create, one signing request per part and the completion. " +
		"S3 bills the part PUTs to the bucket's owner (PUT class) like the service's own requests.\n\n")
	b.WriteString("| client | part | file | API requests /GiB | Lambda invocations /GiB | S3 requests /GiB | HTTP API | Lambda | S3 requests | DynamoDB | **requests, 1 TB** | S3 storage while uploading, 1 TB | **1 TB, HTTP API** | **1 TB, REST API** |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | %s | **%s** | **%s** |\n",
			l.Dialect, sizeName(l.Chunk), sizeName(l.File), num(l.Requests), num(l.LambdaReq), num(l.S3Requests), usd(l.HTTP), usd(l.Lambda), usd(l.S3Req), usd(l.DynamoDB),
			usd(l.requests()*tb), usd(l.S3Storage*tb), usd(l.total(false)*tb), usd(l.total(true)*tb))
	}
	b.WriteString("\nColumns up to DynamoDB are per GiB uploaded. Each part costs a signing request (API Gateway, a Lambda invocation, a DynamoDB read) and its PUT; " +
		"each upload besides its parts costs its create and completion requests and four S3 requests of the service (CreateMultipartUpload, ListParts, " +
		"CompleteMultipartUpload and a ListObjectsV2 of the upload's staging prefix), so larger files cost less per GiB. " +
		"Lambda is the invocations plus the handlers' measured time in these runs (4 and 6 parts at a time) " +
		"at each function's MemorySize. S3 storage while uploading is modelled: the parts are billed as S3 Standard until the completion, half the file's upload time on average " +
		fmt.Sprintf("at %.0f Mbit/s. ", p.ClientMbps))
	large := r.Sizes[len(r.Sizes)-1]
	if l, ok := r.directCost(p, "direct", 64*mib, large); ok {
		verdict := "under"
		if l.requests()*tb >= 0.15 {
			verdict = "**not** under"
		}
		fmt.Fprintf(&b, "Target: requests under $0.15 per TB at 64 MiB parts: %s per TB with %s files, %s it", usd(l.requests()*tb), sizeName(large), verdict)
		if s, ok := r.directCost(p, "direct", 64*mib, r.Sizes[0]); ok {
			fmt.Fprintf(&b, " (%s with %s files)", usd(s.requests()*tb), sizeName(r.Sizes[0]))
		}
		b.WriteString(".")
	}
	b.WriteString("\n")
	return b.String()
}

func usd(x float64) string {
	switch {
	case x == 0:
		return "$0"
	case x < 0.0001:
		return fmt.Sprintf("$%.7f", x)
	case x < 0.01:
		return fmt.Sprintf("$%.5f", x)
	case x < 10:
		return fmt.Sprintf("$%.3f", x)
	}
	return fmt.Sprintf("$%.2f", x)
}

// CostMarkdown is the cost model: the counted requests per GiB times list
// prices, per dialect and chunk size, per GiB and per TB, with the HTTP
// API and the REST API side by side, and a sweep of chunk sizes for the
// native API.
func (r *Report) CostMarkdown(p prices) string {
	var b strings.Builder
	tb := p.BytesPerTB / gib
	b.WriteString("# What uploads cost on AWS\n\n")
	fmt.Fprintf(&b, "Made by `make bench` (`go run ./cmd/bench -cost` prints it again from docs/bench.json) from the requests\n"+
		"counted in the benchmark run of %s (docs/bench.md), times AWS list prices. 1 TB = 10¹² bytes = %.1f GiB.\n\n",
		r.Started.Format("2006-01-02"), tb)
	if r.Quick {
		b.WriteString("**Quick mode: small files, for the test only.**\n\n")
	}
	b.WriteString("## Per dialect and chunk size (measured counts)\n\n")
	b.WriteString("| dialect | chunk | API requests /GiB | HTTP API units /GiB | HTTP API | REST API | Lambda | S3 requests | S3 storage while uploading | DynamoDB | **1 TB, HTTP API** | **1 TB, REST API** |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	lines := r.costs(p)
	for _, l := range lines {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | **%s** |\n",
			l.Dialect, sizeName(l.Chunk), num(l.Requests), num(l.HTTPUnits), usd(l.HTTP), usd(l.REST), usd(l.Lambda), usd(l.S3Req), usd(l.S3Storage), usd(l.DynamoDB),
			usd(l.total(false)*tb), usd(l.total(true)*tb))
	}
	b.WriteString("\nColumns up to DynamoDB are per GiB uploaded. ")
	fmt.Fprintf(&b, "Lambda is the invocations plus the handlers' measured time (×1 runs, this machine) at each function's MemorySize in template.yaml (%s), "+
		"rounded up to the millisecond. S3 storage while uploading is modelled: staged chunks and assembled parts are billed as S3 Standard "+
		"until the file completes, at a client upload speed of %.0f Mbit/s and %s files.\n\n", memList(r.MemoryMB), p.ClientMbps, sizeName(r.Sizes[0]))

	// Which is cheaper where.
	b.WriteString("## HTTP API or REST API, and which chunk size\n\n")
	b.WriteString("An HTTP API request costs $1.00 per million for every 512 KB (or part) of the request; a REST API request costs $3.50 per million whatever its size " +
		"(up to API Gateway's 10 MB, never reached: Lambda takes 6 MB). So a request of up to 3 × 512 KB = 1.5 MiB (headers and form wrapping included) " +
		"is cheaper through an HTTP API, and a larger one through a REST API.\n\n")
	b.WriteString(r.crossover())
	b.WriteString("\n")
	b.WriteString(r.sweep(p, lines))
	b.WriteString("\n")
	b.WriteString(r.recommend(p, lines))
	b.WriteString("\n")
	if d := r.directCostMarkdown(p); d != "" {
		b.WriteString(d)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, priceSources, p.Date)
	return b.String()
}

func memList(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d MB", strings.TrimSuffix(k, "Function"), m[k]))
	}
	return strings.Join(parts, ", ")
}

// sweep models the native API's cost per GiB at chunk sizes between the
// measured ones: requests follow from the chunk size (one per chunk, S3
// requests per chunk, part and upload as counted), the per-chunk costs of
// Lambda and DynamoDB are fitted to the two measured chunk sizes.
func (r *Report) sweep(p prices, lines []costLine) string {
	var lo, hi *costLine
	var ghi perGiB
	for _, g := range r.perGiB() {
		if g.Dialect != "native" {
			continue
		}
		for i := range lines {
			if lines[i].Dialect == "native" && lines[i].Chunk == g.Chunk {
				if lo == nil || g.Chunk < lo.Chunk {
					lo = &lines[i]
				}
				if hi == nil || g.Chunk > hi.Chunk {
					hi, ghi = &lines[i], g
				}
			}
		}
	}
	if lo == nil || hi == nil || lo.Chunk == hi.Chunk {
		return ""
	}
	// Per-chunk and per-byte terms from the two measurements: cost/GiB =
	// a·(chunks per GiB) + b.
	fit := func(ylo, yhi float64) (a, b float64) {
		xlo, xhi := float64(gib)/float64(lo.Chunk), float64(gib)/float64(hi.Chunk)
		a = (ylo - yhi) / (xlo - xhi)
		return a, ylo - a*xlo
	}
	la, lb := fit(lo.Lambda, hi.Lambda)
	da, db := fit(lo.DynamoDB, hi.DynamoDB)
	// Request overhead (request line, headers) of a chunk request.
	overhead := (float64(ghi.Counts.APIBytes) - ghi.GiB*gib) / float64(ghi.Counts.APIRequests)
	otherReq := ghi.per(float64(ghi.Counts.APIRequests)) - float64(gib)/float64(hi.Chunk) // create, complete per GiB
	var b strings.Builder
	b.WriteString("Native API, modelled between the measured chunk sizes (S3 requests: a PUT and a GET per chunk, an UploadPart per part, 3 per upload; " +
		"Lambda and DynamoDB per chunk fitted to the measured 1 MiB and 4 MiB rows):\n\n")
	b.WriteString("| chunk | HTTP API units per chunk request | API, HTTP /GiB | API, REST /GiB | all else /GiB | **1 TB, HTTP API** | **1 TB, REST API** | cheaper |\n|---|---|---|---|---|---|---|---|\n")
	tb := p.BytesPerTB / gib
	for _, c := range []int64{256 * kib, 512 * kib, 1 * mib, 1536*kib - 8*kib, 1536 * kib, 2 * mib, 3 * mib, 4*mib - 8*kib, 4 * mib} {
		n := float64(gib) / float64(c)
		units := math.Ceil((float64(c) + overhead) / httpAPIIncrement)
		reqs := n + otherReq
		httpAPI := (n*units + otherReq) * p.HTTPPerMillion / 1e6
		rest := reqs * p.RESTPerMillion / 1e6
		parts := float64(gib) / float64(partSize(c))
		uploads := float64(gib) / float64(r.Sizes[0])
		s3 := (n+parts+3*uploads)*p.S3PutPer1000/1000 + n*p.S3GetPer1000/1000
		other := s3 + p.storageGBMonths(r.Sizes[0], c)*p.S3GBMonth + la*n + lb + da*n + db
		cheaper := "HTTP API"
		if rest < httpAPI {
			cheaper = "REST API"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | **%s** | **%s** | %s |\n", sizeName(c), units, usd(httpAPI), usd(rest), usd(other),
			usd((httpAPI+other)*tb), usd((rest+other)*tb), cheaper)
	}
	fmt.Fprintf(&b, "\nA chunk request carries %.0f bytes besides the chunk (request line and headers, measured). "+
		"If AWS's 512 KB means 512,000 bytes rather than 524,288, each step comes 2.3%% earlier.\n", overhead)
	return b.String()
}

// crossover says, per dialect, up to which chunk request size an HTTP
// API is the cheaper: with g other requests per chunk (Resumable.js's
// and Flow.js's test GETs, creates and completions), a chunk request of
// u increments costs u + g units against 3.5·(1 + g) on a REST API.
func (r *Report) crossover() string {
	var b strings.Builder
	b.WriteString("| dialect | other requests per chunk (measured) | HTTP API cheaper for chunk requests up to | REST API cheaper above |\n|---|---|---|---|\n")
	seen := map[string]bool{}
	for _, g := range r.perGiB() {
		if seen[g.Dialect] {
			continue
		}
		seen[g.Dialect] = true
		others := float64(g.Counts.APIRequests-int64(g.Chunks)) / float64(g.Chunks)
		u := math.Floor(3.5 + 2.5*others)
		limit := int64(u) * httpAPIIncrement
		fmt.Fprintf(&b, "| %s | %.2f | %.0f × 512 KB = %s | %s |\n", g.Dialect, others, u, sizeName(limit), sizeName(limit))
	}
	return b.String()
}

// recommend says which chunk size and API type to pick.
func (r *Report) recommend(p prices, lines []costLine) string {
	var b strings.Builder
	b.WriteString("## Which to pick\n\n")
	tb := p.BytesPerTB / gib
	best := map[string]costLine{}
	for _, l := range lines {
		for _, rest := range []bool{false, true} {
			key := "an HTTP API"
			if rest {
				key = "a REST API"
			}
			if cur, ok := best[key]; !ok || l.total(rest) < cur.total(rest) {
				best[key] = l
			}
		}
	}
	for _, key := range []string{"an HTTP API", "a REST API"} {
		l, ok := best[key]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "- Cheapest measured through %s: %s at %s chunks, %s per TB.\n", key, l.Dialect, sizeName(l.Chunk), usd(l.total(key == "a REST API")*tb))
	}
	for _, l := range lines {
		if l.Dialect == "native" && l.Chunk == 4*mib {
			fmt.Fprintf(&b, "- Native at 4 MiB: %s per TB through an HTTP API, %s through a REST API; the API is %s of the HTTP total, S3 requests %s.\n",
				usd(l.total(false)*tb), usd(l.total(true)*tb), pct(l.HTTP/l.total(false)), pct(l.S3Req/l.total(false)))
		}
	}
	b.WriteString("- Larger chunks are cheaper on every line that counts requests (S3, Lambda, DynamoDB, REST API); " +
		"only the HTTP API's 512 KB metering makes bytes, not requests, the unit, so with an HTTP API the chunk size matters less " +
		"and a chunk just under a multiple of 512 KB (with its headers) avoids paying for a mostly empty increment: " +
		"4,088 KiB chunks fit 8 increments where 4 MiB chunks take 9 (see the table above).\n")
	return b.String()
}
