package storetest

import (
	"testing"
	"time"

	"chunkup/internal/upload"
)

// The mark of an owed event (Announcements), set by the write that ends
// an upload and dropped by SettleEvent.

// complete takes s through completion under token a, as fin says it
// finished (EventOwed, Size, ExpiresAt).
func complete(t *testing.T, st upload.Sessions, s *upload.Session, owed bool) upload.Session {
	t.Helper()
	ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
	fin := *s
	fin.State, fin.Completion.Token, fin.EventOwed = upload.StateComplete, "a", owed
	fin.ETag, fin.CRC64, fin.Size = `"etag-1"`, "AAAAAAAAAAE=", 7<<20
	fin.CompletedAt, fin.ExpiresAt = t0.Add(time.Second), t0.Add(time.Second)
	ok(t, st.RecordComplete(t.Context(), &fin), "RecordComplete")
	return fin
}

var eventCases = []sessionCase{
	{"event/RecordComplete records the size and the owed event; SettleEvent settles it once", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		fin := complete(t, st, s, true)
		got := get(t, st, s.ID)
		if !got.EventOwed || got.Size != fin.Size || !got.ExpiresAt.Equal(ms(fin.ExpiresAt)) {
			t.Fatalf("completed: EventOwed %v Size %d ExpiresAt %v, want true %d %v", got.EventOwed, got.Size, got.ExpiresAt, fin.Size, ms(fin.ExpiresAt))
		}
		due := t0.Add(2 * time.Hour)
		ok(t, st.SettleEvent(t.Context(), s.ID, due), "SettleEvent")
		got = get(t, st, s.ID)
		if got.EventOwed || !got.ExpiresAt.Equal(ms(due)) || got.State != upload.StateComplete {
			t.Errorf("settled: EventOwed %v ExpiresAt %v state %s, want false %v complete", got.EventOwed, got.ExpiresAt, got.State, ms(due))
		}
		conflict(t, st.SettleEvent(t.Context(), s.ID, due.Add(time.Hour)), "SettleEvent again")
		if got := get(t, st, s.ID); !got.ExpiresAt.Equal(ms(due)) {
			t.Errorf("a lost SettleEvent moved ExpiresAt to %v", got.ExpiresAt)
		}
	}},
	{"event/RecordComplete keeps the on-complete hook's answer, and a completion without one has none", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
		fin := *s
		fin.State, fin.Completion.Token = upload.StateComplete, "a"
		fin.ETag, fin.CRC64, fin.CompletedAt, fin.ExpiresAt = `"etag-1"`, "AAAAAAAAAAE=", t0.Add(time.Second), t0.Add(time.Hour)
		fin.App = []byte(`{"photoId":42,"name":"caf\u00e9 ☕"}`)
		ok(t, st.RecordComplete(t.Context(), &fin), "RecordComplete")
		if got := get(t, st, s.ID); string(got.App) != string(fin.App) || got.State != upload.StateComplete {
			t.Fatalf("completed with App %s state %s, want %s complete", got.App, got.State, fin.App)
		}
		plain := newIndexed(t)
		create(t, st, plain)
		complete(t, st, plain, false)
		if got := get(t, st, plain.ID); got.App != nil {
			t.Errorf("a completion without an answer reads back App %q, want nil", got.App)
		}
	}},
	{"event/SettleEvent with no due time leaves the expiry", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.EndSession(t.Context(), func() *upload.Session { c := *s; c.EventOwed = true; return &c }(), []upload.State{upload.StateOpen}, upload.StateExpired, t0), "EndSession")
		got := get(t, st, s.ID)
		if !got.EventOwed || got.State != upload.StateExpired {
			t.Fatalf("ended: EventOwed %v state %s, want true expired", got.EventOwed, got.State)
		}
		ok(t, st.SettleEvent(t.Context(), s.ID, time.Time{}), "SettleEvent")
		got = get(t, st, s.ID)
		if got.EventOwed || !got.ExpiresAt.Equal(ms(s.ExpiresAt)) {
			t.Errorf("settled: EventOwed %v ExpiresAt %v, want false %v", got.EventOwed, got.ExpiresAt, ms(s.ExpiresAt))
		}
	}},
	{"event/nothing owed: ErrConflict, and no event is marked unasked", func(t *testing.T, st upload.Sessions) {
		open := newIndexed(t)
		create(t, st, open)
		conflict(t, st.SettleEvent(t.Context(), open.ID, t0), "SettleEvent of an open upload")
		conflict(t, st.SettleEvent(t.Context(), newID(t), t0), "SettleEvent of a missing upload")
		done := newIndexed(t)
		create(t, st, done)
		complete(t, st, done, false)
		aborted := newSequential(t)
		create(t, st, aborted)
		ok(t, st.EndSession(t.Context(), aborted, []upload.State{upload.StateOpen}, upload.StateAborted, t0), "EndSession")
		for _, s := range []*upload.Session{open, done, aborted} {
			if get(t, st, s.ID).EventOwed {
				t.Errorf("session %s owes an event nobody marked", s.ID)
			}
			conflict(t, st.SettleEvent(t.Context(), s.ID, t0), "SettleEvent with no event owed")
		}
	}},
}
