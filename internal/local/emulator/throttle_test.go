package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// gate is an HTTP server the test function's do=barrier GETs: each GET
// is held until release, so the invocation stays busy until then.
type gate struct {
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		select {
		case <-g.release:
		case <-time.After(20 * time.Second):
			http.Error(w, "never released", http.StatusGatewayTimeout)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// hold starts an invocation of p that stays busy until g is released and
// returns once it is running; its result arrives on the channel.
func (g *gate) hold(t *testing.T, p *Pool) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	payload, _ := json.Marshal(map[string]string{"do": "barrier", "barrier": g.srv.URL})
	go func() {
		_, err := p.Invoke(context.Background(), payload)
		done <- err
	}()
	select {
	case <-g.arrived:
	case err := <-done:
		t.Fatalf("the held invocation ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the held invocation never ran")
	}
	return done
}

// startFunctions runs the test function under each of the given names,
// with the given reserved concurrency, sharing unreserved.
func startFunctions(t *testing.T, unreserved int, throttle bool, reserved map[string]int) *Emulator {
	t.Helper()
	var fns []Function
	for name, r := range reserved {
		fns = append(fns, Function{Name: name, Bootstrap: testBootstrap, Timeout: 30 * time.Second, ReservedConcurrency: r})
	}
	e, err := Start(context.Background(), fns, Options{Concurrency: unreserved, Throttle: throttle,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var okEvent = []byte(`{"do":"ok"}`)

// TestThrottleWhenAllBusy: with Throttle, an invocation that finds the
// function's concurrency in use is refused at once with a *ThrottleError
// naming Lambda's reason, never run; once the busy invocation ends, the
// next one runs. Without Throttle the same invocation waits and succeeds.
func TestThrottleWhenAllBusy(t *testing.T) {
	for _, throttle := range []bool{true, false} {
		e := startFunctions(t, 1, throttle, map[string]int{"F": 0})
		p := e.Pool("F")
		g := newGate(t)
		held := g.hold(t, p)
		second := make(chan error, 1)
		go func() {
			_, err := p.Invoke(context.Background(), okEvent)
			second <- err
		}()
		if throttle {
			err := <-second
			var te *ThrottleError
			if !errors.As(err, &te) || te.Reason != "ConcurrentInvocationLimitExceeded" || te.Limit != 1 || te.Function != "F" {
				t.Fatalf("throttle: a second invocation while the only slot is busy: %v, want a *ThrottleError", err)
			}
			if st := p.Stats(); st.Throttles != 1 || st.Started != 1 {
				t.Errorf("throttle: stats %+v, want 1 throttle and the one instance", st)
			}
		}
		close(g.release)
		if err := <-held; err != nil {
			t.Fatalf("throttle=%v: the held invocation: %v", throttle, err)
		}
		if !throttle {
			if err := <-second; err != nil {
				t.Errorf("no throttle: the waiting invocation: %v, want it run once the slot freed", err)
			}
			if st := p.Stats(); st.Throttles != 0 || st.Invocations != 2 {
				t.Errorf("no throttle: stats %+v, want 2 invocations and no throttle", st)
			}
			continue
		}
		if _, err := p.Invoke(context.Background(), okEvent); err != nil {
			t.Errorf("throttle: once the slot is free: %v", err)
		}
	}
}

// TestReservedConcurrency: functions without a reservation share the
// unreserved concurrency, so one of them being busy throttles the other;
// a function with reserved concurrency runs while the shared slots are
// taken, up to its own limit, and is then throttled with Lambda's
// reserved-concurrency reason. Idle instances hold no slot.
func TestReservedConcurrency(t *testing.T) {
	e := startFunctions(t, 1, true, map[string]int{"Receive": 0, "Other": 0, "Complete": 1})
	g := newGate(t)
	if _, err := e.Pool("Other").Invoke(context.Background(), okEvent); err != nil {
		t.Fatalf("Other while nothing is busy: %v", err) // leaves an idle instance
	}
	held := g.hold(t, e.Pool("Receive"))
	var te *ThrottleError
	if _, err := e.Pool("Other").Invoke(context.Background(), okEvent); !errors.As(err, &te) {
		t.Errorf("Other while Receive holds the shared slot: %v, want a *ThrottleError", err)
	}
	heldComplete := g.hold(t, e.Pool("Complete"))
	if _, err := e.Pool("Complete").Invoke(context.Background(), okEvent); !errors.As(err, &te) ||
		te.Reason != "ReservedFunctionConcurrentInvocationLimitExceeded" {
		t.Errorf("Complete beyond its reservation of 1: %v, want a *ThrottleError for reserved concurrency", err)
	}
	close(g.release)
	for _, ch := range []<-chan error{held, heldComplete} {
		if err := <-ch; err != nil {
			t.Errorf("held invocation: %v", err)
		}
	}
	if _, err := e.Pool("Other").Invoke(context.Background(), okEvent); err != nil {
		t.Errorf("Other once Receive is done: %v", err)
	}
	if p := e.Pool("Complete"); p.Concurrency() != 1 || !p.Reserved() || e.Pool("Receive").Reserved() {
		t.Errorf("Complete concurrency %d reserved %v; Receive reserved %v", p.Concurrency(), p.Reserved(), e.Pool("Receive").Reserved())
	}
}
