package upload_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"chunkup/internal/upload"
)

// Listing an owner's uploads (Engine.List) on the in-memory stores: each
// owner's pages hold their own uploads only, newest first, every one
// once; a cursor works only for the listing that gave it; bad limits,
// states and cursors are refused naming what was wrong.

// listPages follows q's listing to its end and returns the ids, in order.
func (e *env) listPages(q upload.ListQuery) []string {
	e.t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		page, err := e.engine.List(e.ctx, q)
		if err != nil {
			e.t.Fatalf("List %+v: %v", q, err)
		}
		for _, s := range page.Uploads {
			if s.Owner != q.Owner {
				e.t.Fatalf("%s's listing shows %s of %s", q.Owner, s.ID, s.Owner)
			}
			got = append(got, s.ID)
		}
		if page.Next == "" {
			return got
		}
		if pages > 50 {
			e.t.Fatal("the listing does not end")
		}
		q.Cursor = page.Next
	}
}

func TestListPagesAnOwnersUploadsNewestFirst(t *testing.T) {
	e := newEnv(t)
	var alice, bob []string // newest first
	for i := range 7 {
		s := e.create(newFile(1, 1024, byte(i)))
		alice = append([]string{s.ID}, alice...)
		other, err := e.engine.Create(e.ctx, upload.NewUpload{Owner: "bob", Name: "b.bin", Geometry: newFile(1, 1024, 9).g})
		if err != nil {
			t.Fatal(err)
		}
		bob = append([]string{other.ID}, bob...)
		e.clock.Advance(time.Second)
	}
	if got := e.listPages(upload.ListQuery{Owner: owner, Limit: 3}); strings.Join(got, " ") != strings.Join(alice, " ") {
		t.Errorf("alice's pages of 3: %q, want %q", got, alice)
	}
	if got := e.listPages(upload.ListQuery{Owner: "bob", Limit: 2}); strings.Join(got, " ") != strings.Join(bob, " ") {
		t.Errorf("bob's pages of 2: %q, want %q", got, bob)
	}
	// Bob's cursor in alice's hands, and the other way round: refused.
	page, err := e.engine.List(e.ctx, upload.ListQuery{Owner: "bob", Limit: 2})
	if err != nil || page.Next == "" {
		t.Fatalf("bob's first page: %v, next %q", err, page.Next)
	}
	_, err = e.engine.List(e.ctx, upload.ListQuery{Owner: owner, Limit: 2, Cursor: page.Next})
	wantInvalid(t, err, "not given for this listing", 0)
	// Nor for another filter of bob's own.
	_, err = e.engine.List(e.ctx, upload.ListQuery{Owner: "bob", State: upload.ListComplete, Limit: 2, Cursor: page.Next})
	wantInvalid(t, err, "not given for this listing", 0)
	// A cursor altered by one bit: refused.
	raw, _ := base64.RawURLEncoding.DecodeString(page.Next)
	raw[3] ^= 1
	_, err = e.engine.List(e.ctx, upload.ListQuery{Owner: "bob", Limit: 2, Cursor: base64.RawURLEncoding.EncodeToString(raw)})
	wantInvalid(t, err, "not given for this listing", 0)
}

func TestListFiltersByState(t *testing.T) {
	e := newEnv(t)
	f := newFile(1, 1024, 1)
	done := e.create(f)
	e.put(done, f, 0)
	if _, err := e.engine.Complete(e.ctx, owner, done.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	aborted := e.create(f)
	if err := e.engine.Abort(e.ctx, owner, aborted.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	stale := e.create(f) // open until its expiry passes, below
	e.clock.Advance(e.opt.Expiry - time.Minute)
	open := e.create(f)
	e.clock.Advance(2 * time.Minute)
	for _, c := range []struct {
		state string
		want  []string
	}{
		{"", []string{open.ID, stale.ID, aborted.ID, done.ID}},
		{upload.ListOpen, []string{open.ID}},
		{upload.ListComplete, []string{done.ID}},
	} {
		got := e.listPages(upload.ListQuery{Owner: owner, State: c.state, Limit: 1})
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("state %q: %q, want %q", c.state, got, c.want)
		}
	}
	page, err := e.engine.List(e.ctx, upload.ListQuery{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range page.Uploads {
		if s.ID == stale.ID && s.State != upload.StateExpired {
			t.Errorf("an upload past its expiry is listed as %s", s.State)
		}
	}
}

func TestListRefusesBadQueries(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		q     upload.ListQuery
		says  string
		limit int64
	}{
		{upload.ListQuery{Owner: owner, Limit: upload.MaxListLimit + 1}, "limit 101 is out of range: a page holds from 1 to 100", upload.MaxListLimit},
		{upload.ListQuery{Owner: owner, Limit: -1}, "limit -1", upload.MaxListLimit},
		{upload.ListQuery{Owner: owner, State: "aborted"}, `state "aborted" is not one of "open", "complete"`, 0},
		{upload.ListQuery{Owner: owner, Cursor: "not a cursor"}, `cursor "not a cursor" is not one this listing gave`, 0},
		{upload.ListQuery{Owner: owner, Cursor: strings.Repeat("A", 65)}, "cursor is 65 characters, over the limit of 64", 64},
	} {
		_, err := e.engine.List(e.ctx, c.q)
		wantInvalid(t, err, c.says, c.limit)
	}
	if n := e.sessions.Calls("ListOwned"); n != 0 {
		t.Errorf("refused listings read the store %d times", n)
	}
}

// wantInvalid fails the test unless err is an invalid_request refusal
// whose message says says, with limit as its limit.
func wantInvalid(t *testing.T, err error, says string, limit int64) {
	t.Helper()
	e, ok := upload.AsError(err)
	if !ok || e.Code != upload.CodeInvalid || !strings.Contains(e.Message, says) || e.Limit != limit {
		t.Errorf("err = %v (limit %v), want invalid_request saying %q with limit %d", err, e, says, limit)
	}
}
