package storetest

import (
	"slices"
	"testing"
	"time"

	"chunkup/internal/upload"
)

// An owner's sessions, newest first, a page at a time (Listings).

// owned creates n sessions of owner, one created every millisecond from
// at on, but the last two created in the same millisecond, of every
// kind in turn; it returns them.
func owned(t *testing.T, st upload.Sessions, owner string, n int, at time.Time) []*upload.Session {
	t.Helper()
	var out []*upload.Session
	for i := range n {
		var s *upload.Session
		switch i % 3 {
		case 0:
			s = newIndexed(t)
		case 1:
			s = newSequential(t)
		default:
			s = newIndexed(t)
			s.Kind, s.Plan, s.AutoComplete, s.LiveBinding = upload.Direct, upload.Plan{}, false, false
			s.Direct = upload.DirectPlan{Declared: true, PartSize: 5 << 20, MaxPart: 3}
			s.Size = 12 << 20
		}
		s.Owner, s.Dialect = owner, []string{"native", "drf", "companion"}[i%3]
		s.CreatedAt = at.Add(time.Duration(min(i, n-2)) * time.Millisecond)
		create(t, st, s)
		out = append(out, s)
	}
	return out
}

// listAll follows Next from the newest on, with q for every page, and
// returns the sessions of all the pages in order and how many pages
// there were. It fails the test if a page breaks q's bounds.
func listAll(t *testing.T, st upload.Sessions, owner string, q upload.OwnedQuery) ([]*upload.Session, int) {
	t.Helper()
	var all []*upload.Session
	pages := 0
	for {
		page, err := st.ListOwned(t.Context(), owner, q)
		ok(t, err, "ListOwned")
		pages++
		if len(page.Sessions) > q.Limit {
			t.Fatalf("page %d holds %d sessions, over the limit of %d", pages, len(page.Sessions), q.Limit)
		}
		all = append(all, page.Sessions...)
		if page.Next == nil {
			return all, pages
		}
		if pages > 100 {
			t.Fatalf("still a next page after %d pages", pages)
		}
		q.After = page.Next
	}
}

// ids are the ids of sessions, in order.
func ids(ss []*upload.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// checkNewestFirst fails the test unless got holds exactly the sessions
// of want, each once, newest first.
func checkNewestFirst(t *testing.T, got, want []*upload.Session) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i].CreatedAt.After(got[i-1].CreatedAt) {
			t.Errorf("%s (created %v) listed after %s (created %v): not newest first", got[i].ID, got[i].CreatedAt, got[i-1].ID, got[i-1].CreatedAt)
		}
	}
	g, w := ids(got), ids(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("listed %q, want %q, each once", g, w)
	}
}

var listingCases = []sessionCase{
	{"list/an owner's sessions, newest first, in pages, and no one else's", func(t *testing.T, st upload.Sessions) {
		alice := owned(t, st, "alice", 7, t0)
		bob := owned(t, st, "bob", 4, t0.Add(time.Millisecond))
		got, pages := listAll(t, st, "alice", upload.OwnedQuery{Limit: 2, Budget: 2})
		checkNewestFirst(t, got, alice)
		if pages < 4 {
			t.Errorf("7 sessions in pages of 2 came in %d pages", pages)
		}
		got, _ = listAll(t, st, "bob", upload.OwnedQuery{Limit: 100, Budget: 100})
		checkNewestFirst(t, got, bob)
		// A page of bob's, continued as alice: alice's own, never bob's.
		page, err := st.ListOwned(t.Context(), "bob", upload.OwnedQuery{Limit: 1, Budget: 1})
		ok(t, err, "ListOwned bob")
		if page.Next == nil {
			t.Fatal("bob's first page of 1 has no next")
		}
		got, _ = listAll(t, st, "alice", upload.OwnedQuery{Limit: 100, Budget: 100, After: page.Next})
		for _, s := range got {
			if s.Owner != "alice" {
				t.Errorf("alice's listing from bob's position holds %s of %q", s.ID, s.Owner)
			}
		}
		none, _ := listAll(t, st, "carol", upload.OwnedQuery{Limit: 5, Budget: 5})
		if len(none) != 0 {
			t.Errorf("carol, who has none, lists %q", ids(none))
		}
	}},
	{"list/sessions come whole, as stored", func(t *testing.T, st upload.Sessions) {
		want := owned(t, st, "alice", 3, t0)
		got, _ := listAll(t, st, "alice", upload.OwnedQuery{Limit: 10, Budget: 10})
		byID := map[string]*upload.Session{}
		for _, s := range want {
			byID[s.ID] = s
		}
		for _, s := range got {
			w := byID[s.ID]
			if w == nil {
				t.Fatalf("listed %s, which alice never made", s.ID)
			}
			checkStored(t, s, w)
			if s.Dialect != w.Dialect || s.Direct != w.Direct {
				t.Errorf("%s: dialect %q direct %+v, want %q %+v", s.ID, s.Dialect, s.Direct, w.Dialect, w.Direct)
			}
		}
	}},
	{"list/filters by state and by dialect", func(t *testing.T, st upload.Sessions) {
		ss := owned(t, st, "alice", 6, t0)
		complete(t, st, ss[0], false)
		complete(t, st, ss[4], true)
		ok(t, st.EndSession(t.Context(), ss[1], []upload.State{upload.StateOpen}, upload.StateAborted, t0), "EndSession")
		ok(t, st.BeginComplete(t.Context(), ss[2], upload.Lease{Token: "b", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
		got, _ := listAll(t, st, "alice", upload.OwnedQuery{States: []upload.State{upload.StateComplete}, Limit: 10, Budget: 10})
		checkNewestFirst(t, got, []*upload.Session{ss[0], ss[4]})
		for _, s := range got {
			if s.State != upload.StateComplete {
				t.Errorf("%s listed as complete is %s", s.ID, s.State)
			}
		}
		got, _ = listAll(t, st, "alice", upload.OwnedQuery{States: []upload.State{upload.StateOpen, upload.StateCompleting}, Limit: 10, Budget: 10})
		checkNewestFirst(t, got, []*upload.Session{ss[2], ss[3], ss[5]})
		got, _ = listAll(t, st, "alice", upload.OwnedQuery{Dialect: "drf", Limit: 10, Budget: 10})
		checkNewestFirst(t, got, []*upload.Session{ss[1], ss[4]})
		got, _ = listAll(t, st, "alice", upload.OwnedQuery{Dialect: "drf", States: []upload.State{upload.StateOpen}, Limit: 10, Budget: 10})
		if len(got) != 0 {
			t.Errorf("alice's open drf uploads: %q, want none", ids(got))
		}
	}},
	{"list/a page reads at most its budget of entries", func(t *testing.T, st upload.Sessions) {
		ss := owned(t, st, "alice", 8, t0)
		complete(t, st, ss[0], false) // the oldest: the only one complete
		q := upload.OwnedQuery{States: []upload.State{upload.StateComplete}, Limit: 1, Budget: 2}
		page, err := st.ListOwned(t.Context(), "alice", q)
		ok(t, err, "ListOwned")
		if len(page.Sessions) != 0 || page.Next == nil {
			t.Fatalf("first page of 2 entries: %q, next %v; want none and a next", ids(page.Sessions), page.Next)
		}
		got, pages := listAll(t, st, "alice", q)
		checkNewestFirst(t, got, ss[:1])
		if pages < 4 {
			t.Errorf("8 entries read 2 a page took %d pages", pages)
		}
	}},
}
