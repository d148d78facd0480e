package upload

import (
	"slices"
	"time"
)

// State is where an upload stands in its life. Its transitions are the
// table below, and nothing else: the engine checks a move against it
// (CanBecome) before it asks a store to make it, and the stores make each
// move with a conditional write on the state it leaves, so that of two
// requests making moves from one state only one succeeds.
//
//	from         to           made by
//	open         completing   BeginComplete: the request that finishes the upload takes its completion lease
//	open         aborted      Abort
//	open         expired      the sweep, for an upload past its expiry
//	completing   completing   BeginComplete again, once the completion lease has lapsed (a crashed finisher)
//	completing   complete     RecordComplete: the object is in S3
//	completing   aborted      a whole-file checksum that did not match at read-back (the file is discarded)
//	completing   expired      the sweep, for one whose lease lapsed and that cannot be finished
//
// Complete, aborted and expired are terminal: the session stays as a
// tombstone until DynamoDB's TTL removes it. An open upload whose expiry
// has passed is expired from that moment, whether or not the sweep has
// recorded it yet; the engine sees every session it reads as of now
// (Engine.observe), so a chunk that comes after the expiry is refused
// even before the sweep runs.
type State string

// The states of an upload.
const (
	StateOpen       State = "open"
	StateCompleting State = "completing"
	StateComplete   State = "complete"
	StateAborted    State = "aborted"
	StateExpired    State = "expired"
)

// transitions lists, for each state, the states it may move to.
var transitions = map[State][]State{
	StateOpen:       {StateCompleting, StateAborted, StateExpired},
	StateCompleting: {StateCompleting, StateComplete, StateAborted, StateExpired},
}

// CanBecome reports whether the table allows the move from s to next.
func (s State) CanBecome(next State) bool { return slices.Contains(transitions[s], next) }

// AcceptsChunks reports whether an upload in state s takes new data: only
// an open one does.
func (s State) AcceptsChunks() bool { return s == StateOpen }

// Terminal reports whether s is an end state, which nothing leaves.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Live reports whether an upload in state s still holds its chunks and
// may yet be, or already is, the finished file: open, completing or
// complete. An aborted or expired upload's data is gone or going.
func (s State) Live() bool { return s == StateOpen || s == StateCompleting || s == StateComplete }

// observe shows s as it stands now: an open session past its expiry is
// expired, whether or not the sweep has recorded it (DynamoDB's TTL is
// housekeeping only).
func (e *Engine) observe(s *Session) {
	if s.State == StateOpen && !e.opt.Now().Before(s.ExpiresAt) {
		s.State = StateExpired
	}
}

// owesCompletion reports whether s finishes by itself (AutoComplete) and
// has every part counted, but is not complete: the request that should
// have completed it failed, or another is completing it now. Such an
// upload is "whole": its client has sent every chunk and has no
// completion request to make, so the engine completes it on the next
// chunk, status test or sweep that reaches it.
func owesCompletion(s *Session) bool {
	if !s.AutoComplete {
		return false
	}
	return s.State == StateCompleting || (s.State == StateOpen && s.PartsDone >= s.Parts)
}

// Refusal is the refusal for data or a completion that comes to upload s
// in its state (as of now): nil for an open upload.
func (e *Engine) Refusal(s *Session) error {
	e.observe(s)
	return e.refuseState(s)
}

// refuseState is the refusal for data or a completion that comes to an
// upload in a state that does not take it; nil for an open upload.
func (e *Engine) refuseState(s *Session) error {
	if s.State.AcceptsChunks() {
		return nil
	}
	switch s.State {
	case StateExpired:
		if end := e.lifetimeEnd(s); !s.ExpiresAt.Before(end) {
			return overLimit(CodeExpired, int64(e.opt.MaxLifetime/time.Second),
				"upload %s expired at %s, the end of its lifetime: an upload must be finished within %s of its start (limit in seconds)",
				s.ID, end.Format(time.RFC3339), e.opt.MaxLifetime)
		}
		return refuse(CodeExpired, "upload %s expired at %s", s.ID, s.ExpiresAt.Format(time.RFC3339))
	case StateAborted:
		return refuse(CodeAborted, "upload %s was aborted", s.ID)
	default:
		return refuse(CodeComplete, "upload %s is already complete", s.ID)
	}
}
