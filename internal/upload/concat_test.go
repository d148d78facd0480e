package upload_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
)

// partial makes a finished partial upload of data, sent in chunks of
// the largest size the engine takes.
func (e *env) partial(data []byte) *upload.Session {
	e.t.Helper()
	s, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "p.bin", Size: int64(len(data)), Partial: true})
	if err != nil {
		e.t.Fatalf("CreateStream: %v", err)
	}
	for off := int64(0); off < int64(len(data)); off = s.Offset {
		end := min(off+e.opt.MaxChunkSize, int64(len(data)))
		if s, err = e.engine.Append(e.ctx, s, off, data[off:end]); err != nil {
			e.t.Fatalf("Append at %d: %v", off, err)
		}
	}
	if s, err = e.engine.CompleteStream(e.ctx, s, nil); err != nil {
		e.t.Fatalf("CompleteStream: %v", err)
	}
	return s
}

// TestCreateFinalAgain: a final upload's creation sent again with the
// same partials — as tus-js-client sends its POST again when the answer
// to the first was lost — answers the final upload the first made, not
// a new one that cannot be finished (the first dropped the partials'
// objects once it held their bytes).
//
// Guard: a final upload's id follows from its owner and its partials, so
// the second creation meets the first's session and finishes that one.
func TestCreateFinalAgain(t *testing.T) {
	e := newEnv(t)
	f := newFile(2, 1000, 7)
	a, b := e.partial(f.chunk(0)), e.partial(f.chunk(1))
	req := upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{a.ID, b.ID}}
	completes := e.blobs.Calls("CompleteMultipart")
	first, err := e.engine.CreateFinal(e.ctx, req)
	if err != nil {
		t.Fatalf("CreateFinal: %v", err)
	}
	reads := e.sessions.Calls("GetSession")
	again, err := e.engine.CreateFinal(e.ctx, req)
	if err != nil {
		t.Fatalf("CreateFinal sent again: %v; want the final upload the first made", err)
	}
	if n := e.sessions.Calls("GetSession") - reads; n != 1 {
		t.Fatalf("CreateFinal sent again read %d sessions, want only the final upload's (not its partials again)", n)
	}
	if again.ID != first.ID || again.State != upload.StateComplete || again.Key != first.Key || again.ETag != first.ETag {
		t.Fatalf("CreateFinal sent again answered upload %s (%s, %s), want %s (%s, %s)", again.ID, again.State, again.Key, first.ID, first.State, first.Key)
	}
	if data, ok := e.blobs.Object(again.Key); !ok || !bytes.Equal(data, f.data) {
		t.Fatalf("object %s: %d bytes (exists %v), want the file's %d", again.Key, len(data), ok, len(f.data))
	}
	if n := e.blobs.Calls("CompleteMultipart") - completes; n != 1 {
		t.Fatalf("the final object was completed %d times, want once", n)
	}
	if _, err := e.engine.CreateFinal(e.ctx, upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{b.ID, a.ID}}); err == nil {
		t.Fatal("a final upload of the same partials in another order was made, with their objects gone")
	}
}

// TestFinishFinalAfterJoin: a final upload whose object S3 made but whose
// completion was never recorded (the write failed) is finished by the
// next attempt — the creation sent again, or a HEAD — from the object S3
// holds, although its multipart upload is gone and cannot take the
// partials' parts again.
//
// Guard: finishFinal takes an object whose CRC64NVME is the partials'
// joined for the one their join made.
func TestFinishFinalAfterJoin(t *testing.T) {
	e := newEnv(t)
	f := newFile(2, 1000, 8)
	a, b := e.partial(f.chunk(0)), e.partial(f.chunk(1))
	req := upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{a.ID, b.ID}}
	e.sessions.Faults.Inject("RecordComplete", memstore.Fail)
	if _, err := e.engine.CreateFinal(e.ctx, req); err == nil {
		t.Fatal("CreateFinal succeeded with its completion's record failing")
	}
	fin, err := e.engine.CreateFinal(e.ctx, req)
	if err != nil {
		t.Fatalf("CreateFinal sent again, after the first made the object: %v; want the final upload finished", err)
	}
	if fin.State != upload.StateComplete {
		t.Fatalf("the final upload is %s, want complete", fin.State)
	}
	if data, ok := e.blobs.Object(fin.Key); !ok || !bytes.Equal(data, f.data) {
		t.Fatalf("object %s: %d bytes (exists %v), want the file's %d", fin.Key, len(data), ok, len(f.data))
	}
}

// TestUnjoinedPartialIsDeleted: a partial upload that no final upload
// joins (its client gave up, or lost the answer to its creation and made
// another) is deleted by the sweep once it is an expiry period old, object
// and all; a final upload naming it then is refused. The sweep forgets
// joined partials the same way (their objects the final upload deleted).
func TestUnjoinedPartialIsDeleted(t *testing.T) {
	e := newEnv(t)
	f := newFile(2, 1000, 8)
	lone, a, b := e.partial(f.chunk(0)), e.partial(f.chunk(0)), e.partial(f.chunk(1))
	if _, err := e.engine.CreateFinal(e.ctx, upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{a.ID, b.ID}}); err != nil {
		t.Fatalf("CreateFinal: %v", err)
	}
	if _, ok := e.blobs.Object(lone.Key); !ok {
		t.Fatal("the lone partial's object is gone before its expiry")
	}
	e.clock.Advance(e.opt.Expiry + time.Minute)
	st, err := e.engine.Sweep(e.ctx, 10)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if _, ok := e.blobs.Object(lone.Key); ok {
		t.Fatalf("the unjoined partial's object %s is still there after the sweep (%+v)", lone.Key, st)
	}
	if st.Released != 3 {
		t.Fatalf("sweep %+v: want the three partial uploads released (two joined, whose objects were gone already)", st)
	}
	if _, err := e.engine.CreateFinal(e.ctx, upload.NewFinal{Owner: owner, Name: "late.bin", Partials: []string{lone.ID}}); upload.CodeOf(err) != upload.CodeExpired {
		t.Fatalf("a final upload of the deleted partial: %v, want expired", err)
	}
}

// TestFinalCopiesPartialsAtOnce: a final upload has S3 copy its partials
// into its parts all at once, so that the join takes about as long as its
// largest partial rather than the sum of them; the parts still land in
// the partials' order, and a small last partial is copied too.
//
// Guard: copyPartials starts a copy for every part before waiting for
// any. Made one after another, the first copy waits here for a second
// that never starts, and the test fails.
func TestFinalCopiesPartialsAtOnce(t *testing.T) {
	e := newEnv(t)
	f := newFile(3, upload.MinPartSize, 9)
	tail := newFile(1, 1000, 10)
	a, b, c, d := e.partial(f.chunk(0)), e.partial(f.chunk(1)), e.partial(f.chunk(2)), e.partial(tail.data)
	var started sync.WaitGroup
	started.Add(2)
	timedOut := make(chan struct{}, 2)
	meet := func() {
		started.Done()
		done := make(chan struct{})
		go func() { started.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			timedOut <- struct{}{}
		}
	}
	e.blobs.Before("CopyPart", meet)
	e.blobs.Before("CopyPart", meet)
	copies := e.blobs.Calls("CopyPart")
	fin, err := e.engine.CreateFinal(e.ctx, upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{a.ID, b.ID, c.ID, d.ID}})
	if err != nil {
		t.Fatalf("CreateFinal: %v", err)
	}
	if len(timedOut) > 0 {
		t.Fatal("a partial's copy waited 5 s for another to start: the copies ran one after another")
	}
	if n := e.blobs.Calls("CopyPart") - copies; n != 4 {
		t.Fatalf("%d partials copied by S3, want all 4", n)
	}
	want := append(bytes.Clone(f.data), tail.data...)
	if data, ok := e.blobs.Object(fin.Key); !ok || !bytes.Equal(data, want) {
		t.Fatalf("object %s: %d bytes (exists %v), want the partials' %d in order", fin.Key, len(data), ok, len(want))
	}
}

// TestFinalCopyFails: when one of the copies a final upload makes at once
// fails, the creation fails, the partials' objects stay, and the creation
// sent again finishes the file from them.
func TestFinalCopyFails(t *testing.T) {
	e := newEnv(t)
	f := newFile(3, upload.MinPartSize, 11)
	a, b, c := e.partial(f.chunk(0)), e.partial(f.chunk(1)), e.partial(f.chunk(2))
	req := upload.NewFinal{Owner: owner, Name: "joined.bin", Partials: []string{a.ID, b.ID, c.ID}}
	e.blobs.Faults.Inject("CopyPart", memstore.Fail)
	if _, err := e.engine.CreateFinal(e.ctx, req); err == nil {
		t.Fatal("CreateFinal succeeded with a copy failing")
	}
	for _, p := range []*upload.Session{a, b, c} {
		if _, ok := e.blobs.Object(p.Key); !ok {
			t.Fatalf("partial %s's object is gone after a failed join", p.ID)
		}
	}
	fin, err := e.engine.CreateFinal(e.ctx, req)
	if err != nil {
		t.Fatalf("CreateFinal sent again: %v", err)
	}
	if data, ok := e.blobs.Object(fin.Key); !ok || !bytes.Equal(data, f.data) {
		t.Fatalf("object %s: %d bytes (exists %v), want the file's %d", fin.Key, len(data), ok, len(f.data))
	}
}
