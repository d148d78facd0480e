package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lease is a claim to do one piece of work that only one request may do
// at a time: assemble a part (Part.Claim), complete an upload
// (Session.Completion), start an upload's multipart upload (kept by the
// store alone). The request that takes it names it with a fresh Token;
// it lapses at Until, so that when its holder crashes another request
// may take the work over. A lease outlasts the longest request
// (Options.ClaimTimeout), so a lapsed one's holder is gone.
//
// A store grants a lease with a conditional write that succeeds only
// while no other token holds it (the lease is free, or lapsed, or
// already this token's: a retried write whose first answer was lost
// finds its own token), and gives it up or ends it only under the token
// that holds it.
type Lease struct {
	Token string
	Until time.Time
}

// Held reports whether some request holds the lease at now.
func (l Lease) Held(now time.Time) bool { return l.Token != "" && now.Before(l.Until) }

// HeldBy reports whether the request that took the lease as token still
// holds it at now.
func (l Lease) HeldBy(token string, now time.Time) bool { return l.Token == token && l.Held(now) }

// GrantableTo reports whether a store may grant the lease to token at
// now: nobody else holds it.
func (l Lease) GrantableTo(token string, now time.Time) bool {
	return !l.Held(now) || l.Token == token
}

// newLease is a fresh lease for a request that starts work now.
func (e *Engine) newLease() Lease {
	return Lease{Token: newID(), Until: e.opt.Now().Add(e.opt.ClaimTimeout)}
}

// poll calls try until it reports done or fails, waiting every between
// calls, on the engine's clock (Options.Now, Options.After), so that a
// test that moves the clock moves the waits too. When the clock reaches
// stop with try still not done, poll returns errWaitedOut; what names the
// wait in the error of a request that was cancelled.
func (e *Engine) poll(ctx context.Context, stop time.Time, every time.Duration, what string, try func() (done bool, err error)) error {
	for {
		done, err := try()
		if done || err != nil {
			return err
		}
		if !e.opt.Now().Before(stop) {
			return errWaitedOut
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-e.opt.After(every):
		}
	}
}

// errWaitedOut is poll's answer when the work waited for is still not
// done at the time the request must stop; callers answer busy.
var errWaitedOut = errors.New("waited out")

// waitUntil is when a request that starts waiting now must stop, to
// answer before API Gateway's 30 s (Options.DuplicateWait).
func (e *Engine) waitUntil() time.Time { return e.opt.Now().Add(e.opt.DuplicateWait) }
