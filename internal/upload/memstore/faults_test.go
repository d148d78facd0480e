package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
	"chunkup/internal/wire/crc64nvme"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newSession(t *testing.T, st *memstore.Sessions) *upload.Session {
	t.Helper()
	plan, err := upload.NewPlan(upload.Geometry{Size: 10 << 20, ChunkSize: 1 << 20, Chunks: 10})
	if err != nil {
		t.Fatal(err)
	}
	s := &upload.Session{ID: "0123456789abcdef0123456789abcdef", Owner: "alice", Identifier: "f", Plan: plan,
		State: upload.StateOpen, LiveBinding: true, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := st.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func chunk(i int) upload.ChunkRecord { return upload.ChunkRecord{Index: i, Key: "k", Size: 1 << 20} }

// TestFail: a request that fails before it takes effect changes nothing.
func TestFail(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	st.Inject("RecordChunk", memstore.Fail)
	if _, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0), upload.Lease{Token: "a", Until: t0}); !errors.Is(err, memstore.ErrInjected) {
		t.Fatalf("RecordChunk: err = %v, want ErrInjected", err)
	}
	if p, _ := st.GetPart(t.Context(), s.ID, 0); len(p.Chunks) != 0 {
		t.Errorf("a failed RecordChunk recorded %v", p.Chunks)
	}
	if _, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0), upload.Lease{Token: "a", Until: t0}); err != nil {
		t.Errorf("the call after the fault: %v", err)
	}
	if n := st.Calls("RecordChunk"); n != 2 {
		t.Errorf("Calls(RecordChunk) = %d, want 2", n)
	}
}

// TestFailBeforeAFirstStep: a method made of several requests that
// fails at once makes none of them (BeginComplete's closing of the live
// binding included).
func TestFailBeforeAFirstStep(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	if err := st.BindIdentifier(t.Context(), s, ""); err != nil {
		t.Fatal(err)
	}
	st.Inject("BeginComplete", memstore.Fail)
	if err := st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0); !errors.Is(err, memstore.ErrInjected) {
		t.Fatalf("BeginComplete: err = %v", err)
	}
	if b, _ := st.LookupBinding(t.Context(), s.Owner, s.Identifier); b.Live == nil {
		t.Errorf("a failed BeginComplete closed the binding")
	}
}

// TestLoseAnswer: the write takes effect, the caller hears nothing.
func TestLoseAnswer(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	st.Inject("CountPart", memstore.LoseAnswer)
	if _, err := st.CountPart(t.Context(), s.ID, 0); !errors.Is(err, memstore.ErrInjected) {
		t.Fatalf("CountPart: err = %v, want ErrInjected", err)
	}
	got, _ := st.GetSession(t.Context(), s.ID)
	p, _ := st.GetPart(t.Context(), s.ID, 0)
	if got.PartsDone != 1 || p.Counted {
		t.Errorf("after a lost answer: PartsDone %d, part counted %v; want 1 and false (the mark is a request of its own, never sent)", got.PartsDone, p.Counted)
	}
}

// TestRetry: the write is sent twice, and the caller gets the second
// answer, which meets the first write.
func TestRetry(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	st.Inject("RecordChunk", memstore.Retry)
	_, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0), upload.Lease{Token: "a", Until: t0})
	if !errors.Is(err, upload.ErrConflict) {
		t.Fatalf("retried RecordChunk: err = %v, want ErrConflict (the retry meets its own chunk)", err)
	}
	if p, _ := st.GetPart(t.Context(), s.ID, 0); len(p.Chunks) != 1 || p.Claim.Token != "a" {
		t.Errorf("part after a retried RecordChunk = %+v, want the chunk and a's claim", p)
	}
	st.Inject("ClaimPart", memstore.Retry)
	if _, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: t0.Add(time.Minute)}, t0); err != nil {
		t.Errorf("retried ClaimPart: %v (a retry finds its own token)", err)
	}
	st.Inject("CountPart", memstore.Retry)
	if n, err := st.CountPart(t.Context(), s.ID, 0); err != nil || n != 2 {
		t.Errorf("retried CountPart = %d, %v; want 2 (each attempt counts)", n, err)
	}
	if n := st.Calls("CountPart"); n != 1 {
		t.Errorf("Calls(CountPart) = %d, want 1", n)
	}
}

// TestLapse: the lease on the record lapses before the call.
func TestLapse(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	if _, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0), upload.Lease{Token: "a", Until: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: t0.Add(time.Hour)}, t0); !errors.Is(err, upload.ErrConflict) {
		t.Fatalf("ClaimPart under a's claim: err = %v", err)
	}
	st.Inject("ClaimPart", memstore.Lapse)
	if _, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: t0.Add(time.Hour)}, t0); err != nil {
		t.Errorf("ClaimPart once a's claim lapsed: %v", err)
	}
	if err := st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	st.Inject("BeginComplete", memstore.Lapse)
	if err := st.BeginComplete(t.Context(), s, upload.Lease{Token: "b", Until: t0.Add(time.Hour)}, t0); err != nil {
		t.Errorf("BeginComplete once a's lease lapsed: %v", err)
	}
}

// TestBefore: the function runs before the call, outside the lock (it
// may call the store), and once.
func TestBefore(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	st.Before("ClaimPart", func() {
		if _, err := st.RecordChunk(context.Background(), s.ID, 0, chunk(0), upload.Lease{Token: "first", Until: t0.Add(time.Hour)}); err != nil {
			t.Errorf("RecordChunk in the hook: %v", err)
		}
	})
	if _, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "second", Until: t0.Add(time.Hour)}, t0); !errors.Is(err, upload.ErrConflict) {
		t.Errorf("ClaimPart after the hook recorded a claimed chunk: err = %v, want ErrConflict", err)
	}
	if _, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "first", Until: t0.Add(time.Hour)}, t0); err != nil {
		t.Errorf("ClaimPart with no hook left: %v", err)
	}
}

// TestAfter: the function runs once the call has taken effect, before
// it returns, outside the lock (it may call the store).
func TestAfter(t *testing.T) {
	st := memstore.NewSessions()
	s := newSession(t, st)
	seen := -1
	st.After("RecordChunk", func() {
		p, err := st.GetPart(context.Background(), s.ID, 0)
		if err != nil {
			t.Errorf("GetPart in the hook: %v", err)
		}
		seen = len(p.Chunks)
	})
	if _, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0), upload.Lease{Token: "a", Until: t0}); err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Errorf("the hook saw %d chunks, want the one just recorded", seen)
	}
}

// TestInjectChecks: a fault for a method the store lacks, or a lapse of
// a method that acts on no lease, is a mistake in the test.
func TestInjectChecks(t *testing.T) {
	st := memstore.NewSessions()
	for name, f := range map[string]func(){
		"unknown method": func() { st.Inject("RecordChunks", memstore.Fail) },
		"lapse no lease": func() { st.Inject("GetSession", memstore.Lapse) },
		"unknown Before": func() { st.Before("Nothing", func() {}) },
		"unknown After":  func() { st.After("Nothing", func() {}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestBlobFaults: a retried CreateMultipart starts two uploads and says
// so; a completion whose answer was lost leaves the object.
func TestBlobFaults(t *testing.T) {
	b := memstore.NewBlobs()
	b.Inject("CreateMultipart", memstore.Retry)
	mpu, retried, err := b.CreateMultipart(t.Context(), "k", "", nil)
	if err != nil || !retried {
		t.Fatalf("retried CreateMultipart = %q, %v, %v; want retried", mpu, retried, err)
	}
	if got := b.Multiparts(); len(got) != 2 {
		t.Errorf("multipart uploads after a retried start: %v, want two of k", got)
	}
	data := bytes.Repeat([]byte("x"), 100)
	etag, err := b.UploadPart(t.Context(), "k", mpu, 1, bytes.NewReader(data), 100, crc64nvme.Checksum(data))
	if err != nil {
		t.Fatal(err)
	}
	b.Inject("CompleteMultipart", memstore.LoseAnswer)
	parts := []upload.CompletedPart{{Number: 1, ETag: etag, CRC: crc64nvme.Checksum(data)}}
	if _, err := b.CompleteMultipart(t.Context(), "k", mpu, parts, crc64nvme.Checksum(data)); !errors.Is(err, memstore.ErrInjected) {
		t.Fatalf("CompleteMultipart: err = %v", err)
	}
	if got, ok := b.Object("k"); !ok || !bytes.Equal(got, data) {
		t.Errorf("the object after a completion whose answer was lost: %d bytes, %v", len(got), ok)
	}
}

// TestCancelled: a call with a cancelled context does nothing.
func TestCancelled(t *testing.T) {
	st := memstore.NewSessions()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := &upload.Session{ID: "x", State: upload.StateOpen}
	if err := st.CreateSession(ctx, s); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateSession: err = %v, want context.Canceled", err)
	}
	if ids := st.IDs(); len(ids) != 0 {
		t.Errorf("sessions %v", ids)
	}
}
