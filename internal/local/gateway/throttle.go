package gateway

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Throttle is an HTTP API stage's default route throttling
// (DefaultRouteSettings ThrottlingRateLimit and ThrottlingBurstLimit):
// each route is a token bucket of Burst tokens refilled at RatePerSecond,
// and a request that finds its route's bucket empty is answered 429
// {"message":"Too Many Requests"} before any authorizer or function runs
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
type Throttle struct {
	// RatePerSecond is the steady rate of requests each route accepts.
	RatePerSecond float64
	// Burst is how many requests each route accepts at once: the bucket's
	// size, full at the start.
	Burst int
}

func (t Throttle) check() error {
	if !(t.RatePerSecond > 0) || math.IsInf(t.RatePerSecond, 0) || t.Burst < 1 {
		return fmt.Errorf("throttle: rate %v per second and burst %d: want a rate above 0 and a burst of 1 or more", t.RatePerSecond, t.Burst)
	}
	return nil
}

// throttler keeps one token bucket per route.
type throttler struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newThrottler(t Throttle) *throttler {
	return &throttler{rate: t.RatePerSecond, burst: float64(t.Burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token from route's bucket, reporting whether there was one.
func (t *throttler) allow(route string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b := t.buckets[route]
	if b == nil {
		b = &bucket{tokens: t.burst, at: now}
		t.buckets[route] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = min(t.burst, b.tokens+elapsed*t.rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// throttled reports whether err says the function never ran because its
// concurrency was all in use (the emulator's *ThrottleError), which an
// HTTP API answers like any failed invocation, 500.
func throttled(err error) bool {
	var t interface{ Throttled() bool }
	return errors.As(err, &t) && t.Throttled()
}
