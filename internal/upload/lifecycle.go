package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The end of an upload that is not completed: abort, expiry and the
// sweep that finds uploads past their expiry.
//
// Entry points: Engine.Abort, Engine.Sweep.
// Calls: completion, for a whole upload the sweep completes rather than
// expires; discarding.

// Abort ends the owner's open upload and deletes everything it stored.
// Aborting an aborted upload succeeds again; a complete one is refused.
func (e *Engine) Abort(ctx context.Context, owner, id string) error {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return err
	}
	switch s.State {
	case StateComplete, StateCompleting:
		e.announceOrLeave(ctx, s) // an event a crash left owed
		return refuse(CodeComplete, "upload %s is complete and can no longer be aborted", s.ID)
	case StateOpen:
		err := e.end(ctx, s, StateAborted, e.opt.Now().UTC())
		if errors.Is(err, ErrConflict) {
			return e.Abort(ctx, owner, id)
		}
		if err != nil {
			return fmt.Errorf("abort %s: %w", s.ID, err)
		}
	}
	return e.discard(ctx, s)
}

// SweepStats counts what a sweep did.
type SweepStats struct {
	Expired  int // open uploads found past their expiry and ended
	Released int // ended uploads whose data was deleted
	// Completed counts uploads that complete by themselves found past
	// their expiry with every chunk in, and completed rather than expired.
	Completed int
	// Announced counts events published that a crash had left owed.
	Announced int
	// Owed counts the events this sweep found owed and could not
	// publish: they stay owed until a later one.
	Owed   int
	Errors int
}

// Sweep ends open uploads past their expiry and deletes what they stored,
// in batches of batch, until there are none left or the deadline is near.
// An upload that finishes by itself and has every chunk in is finished
// instead (see sweepComplete). Two sweeps at once are safe: each step is
// conditional or idempotent.
func (e *Engine) Sweep(ctx context.Context, batch int) (SweepStats, error) {
	var st SweepStats
	for {
		if nearDeadline(ctx) {
			return st, nil
		}
		ids, err := e.sessions.ListExpired(ctx, e.opt.Now(), batch)
		if err != nil {
			return st, fmt.Errorf("list expired uploads: %w", err)
		}
		progress := 0
		for _, id := range ids {
			if nearDeadline(ctx) { // an upload it finishes may wait on the on-complete hook
				return st, nil
			}
			ok, err := e.sweepOne(ctx, id, &st)
			if errors.Is(err, errEventOwed) {
				st.Owed++
			}
			if err != nil {
				st.Errors++
				e.opt.Logger.Warn("sweep upload", "upload_id", id, "err", err)
			}
			if ok {
				progress++
			}
		}
		if len(ids) < batch || progress == 0 {
			return st, nil
		}
	}
}

// nearDeadline reports whether ctx's deadline, if any, is too near for
// the sweep to take on another upload.
func nearDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 5*time.Second
}

func (e *Engine) sweepOne(ctx context.Context, id string, st *SweepStats) (bool, error) {
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read session %s: %w", id, err)
	}
	now := e.opt.Now().UTC()
	switch s.State {
	case StateOpen, StateCompleting:
		if now.Before(s.ExpiresAt) || (s.State == StateCompleting && s.Completion.Held(now)) {
			return false, nil
		}
		if ok, expire, err := e.sweepComplete(ctx, s, now, st); !expire {
			return ok, err
		}
		err := e.end(ctx, s, StateExpired, now)
		if errors.Is(err, ErrConflict) {
			return false, nil // touched or ended by someone else meanwhile
		}
		if err != nil {
			return false, fmt.Errorf("expire %s: %w", id, err)
		}
		st.Expired++
	case StateComplete:
		if s.EventOwed { // its completion's request died before sending it
			if err := e.announce(ctx, s); err != nil {
				return false, err
			}
			st.Announced++
			return true, nil
		}
		if now.Before(s.ExpiresAt) {
			return false, nil // its event was sent since it was listed
		}
		if err := e.abortStrays(ctx, s); err != nil {
			return false, err
		}
		if err := e.sessions.DeleteParts(ctx, id); err != nil {
			return false, fmt.Errorf("delete part records of %s: %w", id, err)
		}
		if s.Partial {
			// A tus partial upload no final upload joined by now: a piece
			// of a file its client gave up on, not a file. A final upload
			// that joins it deletes its object itself.
			if err := e.blobs.DeleteObject(ctx, s.Key); err != nil {
				return false, fmt.Errorf("delete the object of unjoined partial upload %s: %w", id, err)
			}
			e.log(ctx, s).Info("unjoined partial upload deleted", "key", s.Key)
			st.Released++
		}
		return true, e.sessions.Forget(ctx, s, now.Add(e.opt.Retention))
	}
	if err := e.discard(ctx, s); err != nil {
		return false, err
	}
	st.Released++
	return true, nil
}

// sweepComplete finishes, rather than expires, an upload past its expiry
// that finishes by itself and has every part counted: open, its last
// chunk's request having failed to finish it, or completing under a claim
// that lapsed. Its client sent the whole file and has no completion
// request to make; it may have given up on its last chunk's error
// (Flow.js does at the first by default), or been told by a release
// before this one that the file was done. Finishing costs what any
// completion does, at most one part's data. It reports whether the upload
// was finished (ok) and whether it is to be expired after all: when it is
// not such an upload, when finishing is refused (a chunk missing after
// all, a checksum that does not match), and when finishing fails in a way
// that may pass once it is a further expiry period overdue or at the end
// of its lifetime, when S3 is about to drop its data (before that, it is
// left for a later sweep). One that another request is finishing is left
// alone.
func (e *Engine) sweepComplete(ctx context.Context, s *Session, now time.Time, st *SweepStats) (ok, expire bool, err error) {
	if !owesCompletion(s) {
		return false, true, nil
	}
	_, err = e.complete(ctx, s)
	switch {
	case err == nil:
		st.Completed++
		return true, false, nil
	case CodeOf(err) == CodeBusy:
		return false, false, nil
	case CodeOf(err) == CodeInternal && now.Before(s.ExpiresAt.Add(e.opt.Expiry)) && now.Before(e.lifetimeEnd(s)):
		return false, false, fmt.Errorf("finish %s: %w", s.ID, err)
	}
	e.log(ctx, s).Warn("expire an upload with every chunk in that could not be finished", "err", err)
	return false, true, nil
}

// end moves s, as the request read it, to the end state to (aborted or
// expired) if the transition table allows it, with a conditional write on
// the state s is in: ErrConflict if the session has moved on since.
func (e *Engine) end(ctx context.Context, s *Session, to State, now time.Time) error {
	if !s.State.CanBecome(to) || !to.Terminal() {
		return fmt.Errorf("end %s: upload in state %s cannot become %s", s.ID, s.State, to)
	}
	ending := *s
	ending.EventOwed = e.oweEvents(s) // sent by discard, before the session is forgotten
	if err := e.sessions.EndSession(ctx, &ending, []State{s.State}, to, now); err != nil {
		return err
	}
	metric := MetricExpired
	if to == StateAborted {
		metric = MetricAborted
	}
	e.count(ctx, metric, s, 1)
	return nil
}
