// Package faultproxy is a reverse proxy that stands between a service and
// one of its AWS backends (S3 or DynamoDB, or the local servers that play
// them) and makes a share of the requests go wrong the ways they go wrong
// in production:
//
//   - Error: the proxy answers in the backend's place with one of its
//     throttling or internal errors, in the backend's own error format
//     (S3's XML <Error>, DynamoDB's JSON __type), so the AWS SDK classifies
//     it exactly as it would the real thing. The request never reaches
//     the backend.
//   - Delay: the request is held before it is forwarded, or its answer
//     before it is returned.
//   - CutBefore: the connection is cut before anything is forwarded.
//   - CutAfter: the request is forwarded and carried out, then the
//     connection is cut before any of the answer is returned. The caller
//     cannot tell this from CutBefore, yet the write took effect: a retry
//     meets its own earlier write.
//   - Truncate: the request is carried out and the answer is cut halfway
//     through its body.
//
// The share of requests that get a fault (the rate) can be changed while
// the proxy runs, so a test can inject faults and then turn them off to
// check that what was left behind can be finished cleanly. Every fault is
// counted by kind (and errors by code).
package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Backend says which service the proxy stands in front of, which decides
// the shape of the errors it answers with.
type Backend string

// The backends whose errors the proxy can imitate.
const (
	S3       Backend = "s3"
	DynamoDB Backend = "dynamodb"
)

// Kind is a kind of fault.
type Kind string

// The kinds of fault (see the package comment).
const (
	Error     Kind = "error"
	Delay     Kind = "delay"
	CutBefore Kind = "cut-before"
	CutAfter  Kind = "cut-after"
	Truncate  Kind = "truncate"
)

// Kinds lists every kind of fault, in the order reports show them.
func Kinds() []Kind { return []Kind{Error, Delay, CutBefore, CutAfter, Truncate} }

// ParseKind reads a kind's name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("faultproxy: unknown fault kind %q (known: %v)", s, Kinds())
}

// DefaultMaxDelay bounds a Delay fault when Options.MaxDelay is zero.
const DefaultMaxDelay = time.Second

// Options configure a Proxy.
type Options struct {
	// Backend is the service behind the proxy.
	Backend Backend
	// Target is the backend's base URL, e.g. http://127.0.0.1:4567.
	Target string
	// Rate is the share of requests, from 0 to 1, that get a fault.
	Rate float64
	// Kinds are the faults to choose from, each as likely as the others;
	// empty means all of them.
	Kinds []Kind
	// MaxDelay bounds a Delay fault; zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// Seed seeds the choice of requests and faults.
	Seed uint64
	// Match, if set, limits faults to the requests it accepts, so that a
	// test can aim one fault at one request.
	Match func(Request) bool
	// Limit, if above 0, is the most faults the proxy injects.
	Limit int64
	// Log, if set, gets a line for every fault: its kind, the request,
	// and for DynamoDB the operation and its input, so a failure can be
	// traced to the fault that caused it.
	Log io.Writer
}

// Request is what Match sees of a request.
type Request struct {
	Method string
	// URI is the path and query, e.g. /bucket/key?uploads.
	URI string
	// Operation is DynamoDB's (from X-Amz-Target, e.g. "UpdateItem");
	// empty for S3.
	Operation string
	// Body is a DynamoDB request's JSON input; nil for S3.
	Body []byte
}

// Stats counts what the proxy did.
type Stats struct {
	Requests int64            // requests received
	Faults   map[Kind]int64   // faults injected, by kind
	Codes    map[string]int64 // Error faults, by the error code answered
}

// Total is the number of faults of every kind.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Faults {
		n += v
	}
	return n
}

// Proxy is the fault-injecting reverse proxy: an http.Handler, which Start
// also serves on a loopback port.
type Proxy struct {
	backend  Backend
	kinds    []Kind
	maxDelay time.Duration
	rp       *httputil.ReverseProxy
	rate     atomic.Uint64 // math.Float64bits of the rate
	match    func(Request) bool
	limit    int64
	injected atomic.Int64 // faults chosen, for Limit

	mu  sync.Mutex
	rng *rand.Rand

	requests atomic.Int64
	faults   map[Kind]*atomic.Int64 // fixed at New; only the counters change
	codesMu  sync.Mutex
	codes    map[string]int64
	logMu    sync.Mutex
	log      io.Writer

	srv *http.Server
	ln  net.Listener
}

// faultKey is the context key under which ServeHTTP hands the chosen fault
// to the reverse proxy's hooks.
type faultKey struct{}

// errCut is how the hooks tell the error handler to cut the connection.
var errCut = errors.New("faultproxy: cut the connection")

// New returns a proxy in front of opts.Target.
func New(opts Options) (*Proxy, error) {
	target, err := url.Parse(opts.Target)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an absolute URL: %v", opts.Target, err)
	}
	if opts.Backend != S3 && opts.Backend != DynamoDB {
		return nil, fmt.Errorf("faultproxy: unknown backend %q", opts.Backend)
	}
	if opts.Rate < 0 || opts.Rate > 1 || math.IsNaN(opts.Rate) {
		return nil, fmt.Errorf("faultproxy: rate %v is not between 0 and 1", opts.Rate)
	}
	kinds := slices.Clone(opts.Kinds)
	if len(kinds) == 0 {
		kinds = Kinds()
	}
	p := &Proxy{
		backend:  opts.Backend,
		kinds:    kinds,
		maxDelay: opts.MaxDelay,
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		faults:   map[Kind]*atomic.Int64{},
		codes:    map[string]int64{},
		log:      opts.Log,
		match:    opts.Match,
		limit:    opts.Limit,
	}
	if p.maxDelay <= 0 {
		p.maxDelay = DefaultMaxDelay
	}
	for _, k := range Kinds() {
		p.faults[k] = new(atomic.Int64)
	}
	p.SetRate(opts.Rate)
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// Keep the Host the client signed (SigV4 signs it); the
			// backend checks the signature against what it receives.
			r.Out.Host = r.In.Host
		},
		ModifyResponse: p.afterForward,
		ErrorHandler:   p.forwardFailed,
		ErrorLog:       discardLog(),
		// The SDK's own transport settings are not ours to change; this
		// one only needs to reuse connections to the backend.
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	}
	return p, nil
}

// SetRate changes the share of requests that get a fault, from 0 to 1.
func (p *Proxy) SetRate(rate float64) { p.rate.Store(math.Float64bits(min(max(rate, 0), 1))) }

// Rate is the share of requests that get a fault.
func (p *Proxy) Rate() float64 { return math.Float64frombits(p.rate.Load()) }

// Stats returns what the proxy has done so far.
func (p *Proxy) Stats() Stats {
	s := Stats{Requests: p.requests.Load(), Faults: map[Kind]int64{}, Codes: map[string]int64{}}
	for k, n := range p.faults {
		if v := n.Load(); v > 0 {
			s.Faults[k] = v
		}
	}
	p.codesMu.Lock()
	defer p.codesMu.Unlock()
	for c, n := range p.codes {
		s.Codes[c] = n
	}
	return s
}

// choose decides the fate of one request: no fault (""), or a kind, and
// for a Delay how long and whether before forwarding.
func (p *Proxy) choose() (Kind, time.Duration, bool) {
	rate := p.Rate()
	p.mu.Lock()
	defer p.mu.Unlock()
	if rate == 0 || p.rng.Float64() >= rate {
		return "", 0, false
	}
	if p.limit > 0 && p.injected.Add(1) > p.limit {
		return "", 0, false
	}
	k := p.kinds[p.rng.IntN(len(p.kinds))]
	return k, time.Duration(p.rng.Int64N(int64(p.maxDelay) + 1)), p.rng.IntN(2) == 0
}

// pick returns a random index below n.
func (p *Proxy) pick(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// fault is what ServeHTTP decided for a request, read by the hooks.
type fault struct {
	kind   Kind
	delay  time.Duration
	before bool
	what   string // the request, for the log
}

// ServeHTTP forwards one request, or makes it fail.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	var kind Kind
	var delay time.Duration
	var before bool
	what := ""
	if p.match == nil || p.match(p.request(r)) {
		kind, delay, before = p.choose()
	}
	if kind != "" && p.log != nil {
		what = p.describe(r)
	}
	switch kind {
	case Error:
		p.count(Error, what)
		// The request is read in full, as a server does before it
		// decides it is too busy, so the client sees the answer rather
		// than a connection reset while it is still sending.
		_, _ = io.Copy(io.Discard, r.Body)
		p.answerError(w, r)
		return
	case CutBefore:
		p.count(CutBefore, what)
		panic(http.ErrAbortHandler) // net/http closes the connection, answering nothing
	case Delay:
		p.count(Delay, fmt.Sprintf("%s (%s %s)", what, delay.Round(time.Millisecond), map[bool]string{true: "before", false: "after"}[before]))
		if before {
			sleep(r.Context(), delay)
		}
	}
	f := &fault{kind: kind, delay: delay, before: before, what: what}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
}

// afterForward applies the faults that happen once the backend has
// answered: the answer is held, lost, or cut short.
func (p *Proxy) afterForward(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(faultKey{}).(*fault)
	if f == nil {
		return nil
	}
	switch f.kind {
	case Delay:
		if !f.before {
			sleep(resp.Request.Context(), f.delay)
		}
	case CutAfter:
		p.count(CutAfter, f.what)
		_, _ = io.Copy(io.Discard, resp.Body) // let the backend finish its answer
		resp.Body.Close()
		return errCut
	case Truncate:
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) == 0 {
			// Nothing to cut short: the answer is lost whole instead.
			p.count(CutAfter, f.what)
			return errCut
		}
		p.count(Truncate, f.what)
		// The headers promise the whole body; the client gets half of it
		// and then a closed connection.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), failingReader{}))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
	}
	return nil
}

// forwardFailed answers a request the reverse proxy could not complete:
// a cut asked for by a hook, or the backend being unreachable.
func (p *Proxy) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errCut) {
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(http.StatusBadGateway)
}

// failingReader ends a truncated body with an error, which makes the
// reverse proxy abort the connection mid-answer.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errCut }

// count counts a fault and logs it.
func (p *Proxy) count(k Kind, what string) {
	p.faults[k].Add(1)
	if p.log == nil {
		return
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	fmt.Fprintf(p.log, "%s faultproxy %s %s %s\n", time.Now().Format("15:04:05.000"), p.backend, k, what)
}

// request is what Match sees of r. A DynamoDB body is read and put back.
func (p *Proxy) request(r *http.Request) Request {
	req := Request{Method: r.Method, URI: r.URL.RequestURI()}
	if p.backend == DynamoDB {
		req.Operation = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		req.Body = readBack(r)
	}
	return req
}

// readBack reads a request's body and puts it back for forwarding.
func readBack(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

// describe names a request for the log: S3's method and path, or
// DynamoDB's operation and input (which the body holds; it is read here
// and put back for forwarding).
func (p *Proxy) describe(r *http.Request) string {
	if p.backend == S3 {
		return r.Method + " " + r.URL.RequestURI()
	}
	body := readBack(r)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	return op + " " + string(body)
}

func (p *Proxy) countCode(code string) {
	p.codesMu.Lock()
	p.codes[code]++
	p.codesMu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Start serves the proxy on a free loopback port and returns its base URL.
func (p *Proxy) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog()}
	go p.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops a proxy that Start serves, cutting requests in flight.
func (p *Proxy) Close() error {
	if p.srv == nil {
		return nil
	}
	if err := p.srv.Close(); err != nil {
		return fmt.Errorf("faultproxy: close: %w", err)
	}
	return nil
}
