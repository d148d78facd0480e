package upload_test

// What a store fault in the middle of an ending leaves behind (issue 17),
// on the in-memory stores: each test makes one call fail where the
// soak's fault proxy once did, and checks that nothing stays bound and no
// file is taken for done before it is. internal/api/leftbehind_test.go
// runs the same faults through the service on dynalite and versitygw.

import (
	"errors"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
)

// sweepsLeaveNothing runs the sweep twice and fails the test if an
// identifier is still bound or a session is still due.
func (e *env) sweepsLeaveNothing(identifier string) {
	e.t.Helper()
	for range 2 {
		if _, err := e.engine.Sweep(e.ctx, 10); err != nil {
			e.t.Fatalf("Sweep: %v", err)
		}
	}
	if b, err := e.sessions.LookupBinding(e.ctx, owner, identifier); !errors.Is(err, upload.ErrNotFound) {
		e.t.Errorf("identifier %q still points at %q (err %v) after the sweep", identifier, b.ID, err)
	}
	if due, err := e.sessions.ListExpired(e.ctx, e.clock.Now(), 10); err != nil || len(due) != 0 {
		e.t.Errorf("sessions still due: %v %v", due, err)
	}
}

// TestForgetFaultLeavesNothingBound: the sweep retires a finished upload
// whose identifier points at it, and its Forget fails before it does
// anything, or takes effect with its answer lost. Whichever: once the
// sweep has run again, the identifier is free and the session is out of
// the index. (Forget used to drop the session from the index first and
// free the identifier after: with that answer lost, the identifier was
// bound for good, as nothing finds a session out of the index.)
func TestForgetFaultLeavesNothingBound(t *testing.T) {
	for _, fault := range []memstore.Fault{memstore.Fail, memstore.LoseAnswer} {
		t.Run(fault.String(), func(t *testing.T) {
			e := newEnv(t)
			f := newFile(1, 1<<20, 71)
			s, err := e.open(f, "swept")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			e.put(s, f, 0)
			e.checkObject(s, f)
			e.clock.Advance(e.opt.Expiry + time.Hour)
			e.sessions.Inject("Forget", fault)
			st, err := e.engine.Sweep(e.ctx, 10)
			if err != nil || st.Errors != 1 {
				t.Fatalf("Sweep with Forget failing: %+v %v, want one error", st, err)
			}
			e.sweepsLeaveNothing("swept")
		})
	}
}

// TestLostBindKeepsItsUpload: a new upload's bind took effect, the retry
// of it met its own write (a conflict), and the reads that should tell
// whose write won fail. The upload is kept, not deleted: the identifier
// points at it, and the sweep frees the identifier along with it.
func TestLostBindKeepsItsUpload(t *testing.T) {
	e := newEnv(t)
	f := newFile(2, 1<<20, 72)
	e.sessions.Inject("BindIdentifier", memstore.Retry)
	e.sessions.After("BindIdentifier", func() {
		e.sessions.Inject("LookupIdentifier", memstore.Fail) // bind's read of the winner
		e.sessions.Inject("LookupIdentifier", memstore.Fail) // the next look at the identifier
	})
	if _, err := e.open(f, "bound"); err == nil {
		t.Fatal("Open succeeded though it could not tell whose bind won")
	}
	if n := e.sessions.Calls("BindIdentifier"); n != 1 {
		t.Fatalf("%d binds, want the one that struck", n)
	}
	id, err := e.sessions.LookupIdentifier(e.ctx, owner, "bound")
	for err != nil && errors.Is(err, memstore.ErrInjected) { // a fault left over
		id, err = e.sessions.LookupIdentifier(e.ctx, owner, "bound")
	}
	if err != nil {
		t.Fatalf("LookupIdentifier: %v", err)
	}
	if _, err := e.sessions.GetSession(e.ctx, id); err != nil {
		t.Fatalf("the identifier points at upload %s, which is gone: %v", id, err)
	}
	e.clock.Advance(e.opt.Expiry + time.Hour)
	e.sweepsLeaveNothing("bound")
}

// TestUncountedPartIsAskedForAgain: the request whose chunk completes a
// part assembles it, then fails to count it. A client that asks whether
// the part's chunks are in (Resumable.js, Flow.js) must hear "send it",
// or it takes the file for done, and an upload that finishes by itself
// is never finished with a part uncounted. The chunk sent again counts
// the part; the last one finishes the file.
func TestUncountedPartIsAskedForAgain(t *testing.T) {
	e := newEnv(t)
	f := newFile(6, 1<<20, 73) // part 1 is chunks 0-4
	s, err := e.open(f, "uncounted")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range 4 {
		e.put(s, f, i)
	}
	e.sessions.Inject("CountPart", memstore.Fail)
	if _, err := e.engine.PutChunk(e.ctx, owner, s.ID, 4, f.chunk(4)); err == nil {
		t.Fatal("chunk 4 succeeded though its part was not counted")
	}
	e.clock.Advance(e.opt.ClaimTimeout + time.Second)
	for i := range 5 {
		if found, err := e.engine.FindChunk(e.ctx, owner, "uncounted", f.g, i); err != nil || found != nil {
			t.Fatalf("FindChunk %d of the uncounted part: %v %v, want nil (send it)", i, found != nil, err)
		}
	}
	e.put(s, f, 4)
	if found, err := e.engine.FindChunk(e.ctx, owner, "uncounted", f.g, 4); err != nil || found == nil {
		t.Fatalf("FindChunk 4 once its part is counted: %v %v, want the upload", found != nil, err)
	}
	e.put(s, f, 5)
	e.checkObject(s, f)
}
