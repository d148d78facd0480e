package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/local/proc"
)

// EnvTusd names the tusd binary (tools/tusd: tusd's handler and s3store,
// as tusd's command runs them with -s3-bucket); without it the benchmark
// runs <repo>/.local/tools/tusd, which `make bench` builds.
const EnvTusd = "CHUNKUP_TUSD"

// tusdBucket is tusd's own bucket on the stack's S3 server, so that its
// objects and chunkup's never meet.
const tusdBucket = "tusd-bench"

// tusd is tusd, the tus reference server, running with its s3store on
// the stack's S3 server beside chunkup.
type tusd struct {
	url     string
	bucket  string
	process *proc.Process
	spawner *proc.Spawner
}

// tusdPath is the tusd binary to run, or an error saying how to get one.
func tusdPath(root string) (string, error) {
	p := os.Getenv(EnvTusd)
	if p == "" {
		p = filepath.Join(root, ".local", "tools", "tusd")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("tusd: %w (make bench builds it from tools/tusd; or set %s)", err, EnvTusd)
	}
	return p, nil
}

// startTusd starts tusd with its s3store on the stack's S3 server, with
// tusd's own defaults for everything else (50 MiB preferred parts, 5 MiB
// minimum, 10 part uploads at once, content hashes on; tools/tusd), and
// counts its CPU time in the CPU meter.
func (e *env) startTusd(ctx context.Context, bin string) (*tusd, error) {
	if err := e.stack.CreateBucket(ctx, tusdBucket); err != nil {
		return nil, fmt.Errorf("tusd's bucket: %w", err)
	}
	home, err := os.MkdirTemp("", "chunkup-bench-tusd-")
	if err != nil {
		return nil, err
	}
	sp := proc.NewSpawner()
	p, err := proc.Start(ctx, sp, proc.Spec{
		Name: "tusd",
		Path: bin,
		Args: func(ports []int) []string {
			return []string{"-listen", "127.0.0.1:" + strconv.Itoa(ports[0]), "-base-path", "/files/", "-bucket", tusdBucket, "-endpoint", e.stack.S3Endpoint}
		},
		// Credentials as tusd reads them (the SDK's environment), nothing
		// from this machine's ~/.aws.
		Env: []string{
			"AWS_ACCESS_KEY_ID=" + e.stack.AccessKey, "AWS_SECRET_ACCESS_KEY=" + e.stack.SecretKey,
			"AWS_REGION=" + e.stack.Region, "AWS_EC2_METADATA_DISABLED=true",
			"HOME=" + home, "TMPDIR=" + os.TempDir(), "PATH=" + os.Getenv("PATH"),
		},
		Dir:     home,
		Timeout: 30 * time.Second,
	})
	if err != nil {
		sp.Close()
		os.RemoveAll(home)
		return nil, fmt.Errorf("start tusd: %w", err)
	}
	e.cpu.children["tusd"] = p.Pid()
	return &tusd{url: p.URL, bucket: tusdBucket, process: p, spawner: sp}, nil
}

func (t *tusd) close() {
	if t == nil {
		return
	}
	t.process.Stop()
	t.spawner.Close()
}

// server is tusd as the tus client sees it: uploads under /files/, the
// object key the upload id's part before the "+" (s3store's ids are
// objectId+multipartId).
func (t *tusd) server() tusServer {
	return tusServer{base: "/files/", key: func(_ http.Header, p string) string {
		id, _ := url.PathUnescape(path.Base(p))
		key, _, _ := strings.Cut(id, "+")
		return key
	}}
}

// tusdOps maps s3store's request metric labels to the S3 operations they
// stand for.
var tusdOps = map[string]string{
	"get_info_object": "GetObject", "put_info_object": "PutObject",
	"create_multipart_upload": "CreateMultipartUpload", "complete_multipart_upload": "CompleteMultipartUpload",
	"upload_part": "UploadPart", "list_parts": "ListParts",
	"head_part_object": "HeadObject", "get_part_object": "GetObject",
	"put_part_object": "PutObject", "delete_part_object": "DeleteObject",
}

// s3Requests reads tusd's own count of the S3 requests it made, by
// operation, from its Prometheus metrics (tusd_s3_request_duration_ms,
// one observation per request). s3store does not time its UploadPartCopy
// (one per partial upload a final one joins) and its aborts: they are not
// in it.
func (t *tusd) s3Requests(ctx context.Context, c *http.Client) (map[string]OpStat, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", t.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tusd metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tusd metrics: status %d", resp.StatusCode)
	}
	return parseTusdMetrics(resp.Body)
}

func parseTusdMetrics(r io.Reader) (map[string]OpStat, error) {
	out := map[string]OpStat{}
	const prefix = `tusd_s3_request_duration_ms_count{operation="`
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		label, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("tusd metrics: %q: %w", sc.Text(), err)
		}
		op := tusdOps[label]
		if op == "" {
			op = label
		}
		s := out["S3 "+op]
		s.Calls += int64(n)
		s.Attempts += int64(n)
		out["S3 "+op] = s
	}
	return out, sc.Err()
}

// empty deletes everything in tusd's bucket (its finished objects, .info
// and .part objects, and any multipart upload left open), so that the
// disk does not fill up between runs.
func (t *tusd) empty(ctx context.Context, c *s3.Client) error {
	var errs []error
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &t.bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list tusd's bucket: %w", err)
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &t.bucket, Key: o.Key}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	mpus, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &t.bucket})
	if err != nil {
		return fmt.Errorf("list tusd's multipart uploads: %w", err)
	}
	for _, u := range mpus.Uploads {
		if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &t.bucket, Key: u.Key, UploadId: u.UploadId}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// measureTusd uploads f to tusd with the tus client and reads what it
// cost: tusd's own count of its S3 requests, and the CPU time of the
// client, tusd and the S3 server.
func (e *env) measureTusd(ctx context.Context, t *tusd, f file, chunk int64, par int) (Run, error) {
	r := Run{Dialect: "tusd", Size: f.size(), Chunk: chunk, Par: par, Chunks: chunkCount(f.size(), chunk), Uploads: 1}
	if par > 1 {
		r.Uploads = par + 1
	}
	c := &client{http: e.client, base: t.url, s3CompleteTotal: func() float64 { return 0 }}
	before := e.counts()
	opsBefore, err := t.s3Requests(ctx, e.client)
	if err != nil {
		return r, err
	}
	start := time.Now()
	res, err := uploadTus(t.server())(ctx, c, f, chunk, par)
	if err != nil {
		return r, fmt.Errorf("tusd, %s chunks ×%d, %s: %w", sizeName(chunk), par, sizeName(f.size()), err)
	}
	r.Seconds = time.Since(start).Seconds()
	r.Complete, r.Requests, r.Retries = res.Complete.Seconds(), res.Requests, res.Retries
	opsAfter, err := t.s3Requests(ctx, e.client)
	if err != nil {
		return r, err
	}
	// Only the CPU meter saw tusd; its S3 requests are its own count.
	r.Counts = newCounts()
	r.Counts.CPU = e.counts().Sub(before).CPU
	for k, v := range opsAfter {
		v.add(opsBefore[k], -1)
		if v != (OpStat{}) {
			r.Counts.Ops[k] = v
		}
	}
	out, err := e.raw.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &t.bucket, Key: &res.Key})
	if err != nil {
		return r, fmt.Errorf("tusd: the finished object %q: %w", res.Key, err)
	}
	if n := aws.ToInt64(out.ContentLength); n != f.size() {
		return r, fmt.Errorf("tusd: the finished object has %d bytes, not %d", n, f.size())
	}
	if err := t.empty(ctx, e.raw); err != nil {
		return r, err
	}
	return r, nil
}
