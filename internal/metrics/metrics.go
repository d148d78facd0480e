// Package metrics gives chunkup's CloudWatch metrics, written as the
// Embedded Metric Format (EMF): each record is one JSON log line whose
// "_aws" member tells CloudWatch Logs which of its members are metrics
// (in the namespace Namespace, by the dimension sets Dialect and
// stack), so the functions' own logs carry them and no API is called.
//
// A request's metrics are gathered while it runs (Recorder.Handler) and
// written when it ends, one record per dialect they are about:
// Requests, RetryableFaults (answers 503, retry), ChunkLatency and
// CompletionLatency (the time of a request that stored a chunk, or
// completed an upload), and what the engine counted (upload.Metric:
// uploads started, completed, aborted, expired; bytes received). Counts
// made outside any request (the sweep's) are gathered the same way
// (Recorder.Gather) or, with none gathering, written at once.
package metrics

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"chunkup/internal/upload"
)

// Namespace is the CloudWatch namespace of chunkup's metrics.
const Namespace = "chunkup"

// The dimensions of every metric: each is recorded once by stack and
// dialect, and once by stack alone (what the alarms watch).
const (
	DimensionStack   = "Stack"
	DimensionDialect = "Dialect"
)

// The metrics measured around requests and sweeps; the engine's are
// upload.Metric's.
const (
	Requests          = "Requests"
	RetryableFaults   = "RetryableFaults"
	ChunkLatency      = "ChunkLatency"
	CompletionLatency = "CompletionLatency"
	// EventsOwed counts the events a sweep found owed and could not
	// publish: owed for longer than a sweep.
	EventsOwed = "EventsOwed"
	// SweepErrors counts the uploads a sweep failed to deal with.
	SweepErrors = "SweepErrors"
)

// The units of the metrics, as CloudWatch names them.
const (
	UnitCount        = "Count"
	UnitBytes        = "Bytes"
	UnitMilliseconds = "Milliseconds"
)

// unitOf is the unit of metric name.
func unitOf(name string) string {
	switch name {
	case string(upload.MetricBytesReceived):
		return UnitBytes
	case ChunkLatency, CompletionLatency:
		return UnitMilliseconds
	}
	return UnitCount
}

// Recorder writes chunkup's metrics as EMF records. It implements
// upload.Meter.
type Recorder struct {
	log   *slog.Logger
	stack string
	now   func() time.Time
}

var _ upload.Meter = (*Recorder)(nil)

// New returns a recorder writing one JSON line per record to w (a
// function's standard output, which Lambda sends to CloudWatch Logs),
// whatever the functions' log level. stack names the deployment (its
// CloudFormation stack), a dimension of every metric.
func New(w io.Writer, stack string) *Recorder {
	return &Recorder{log: slog.New(slog.NewJSONHandler(w, nil)), stack: stack, now: time.Now}
}

// Count adds value to metric for dialect: to the gathering of the
// request or sweep ctx belongs to, or, outside any, in a record of its
// own at once.
func (r *Recorder) Count(ctx context.Context, metric upload.Metric, dialect string, value float64) {
	if g, ok := ctx.Value(gatheringKey{}).(*gathering); ok {
		g.add(dialect, string(metric), value)
		return
	}
	r.write(ctx, dialect, map[string]float64{string(metric): value})
}

// gathering is the metrics of one request or sweep, by dialect.
type gathering struct {
	mu     sync.Mutex
	values map[string]map[string]float64
}

type gatheringKey struct{}

func (g *gathering) add(dialect, name string, value float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.values[dialect] == nil {
		g.values[dialect] = map[string]float64{}
	}
	g.values[dialect][name] += value
}

// has reports whether the gathering counted metric name for any dialect.
func (g *gathering) has(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.values {
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

// Gather returns a context under which counts are gathered, and a
// function that adds more and writes them all, one record per dialect.
func (r *Recorder) Gather(ctx context.Context) (context.Context, func(dialect string, more map[string]float64)) {
	g := &gathering{values: map[string]map[string]float64{}}
	return context.WithValue(ctx, gatheringKey{}, g), func(dialect string, more map[string]float64) {
		for name, v := range more {
			g.add(dialect, name, v)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, d := range slices.Sorted(maps.Keys(g.values)) {
			r.write(ctx, d, g.values[d])
		}
	}
}

// Handler serves next, the routes of client family dialect, and writes
// the request's metrics when it ends.
func (r *Recorder) Handler(dialect string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := r.now()
		ctx, flush := r.Gather(req.Context())
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, req.WithContext(ctx))
		g := ctx.Value(gatheringKey{}).(*gathering)
		took := float64(r.now().Sub(start).Microseconds()) / 1000
		more := map[string]float64{Requests: 1, RetryableFaults: 0}
		if sw.status == http.StatusServiceUnavailable {
			more[RetryableFaults] = 1
		}
		if g.has(string(upload.MetricBytesReceived)) {
			more[ChunkLatency] = took
		}
		if g.has(string(upload.MetricCompleted)) {
			more[CompletionLatency] = took
		}
		flush(dialect, more)
	})
}

// statusWriter remembers the status of the answer it writes.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// directive is an EMF MetricDirective.
type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

// metric is an EMF MetricDefinition.
type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// meta is the EMF metadata object, the record's "_aws" member.
type meta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// write writes one EMF record of values for dialect (by stack alone if
// dialect is ""): the "_aws" member, the dimensions' values and each
// metric's value, all at the top level.
func (r *Recorder) write(ctx context.Context, dialect string, values map[string]float64) {
	if len(values) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(values))
	d := directive{Namespace: Namespace, Dimensions: [][]string{{DimensionStack}}}
	attrs := []slog.Attr{{}, slog.String(DimensionStack, r.stack)}
	if dialect != "" {
		d.Dimensions = [][]string{{DimensionStack, DimensionDialect}, {DimensionStack}}
		attrs = append(attrs, slog.String(DimensionDialect, dialect))
	}
	for _, n := range names {
		d.Metrics = append(d.Metrics, metric{Name: n, Unit: unitOf(n)})
		attrs = append(attrs, slog.Float64(n, values[n]))
	}
	attrs[0] = slog.Any("_aws", meta{Timestamp: r.now().UnixMilli(), CloudWatchMetrics: []directive{d}})
	r.log.LogAttrs(ctx, slog.LevelInfo, "metrics", attrs...)
}
