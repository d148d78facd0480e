package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"chunkup/internal/upload"
)

// lapseCompletion makes the completion lease of session id lapse.
func (m *Sessions) lapseCompletion(id string) func() {
	return func() {
		m.lapseSession(id, func(r *sessionRec) {
			if r.cuntilSet {
				r.cuntil = 0
			}
		})
	}
}

// BeginComplete moves open session s, or a completing one whose
// completion lease has lapsed or is token's, to completing under token,
// having first (a request of its own) closed its live binding.
func (m *Sessions) BeginComplete(ctx context.Context, s *upload.Session, claim upload.Lease, now time.Time) error {
	token, until := claim.Token, claim.Until
	var closeErr error
	err := m.run(ctx, &m.mu, request{
		op:    "BeginComplete",
		first: func() { closeErr = m.closeBinding(s) },
		lapse: m.lapseCompletion(s.ID),
		main: func() error {
			if closeErr != nil {
				return closeErr
			}
			_, err := m.update(s.ID, func(r *sessionRec) bool {
				switch r.s.State {
				case upload.StateOpen:
					return true
				case upload.StateCompleting:
					return (r.cuntilSet && r.cuntil <= msOf(now)) || (r.s.Completion.Token != "" && r.s.Completion.Token == token)
				}
				return false
			}, func(r *sessionRec) {
				r.s.State, r.s.Completion.Token, r.s.UpdatedAt = upload.StateCompleting, token, trunc(now)
				r.cuntil, r.cuntilSet = msOf(until), true
			})
			return err
		},
	})
	return wrap("begin completion", err)
}

// RecordComplete records the finished object, its size and s.App, and
// that its event is owed if s.EventOwed, if s.Completion.Token holds the
// completion lease (or finished it: a repeat changes nothing more). The
// session stays in the sweep's index, due at s.ExpiresAt.
func (m *Sessions) RecordComplete(ctx context.Context, s *upload.Session) error {
	return wrap("record completion", m.run(ctx, &m.mu, request{op: "RecordComplete", lapse: m.lapseCompletion(s.ID), main: func() error {
		_, err := m.update(s.ID, func(r *sessionRec) bool {
			return r.s.Completion.Token != "" && r.s.Completion.Token == s.Completion.Token &&
				(r.s.State == upload.StateCompleting || r.s.State == upload.StateComplete)
		}, func(r *sessionRec) {
			r.s.State, r.s.ETag, r.s.CRC64, r.s.Size = upload.StateComplete, s.ETag, s.CRC64, s.Size
			if len(s.App) > 0 {
				r.s.App = slices.Clone(s.App)
			}
			if s.EventOwed {
				r.s.EventOwed = true
			}
			r.s.CompletedAt, r.s.ExpiresAt, r.s.UpdatedAt = trunc(s.CompletedAt), trunc(s.ExpiresAt), trunc(s.CompletedAt)
			r.s.Digests = maps.Clone(s.Digests)
			if r.s.Digests == nil {
				r.s.Digests = map[string]string{}
			}
			r.cuntil, r.cuntilSet = 0, false
		})
		return err
	}}))
}

// ReleaseComplete ends the completion lease token holds at once; the
// session stays completing.
func (m *Sessions) ReleaseComplete(ctx context.Context, id, token string) error {
	return wrap("release completion claim", m.run(ctx, &m.mu, request{op: "ReleaseComplete", lapse: m.lapseCompletion(id), main: func() error {
		_, err := m.update(id, func(r *sessionRec) bool {
			return r.s.Completion.Token != "" && r.s.Completion.Token == token && r.s.State == upload.StateCompleting
		}, func(r *sessionRec) { r.cuntil, r.cuntilSet = 0, true })
		return err
	}}))
}

// EndSession moves session s, if it is in one of states from, to state
// to, having first (a request of its own) closed its live binding. An
// aborted session is due for the sweep at once; one whose s.EventOwed is
// set is marked as owing its event. A move the state table
// does not allow is refused before anything is written.
func (m *Sessions) EndSession(ctx context.Context, s *upload.Session, from []upload.State, to upload.State, now time.Time) error {
	for _, f := range from {
		if !f.CanBecome(to) {
			return fmt.Errorf("end session %s: state %s cannot become %s", s.ID, f, to)
		}
	}
	var closeErr error
	err := m.run(ctx, &m.mu, request{
		op:    "EndSession",
		first: func() { closeErr = m.closeBinding(s) },
		main: func() error {
			if closeErr != nil {
				return closeErr
			}
			if len(from) == 0 {
				return refusal("ValidationException", "Invalid ConditionExpression: Syntax error; token: \")\"")
			}
			_, err := m.update(s.ID, func(r *sessionRec) bool { return slices.Contains(from, r.s.State) }, func(r *sessionRec) {
				r.s.State, r.s.UpdatedAt = to, trunc(now)
				if to == upload.StateAborted {
					r.s.ExpiresAt = trunc(now)
				}
				if s.EventOwed {
					r.s.EventOwed = true
				}
			})
			return err
		},
	})
	return wrap("end session", err)
}

// SettleEvent drops the mark of an owed event and, unless due is zero,
// makes the session due for the sweep at due; ErrConflict if no event is
// owed (or there is no session).
func (m *Sessions) SettleEvent(ctx context.Context, id string, due time.Time) error {
	return wrap("settle event", m.run(ctx, &m.mu, request{op: "SettleEvent", main: func() error {
		_, err := m.update(id, func(r *sessionRec) bool { return r.s.EventOwed }, func(r *sessionRec) {
			r.s.EventOwed = false
			if !due.IsZero() {
				r.s.ExpiresAt = trunc(due)
			}
		})
		return err
	}}))
}

// Forget first (a request of its own) frees the session's identifier if
// that still points at it, then drops the session from the sweep's index
// (a session that is gone is not an error): in that order, as the
// contract asks, so that a Forget that fails leaves the session in the
// index or nothing bound. DynamoDB's TTL would remove the session after
// ttl; nothing removes it here, as nothing does on dynalite.
func (m *Sessions) Forget(ctx context.Context, s *upload.Session, ttl time.Time) error {
	var freeErr error
	err := m.run(ctx, &m.mu, request{
		op:    "Forget",
		first: func() { freeErr = m.freeBinding(s) },
		main: func() error {
			if freeErr != nil {
				return freeErr
			}
			_, err := m.update(s.ID, func(*sessionRec) bool { return true }, func(r *sessionRec) { r.inSweep = false })
			if errors.Is(err, upload.ErrConflict) {
				return nil
			}
			return err
		},
	})
	return wrap("forget", err)
}

// freeBinding deletes the binding of s's identifier if it points at s.
func (m *Sessions) freeBinding(s *upload.Session) error {
	if s.Identifier == "" {
		return nil
	}
	if err := checkKey(bindingPK(s.Owner, s.Identifier)); err != nil {
		return wrap("free identifier", err)
	}
	if b, ok := m.bindings[bindingKey{s.Owner, s.Identifier}]; ok && b.id == s.ID {
		delete(m.bindings, bindingKey{s.Owner, s.Identifier})
	}
	return nil
}

// ListExpired returns up to limit ids of sessions in the sweep's index
// whose expiry is before now, shard by shard and, within a shard, the
// earliest expiry first, as the DynamoDB store reads its index.
func (m *Sessions) ListExpired(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := m.run(ctx, &m.mu, request{op: "ListExpired", main: func() error {
		ids = nil
		type due struct {
			shard, id string
			at        int64
		}
		var all []due
		for id, rec := range m.sessions {
			if rec.inSweep && msOf(rec.s.ExpiresAt) < msOf(now) {
				all = append(all, due{sweepShard(id), id, msOf(rec.s.ExpiresAt)})
			}
		}
		slices.SortFunc(all, func(a, b due) int {
			if c := strings.Compare(a.shard, b.shard); c != 0 {
				return c
			}
			if a.at != b.at {
				return int(min(max(a.at-b.at, -1), 1))
			}
			return strings.Compare(a.id, b.id)
		})
		for _, d := range all {
			if len(ids) >= limit {
				break
			}
			ids = append(ids, d.id)
		}
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("query sweep index: %w", err)
	}
	return ids, nil
}
