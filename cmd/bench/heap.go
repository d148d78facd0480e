package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"chunkup/internal/wire/lambdahttp"
)

// invocation is what one isolated Lambda invocation cost in memory.
type invocation struct {
	Function string
	Route    string
	Chunk    bool    // the request carried chunk data
	Payload  int64   // event JSON bytes
	Base     uint64  // heap in use before (after a full GC)
	Peak     uint64  // highest heap in use during the invocation, above Base
	Allocs   uint64  // bytes allocated during the invocation
	Seconds  float64 // duration of the invocation
	Decode   float64 // duration of decoding the event alone (measured apart)
}

// lambdaRunner answers HTTP requests by invoking the functions' handlers
// in this process exactly as the Lambda runtime would, one at a time: the
// request becomes the API Gateway event (payload 2.0, base64 body), the
// event's JSON goes to the function's lambda.Handler (lambdahttp: event
// decode, the handler, response encode), and every invocation is measured
// for heap in isolation.
type lambdaRunner struct {
	mux      *http.ServeMux
	handlers map[string]*lambdahttp.Function // by function
	payload  bytes.Buffer                    // the runtime's (pooled) payload buffer
	mu       sync.Mutex
	seen     []invocation
}

func newLambdaRunner(routes []routeInfo, handler func(function string) http.Handler) *lambdaRunner {
	l := &lambdaRunner{mux: http.NewServeMux(), handlers: map[string]*lambdahttp.Function{}}
	for _, r := range routes {
		if _, ok := l.handlers[r.Function]; !ok {
			l.handlers[r.Function] = lambdahttp.New(handler(r.Function))
		}
		pattern := r.Method + " " + r.Path
		if r.Method == "ANY" {
			pattern = r.Path
		}
		fn, key := r.Function, r.Method+" "+r.Path
		l.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Bench-Function", fn)
			w.Header().Set("X-Bench-Route", key)
		}))
	}
	return l
}

type routeInfo struct{ Function, Method, Path string }

// RoundTrip makes lambdaRunner an http.RoundTripper for the dialects'
// clients.
func (l *lambdaRunner) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	// Which function serves the route (as API Gateway would route it).
	probe := &headerRecorder{h: http.Header{}}
	h, _ := l.mux.Handler(r)
	h.ServeHTTP(probe, r)
	fn, route := probe.h.Get("X-Bench-Function"), probe.h.Get("X-Bench-Route")
	if fn == "" {
		return nil, fmt.Errorf("no route for %s %s", r.Method, r.URL.Path)
	}
	ev := apiEvent(r, route, body)
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.payload.Reset()
	l.payload.Write(payload)
	payload = nil
	// The event's decoding alone, as the function does it first.
	t := time.Now()
	if _, _, err := l.handlers[fn].DecodeEvent(l.payload.Bytes()); err != nil {
		return nil, err
	}
	decode := time.Since(t)
	ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{AwsRequestID: ev.RequestContext.RequestID})
	inv, out, err := measure(func() ([]byte, error) { return l.handlers[fn].Invoke(ctx, l.payload.Bytes()) })
	if err != nil {
		return nil, err
	}
	inv.Function, inv.Route, inv.Payload, inv.Decode = fn, route, int64(l.payload.Len()), decode.Seconds()
	inv.Chunk = len(body) >= 64<<10
	l.seen = append(l.seen, inv)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, err
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return nil, err
		}
	}
	hdr := http.Header{}
	for k, v := range resp.Headers {
		hdr.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	return &http.Response{StatusCode: resp.StatusCode, Header: hdr, Body: io.NopCloser(bytes.NewReader(respBody)),
		ContentLength: int64(len(respBody)), Request: r, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

type headerRecorder struct{ h http.Header }

func (h *headerRecorder) Header() http.Header         { return h.h }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(int)             {}

var requestSeq atomic.Int64

// apiEvent is the event an HTTP API sends for r, as internal/gateway
// builds it: text bodies as they are, every other body base64-encoded.
func apiEvent(r *http.Request, route string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{"host": "bench.execute-api.us-east-1.amazonaws.com", "content-length": fmt.Sprint(len(body))}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	id := fmt.Sprintf("bench-%d", requestSeq.Add(1))
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route, RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "123456789012", APIID: "bench", Stage: "$default", RequestID: id, RouteKey: route,
			DomainName: headers["host"], TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.9", UserAgent: "chunkup-bench",
			},
		},
	}
	if len(r.URL.RawQuery) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range r.URL.Query() {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		media, _, _ := strings.Cut(strings.ToLower(r.Header.Get("Content-Type")), ";")
		media = strings.TrimSpace(media)
		if strings.HasPrefix(media, "text/") || media == "application/json" || media == "application/xml" || media == "application/javascript" {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/gc/heap/allocs:bytes"},
}

// readHeap reads the heap in use and the bytes allocated so far, into s
// (so that sampling allocates nothing).
func readHeap(s []metrics.Sample) (inUse, allocs uint64) {
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

func newHeapSamples() []metrics.Sample { return append([]metrics.Sample(nil), heapSamples...) }

// measure runs f after a full GC and reports its peak heap in use (live
// objects and garbage not yet swept, sampled every 20 µs) above what was
// in use before, and the bytes it allocated.
func measure(f func() ([]byte, error)) (invocation, []byte, error) {
	mine, theirs := newHeapSamples(), newHeapSamples()
	runtime.GC()
	runtime.GC()
	base, allocs0 := readHeap(mine)
	var peak atomic.Uint64
	peak.Store(base)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v, _ := readHeap(theirs); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			default:
				time.Sleep(20 * time.Microsecond)
			}
		}
	}()
	start := time.Now()
	out, err := f()
	took := time.Since(start)
	close(stop)
	<-done
	v, allocs1 := readHeap(mine)
	if v > peak.Load() {
		peak.Store(v)
	}
	return invocation{Base: base, Peak: peak.Load() - base, Allocs: allocs1 - allocs0, Seconds: took.Seconds()}, out, err
}

// HeapRow sums up the isolated invocations of one dialect at one chunk size.
type HeapRow struct {
	Dialect string `json:"dialect"`
	Chunk   int64  `json:"chunk"`
	// Chunk requests (carrying data): the largest peak and allocation, and
	// the median peak.
	Requests   int     `json:"requests"`
	PeakMax    uint64  `json:"peakMax"`
	PeakMedian uint64  `json:"peakMedian"`
	AllocMax   uint64  `json:"allocMax"`
	AllocMed   uint64  `json:"allocMedian"`
	Base       uint64  `json:"base"`
	Payload    int64   `json:"payload"`
	Seconds    float64 `json:"secondsMedian"`
	Decode     float64 `json:"decodeMedian"` // the event's JSON decoding alone
	// The route of the request with the largest peak.
	PeakRoute string `json:"peakRoute"`
	// Other requests (create, test, complete): the largest peak.
	OtherPeak  uint64 `json:"otherPeak"`
	OtherRoute string `json:"otherRoute"`
}

func summarize(d string, chunk int64, invs []invocation) HeapRow {
	row := HeapRow{Dialect: d, Chunk: chunk}
	var peaks, allocs []uint64
	var secs, decs []float64
	for _, v := range invs {
		if !v.Chunk {
			if v.Peak > row.OtherPeak {
				row.OtherPeak, row.OtherRoute = v.Peak, v.Route
			}
			continue
		}
		row.Requests++
		peaks = append(peaks, v.Peak)
		allocs = append(allocs, v.Allocs)
		secs = append(secs, v.Seconds)
		decs = append(decs, v.Decode)
		if v.Peak > row.PeakMax {
			row.PeakMax, row.PeakRoute = v.Peak, v.Route
		}
		row.AllocMax = max(row.AllocMax, v.Allocs)
		row.Base = max(row.Base, v.Base)
		row.Payload = max(row.Payload, v.Payload)
	}
	if len(peaks) > 0 {
		sort.Slice(peaks, func(i, j int) bool { return peaks[i] < peaks[j] })
		sort.Slice(allocs, func(i, j int) bool { return allocs[i] < allocs[j] })
		row.PeakMedian, row.AllocMed, row.Seconds, row.Decode = peaks[len(peaks)/2], allocs[len(allocs)/2], medianF(secs), medianF(decs)
	}
	return row
}

// heapRun uploads f through one dialect with isolated invocations and
// returns what they cost.
func heapRun(ctx context.Context, l *lambdaRunner, d *dialect, f file, chunk int64) (HeapRow, error) {
	l.mu.Lock()
	l.seen = nil
	l.mu.Unlock()
	c := &client{http: &http.Client{Transport: l}, base: "http://lambda.invalid", s3CompleteTotal: func() float64 { return 0 }}
	if _, err := d.upload(ctx, c, f, chunk, 1); err != nil {
		return HeapRow{}, fmt.Errorf("%s at %d-byte chunks, isolated: %w", d.Name, chunk, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(d.Name, chunk, l.seen), nil
}
