package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"chunkup/internal/upload"
)

// checkStored fails the test unless got is what a store keeps of s as
// CreateSession wrote it: every field the engine sets on a new session,
// times in milliseconds.
func checkStored(t *testing.T, got, s *upload.Session) {
	t.Helper()
	want := *s
	want.CreatedAt, want.UpdatedAt, want.ExpiresAt = ms(s.CreatedAt), ms(s.UpdatedAt), ms(s.ExpiresAt)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ID", got.ID, want.ID}, {"Owner", got.Owner, want.Owner}, {"Identifier", got.Identifier, want.Identifier},
		{"Name", got.Name, want.Name}, {"ContentType", got.ContentType, want.ContentType}, {"Key", got.Key, want.Key},
		{"Plan", got.Plan, want.Plan}, {"AutoComplete", got.AutoComplete, want.AutoComplete}, {"Verify", got.Verify, want.Verify},
		{"Kind", got.Kind, want.Kind}, {"LiveBinding", got.LiveBinding, want.LiveBinding}, {"State", got.State, want.State},
		{"MultipartID", got.MultipartID, want.MultipartID}, {"PartsDone", got.PartsDone, want.PartsDone},
		{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}, {"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"PartSize", got.PartSize, want.PartSize}, {"Offset", got.Offset, want.Offset}, {"PartStart", got.PartStart, want.PartStart},
		{"NextPart", got.NextPart, want.NextPart}, {"PartCRC", got.PartCRC, want.PartCRC}, {"Pending", len(got.Pending), len(want.Pending)},
		{"Seal", got.Seal, want.Seal},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if !maps.EqualFunc(got.Hashes, want.Hashes, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("Hashes = %q, want %q", got.Hashes, want.Hashes)
	}
}

var recordCases = []sessionCase{
	{"session/create and read back", func(t *testing.T, st upload.Sessions) {
		for _, s := range []*upload.Session{newIndexed(t), newSequential(t)} {
			create(t, st, s)
			checkStored(t, get(t, st, s.ID), s)
		}
	}},
	{"session/times keep milliseconds, in UTC", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		s.ExpiresAt = t0.In(time.FixedZone("x", 3600)).Add(time.Hour)
		create(t, st, s)
		got := get(t, st, s.ID)
		if !got.ExpiresAt.Equal(ms(s.ExpiresAt)) || got.ExpiresAt.Location() != time.UTC {
			t.Errorf("ExpiresAt = %v, want %v in UTC", got.ExpiresAt, ms(s.ExpiresAt))
		}
	}},
	{"session/create twice: ErrConflict, the first stands", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		other := *s
		other.Name = "other.bin"
		conflict(t, st.CreateSession(t.Context(), &other), "second CreateSession")
		if got := get(t, st, s.ID); got.Name != s.Name {
			t.Errorf("Name = %q after a lost create, want %q", got.Name, s.Name)
		}
	}},
	{"session/racing creates of one id: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		errs := Race(racers, func(i int) error {
			mine := *s
			mine.Name = fmt.Sprintf("racer-%d", i)
			return st.CreateSession(t.Context(), &mine)
		})
		w := oneWins(t, errs, "CreateSession")
		if got := get(t, st, s.ID); got.Name != fmt.Sprintf("racer-%d", w) {
			t.Errorf("Name = %q, want the winner's, racer-%d", got.Name, w)
		}
	}},
	{"session/missing: ErrNotFound", func(t *testing.T, st upload.Sessions) {
		if _, err := st.GetSession(t.Context(), newID(t)); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("GetSession of a missing session: err = %v, want ErrNotFound", err)
		}
		if _, _, err := st.ReadProgress(t.Context(), newID(t), 4); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("ReadProgress of a missing session: err = %v, want ErrNotFound", err)
		}
	}},
	{"session/a read is the caller's copy", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		got := get(t, st, s.ID)
		got.Name, got.Hashes["md5"][0], got.Pending = "changed", 'X', append(got.Pending, "x")
		again := get(t, st, s.ID)
		if again.Name != s.Name || string(again.Hashes["md5"]) != "md5 state" || len(again.Pending) != 0 {
			t.Errorf("changing a session read changed the store: %+v", again)
		}
	}},
	{"session/delete removes the session record alone", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.BindIdentifier(t.Context(), s, ""), "BindIdentifier")
		_, err := st.RecordChunk(t.Context(), s.ID, 0, upload.ChunkRecord{Index: 0, Key: "k0", Size: 1 << 20}, upload.Lease{Token: "tok", Until: t0.Add(time.Minute)})
		ok(t, err, "RecordChunk")
		ok(t, st.DeleteSession(t.Context(), s.ID), "DeleteSession")
		if _, err := st.GetSession(t.Context(), s.ID); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("GetSession after DeleteSession: err = %v, want ErrNotFound", err)
		}
		if p := getPart(t, st, s.ID, 0); len(p.Chunks) != 1 {
			t.Errorf("part 0 after DeleteSession has %d chunks, want its 1", len(p.Chunks))
		}
		if id, err := st.LookupIdentifier(t.Context(), s.Owner, s.Identifier); err != nil || id != s.ID {
			t.Errorf("LookupIdentifier after DeleteSession = %q, %v; want %q", id, err, s.ID)
		}
		ok(t, st.DeleteSession(t.Context(), s.ID), "DeleteSession of a missing session")
	}},
	{"session/touch moves an open session's expiry later, only", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		later, now := s.ExpiresAt.Add(time.Hour), t0.Add(time.Minute)
		ok(t, st.Touch(t.Context(), s.ID, later, now), "Touch")
		got := get(t, st, s.ID)
		if !got.ExpiresAt.Equal(ms(later)) || !got.UpdatedAt.Equal(ms(now)) {
			t.Errorf("after Touch: ExpiresAt %v UpdatedAt %v, want %v %v", got.ExpiresAt, got.UpdatedAt, ms(later), ms(now))
		}
		conflict(t, st.Touch(t.Context(), s.ID, later, now), "Touch to the same expiry")
		conflict(t, st.Touch(t.Context(), s.ID, later.Add(-time.Minute), now), "Touch to an earlier expiry")
		conflict(t, st.Touch(t.Context(), newID(t), later, now), "Touch of a missing session")
		ok(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateAborted, now), "EndSession")
		conflict(t, st.Touch(t.Context(), s.ID, later.Add(time.Hour), now), "Touch of an aborted session")
	}},
}

// checkLive fails the test unless b is the binding a store should give for open session s with a
// live binding, as of s.
func checkLive(t *testing.T, b upload.Binding, s *upload.Session) {
	t.Helper()
	if b.ID != s.ID || b.Plan != s.Plan {
		t.Fatalf("binding = %q %+v, want %q %+v", b.ID, b.Plan, s.ID, s.Plan)
	}
	if b.Live == nil {
		t.Fatalf("binding of open session %s with LiveBinding has no Live", s.ID)
	}
	l := b.Live
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ID", l.ID, s.ID}, {"Owner", l.Owner, s.Owner}, {"Identifier", l.Identifier, s.Identifier},
		{"Name", l.Name, s.Name}, {"ContentType", l.ContentType, s.ContentType}, {"Key", l.Key, s.Key},
		{"Verify", l.Verify, s.Verify}, {"AutoComplete", l.AutoComplete, s.AutoComplete}, {"Plan", l.Plan, s.Plan},
		{"MultipartID", l.MultipartID, s.MultipartID}, {"State", l.State, upload.StateOpen}, {"LiveBinding", l.LiveBinding, true},
		{"CreatedAt", l.CreatedAt, ms(s.CreatedAt)}, {"ExpiresAt", l.ExpiresAt, ms(s.ExpiresAt)},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("Live.%s = %v, want %v", f.name, f.got, f.want)
		}
	}
}

func lookup(t *testing.T, st upload.Sessions, s *upload.Session) upload.Binding {
	t.Helper()
	b, err := st.LookupBinding(t.Context(), s.Owner, s.Identifier)
	if err != nil {
		t.Fatalf("LookupBinding: %v", err)
	}
	return b
}

// bound creates s and binds its identifier to it.
func bound(t *testing.T, st upload.Sessions, s *upload.Session) {
	t.Helper()
	create(t, st, s)
	ok(t, st.BindIdentifier(t.Context(), s, ""), "BindIdentifier")
}

var bindingCases = []sessionCase{
	{"binding/missing: ErrNotFound", func(t *testing.T, st upload.Sessions) {
		if _, err := st.LookupBinding(t.Context(), "alice", "nothing"); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("LookupBinding: err = %v, want ErrNotFound", err)
		}
		if _, err := st.LookupIdentifier(t.Context(), "alice", "nothing"); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("LookupIdentifier: err = %v, want ErrNotFound", err)
		}
	}},
	{"binding/an open indexed upload's is live", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		checkLive(t, lookup(t, st, s), s)
		if id, err := st.LookupIdentifier(t.Context(), s.Owner, s.Identifier); err != nil || id != s.ID {
			t.Errorf("LookupIdentifier = %q, %v; want %q", id, err, s.ID)
		}
	}},
	{"binding/plan without Live: no LiveBinding, or not open", func(t *testing.T, st upload.Sessions) {
		notLive := newIndexed(t)
		notLive.LiveBinding = false
		complete := newIndexed(t)
		complete.State = upload.StateComplete
		for _, s := range []*upload.Session{notLive, complete} {
			bound(t, st, s)
			if b := lookup(t, st, s); b.ID != s.ID || b.Plan != s.Plan || b.Live != nil {
				t.Errorf("binding of %s (LiveBinding %v, %s) = %+v, want its id and plan, no Live", s.ID, s.LiveBinding, s.State, b)
			}
		}
	}},
	{"binding/a sequential upload's has no plan", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		s.LiveBinding = true
		bound(t, st, s)
		if b := lookup(t, st, s); b.ID != s.ID || b.Plan != (upload.Plan{}) || b.Live != nil {
			t.Errorf("binding = %+v, want the id alone", b)
		}
	}},
	{"binding/bind only where it points nowhere or still at replaces", func(t *testing.T, st upload.Sessions) {
		s1, s2 := newIndexed(t), newIndexed(t)
		s2.Identifier = s1.Identifier
		bound(t, st, s1)
		create(t, st, s2)
		conflict(t, st.BindIdentifier(t.Context(), s2, ""), "BindIdentifier over a binding, replacing nothing")
		conflict(t, st.BindIdentifier(t.Context(), s2, s2.ID), "BindIdentifier replacing the wrong upload")
		if b := lookup(t, st, s1); b.ID != s1.ID {
			t.Fatalf("a lost bind moved the binding to %s", b.ID)
		}
		ok(t, st.BindIdentifier(t.Context(), s2, s1.ID), "BindIdentifier replacing s1")
		checkLive(t, lookup(t, st, s2), s2)
		free := newIndexed(t)
		create(t, st, free)
		conflict(t, st.BindIdentifier(t.Context(), free, s1.ID), "BindIdentifier replacing an upload on a free identifier")
		if _, err := st.LookupBinding(t.Context(), free.Owner, free.Identifier); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("a lost bind bound the free identifier: err = %v", err)
		}
	}},
	{"binding/racing binds of one identifier: one wins", func(t *testing.T, st upload.Sessions) {
		first := newIndexed(t)
		ss := make([]*upload.Session, racers)
		for i := range ss {
			ss[i] = newIndexed(t)
			ss[i].Identifier = first.Identifier
			create(t, st, ss[i])
		}
		errs := Race(racers, func(i int) error { return st.BindIdentifier(t.Context(), ss[i], "") })
		if w := oneWins(t, errs, "BindIdentifier"); w >= 0 {
			checkLive(t, lookup(t, st, first), ss[w])
		}
	}},
	{"binding/identifiers are the owner's", func(t *testing.T, st upload.Sessions) {
		a, b := newIndexed(t), newIndexed(t)
		a.Owner, a.Identifier = "a#b", "c"
		b.Owner, b.Identifier = "a", "b#c"
		bound(t, st, a)
		bound(t, st, b)
		if got := lookup(t, st, a); got.ID != a.ID {
			t.Errorf("a's identifier points at %s, want %s", got.ID, a.ID)
		}
		if got := lookup(t, st, b); got.ID != b.ID {
			t.Errorf("b's identifier points at %s, want %s", got.ID, b.ID)
		}
		if _, err := st.LookupBinding(t.Context(), "bob", a.Identifier); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("bob finds alice's identifier: err = %v", err)
		}
	}},
	{"binding/Live follows Touch, after the session", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		later := s.ExpiresAt.Add(time.Hour)
		ok(t, st.Touch(t.Context(), s.ID, later, t0), "Touch")
		s.ExpiresAt = later
		checkLive(t, lookup(t, st, s), s)
	}},
	{"binding/Live gets the multipart upload", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "tok", Until: t0.Add(time.Minute)}, t0), "ClaimMultipart")
		if _, err := st.SetMultipartID(t.Context(), s.ID, "mpu-1", false); err != nil {
			t.Fatalf("SetMultipartID: %v", err)
		}
		s.MultipartID = "mpu-1"
		checkLive(t, lookup(t, st, s), s)
	}},
	{"binding/BeginComplete and EndSession take Live away", func(t *testing.T, st upload.Sessions) {
		completing, ended := newIndexed(t), newIndexed(t)
		bound(t, st, completing)
		bound(t, st, ended)
		ok(t, st.BeginComplete(t.Context(), completing, upload.Lease{Token: "tok", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
		ok(t, st.EndSession(t.Context(), ended, []upload.State{upload.StateOpen}, upload.StateExpired, t0), "EndSession")
		for _, s := range []*upload.Session{completing, ended} {
			if b := lookup(t, st, s); b.ID != s.ID || b.Plan != s.Plan || b.Live != nil {
				t.Errorf("binding of %s after it left open = %+v, want its id and plan, no Live", s.State, b)
			}
		}
		conflict(t, st.Touch(t.Context(), completing.ID, completing.ExpiresAt.Add(time.Hour), t0), "Touch of a completing upload")
		if b := lookup(t, st, completing); b.Live != nil {
			t.Errorf("a binding that lost Live got it back: %+v", b.Live)
		}
	}},
	{"binding/ending one upload leaves another's binding", func(t *testing.T, st upload.Sessions) {
		old, cur := newIndexed(t), newIndexed(t)
		cur.Identifier = old.Identifier
		bound(t, st, old)
		create(t, st, cur)
		ok(t, st.BindIdentifier(t.Context(), cur, old.ID), "BindIdentifier")
		ok(t, st.EndSession(t.Context(), old, []upload.State{upload.StateOpen}, upload.StateAborted, t0), "EndSession of the old upload")
		checkLive(t, lookup(t, st, cur), cur)
		ok(t, st.Forget(t.Context(), old, t0.Add(time.Hour)), "Forget the old upload")
		checkLive(t, lookup(t, st, cur), cur)
	}},
	{"binding/Forget frees the identifier", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		ok(t, st.Forget(t.Context(), s, t0.Add(time.Hour)), "Forget")
		if _, err := st.LookupBinding(t.Context(), s.Owner, s.Identifier); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("LookupBinding after Forget: err = %v, want ErrNotFound", err)
		}
		if got := get(t, st, s.ID); got.State != upload.StateOpen {
			t.Errorf("Forget changed the session's state to %s", got.State)
		}
		ok(t, st.Forget(t.Context(), &upload.Session{ID: newID(t), Owner: "alice", Identifier: "gone"}, t0), "Forget of a missing session")
	}},
}

var multipartCases = []sessionCase{
	{"multipart/one claim at a time, until it lapses", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		until := t0.Add(time.Minute)
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "a", Until: until}, t0), "ClaimMultipart a")
		conflict(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "b", Until: until.Add(time.Minute)}, until.Add(-time.Millisecond)), "ClaimMultipart b before a's lapses")
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "a", Until: until}, t0), "ClaimMultipart a again (a retry)")
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "b", Until: until.Add(time.Minute)}, until), "ClaimMultipart b when a's lapses")
		if got := get(t, st, s.ID); got.MultipartClaims != 3 || !got.MayHaveStrayMultipart() {
			t.Errorf("MultipartClaims = %d (stray %v), want 3 (true)", got.MultipartClaims, got.MayHaveStrayMultipart())
		}
		conflict(t, st.ClaimMultipart(t.Context(), newID(t), upload.Lease{Token: "a", Until: until}, t0), "ClaimMultipart of a missing session")
	}},
	{"multipart/release lets the next claim at once", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		until := t0.Add(time.Minute)
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "a", Until: until}, t0), "ClaimMultipart a")
		conflict(t, st.ReleaseMultipart(t.Context(), s.ID, "b"), "ReleaseMultipart by b")
		ok(t, st.ReleaseMultipart(t.Context(), s.ID, "a"), "ReleaseMultipart by a")
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "b", Until: until}, t0), "ClaimMultipart b")
	}},
	{"multipart/racing claims: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		errs := Race(racers, func(i int) error {
			return st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: fmt.Sprint("tok", i), Until: t0.Add(time.Minute)}, t0)
		})
		oneWins(t, errs, "ClaimMultipart")
		if got := get(t, st, s.ID); got.MultipartClaims != 1 || !got.MayHaveStrayMultipart() {
			t.Errorf("MultipartClaims = %d, want 1 (and a stray possible while no id is recorded)", got.MultipartClaims)
		}
	}},
	{"multipart/the first id recorded stays", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "ClaimMultipart")
		for _, try := range []struct {
			mpu     string
			retried bool
		}{{"mpu-1", false}, {"mpu-2", false}, {"mpu-1", false}} {
			got, err := st.SetMultipartID(t.Context(), s.ID, try.mpu, try.retried)
			if err != nil || got != "mpu-1" {
				t.Errorf("SetMultipartID(%s) = %q, %v; want mpu-1", try.mpu, got, err)
			}
		}
		got := get(t, st, s.ID)
		if got.MultipartID != "mpu-1" || got.MultipartRetried || got.MayHaveStrayMultipart() {
			t.Errorf("session: MultipartID %q retried %v stray %v; want mpu-1, false, false", got.MultipartID, got.MultipartRetried, got.MayHaveStrayMultipart())
		}
		conflict(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "b", Until: t0.Add(time.Hour)}, t0.Add(time.Hour)), "ClaimMultipart once an id is recorded")
	}},
	{"multipart/retried is recorded and kept", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.ClaimMultipart(t.Context(), s.ID, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "ClaimMultipart")
		if _, err := st.SetMultipartID(t.Context(), s.ID, "mpu-1", true); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetMultipartID(t.Context(), s.ID, "mpu-1", false); err != nil {
			t.Fatal(err)
		}
		if got := get(t, st, s.ID); !got.MultipartRetried || !got.MayHaveStrayMultipart() {
			t.Errorf("MultipartRetried = %v after a retried start, want true", got.MultipartRetried)
		}
	}},
	{"multipart/the id of a missing session: ErrNotFound", func(t *testing.T, st upload.Sessions) {
		if _, err := st.SetMultipartID(t.Context(), newID(t), "mpu-1", false); !errors.Is(err, upload.ErrNotFound) {
			t.Errorf("SetMultipartID: err = %v, want ErrNotFound", err)
		}
	}},
}
