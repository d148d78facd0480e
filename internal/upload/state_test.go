package upload

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStateTable holds the transition table to the life an upload has:
// only open takes chunks, nothing leaves an end state, complete is
// reached only through completing, and completing may be taken over.
func TestStateTable(t *testing.T) {
	all := []State{StateOpen, StateCompleting, StateComplete, StateAborted, StateExpired}
	allowed := map[[2]State]bool{
		{StateOpen, StateCompleting}: true, {StateOpen, StateAborted}: true, {StateOpen, StateExpired}: true,
		{StateCompleting, StateCompleting}: true, {StateCompleting, StateComplete}: true,
		{StateCompleting, StateAborted}: true, {StateCompleting, StateExpired}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanBecome(to); got != allowed[[2]State{from, to}] {
				t.Errorf("%s.CanBecome(%s) = %v", from, to, got)
			}
		}
		if got, want := from.AcceptsChunks(), from == StateOpen; got != want {
			t.Errorf("%s.AcceptsChunks() = %v", from, got)
		}
		if got, want := from.Terminal(), from != StateOpen && from != StateCompleting; got != want {
			t.Errorf("%s.Terminal() = %v", from, got)
		}
	}
}

// TestLease pins when a lease counts as held and when a store may grant
// it: a lapsed or empty lease to anyone, a held one only to its holder.
func TestLease(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	held := Lease{Token: "a", Until: now.Add(time.Second)}
	lapsed := Lease{Token: "a", Until: now}
	cases := []struct {
		name                      string
		l                         Lease
		held, heldByA, grantableB bool
	}{
		{"none", Lease{}, false, false, true},
		{"held", held, true, true, false},
		{"lapsed at its until", lapsed, false, false, true},
	}
	for _, c := range cases {
		if got := c.l.Held(now); got != c.held {
			t.Errorf("%s: Held = %v", c.name, got)
		}
		if got := c.l.HeldBy("a", now); got != c.heldByA {
			t.Errorf("%s: HeldBy(a) = %v", c.name, got)
		}
		if got := c.l.GrantableTo("b", now); got != c.grantableB {
			t.Errorf("%s: GrantableTo(b) = %v", c.name, got)
		}
		if !c.l.GrantableTo(c.l.Token, now) && c.l.Token != "" {
			t.Errorf("%s: not grantable to its own token (a retried grant)", c.name)
		}
	}
}

// fakeClock is a clock whose waits return at once and move it on.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// TestPollRunsOnTheEngineClock shows that a wait is measured on the
// engine's clock: with a clock that moves only when waited on, poll
// gives up after exactly the waits that fit before stop.
func TestPollRunsOnTheEngineClock(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	e := New(nil, nil, Options{Now: clock.Now, After: clock.After})
	tries := 0
	err := e.poll(context.Background(), clock.now.Add(time.Second), 100*time.Millisecond, "test", func() (bool, error) {
		tries++
		return false, nil
	})
	if !errors.Is(err, errWaitedOut) || tries != 11 {
		t.Fatalf("poll = %v after %d tries; want errWaitedOut after 11 (one now, one after each of 10 waits)", err, tries)
	}
	boom := errors.New("boom")
	tries = 0
	err = e.poll(context.Background(), clock.now.Add(time.Hour), time.Second, "test", func() (bool, error) {
		tries++
		return tries == 3, nil
	})
	if err != nil || tries != 3 {
		t.Fatalf("poll = %v after %d tries; want done at the third", err, tries)
	}
	if err := e.poll(context.Background(), clock.now.Add(time.Hour), time.Second, "test", func() (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("poll = %v; want the try's error", err)
	}
}
