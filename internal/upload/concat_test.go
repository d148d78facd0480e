package upload_test

import (
	"bytes"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
)

// partial makes a finished partial upload of data.
func (e *env) partial(data []byte) *upload.Session {
	e.t.Helper()
	s, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "p.bin", Size: int64(len(data)), Partial: true})
	if err != nil {
		e.t.Fatalf("CreateStream: %v", err)
	}
	if s, err = e.engine.Append(e.ctx, s, 0, data); err != nil {
		e.t.Fatalf("Append: %v", err)
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
	again, err := e.engine.CreateFinal(e.ctx, req)
	if err != nil {
		t.Fatalf("CreateFinal sent again: %v; want the final upload the first made", err)
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
