package upload_test

// The races of design.md, run for real on the in-memory stores: each
// test starts its requests on goroutines at once (held in the store where
// the race must be met, so that it is met every run: contend), and
// its comment names the guard that decides it: the condition in the
// store, the check in the engine. The in-memory stores do what the
// production ones do (package storetest holds them all to one contract),
// so these prove the engine; the tests in internal/api prove the whole
// service on dynalite and versitygw.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
	"chunkup/internal/upload/storetest"
	"chunkup/internal/wire/crc64nvme"
)

// clock is the engine's clock in these tests. It moves only when a test
// moves it (Advance), or, while tick is set, by tick at every wait; a
// wait takes a millisecond of real time, so that a request waiting for
// another's work lets it run.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) setTick(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick = d
}

func (c *clock) After(time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(c.tick)
	c.mu.Unlock()
	return time.After(time.Millisecond)
}

// env is an engine on in-memory stores, with a clock of its own.
type env struct {
	t        *testing.T
	ctx      context.Context
	sessions *memstore.Sessions
	blobs    *memstore.Blobs
	clock    *clock
	opt      upload.Options
	engine   *upload.Engine
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	opt := upload.DefaultOptions()
	opt.Now, opt.After = c.Now, c.After
	opt.Logger = slog.New(slog.DiscardHandler)
	sessions, blobs := memstore.NewSessions(), memstore.NewBlobs()
	// A watchdog, not a timed assertion: a request that waits for work
	// nobody will do waits on a clock that does not move, and would
	// hang the test; this ends it with the reason instead.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, sessions: sessions, blobs: blobs, clock: c, opt: opt, engine: upload.New(sessions, blobs, opt)}
}

// file is the bytes of an upload and how they are cut into chunks.
type file struct {
	g    upload.Geometry
	data []byte
}

func newFile(chunks int, chunkSize int64, seed byte) file {
	data := make([]byte, int64(chunks)*chunkSize)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(data)
	return file{g: upload.Geometry{Size: int64(len(data)), ChunkSize: chunkSize, Chunks: chunks}, data: data}
}

func (f file) chunk(i int) []byte {
	off := f.g.ChunkOffset(i)
	return f.data[off : off+f.g.ChunkLen(i)]
}

const owner = "alice"

// create starts a native upload of f (one that a client completes).
func (e *env) create(f file) *upload.Session {
	e.t.Helper()
	s, err := e.engine.Create(e.ctx, upload.NewUpload{Owner: owner, Name: "a.bin", Geometry: f.g})
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return s
}

// open is a Resumable.js request's Open of f (an upload that completes
// by itself), under identifier.
func (e *env) open(f file, identifier string) (*upload.Session, error) {
	return e.engine.Open(e.ctx, upload.NewUpload{Owner: owner, Identifier: identifier, Name: "r.bin", Geometry: f.g, AutoComplete: true})
}

func (e *env) put(s *upload.Session, f file, i int) upload.ChunkResult {
	e.t.Helper()
	res, err := e.engine.PutChunk(e.ctx, owner, s.ID, i, f.chunk(i))
	if err != nil {
		e.t.Fatalf("PutChunk %d: %v", i, err)
	}
	return res
}

// checkObject fails the test unless upload s finished as the one object
// holding f, made by one CompleteMultipart.
func (e *env) checkObject(s *upload.Session, f file) {
	e.t.Helper()
	got, err := e.sessions.GetSession(e.ctx, s.ID)
	if err != nil {
		e.t.Fatalf("GetSession: %v", err)
	}
	if got.State != upload.StateComplete {
		e.t.Fatalf("upload is %s, want complete", got.State)
	}
	data, ok := e.blobs.Object(got.Key)
	if !ok || !bytes.Equal(data, f.data) {
		e.t.Errorf("object %s: %d bytes (exists %v), want the file's %d", got.Key, len(data), ok, len(f.data))
	}
	if n := e.blobs.Calls("CompleteMultipart"); n != 1 {
		e.t.Errorf("CompleteMultipart called %d times, want once", n)
	}
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
}

// contend makes the next n calls of op race in the store every run: each
// is held before it does anything until all n have come, and again after
// it until all n have been decided, so that none goes on (and, say,
// finishes the upload) before the others have made their write.
func contend(f *memstore.Faults, op string, n int) {
	var before, after sync.WaitGroup
	before.Add(n)
	after.Add(n)
	for range n {
		f.Before(op, func() {
			before.Done()
			before.Wait()
		})
		f.After(op, func() {
			after.Done()
			after.Wait()
		})
	}
}

// TestFirstChunksMakeOneSession: several first chunks of a new file,
// sent at once (as Resumable.js sends its first chunks), each open the
// upload by its identifier and make one session, not several.
//
// Guard: the store's conditional bind (BindIdentifier replacing nothing
// wins only where the identifier points nowhere), and the engine's bind,
// which deletes the session of a bind that lost and takes the winner's.
func TestFirstChunksMakeOneSession(t *testing.T) {
	e := newEnv(t)
	const n = 6
	f := newFile(n, 1024, 1)
	contend(&e.sessions.Faults, "BindIdentifier", n)
	ids := make([]string, n)
	results := make([]upload.ChunkResult, n)
	errs := storetest.Race(n, func(i int) error {
		s, err := e.open(f, "r.bin-6144")
		if err != nil {
			return fmt.Errorf("Open: %w", err)
		}
		ids[i] = s.ID
		results[i], err = e.engine.AddChunk(e.ctx, s, i, f.chunk(i))
		return err
	})
	noErrors(t, errs)
	for i, id := range ids {
		if id != ids[0] {
			t.Errorf("racer %d opened %s, racer 0 %s", i, id, ids[0])
		}
		if !results[i].Stored {
			t.Errorf("racer %d's chunk was not stored", i)
		}
	}
	if got := e.sessions.IDs(); !slices.Equal(got, ids[:1]) {
		t.Errorf("sessions %v, want the one opened, %s", got, ids[0])
	}
	e.checkObject(&upload.Session{ID: ids[0]}, f)
	if n := e.blobs.Calls("UploadPart"); n != 1 {
		t.Errorf("UploadPart called %d times, want once", n)
	}
}

// TestLastChunkTwiceAssemblesOnce: the last chunk of a part, sent twice
// at once, is stored once and its part assembled once: one UploadPart.
//
// Guard: the store's RecordChunk, which records a chunk only if its part
// does not hold it; the engine answers the one that lost as a duplicate,
// after waiting for the winner's assembly (afterDuplicate).
func TestLastChunkTwiceAssemblesOnce(t *testing.T) {
	e := newEnv(t)
	f := newFile(4, 1024, 2)
	s := e.create(f)
	for i := range 3 {
		e.put(s, f, i)
	}
	contend(&e.sessions.Faults, "RecordChunk", 2)
	results := make([]upload.ChunkResult, 2)
	errs := storetest.Race(2, func(i int) error {
		var err error
		results[i], err = e.engine.PutChunk(e.ctx, owner, s.ID, 3, f.chunk(3))
		return err
	})
	noErrors(t, errs)
	if results[0].Stored == results[1].Stored {
		t.Errorf("stored: %v and %v, want one of each", results[0].Stored, results[1].Stored)
	}
	if n := e.blobs.Calls("UploadPart"); n != 1 {
		t.Errorf("UploadPart called %d times, want once", n)
	}
	if keys := e.blobs.Keys(); len(keys) != 0 {
		t.Errorf("objects left after the part was assembled: %v", keys)
	}
	if _, err := e.engine.Complete(e.ctx, owner, s.ID); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	e.checkObject(s, f)
}

// TestChunkAfterAssemblyChangesNothing: a chunk sent again after its
// part was assembled (here four times at once, with other bytes) is
// answered as present and changes nothing: not the part record, not S3.
//
// Guard: the store's RecordChunk, which records nothing in an assembled
// part, and the engine's answer to a duplicate of an assembled part
// (settleDuplicate), which drops the copy and stores nothing.
func TestChunkAfterAssemblyChangesNothing(t *testing.T) {
	e := newEnv(t)
	f := newFile(4, 1024, 3)
	s := e.create(f)
	for i := range 4 {
		e.put(s, f, i)
	}
	before, err := e.sessions.GetPart(e.ctx, s.ID, 0)
	if err != nil || !before.Assembled() {
		t.Fatalf("part 0 after every chunk: %+v, %v; want assembled", before, err)
	}
	other := bytes.Repeat([]byte{0xAA}, len(f.chunk(1)))
	results := make([]upload.ChunkResult, 4)
	errs := storetest.Race(4, func(i int) error {
		var err error
		results[i], err = e.engine.PutChunk(e.ctx, owner, s.ID, 1, other)
		return err
	})
	noErrors(t, errs)
	for i, res := range results {
		if res.Stored {
			t.Errorf("racer %d: the chunk was stored again", i)
		}
	}
	after, err := e.sessions.GetPart(e.ctx, s.ID, 0)
	if err != nil || after.ETag != before.ETag || after.CRC != before.CRC || len(after.Chunks) != 0 || !after.FinishedAt.Equal(before.FinishedAt) {
		t.Errorf("part 0 changed: %+v, was %+v", after, before)
	}
	if n := e.blobs.Calls("UploadPart"); n != 1 {
		t.Errorf("UploadPart called %d times, want once", n)
	}
	if keys := e.blobs.Keys(); len(keys) != 0 {
		t.Errorf("the copies sent again were kept: %v", keys)
	}
	if _, err := e.engine.Complete(e.ctx, owner, s.ID); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	e.checkObject(s, f)
}

// TestCrashedClaimLapses: the request whose chunk makes a part whole
// holds the part's lease and dies before assembling it (its UploadPart
// fails and so does the release of its lease, as a crash leaves it).
// Until the lease lapses, a chunk sent again waits and answers busy;
// once it lapses, of four chunks sent again at once exactly one takes
// the part over, and the file is whole.
//
// Guard: the store's lease condition on ClaimPart, granted only when the
// lease is free, lapsed at the caller's now, or the claimant's own. The
// engine's settleDuplicate decides when to try (a whole part whose lease
// is not held at Options.Now); the store decides who wins.
func TestCrashedClaimLapses(t *testing.T) {
	e := newEnv(t)
	f := newFile(2, 1024, 4)
	s := e.create(f)
	e.put(s, f, 0)
	e.blobs.Inject("UploadPart", memstore.Fail)
	e.sessions.Inject("ReleasePart", memstore.Fail)
	if _, err := e.engine.PutChunk(e.ctx, owner, s.ID, 1, f.chunk(1)); err == nil {
		t.Fatal("the crashed request's PutChunk succeeded")
	}
	crashed, _ := e.sessions.GetPart(e.ctx, s.ID, 0)
	if len(crashed.Chunks) != 2 || !crashed.Claim.Held(e.clock.Now()) {
		t.Fatalf("part after the crash: %+v, want whole under a held lease", crashed)
	}

	// Before the lapse: the chunk sent again waits out DuplicateWait
	// (the clock moving with its waits) and answers busy.
	e.clock.setTick(100 * time.Millisecond)
	_, err := e.engine.PutChunk(e.ctx, owner, s.ID, 1, f.chunk(1))
	e.clock.setTick(0)
	if upload.CodeOf(err) != upload.CodeBusy {
		t.Fatalf("a chunk sent again under the crashed lease: err = %v, want busy", err)
	}
	if p, _ := e.sessions.GetPart(e.ctx, s.ID, 0); p.Assembled() || p.Claim.Token != crashed.Claim.Token {
		t.Fatalf("the part was taken from a lease that still held: %+v", p)
	}

	e.clock.Advance(e.opt.ClaimTimeout)
	contend(&e.sessions.Faults, "ClaimPart", 4)
	results := make([]upload.ChunkResult, 4)
	errs := storetest.Race(4, func(i int) error {
		var err error
		results[i], err = e.engine.PutChunk(e.ctx, owner, s.ID, 1, f.chunk(1))
		return err
	})
	noErrors(t, errs)
	for i, res := range results {
		if res.Stored {
			t.Errorf("racer %d stored its chunk again", i)
		}
	}
	if n := e.blobs.Calls("UploadPart"); n != 2 {
		t.Errorf("UploadPart called %d times, want twice (the crashed one and one takeover)", n)
	}
	if _, err := e.engine.Complete(e.ctx, owner, s.ID); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	e.checkObject(s, f)
}

// TestLostAnswersAreRecognised: a conditional write whose first attempt
// took effect but whose answer was lost is sent again (as the AWS SDK
// does) and meets its own write; the request takes it for its own and
// goes on, and the upload ends as one object. Each subtest loses the
// answer of the first call of one write on the way of an upload that
// completes by itself: its first chunk alone (Open, RecordChunk), the
// middle chunks at once, its last chunk alone (the writes that assemble
// the part and complete the upload).
//
// Guards, by write: BindIdentifier, the engine's bind (a lost bind that
// left the identifier pointing at its own session won); RecordChunk, the
// engine's recordChunk (the staging key, unique to the request, tells
// its own chunk from a duplicate); ClaimMultipart and BeginComplete, the
// store's lease condition (a lease is grantable to its own token);
// SetMultipartID, the store's answer with the id recorded (its
// condition takes the same id again, and a lost condition reads it); RecordPart, the store's condition that the part has this ETag;
// RecordComplete, the store's condition that the session is complete
// under this token.
func TestLostAnswersAreRecognised(t *testing.T) {
	for _, op := range []string{"BindIdentifier", "RecordChunk", "ClaimMultipart", "SetMultipartID", "RecordPart", "BeginComplete", "RecordComplete"} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t)
			const n = 5
			f := newFile(n, 1024, 5)
			e.sessions.Inject(op, memstore.Retry)
			send := func(i int) error {
				s, err := e.open(f, "r.bin-5120")
				if err != nil {
					return fmt.Errorf("Open: %w", err)
				}
				res, err := e.engine.AddChunk(e.ctx, s, i, f.chunk(i))
				if err == nil && !res.Stored {
					err = fmt.Errorf("chunk %d was not stored", i)
				}
				return err
			}
			noErrors(t, []error{send(0)})
			noErrors(t, storetest.Race(n-2, func(i int) error { return send(i + 1) }))
			noErrors(t, []error{send(n - 1)})
			if e.sessions.Calls(op) == 0 {
				t.Fatalf("no %s was made", op)
			}
			ids := e.sessions.IDs()
			if len(ids) != 1 {
				t.Fatalf("sessions %v, want one", ids)
			}
			e.checkObject(&upload.Session{ID: ids[0]}, f)
			if n := e.blobs.Calls("UploadPart"); n != 1 {
				t.Errorf("UploadPart called %d times, want once", n)
			}
		})
	}
}

// TestLostAppendIsRecognised: a sequential step whose answer was lost
// is sent again and meets its own write; the request takes the step for
// its own rather than refusing its own bytes at the wrong offset, and a
// step racing it at the same offset, sent once the first attempt landed,
// loses.
//
// Guard: the engine's committedByMe (the step is known by its piece's
// name, unique to the request), after the store's CommitAppend
// condition on the offset.
func TestLostAppendIsRecognised(t *testing.T) {
	e := newEnv(t)
	f := newFile(3, 64<<10, 6)
	s, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "s.bin", Size: f.g.Size, Hashes: []string{"md5"}})
	if err != nil {
		t.Fatal(err)
	}
	// The first step to reach the store has its answer lost; the other
	// is let in once the first's first attempt has landed.
	e.sessions.Inject("CommitAppend", memstore.Retry)
	e.sessions.Before("CommitAppend", func() {})
	e.sessions.Before("CommitAppend", func() {
		for e.ctx.Err() == nil {
			if got, err := e.sessions.GetSession(e.ctx, s.ID); err == nil && got.Offset > 0 {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	errs := storetest.Race(2, func(i int) error {
		mine := *s
		_, err := e.engine.Append(e.ctx, &mine, 0, f.chunk(0))
		return err
	})
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case upload.CodeOf(err) != upload.CodeOffset:
			t.Errorf("racer %d: %v, want success or an offset mismatch", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of two steps at one offset succeeded, want one", won)
	}
	got, err := e.sessions.GetSession(e.ctx, s.ID)
	if err != nil || got.Offset != f.g.ChunkLen(0) || len(got.Pending) != 1 {
		t.Fatalf("after the race: %+v, %v; want one chunk in", got.Stream, err)
	}
	for i := 1; i < 3; i++ {
		if got, err = e.engine.Append(e.ctx, got, f.g.ChunkOffset(i), f.chunk(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if _, err := e.engine.CompleteStream(e.ctx, got, nil); err != nil {
		t.Fatalf("CompleteStream: %v", err)
	}
	e.checkObject(s, f)
}

// TestCompleteTwiceMakesOneObject: four completions of one upload at
// once make one object: one CompleteMultipart. Each answers with the
// finished upload or busy, and a later completion with the same result.
//
// Guard: the store's BeginComplete, which moves the session to
// completing only from open (or from a completing one whose lease
// lapsed or is the claimant's own); the engine answers the losers from
// the session (completedOrBusy).
func TestCompleteTwiceMakesOneObject(t *testing.T) {
	e := newEnv(t)
	f := newFile(4, 1024, 7)
	s := e.create(f)
	for i := range 4 {
		e.put(s, f, i)
	}
	contend(&e.sessions.Faults, "BeginComplete", 4)
	done := make([]*upload.Session, 4)
	errs := storetest.Race(4, func(i int) error {
		var err error
		done[i], err = e.engine.Complete(e.ctx, owner, s.ID)
		return err
	})
	var first *upload.Session
	for i, err := range errs {
		switch {
		case err == nil && first == nil:
			first = done[i]
		case err == nil && done[i].ETag != first.ETag:
			t.Errorf("racer %d finished with ETag %s, another with %s", i, done[i].ETag, first.ETag)
		case err != nil && upload.CodeOf(err) != upload.CodeBusy:
			t.Errorf("racer %d: %v, want the finished upload or busy", i, err)
		}
	}
	if first == nil {
		t.Fatal("no completion succeeded")
	}
	again, err := e.engine.Complete(e.ctx, owner, s.ID)
	if err != nil || again.ETag != first.ETag {
		t.Errorf("a later completion = %+v, %v; want ETag %s", again, err, first.ETag)
	}
	e.checkObject(s, f)
}

// TestSweepTwiceEndsEachOnce: two sweeps at once over expired uploads
// (one with a part in an S3 multipart upload and a binding, one with
// staged chunks only, one with nothing) end each upload once between
// them, and leave nothing behind: no staged chunk, no multipart upload,
// no part record, no binding, nothing in the sweep's index.
//
// Guard: the store's EndSession, which moves a session only from the
// state the sweep read it in, so the sweep that loses skips it
// (sweepOne); every step after is idempotent (aborting a gone multipart
// upload, deleting gone objects and records, Forget).
func TestSweepTwiceEndsEachOnce(t *testing.T) {
	e := newEnv(t)
	big := newFile(6, 1<<20, 8) // part 0 is 5 chunks, 5 MiB
	withPart, err := e.open(big, "big.bin-6291456")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.engine.AddChunk(e.ctx, withPart, i, big.chunk(i)); err != nil {
			t.Fatalf("AddChunk %d: %v", i, err)
		}
	}
	small := newFile(4, 1024, 9)
	staged := e.create(small)
	e.put(staged, small, 0)
	e.put(staged, small, 2)
	empty := e.create(small)
	if len(e.blobs.Multiparts()) != 1 || len(e.blobs.Keys()) != 2 {
		t.Fatalf("before the sweep: multipart uploads %v, objects %v; want one and two", e.blobs.Multiparts(), e.blobs.Keys())
	}

	e.clock.Advance(e.opt.Expiry + time.Second)
	contend(&e.sessions.Faults, "EndSession", 2)
	stats := make([]upload.SweepStats, 2)
	noErrors(t, storetest.Race(2, func(i int) error {
		var err error
		stats[i], err = e.engine.Sweep(t.Context(), 10)
		return err
	}))
	if expired := stats[0].Expired + stats[1].Expired; expired != 3 || stats[0].Errors+stats[1].Errors != 0 {
		t.Errorf("sweeps %+v and %+v: %d uploads ended, want 3, and no errors", stats[0], stats[1], expired)
	}
	for _, s := range []*upload.Session{withPart, staged, empty} {
		got, err := e.sessions.GetSession(e.ctx, s.ID)
		if err != nil || got.State != upload.StateExpired {
			t.Errorf("upload %s after the sweeps: %v, %v; want expired", s.ID, got, err)
		}
		if parts, _ := e.sessions.ListParts(e.ctx, s.ID); len(parts) != 0 {
			t.Errorf("upload %s keeps %d part records", s.ID, len(parts))
		}
	}
	if keys, uploads := e.blobs.Keys(), e.blobs.Multiparts(); len(keys) != 0 || len(uploads) != 0 {
		t.Errorf("left in S3: objects %v, multipart uploads %v", keys, uploads)
	}
	if _, err := e.sessions.LookupBinding(e.ctx, owner, "big.bin-6291456"); !errors.Is(err, upload.ErrNotFound) {
		t.Errorf("the binding survived the sweep: err = %v", err)
	}
	if ids, _ := e.sessions.ListExpired(e.ctx, e.clock.Now().Add(e.opt.Retention), 10); len(ids) != 0 {
		t.Errorf("still in the sweep's index: %v", ids)
	}
}

// TestDirectCompletionRace: two completions of one direct upload at once
// (a client that sent it again after losing the answer, or sent it twice):
// the one that lists the parts after the other has completed the
// multipart upload finds it gone from S3, and must answer the finished
// object, as a completion of a complete upload does, not "aborted".
//
// Guard: completeWith reads the session again when S3 no longer has the
// multipart upload, and answers as the upload now stands.
func TestDirectCompletionRace(t *testing.T) {
	e := newEnv(t)
	f := newFile(1, 1000, 9)
	s, err := e.engine.CreateDirect(e.ctx, upload.NewDirect{Owner: owner, Name: "d.bin", Size: f.g.Size, Declared: true})
	if err != nil {
		t.Fatalf("CreateDirect: %v", err)
	}
	// The client's PUT of the one part, straight to S3.
	if _, err := e.blobs.UploadPart(e.ctx, s.Key, s.MultipartID, 1, bytes.NewReader(f.data), f.g.Size, crc64nvme.Checksum(f.data)); err != nil {
		t.Fatalf("UploadPart: %v", err)
	}
	var first *upload.Session
	var firstErr error
	// The other completion runs to its end between this one's reading
	// of the session and its listing of the parts.
	e.blobs.Faults.Before("ListUploadedParts", func() {
		first, firstErr = e.engine.CompleteDirect(e.ctx, owner, s.ID, s.Key, nil)
	})
	second, err := e.engine.CompleteDirect(e.ctx, owner, s.ID, s.Key, nil)
	if firstErr != nil {
		t.Fatalf("the completion that ran first: %v", firstErr)
	}
	if err != nil {
		t.Fatalf("the completion that listed the parts after the other completed: %v; want the finished object", err)
	}
	if second.State != upload.StateComplete || second.Key != first.Key || second.ETag != first.ETag || second.CRC64 != first.CRC64 {
		t.Fatalf("the two completions answered %s %s %s %s and %s %s %s %s", first.State, first.Key, first.ETag, first.CRC64, second.State, second.Key, second.ETag, second.CRC64)
	}
	e.checkObject(second, f)
}

// listedMidCompletion is S3 as versitygw answers a ListParts that comes
// while a CompleteMultipartUpload of the same upload is under way: some
// parts are already gone from the list. Its first listing lets the other
// completion (during) run to its end, and answers the first part only.
type listedMidCompletion struct {
	*memstore.Blobs
	once   sync.Once
	during func()
}

func (b *listedMidCompletion) ListUploadedParts(ctx context.Context, key, mpu string) ([]upload.UploadedPart, error) {
	first := false
	b.once.Do(func() { first = true })
	parts, err := b.Blobs.ListUploadedParts(ctx, key, mpu)
	if !first || err != nil {
		return parts, err
	}
	b.during()
	return parts[:1], nil
}

// TestDirectCompletionListsMidway: a completion that lists the parts
// while another completion's CompleteMultipartUpload is under way sees
// only some of them; the upload is complete by the time it checks, and it
// must answer the finished object, not "incomplete".
//
// Guard: completeWith reads the session again when the parts S3 lists
// do not make the file, and answers as the upload now stands.
func TestDirectCompletionListsMidway(t *testing.T) {
	e := newEnv(t)
	blobs := &listedMidCompletion{Blobs: e.blobs}
	engine := upload.New(e.sessions, blobs, e.opt)
	data := make([]byte, upload.MinPartSize+1000)
	_, _ = rand.NewChaCha8([32]byte{10}).Read(data)
	s, err := engine.CreateDirect(e.ctx, upload.NewDirect{Owner: owner, Name: "d.bin", Size: int64(len(data)), Declared: true})
	if err != nil {
		t.Fatalf("CreateDirect: %v", err)
	}
	for n, piece := range [][]byte{data[:upload.MinPartSize], data[upload.MinPartSize:]} {
		if _, err := e.blobs.UploadPart(e.ctx, s.Key, s.MultipartID, n+1, bytes.NewReader(piece), int64(len(piece)), crc64nvme.Checksum(piece)); err != nil {
			t.Fatalf("UploadPart %d: %v", n+1, err)
		}
	}
	var first *upload.Session
	var firstErr error
	blobs.during = func() { first, firstErr = engine.CompleteDirect(e.ctx, owner, s.ID, s.Key, nil) }
	second, err := engine.CompleteDirect(e.ctx, owner, s.ID, s.Key, nil)
	if firstErr != nil {
		t.Fatalf("the completion that ran first: %v", firstErr)
	}
	if err != nil {
		t.Fatalf("the completion that listed the parts midway through the other: %v; want the finished object", err)
	}
	if second.State != upload.StateComplete || second.ETag != first.ETag || second.CRC64 != first.CRC64 {
		t.Fatalf("the two completions answered %s %s %s and %s %s %s", first.State, first.ETag, first.CRC64, second.State, second.ETag, second.CRC64)
	}
}
