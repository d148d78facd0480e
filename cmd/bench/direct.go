package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// Direct uploads: the client asks chunkup to sign each part and PUTs the
// part's bytes straight to S3 with the URL, then asks chunkup to
// complete; no byte of the file passes through the gateway or a
// function. Each is measured against a raw multipart upload of the same
// bytes, part size and parallelism to the same S3 server.

// presignedOp is the key of the S3 requests the client itself sent with
// presigned URLs, which S3 bills to the bucket's owner like any other.
const presignedOp = "S3 UploadPart (presigned)"

// directClient is a client family that uploads straight to S3.
type directClient struct {
	Name   string
	Routes []string
	upload func(ctx context.Context, c *client, put *presigner, f file, part int64, par int) (uploadResult, error)
}

// directClients are the direct clients the benchmark knows: the native
// API's direct mode (each part bound to its CRC64NVME, which S3 checks,
// as the raw upload's parts are) and Uppy's AwsS3 plugin through the
// Companion routes (which computes no checksums).
func directClients() []*directClient {
	return []*directClient{
		{Name: "direct", Routes: []string{"POST /v1/uploads", "GET /v1/uploads/{id}/parts/{n}", "POST /v1/uploads/{id}/complete"}, upload: uploadNativeDirect},
		{Name: "companion", Routes: []string{"POST /s3/multipart", "GET /s3/multipart/{uploadId}/{partNumber}", "POST /s3/multipart/{uploadId}/complete"}, upload: uploadCompanion},
	}
}

// presigner sends parts to S3 with presigned URLs and counts them.
type presigner struct {
	http *http.Client
	mu   sync.Mutex
	ops  OpStat
}

// put sends one part and returns its ETag.
func (p *presigner) put(ctx context.Context, method, target string, header map[string]string, body []byte) (string, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return "", err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	p.mu.Lock()
	p.ops.Calls++
	p.ops.Attempts++
	p.ops.BytesOut += int64(len(body))
	p.ops.Seconds += time.Since(start).Seconds()
	if resp.StatusCode != http.StatusOK {
		p.ops.Failed++
	}
	p.mu.Unlock()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("presigned %s: status %d: %.300s", method, resp.StatusCode, msg)
	}
	return resp.Header.Get("ETag"), nil
}

// partRange is part n's (from 1) bytes.
func partRange(f file, part int64, n int) []byte {
	lo := int64(n-1) * part
	return f.data[lo:min(lo+part, f.size())]
}

// uploadNativeDirect: POST /v1/uploads with "direct": true and the part
// size, GET a URL for each part bound to its CRC64NVME, PUT the part to
// S3, POST …/complete.
func uploadNativeDirect(ctx context.Context, c *client, put *presigner, f file, part int64, par int) (uploadResult, error) {
	body, _ := json.Marshal(map[string]any{"name": f.name, "size": f.size(), "type": "application/octet-stream", "direct": true, "partSize": part})
	var up struct {
		ID    string `json:"id"`
		Parts int    `json:"parts"`
	}
	if _, err := c.call(ctx, "create", "POST", "/v1/uploads", http.Header{"Content-Type": {"application/json"}}, body, http.StatusCreated, &up); err != nil {
		return uploadResult{}, err
	}
	if want := chunkCount(f.size(), part); up.Parts != want {
		return uploadResult{}, fmt.Errorf("create: %d parts, want %d", up.Parts, want)
	}
	err := sendAll(ctx, up.Parts, par, func(ctx context.Context, i int) error {
		data := partRange(f, part, i+1)
		sum := crc64nvme.Encode(crc64nvme.Checksum(data))
		var signed struct {
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		}
		path := fmt.Sprintf("/v1/uploads/%s/parts/%d?checksum=%s", up.ID, i+1, url.QueryEscape("crc64nvme="+sum))
		if _, err := c.call(ctx, fmt.Sprintf("sign part %d", i+1), "GET", path, nil, nil, http.StatusOK, &signed); err != nil {
			return err
		}
		_, err := put.put(ctx, signed.Method, signed.URL, signed.Headers, data)
		return err
	})
	if err != nil {
		return uploadResult{}, err
	}
	var done struct {
		Key string `json:"key"`
	}
	r, err := c.call(ctx, "complete", "POST", "/v1/uploads/"+up.ID+"/complete", nil, nil, http.StatusOK, &done)
	if err != nil {
		return uploadResult{}, err
	}
	return uploadResult{Key: done.Key, Requests: c.requests, Retries: c.retries, Complete: r.took, S3Complete: r.s3done}, nil
}

// uploadCompanion drives the Companion routes as @uppy/aws-s3 does:
// POST /s3/multipart, for each part GET /s3/multipart/{uploadId}/{n}?key=
// and a PUT of its bytes to the URL, then POST …/complete?key= with the
// parts' ETags.
func uploadCompanion(ctx context.Context, c *client, put *presigner, f file, part int64, par int) (uploadResult, error) {
	body, _ := json.Marshal(map[string]any{"filename": f.name, "type": "application/octet-stream", "metadata": map[string]string{}})
	var up struct {
		Key      string `json:"key"`
		UploadID string `json:"uploadId"`
	}
	if _, err := c.call(ctx, "create", "POST", "/s3/multipart", http.Header{"Content-Type": {"application/json"}}, body, http.StatusOK, &up); err != nil {
		return uploadResult{}, err
	}
	key := "?key=" + url.QueryEscape(up.Key)
	type donePart struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
	}
	n := chunkCount(f.size(), part)
	parts := make([]donePart, n)
	err := sendAll(ctx, n, par, func(ctx context.Context, i int) error {
		var signed struct {
			URL string `json:"url"`
		}
		if _, err := c.call(ctx, fmt.Sprintf("sign part %d", i+1), "GET", fmt.Sprintf("/s3/multipart/%s/%d%s", up.UploadID, i+1, key), nil, nil, http.StatusOK, &signed); err != nil {
			return err
		}
		etag, err := put.put(ctx, "PUT", signed.URL, nil, partRange(f, part, i+1))
		parts[i] = donePart{PartNumber: i + 1, ETag: etag}
		return err
	})
	if err != nil {
		return uploadResult{}, err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	body, _ = json.Marshal(map[string]any{"parts": parts})
	var done struct {
		Key string `json:"key"`
	}
	r, err := c.call(ctx, "complete", "POST", "/s3/multipart/"+up.UploadID+"/complete"+key, http.Header{"Content-Type": {"application/json"}}, body, http.StatusOK, &done)
	if err != nil {
		return uploadResult{}, err
	}
	return uploadResult{Key: done.Key, Requests: c.requests, Retries: c.retries, Complete: r.took, S3Complete: r.s3done}, nil
}

// measureDirect uploads f straight to S3 through d, has the sweep clean up
// after it, and returns what it cost: the service's own requests, as for
// every upload, and the part PUTs the client sent to S3 itself.
func (e *env) measureDirect(ctx context.Context, d *directClient, f file, part int64, par int) (Run, error) {
	r := Run{Dialect: d.Name, Size: f.size(), Chunk: part, Par: par, Uploads: 1, Chunks: chunkCount(f.size(), part), Parts: chunkCount(f.size(), part)}
	c := &client{http: e.client, base: e.url, s3CompleteTotal: e.s3CompleteSeconds}
	put := &presigner{http: e.client}
	before, logged := e.counts(), e.log.count()
	start := time.Now()
	res, err := d.upload(ctx, c, put, f, part, par)
	if err != nil {
		return r, fmt.Errorf("%s, %s parts ×%d, %s: %w", d.Name, sizeName(part), par, sizeName(f.size()), err)
	}
	r.Seconds = time.Since(start).Seconds()
	r.Complete, r.S3Complete, r.Requests, r.Retries = res.Complete.Seconds(), res.S3Complete.Seconds(), res.Requests, res.Retries
	if err := e.settle(ctx, &r, d.Name, res.Key, f.size(), before, logged); err != nil {
		return r, err
	}
	r.Counts.Ops[presignedOp] = put.ops
	return r, nil
}

// DirectCase is one case of the direct uploads: a client, file size, part
// size and parallelism, with its runs and the raw multipart uploads of
// the same bytes, part size and parallelism paired with them.
type DirectCase struct {
	Client string   `json:"client"`
	Size   int64    `json:"size"`
	Part   int64    `json:"part"`
	Par    int      `json:"par"`
	Runs   []Run    `json:"runs"`
	Raw    []RawRun `json:"raw"`
}

// Ratio is the median of the pairs' throughput ratios, direct over raw,
// and how many pairs there were.
func (dc DirectCase) Ratio() (float64, int) {
	var ratios []float64
	for i := range min(len(dc.Runs), len(dc.Raw)) {
		ratios = append(ratios, dc.Raw[i].Seconds/dc.Runs[i].Seconds)
	}
	return medianF(ratios), len(ratios)
}

// directCase is a case to run and how many pairs it makes.
type directCase struct {
	client    *directClient
	size      int64
	part      int64
	par, reps int
}

// directPlan is the direct cases: the native direct mode with 8 MiB and
// 64 MiB parts, 4 and 6 at a time, on both throughput files (pairs
// repeated on the small one), and the Companion routes with 64 MiB parts
// 6 at a time (Uppy's default limit) on the small one.
func directPlan(cs []*directClient, p plan) []directCase {
	var out []directCase
	for _, c := range cs {
		for i, size := range p.Sizes {
			reps := p.DirectReps
			if i > 0 {
				reps = 1
			}
			for _, part := range p.DirectParts {
				for _, par := range p.DirectPars {
					if c.Name == "companion" && (i > 0 || part != slices.Max(p.DirectParts) || par != slices.Max(p.DirectPars)) {
						continue
					}
					out = append(out, directCase{client: c, size: size, part: part, par: par, reps: reps})
				}
			}
		}
	}
	return out
}

// directRuns measures the direct cases, each run paired with a raw
// multipart upload of the same bytes, part size and parallelism made
// right before or after it (the order swapped every round).
func (e *env) directRuns(ctx context.Context, o options, p plan, cs []*directClient, f func(int64, string) file, rep *Report) error {
	cases := directPlan(cs, p)
	rep.Direct = make([]DirectCase, len(cases))
	rounds := 0
	for _, dc := range cases {
		rounds = max(rounds, dc.reps)
	}
	for round := range rounds {
		for i, dc := range cases {
			if round >= dc.reps {
				continue
			}
			out := &rep.Direct[i]
			out.Client, out.Size, out.Part, out.Par = dc.client.Name, dc.size, dc.part, dc.par
			name := fmt.Sprintf("%s-%s-%s-x%d-%d.bin", dc.client.Name, sizeName(dc.size), sizeName(dc.part), dc.par, round)
			direct := func() error {
				r, err := e.measureDirect(ctx, dc.client, f(dc.size, name), dc.part, dc.par)
				if err != nil {
					return err
				}
				out.Runs = append(out.Runs, r)
				o.logf("%s %s parts ×%d %s: %.1f MB/s", dc.client.Name, sizeName(dc.part), dc.par, sizeName(dc.size), float64(dc.size)/r.Seconds/1e6)
				return nil
			}
			raw := func() error {
				key := "raw/" + name
				before := e.counts()
				r, err := rawUpload(ctx, e.raw, e.bucket, key, f(dc.size, key), dc.part, dc.par)
				if err != nil {
					return err
				}
				cpu := e.counts().Sub(before).CPU
				deleteObject(ctx, e.raw, e.bucket, key)
				out.Raw = append(out.Raw, RawRun{Size: dc.size, Par: dc.par, Part: dc.part, Seconds: r.Total.Seconds(), Complete: r.Complete.Seconds(), CPU: cpu})
				o.logf("raw %s parts ×%d %s: %.1f MB/s", sizeName(dc.part), dc.par, sizeName(dc.size), float64(dc.size)/r.Total.Seconds()/1e6)
				return nil
			}
			order := []func() error{raw, direct}
			if round%2 == 1 {
				order[0], order[1] = direct, raw
			}
			for _, run := range order {
				if err := run(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// directLabel names a direct client at a part size.
func directLabel(client string, part int64) string {
	who := "native direct"
	if client == "companion" {
		who = "Companion routes (Uppy AwsS3)"
	}
	return fmt.Sprintf("%s · %s parts", who, sizeName(part))
}

// directName names a direct case.
func directName(client string, part int64, par int, size int64) string {
	return fmt.Sprintf("%s · ×%d · %s", directLabel(client, part), par, sizeName(size))
}

// maxDirectBody bounds the request bodies that pass through the gateway
// for one direct upload: the create and completion JSON, never a part.
const maxDirectBody = 64 << 10

// directTable is the direct uploads' rows and targets: each case at least
// 90% of the raw multipart upload's throughput, and no byte of any file
// through the gateway or a function.
func (r *Report) directTable() ([]row, []Check) {
	var rows []row
	var checks []Check
	for _, dc := range r.Direct {
		if len(dc.Runs) == 0 {
			continue
		}
		ratio, n := dc.Ratio()
		var pairs []string
		var raws []float64
		for i := range n {
			pairs = append(pairs, fmt.Sprintf("%s vs %s", mbps(float64(dc.Size)/dc.Runs[i].Seconds), mbps(float64(dc.Size)/dc.Raw[i].Seconds)))
			raws = append(raws, float64(dc.Size)/dc.Raw[i].Seconds)
		}
		first := dc.Runs[0]
		name := directName(dc.Client, dc.Part, dc.Par, dc.Size)
		detail := fmt.Sprintf("raw multipart, same bytes, parts and ×: %s; median of %d pairs, each one right after the other: %s; %d parts, %d requests to chunkup, completion %s",
			mbps(medianF(raws)), n, strings.Join(pairs, "; "), first.Parts, first.Requests, secs(first.Complete))
		if dc.Size != r.Sizes[0] {
			// One pair is too few on a shared machine: the target is
			// judged on the small file's pairs.
			detail += "; one pair: shown, not judged (the target is the small file's pairs)"
		} else {
			checks = append(checks, Check{fmt.Sprintf("%s: ≥ 90%% of the raw multipart upload's throughput", name), n > 0 && ratio >= 0.9,
				fmt.Sprintf("median of %d pairs: %s", n, pct(ratio))})
		}
		rows = append(rows, row{"direct", name, mbps(medianBps(dc.Runs)), pct(ratio) + " of raw", detail})
	}
	// What one GiB costs in requests, by client and part size.
	for _, g := range r.directPerGiB(r.Sizes[0]) {
		c := g.Counts
		var inv float64
		for _, n := range c.Invocations {
			inv += float64(n)
		}
		var svcOps []string
		for _, op := range c.OpNames("S3") {
			if n := c.Ops["S3 "+op].Attempts; "S3 "+op != presignedOp && n > 0 {
				svcOps = append(svcOps, fmt.Sprintf("%s %s", op, num(g.per(float64(c.Ops["S3 "+op].Attempts)))))
			}
		}
		rru, wru, reqs := c.Dynamo()
		name := fmt.Sprintf("%s · per GiB (%s files, ×%s)", directLabel(g.Client, g.Part), sizeName(r.Sizes[0]), g.Pars)
		rows = append(rows, row{"direct", name,
			fmt.Sprintf("%s Lambda invocations · %s billable S3 requests", num(g.per(inv)), num(g.per(float64(c.S3Billable())))),
			fmt.Sprintf("%s request bytes through API Gateway per GiB, %s of them bodies", num(g.per(float64(c.APIBytes))), num(g.per(float64(c.APIBodyBytes)))),
			fmt.Sprintf("%s API requests (%s HTTP API units); S3: the client's presigned UploadPart %s, the service's %s; DynamoDB %s requests, %s RRU · %s WRU; handler time %.2f s",
				num(g.per(float64(c.APIRequests))), num(g.per(float64(c.APIIncrements))), num(g.per(float64(c.Ops[presignedOp].Attempts))),
				strings.Join(svcOps, " · "), num(g.per(float64(reqs))), num(g.per(rru)), num(g.per(wru)), g.per(handlerTotal(c)))})
	}
	if len(r.Direct) > 0 {
		pass, worst, worstSize, sent, total := true, int64(0), int64(0), int64(0), int64(0)
		for _, dc := range r.Direct {
			for _, run := range dc.Runs {
				if run.Counts.APIBodyBytes > worst {
					worst, worstSize = run.Counts.APIBodyBytes, run.Size
				}
				pass = pass && run.Counts.APIBodyBytes <= maxDirectBody && run.Counts.Ops[presignedOp].BytesOut == run.Size
				sent += run.Counts.Ops[presignedOp].BytesOut
				total += run.Size
			}
		}
		checks = append(checks, Check{fmt.Sprintf("direct uploads: no byte of the file through API Gateway or a function (request bodies ≤ %s per upload, every byte in the client's presigned PUTs)", sizeName(maxDirectBody)),
			pass, fmt.Sprintf("largest request bodies of one upload through the gateway: %d bytes (a %s file); the clients' presigned PUTs carried %d of the files' %d bytes", worst, sizeName(worstSize), sent, total)})
		large := r.Sizes[len(r.Sizes)-1]
		if l, ok := r.directCost(listPrices, "direct", 64*mib, large); ok {
			tb := listPrices.BytesPerTB / gib
			got := fmt.Sprintf("%s per TB with %s files", usd(l.requests()*tb), sizeName(large))
			if s, ok := r.directCost(listPrices, "direct", 64*mib, r.Sizes[0]); ok {
				got += fmt.Sprintf(" (%s with %s files, where the 4 requests each upload makes besides its parts weigh 4 times as much; docs/cost.md)", usd(s.requests()*tb), sizeName(r.Sizes[0]))
			}
			checks = append(checks, Check{fmt.Sprintf("direct, 64 MiB parts, %s files: requests under $0.15 per TB (API Gateway, Lambda, S3 requests, DynamoDB)", sizeName(large)), l.requests()*tb < 0.15, got})
		}
	}
	return rows, checks
}

func handlerTotal(c Counts) float64 {
	var t float64
	for _, s := range c.Handler {
		t += s
	}
	return t
}

// directGiB is the counts of one client's direct runs at one part size
// on one file size (every parallelism and pair), per GiB.
type directGiB struct {
	Client string
	Part   int64
	Size   int64
	Pars   string
	GiB    float64
	Counts Counts
}

func (g directGiB) per(x float64) float64 { return x / g.GiB }

func (r *Report) directPerGiB(size int64) []directGiB {
	var out []directGiB
	for _, dc := range r.Direct {
		if dc.Size != size || len(dc.Runs) == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(g directGiB) bool { return g.Client == dc.Client && g.Part == dc.Part })
		if i < 0 {
			out = append(out, directGiB{Client: dc.Client, Part: dc.Part, Size: size, Counts: newCounts()})
			i = len(out) - 1
		}
		g := &out[i]
		if g.Pars != "" {
			g.Pars += ", "
		}
		g.Pars += fmt.Sprint(dc.Par)
		for _, run := range dc.Runs {
			g.Counts = g.Counts.Add(run.Counts)
			g.GiB += float64(run.Size) / gib
		}
	}
	return out
}
