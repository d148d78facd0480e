package upload

import (
	"context"
	"errors"
)

// Metrics: what the engine tells the operator's meter (CloudWatch, by
// package metrics, in production) as it happens: uploads started and
// ended, and the bytes of chunks stored. Request latencies and faults are
// measured around the requests, by the meter itself.
//
// Entry points (for every stage): Engine.count.

// Meter is told of what happens to uploads, for the operator's metrics.
// Count must not block: it is called on the request's path.
type Meter interface {
	// Count adds value to metric for an upload that client family
	// dialect started.
	Count(ctx context.Context, metric Metric, dialect string, value float64)
}

// Metric names what a Meter counts.
type Metric string

// The metrics the engine counts.
const (
	// MetricStarted counts uploads started (sessions created).
	MetricStarted Metric = "UploadsStarted"
	// MetricCompleted counts uploads that became complete.
	MetricCompleted Metric = "UploadsCompleted"
	// MetricAborted and MetricExpired count uploads that ended so.
	MetricAborted Metric = "UploadsAborted"
	MetricExpired Metric = "UploadsExpired"
	// MetricBytesReceived counts the bytes of the chunks chunkup stored
	// (a direct upload's go straight to S3, and are not counted).
	MetricBytesReceived Metric = "BytesReceived"
)

// count tells the meter, if there is one, of value more of metric for
// upload s.
func (e *Engine) count(ctx context.Context, metric Metric, s *Session, value float64) {
	if e.opt.Meter != nil {
		e.opt.Meter.Count(ctx, metric, s.Dialect, value)
	}
}

// errEventOwed marks an error after which an upload's event stays owed
// (its publication or its settling failed), so that the sweep can count
// the events it leaves owed (SweepStats.Owed).
var errEventOwed = errors.New("event still owed")

// started records that session s was created, by the request of ctx:
// counted for the operator's metrics (MetricStarted) and logged as msg
// with attrs. Every path that creates an upload ends with it.
func (e *Engine) started(ctx context.Context, s *Session, msg string, attrs ...any) {
	e.count(ctx, MetricStarted, s, 1)
	e.log(ctx, s).Info(msg, attrs...)
}
