package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errDropped is what a client sees of a request it gave up on itself:
// it stopped sending the body halfway, or sent it all and then stopped
// waiting for the answer (which the service still works out).
var errDropped = errors.New("request dropped by the client")

// errAbandoned ends an upload the client walks away from on purpose; it
// is never resumed, and the sweep must clean up after it.
var errAbandoned = errors.New("upload abandoned by the client")

// errEnded ends an upload the client ended itself (tus's DELETE,
// Companion's abort); it is never resumed, and the service must have
// discarded it.
var errEnded = errors.New("upload ended by the client")

// walkedAway reports whether the client left its upload on purpose, for
// good: it is not resumed.
func walkedAway(err error) bool { return errors.Is(err, errAbandoned) || errors.Is(err, errEnded) }

// request is one HTTP request a client sends.
type request struct {
	method string
	path   string // absolute URL, or a path under the API's base
	header map[string]string
	body   []byte
	// toS3 marks a request the client sends straight to S3 (a presigned
	// URL): it goes through the fault proxy in front of S3 that the
	// clients' own requests meet.
	toS3 bool
	// loseAnswer makes the client stop waiting once the request is sent,
	// as a dropped answer does: the service carries it out unseen.
	loseAnswer bool
}

// reply is the answer a client got.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// decode reads the answer's JSON body into v; a body that is not JSON
// leaves v as it was.
func (r reply) decode(v any) bool { return json.Unmarshal(r.body, v) == nil }

func (r reply) String() string {
	b := r.body
	if len(b) > 300 {
		b = b[:300]
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(b))
}

// caller sends the clients' requests to the API. In the soak it also
// misbehaves as real clients do: it drops a share of its requests. The
// resume phase uses one that behaves.
type caller struct {
	base     string
	hc       *http.Client
	s3Via    string  // host:port of the fault proxy the clients' S3 requests go through; "" for none
	dropRate float64 // share of requests dropped
	dupRate  float64 // share of chunks the clients send twice
	abandon  bool    // clients may walk away from their uploads
	st       *stats
	wg       sync.WaitGroup // duplicates still in flight
}

// alongside sends a duplicate of a request at the same time as the
// original, as a client that fired a chunk twice does; its answer is not
// looked at.
func (c *caller) alongside(ctx context.Context, rng *lockedRand, req request) {
	c.st.chunks.Add(1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.do(ctx, rng, req)
	}()
}

// do sends one request. An error means the client got no answer: the
// network failed, or the client dropped the request itself (errDropped).
func (c *caller) do(ctx context.Context, rng *lockedRand, req request) (reply, error) {
	target := req.path
	if !strings.HasPrefix(target, "http") {
		target = c.base + target
	}
	var body io.Reader = bytes.NewReader(req.body)
	drop := ""
	switch {
	case req.loseAnswer:
		drop = "unread"
	case c.dropRate > 0 && rng.Float64() < c.dropRate:
		drop = "unread"
		if len(req.body) > 1 && rng.IntN(2) == 0 {
			drop = "midway"
		}
	}
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	switch drop {
	case "midway":
		// The client stops sending halfway through the body.
		body = io.MultiReader(bytes.NewReader(req.body[:len(req.body)/2]), errReader{})
	case "unread":
		// The whole request goes out; the client stops waiting at once.
		reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { cancel() },
		})
	}
	hr, err := http.NewRequestWithContext(reqCtx, req.method, target, body)
	if err != nil {
		return reply{}, fmt.Errorf("build %s %s: %w", req.method, target, err)
	}
	if req.toS3 && c.s3Via != "" {
		// The URL is signed for its host, which the proxy passes on.
		hr.Host = hr.URL.Host
		hr.URL.Host = c.s3Via
	}
	hr.ContentLength = int64(len(req.body))
	if len(req.body) == 0 {
		hr.Body, hr.GetBody = http.NoBody, nil
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	c.st.requests.Add(1)
	resp, err := c.hc.Do(hr)
	if err == nil {
		var raw []byte
		raw, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && drop == "" {
			c.st.status(resp.StatusCode)
			return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
		}
	}
	if drop != "" && ctx.Err() == nil {
		c.st.drops[drop].Add(1)
		return reply{}, errDropped
	}
	if ctx.Err() != nil {
		return reply{}, ctx.Err()
	}
	c.st.netErrors.Add(1)
	return reply{}, fmt.Errorf("%s %s: %w", req.method, target, err)
}

// duplicate reports whether the client should send this chunk twice.
func (c *caller) duplicate(rng *lockedRand) bool {
	if c.dupRate > 0 && rng.Float64() < c.dupRate {
		c.st.duplicates.Add(1)
		return true
	}
	return false
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client gave up sending") }

// stats counts what the clients did and got.
type stats struct {
	requests   atomic.Int64
	chunks     atomic.Int64 // chunk requests, first sends and resends alike
	duplicates atomic.Int64 // chunks sent twice on purpose
	retries    atomic.Int64 // requests sent again after a failure
	netErrors  atomic.Int64
	drops      map[string]*atomic.Int64 // by how: midway, unread

	ended           atomic.Int64 // uploads the clients ended themselves (DELETE)
	lostCompletions atomic.Int64 // direct completions whose answer the client lost on purpose
	dupCompletions  atomic.Int64 // direct completions sent a second time

	mu       sync.Mutex
	statuses map[int]int64
	wrongs   []Loss // answers that broke the protocol
}

// wrong records an answer the service must not have given about file f.
func (s *stats) wrong(f *file, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrongs = append(s.wrongs, Loss{File: f.name, Dialect: f.dialect, Reason: what})
}

func newStats() *stats {
	return &stats{
		drops:    map[string]*atomic.Int64{"midway": new(atomic.Int64), "unread": new(atomic.Int64)},
		statuses: map[int]int64{},
	}
}

func (s *stats) status(code int) {
	s.mu.Lock()
	s.statuses[code]++
	s.mu.Unlock()
}

// lockedRand is a random source that the goroutines of one upload share.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed, stream uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, stream))}
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) Perm(n int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Perm(n)
}

func (l *lockedRand) fill(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(b); i += 8 {
		v := l.r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// pause waits d, or less if ctx ends first; it reports whether ctx is
// still live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is the wait before retry number n (from 1): exponential from
// base, capped at limit, as the clients' retry loops do.
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base << min(n-1, 10)
	return min(d, limit)
}

// retryAfter counts a failure and waits before the next attempt, or says
// to give up once there have been more than limit.
func retryAfter(ctx context.Context, c *caller, failures *int, limit int, err error) error {
	*failures++
	if *failures > limit {
		return fmt.Errorf("gave up after %d failures: %w", limit, err)
	}
	c.st.retries.Add(1)
	if !pause(ctx, backoff(*failures, 100*time.Millisecond, 2*time.Second)) {
		return ctx.Err()
	}
	return nil
}

// persist sends a request until an answer other than a 503 comes,
// retrying network errors and 503s with backoff, at most attempts times:
// the retry loop of a careful program.
func (c *caller) persist(ctx context.Context, rng *lockedRand, req request, attempts int) (reply, error) {
	failures := 0
	for {
		r, err := c.do(ctx, rng, req)
		switch {
		case ctx.Err() != nil:
			return reply{}, ctx.Err()
		case err == nil && r.status != http.StatusServiceUnavailable:
			return r, nil
		case err == nil:
			err = fmt.Errorf("%s %s: %s", req.method, req.path, r)
		}
		if rerr := retryAfter(ctx, c, &failures, attempts-1, err); rerr != nil {
			return reply{}, rerr
		}
	}
}

// eachChunk runs send for every index in order, at most parallel at a
// time, as a client with simultaneous uploads does. The first error stops
// the rest (requests in flight are abandoned, as a client's abort does)
// and is returned.
func eachChunk(ctx context.Context, order []int, parallel int, send func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := send(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
