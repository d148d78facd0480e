package gateway

import (
	"net/http"
	"testing"
	"time"
)

// TestStageThrottle: each route takes Burst requests at once; the next is
// answered 429 {"message":"Too Many Requests"} without the function
// running, with the gateway's request id and the CORS headers a browser
// needs to read it; another route has a bucket of its own; and the log
// line says the stage throttled it.
func TestStageThrottle(t *testing.T) {
	// A rate so low that no token comes back while the test runs.
	f := newFixture(t, testRoutes, Options{Throttle: &Throttle{RatePerSecond: 1e-6, Burst: 3}, AllowedOrigins: []string{"*"}})
	for i := range 3 {
		if resp, body := f.do("GET", "/v1/uploads/u1", nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d of a burst of 3: %d %s", i+1, resp.StatusCode, body)
		}
	}
	invoked := f.invocations()
	resp, body := f.do("GET", "/v1/uploads/u2", nil, hdr("Origin", "https://app.example"))
	wantMessage(t, resp, body, http.StatusTooManyRequests, "Too Many Requests")
	if f.invocations() != invoked {
		t.Error("the function ran for a throttled request")
	}
	if resp.Header.Get("Apigw-Requestid") == "" || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("429 headers %v: want Apigw-Requestid and Access-Control-Allow-Origin", resp.Header)
	}
	if line := f.logLine(resp.Header.Get("Apigw-Requestid")); line["throttled"] != "route" || line["status"] != float64(429) {
		t.Errorf("log line %v: want status 429, throttled=route", line)
	}
	// Another route, and another method on the same path, are other routes.
	if resp, body := f.do("POST", "/v1/uploads", []byte(`{}`), hdr("Content-Type", "application/json")); resp.StatusCode != http.StatusOK {
		t.Errorf("another route: %d %s, want its own bucket", resp.StatusCode, body)
	}
}

// TestThrottleRefills: the bucket refills at the rate, up to the burst.
func TestThrottleRefills(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	th := newThrottler(Throttle{RatePerSecond: 2, Burst: 4})
	th.now = func() time.Time { return now }
	take := func() (n int) {
		for th.allow("GET /x") {
			n++
		}
		return n
	}
	if n := take(); n != 4 {
		t.Errorf("a full bucket gave %d requests, want the burst, 4", n)
	}
	now = now.Add(1500 * time.Millisecond)
	if n := take(); n != 3 {
		t.Errorf("1.5 s at 2 per second gave %d, want 3", n)
	}
	now = now.Add(time.Hour)
	if n := take(); n != 4 {
		t.Errorf("an hour later %d, want no more than the burst, 4", n)
	}
}

// TestThrottleSettingsChecked: a throttle that would refuse everything is
// refused when the gateway is made, naming the values.
func TestThrottleSettingsChecked(t *testing.T) {
	for _, th := range []Throttle{{RatePerSecond: 0, Burst: 10}, {RatePerSecond: 10, Burst: 0}, {RatePerSecond: -1, Burst: 1}} {
		if _, err := New(testRoutes, testHandlers(), Options{Throttle: &th}); err == nil {
			t.Errorf("throttle %+v accepted", th)
		}
	}
}
