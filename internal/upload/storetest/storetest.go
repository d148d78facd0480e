// Package storetest is the contract of the upload engine's ports, as
// tests: TestSessions holds an upload.Sessions to what each of its
// methods' doc comments promise, and TestBlobs an upload.Blobs. Both run
// on the production stores (the DynamoDB store on dynalite, the S3 store
// on versitygw) and on the in-memory stores the engine's tests use
// (package memstore), so that those cannot drift from the real ones.
//
// Where a doc comment leaves a detail open, a case pins what the
// DynamoDB or S3 store does, since the engine's tests may come to rely
// on it: which conditional writes lose, which writes a retry of a lost
// answer meets, and which refusals S3 gives (by their error codes).
//
// Use it from a store's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.TestSessions(t, func(t *testing.T) upload.Sessions { return newStore(t) })
//	}
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"chunkup/internal/upload"
)

// t0 is the suite's "now": the stores take the time from their callers.
// It has a part below the millisecond, which the stores need not keep.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678_912_345, time.UTC)

// ms is t as a store that keeps milliseconds gives it back.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// newID returns an upload id of the shape the engine gives (32 hex
// digits).
func newID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// newIndexed returns an open indexed session, as Engine.Open makes one:
// 25 chunks of 1 MiB in five parts, with a live binding.
func newIndexed(t *testing.T) *upload.Session {
	t.Helper()
	id := newID(t)
	plan, err := upload.NewPlan(upload.Geometry{Size: 25 << 20, ChunkSize: 1 << 20, Chunks: 25})
	if err != nil {
		t.Fatal(err)
	}
	return &upload.Session{
		ID: id, Owner: "alice", Identifier: "file-" + id[:8], Name: "a.bin", ContentType: "application/octet-stream",
		Key: upload.ObjectKey(id, "a.bin"), Plan: plan, AutoComplete: true, Verify: "crc64nvme=AAAAAAAAAAA=",
		LiveBinding: true, State: upload.StateOpen,
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

// newSequential returns an open sequential session, as CreateStream
// makes one, keeping an md5.
func newSequential(t *testing.T) *upload.Session {
	t.Helper()
	id := newID(t)
	s := &upload.Session{
		ID: id, Owner: "alice", Identifier: "stream-" + id[:8], Name: "s.bin", Key: upload.ObjectKey(id, "s.bin"),
		Kind: upload.Sequential, State: upload.StateOpen, CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
	s.Size = 12 << 20
	s.PartSize = 5 << 20
	s.Hashes = map[string][]byte{"md5": []byte("md5 state")}
	return s
}

func create(t *testing.T, st upload.Sessions, s *upload.Session) {
	t.Helper()
	if err := st.CreateSession(t.Context(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

func get(t *testing.T, st upload.Sessions, id string) *upload.Session {
	t.Helper()
	s, err := st.GetSession(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	return s
}

func getPart(t *testing.T, st upload.Sessions, id string, k int) *upload.Part {
	t.Helper()
	p, err := st.GetPart(t.Context(), id, k)
	if err != nil {
		t.Fatalf("GetPart %d: %v", k, err)
	}
	return p
}

// ok fails the test at once if err is not nil.
func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// conflict fails the test at once unless err is a lost condition.
func conflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, upload.ErrConflict) {
		t.Fatalf("%s: err = %v, want ErrConflict", what, err)
	}
}

// refused fails the test at once unless err is a refusal that is
// neither a lost condition nor a missing record.
func refused(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil || errors.Is(err, upload.ErrConflict) || errors.Is(err, upload.ErrNotFound) {
		t.Fatalf("%s: err = %v, want a refusal (neither ErrConflict nor ErrNotFound)", what, err)
	}
}

// code is the API error code of err ("" if it has none).
func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// wantCode fails the test at once unless err carries API error code c.
func wantCode(t *testing.T, err error, c, what string) {
	t.Helper()
	if code(err) != c {
		t.Fatalf("%s: err = %v, want %s", what, err, c)
	}
}

// Race runs fn(0) … fn(n-1) at once, each on its own goroutine, released
// together, and returns their errors.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins fails the test unless exactly one of errs is nil and every
// other is a lost condition, and returns the winner's index.
func oneWins(t *testing.T, errs []error, what string) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: racers %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, upload.ErrConflict):
			t.Errorf("%s: racer %d: err = %v, want ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Errorf("%s: nobody won", what)
	}
	return winner
}

// racers is how many requests each race runs.
const racers = 8

// A contract case: one behaviour of a store, on a fresh store.
type sessionCase struct {
	name string
	run  func(t *testing.T, st upload.Sessions)
}

// TestSessions runs the contract of upload.Sessions, each case as a
// subtest on an empty store of its own that newStore makes.
func TestSessions(t *testing.T, newStore func(t *testing.T) upload.Sessions) {
	var cases []sessionCase
	for _, group := range [][]sessionCase{recordCases, bindingCases, multipartCases, partCases, sequentialCases, completionCases, sweepCases, boundCases, eventCases, fieldCases, foldCases, listingCases} {
		cases = append(cases, group...)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}
