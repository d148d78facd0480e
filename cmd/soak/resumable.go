package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// resumableClient sends a file as Resumable.js (1.1.0) or Flow.js does:
// chunks numbered from 1, the last taking the remainder, three at once;
// for each chunk a test GET first (skip it if the answer is a success),
// then the chunk, as a multipart form or (method "octet") the raw body.
// An answer that is neither a success nor a permanent error is retried:
// by Resumable.js up to maxChunkRetries times, by Flow.js as the README
// configures it (3 retries, a second apart). A permanent error, or the
// retries running out, fails the file: the client aborts its other
// chunks. The file is done when every chunk has succeeded.
type resumableClient struct {
	f          *file
	flow       bool
	octet      bool
	prefix     string
	identifier string
	count      int

	mu   sync.Mutex
	done map[int]bool
	id   string
	key  string
}

// The clients' retry settings: Resumable.js retries without end unless
// maxChunkRetries is set (the soak sets 100, a tenth of a second apart);
// Flow.js as the README configures it.
const (
	resumableRetries  = 100
	resumableInterval = 100 * time.Millisecond
	flowRetries       = 3
	flowInterval      = time.Second
)

func newResumableClient(f *file, flow bool) *resumableClient {
	rc := &resumableClient{f: f, flow: flow, prefix: "resumable", done: map[int]bool{}}
	if flow {
		rc.prefix = "flow"
	}
	rc.octet = f.rng.IntN(3) == 0
	rc.count = max(len(f.data)/f.chunk, 1)
	// Both libraries' default identifier: size-name, unsafe characters dropped.
	var clean []byte
	for _, b := range []byte(f.name) {
		if b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || b == '-' {
			clean = append(clean, b)
		}
	}
	rc.identifier = strconv.Itoa(len(f.data)) + "-" + string(clean)
	return rc
}

func (rc *resumableClient) where() (string, string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.key, rc.id
}

// piece is chunk n (from 1).
func (rc *resumableClient) piece(n int) []byte {
	lo := (n - 1) * rc.f.chunk
	hi := min(lo+rc.f.chunk, len(rc.f.data))
	if n == rc.count {
		hi = len(rc.f.data)
	}
	return rc.f.data[lo:hi]
}

// params are the library's parameters for chunk n.
func (rc *resumableClient) params(n int) url.Values {
	p := rc.prefix
	q := url.Values{
		p + "ChunkNumber":      {strconv.Itoa(n)},
		p + "ChunkSize":        {strconv.Itoa(rc.f.chunk)},
		p + "CurrentChunkSize": {strconv.Itoa(len(rc.piece(n)))},
		p + "TotalSize":        {strconv.Itoa(len(rc.f.data))},
		p + "Identifier":       {rc.identifier},
		p + "Filename":         {rc.f.name},
		p + "RelativePath":     {rc.f.name},
		p + "TotalChunks":      {strconv.Itoa(rc.count)},
	}
	if !rc.flow {
		q.Set(p+"Type", "application/octet-stream")
	}
	return q
}

// upload is the chunk POST: Resumable.js puts the parameters in the query
// string and in the form, Flow.js in the form only; with "octet" both put
// them in the query string and send the chunk as the body.
func (rc *resumableClient) upload(n int) request {
	q := rc.params(n)
	path := "/" + rc.prefix
	if rc.octet {
		return request{method: "POST", path: path + "?" + q.Encode(),
			header: map[string]string{"Content-Type": "application/octet-stream"}, body: rc.piece(n)}
	}
	if !rc.flow {
		path += "?" + q.Encode()
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, k := range slices.Sorted(maps.Keys(q)) {
		mw.WriteField(k, q.Get(k))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, rc.f.name))
	h.Set("Content-Type", "application/octet-stream")
	pw, _ := mw.CreatePart(h)
	pw.Write(rc.piece(n))
	mw.Close()
	return request{method: "POST", path: path, header: map[string]string{"Content-Type": mw.FormDataContentType()}, body: b.Bytes()}
}

func (rc *resumableClient) success(status int) bool {
	return status == 200 || status == 201 || (rc.flow && status == 202)
}

func (rc *resumableClient) permanent(status int) bool {
	if rc.flow {
		return slices.Contains([]int{404, 413, 415, 500, 501}, status)
	}
	return slices.Contains([]int{400, 404, 415, 500, 501}, status)
}

// learn keeps what a chunk's message says: the upload's id and, from the
// answer that finished the file, where it is.
func (rc *resumableClient) learn(r reply) {
	var m struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Key   string `json:"key"`
	}
	if !r.decode(&m) {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if m.ID != "" {
		rc.id = m.ID
	}
	if m.State == "complete" && m.Key != "" {
		rc.key = m.Key
	}
}

func (rc *resumableClient) send(ctx context.Context, c *caller) error {
	var order []int
	rc.mu.Lock()
	for _, i := range rc.f.rng.Perm(rc.count) {
		if !rc.done[i+1] {
			order = append(order, i+1)
		}
	}
	rc.mu.Unlock()
	sent := 0
	return eachChunk(ctx, order, 3, func(ctx context.Context, n int) error {
		rc.mu.Lock()
		quit := c.abandon && rc.f.abandons(sent, len(order))
		sent++
		rc.mu.Unlock()
		if quit {
			return errAbandoned
		}
		if err := rc.chunk(ctx, c, n); err != nil {
			return err
		}
		rc.mu.Lock()
		rc.done[n] = true
		rc.mu.Unlock()
		return nil
	})
}

// chunk tests chunk n and sends it unless the test says it is there.
func (rc *resumableClient) chunk(ctx context.Context, c *caller, n int) error {
	rng := rc.f.rng
	r, err := c.do(ctx, rng, request{method: "GET", path: "/" + rc.prefix + "?" + rc.params(n).Encode()})
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil && rc.success(r.status):
		rc.learn(r)
		return nil
	case err == nil && rc.flow && rc.permanent(r.status):
		return fmt.Errorf("test of chunk %d: %s", n, r)
	}
	req := rc.upload(n)
	if c.duplicate(rng) {
		c.alongside(ctx, rng, req)
	}
	maxRetries, interval := resumableRetries, resumableInterval
	if rc.flow {
		maxRetries, interval = flowRetries, flowInterval
	}
	for retries := 0; ; retries++ {
		c.st.chunks.Add(1)
		r, err := c.do(ctx, rng, req)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && rc.success(r.status):
			rc.learn(r)
			return nil
		case err == nil && rc.permanent(r.status):
			return fmt.Errorf("chunk %d: permanent error %s", n, r)
		case retries >= maxRetries:
			if err != nil {
				return fmt.Errorf("chunk %d: %d retries: %w", n, retries, err)
			}
			return fmt.Errorf("chunk %d: %d retries, last answer %s", n, retries, r)
		}
		c.st.retries.Add(1)
		if !pause(ctx, interval) {
			return ctx.Err()
		}
	}
}
