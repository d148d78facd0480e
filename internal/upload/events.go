package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Telling the app: the event that an upload's end owes the application
// (completed, aborted, expired), sent at least once and never lost. The
// write that ends the upload records that its event is owed
// (Session.EventOwed); the event is published after it, and the mark
// cleared with one more write (Announcements.SettleEvent). A crash in
// between leaves the mark, and the next request that reaches the upload,
// or the sweep, publishes the event again. Every event carries the upload
// id, its idempotency key: a consumer drops a repeat by it.
//
// Entry points (for completion and the lifecycle): Engine.announce,
// Engine.oweEvents.

// Publisher delivers the engine's events to the application (EventBridge
// in production). Publish returns nil only once ev is delivered; after an
// error it may or may not have been, and the engine publishes it again.
type Publisher interface {
	Publish(ctx context.Context, ev Event) error
}

// EventType names what happened to an upload: EventBridge's detail-type.
type EventType string

// The events an upload's end owes. An upload has one of them, once: its
// end state is terminal.
const (
	EventCompleted EventType = "Upload Completed"
	EventAborted   EventType = "Upload Aborted"
	EventExpired   EventType = "Upload Expired"
)

// EventSource is the source of every event chunkup publishes.
const EventSource = "chunkup"

// Event is what the application is told about an upload's end: its type
// and, as Detail, the upload.
type Event struct {
	Type EventType
	// Time is when the upload ended.
	Time   time.Time
	Detail EventDetail
}

// EventDetail is an event's detail, as its JSON reaches the application.
// ID, the upload id, is the event's idempotency key.
type EventDetail struct {
	ID string `json:"id"`
	// Owner is the uploader: "sub:<JWT subject>", or "anonymous".
	Owner string `json:"owner"`
	// Bucket is filled in by the publisher, which knows the bucket.
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType,omitempty"`
	Dialect     string `json:"dialect,omitempty"`
	// Checksums of the finished file: crc64nvme (base64, as S3 reports
	// it) always; md5, sha1 and sha256 (hex) when chunkup computed them.
	Checksums   map[string]string `json:"checksums,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	CreatedAt   string            `json:"createdAt"`
	CompletedAt string            `json:"completedAt,omitempty"`
	// EndedAt is when an aborted or expired upload ended.
	EndedAt string `json:"endedAt,omitempty"`
}

// eventTime is how events write a time: RFC 3339 in UTC, to the
// millisecond, as the session store keeps it, so that an event sent
// again says what the first said.
const eventTime = "2006-01-02T15:04:05.000Z07:00"

// eventOf is the event that session s, in its end state, owes.
func eventOf(s *Session) Event {
	d := EventDetail{
		ID: s.ID, Owner: s.Owner, Key: s.Key, Name: s.Name, Size: s.Size,
		ContentType: s.ContentType, Dialect: s.Dialect, Metadata: s.Metadata,
		CreatedAt: s.CreatedAt.UTC().Format(eventTime),
	}
	ev := Event{Detail: d}
	switch s.State {
	case StateComplete:
		ev.Type, ev.Time = EventCompleted, s.CompletedAt.Truncate(time.Millisecond)
		ev.Detail.CompletedAt = s.CompletedAt.UTC().Format(eventTime)
		ev.Detail.Checksums = map[string]string{"crc64nvme": s.CRC64}
		for alg, hex := range s.Digests {
			ev.Detail.Checksums[alg] = hex
		}
		return ev
	case StateAborted:
		ev.Type = EventAborted
	default:
		ev.Type = EventExpired
	}
	ev.Time = s.UpdatedAt.Truncate(time.Millisecond)
	ev.Detail.EndedAt = s.UpdatedAt.UTC().Format(eventTime)
	return ev
}

// oweEvents reports whether the end of s owes an event: only when the
// engine has a publisher, and never for a tus partial upload, which is a
// piece of a file, not a file: the app hears of the final upload that
// joins it.
func (e *Engine) oweEvents(s *Session) bool { return e.opt.Events != nil && !s.Partial }

// announce publishes the event s owes, if it owes one, and clears the
// mark; a complete session becomes due for the sweep one expiry period
// after its completion again (see completeClaimed). An error leaves the
// mark, for a later request or the sweep. Another request that settled
// it first is not an error: the event went out at least once.
func (e *Engine) announce(ctx context.Context, s *Session) error {
	if !s.EventOwed {
		return nil
	}
	ev := eventOf(s)
	if e.opt.Events != nil {
		if err := e.opt.Events.Publish(ctx, ev); err != nil {
			return fmt.Errorf("publish %q of %s: %w", ev.Type, s.ID, err)
		}
	} else {
		e.log(ctx, s).Warn("event dropped: no publisher configured", "event", string(ev.Type))
	}
	var due time.Time
	if s.State == StateComplete {
		due = s.CompletedAt.Add(e.opt.Expiry)
	}
	if err := e.sessions.SettleEvent(ctx, s.ID, due); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("settle %q of %s: %w", ev.Type, s.ID, err)
	}
	s.EventOwed = false
	if !due.IsZero() {
		s.ExpiresAt = due
	}
	e.log(ctx, s).Info("event published", "event", string(ev.Type))
	return nil
}

// announceOrLeave is announce for a request whose answer does not depend
// on the event: a failure is logged, and the event left for the next
// request or the sweep.
func (e *Engine) announceOrLeave(ctx context.Context, s *Session) {
	if err := e.announce(ctx, s); err != nil {
		e.log(ctx, s).Warn("event left owed for the sweep", "err", err)
	}
}
