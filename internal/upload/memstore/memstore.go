// Package memstore keeps an upload engine's sessions and blobs in memory,
// with the semantics of the production stores, for the engine's tests:
//
//   - Sessions does what the DynamoDB store (internal/store/dynamo) does,
//     condition for condition: every conditional write is atomic and can
//     lose (upload.ErrConflict), every read is strongly consistent, times
//     are kept in milliseconds, and an item over DynamoDB's 400 KB (or a
//     key over its key size limits) is refused where the DynamoDB store's
//     item would be. A method the DynamoDB store carries out as several
//     requests (BeginComplete, CountPart, Forget…) is several steps here
//     too, and other calls may come between them.
//   - Blobs does what S3 does for the S3 store (internal/store/s3store):
//     CRC64NVME checked on every write, EntityTooSmall for a part under
//     5 MiB that is not the last, the full-object CRC64NVME checked at
//     CompleteMultipart, a multipart upload that survives a refused
//     completion and is gone after a successful one.
//
// Refusals that the real services give as API errors (S3's NoSuchKey or
// EntityTooSmall, DynamoDB's ValidationException) are errors with the
// same code (smithy.APIError), so a test may tell them apart as it would
// on the real stores.
//
// Both stores take faults a test sets per call (Faults): a request that
// fails before it takes effect, an answer lost after the write took
// effect (given up, or retried as the SDK retries it), a lease that
// lapsed, and functions to run before a call and after it (to hold racing
// calls at a barrier until all have come, or all have been decided). They use a mutex and start no
// goroutines.
//
// The package's contract suite (package storetest) runs on these stores
// and on the production ones, so that they cannot drift apart. The
// in-memory stores are for engine tests only: the production stores are
// proven on dynalite and versitygw.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/aws/smithy-go"
)

// Fault is a way for one call to go wrong.
type Fault int

// The faults a test can set (Faults.Inject).
const (
	// Fail: the request fails before it takes effect; nothing changes and
	// the call returns ErrInjected.
	Fail Fault = iota + 1
	// LoseAnswer: the call takes effect, then its answer is lost and the
	// caller gives up: the call returns ErrInjected.
	LoseAnswer
	// Retry: the call takes effect, its answer is lost, and it is sent
	// again, as the AWS SDK resends a request whose answer never came: the
	// call returns the second attempt's answer, which meets the first
	// attempt's write (a conditional write then usually loses).
	Retry
	// Lapse: the lease on the record the call acts on (a part's claim, a
	// session's completion or multipart claim) has lapsed before the call
	// is carried out, as if the clock had passed its end. Only calls on a
	// record with a lease take it.
	Lapse
)

func (f Fault) String() string {
	switch f {
	case Fail:
		return "Fail"
	case LoseAnswer:
		return "LoseAnswer"
	case Retry:
		return "Retry"
	case Lapse:
		return "Lapse"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// ErrInjected is what a call that a fault made fail returns. It is
// neither upload.ErrConflict nor upload.ErrNotFound: the caller cannot
// tell whether the call took effect.
var ErrInjected = errors.New("memstore: injected fault: the request failed or its answer was lost")

// Faults holds the faults and hooks a test has set for the next calls
// of a store, and counts the calls. The zero value is not usable; the
// stores make their own.
type Faults struct {
	mu     sync.Mutex
	ops    map[string]bool // the store's methods, and whether each acts on a lease
	faults map[string][]Fault
	before map[string][]func()
	after  map[string][]func()
	calls  map[string]int
}

func newFaults(ops map[string]bool) Faults {
	return Faults{ops: ops, faults: map[string][]Fault{}, before: map[string][]func(){}, after: map[string][]func(){}, calls: map[string]int{}}
}

// Inject makes the next call of method op that has no fault yet go
// wrong as f says. Calling it again queues a fault for the call after.
// It panics if the store has no method op, or if f is Lapse and op acts
// on no lease.
func (f *Faults) Inject(op string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lease := f.check(op)
	if fault == Lapse && !lease {
		panic(fmt.Sprintf("memstore: %s acts on no lease, so it cannot take Lapse", op))
	}
	if fault < Fail || fault > Lapse {
		panic(fmt.Sprintf("memstore: unknown fault %v", fault))
	}
	f.faults[op] = append(f.faults[op], fault)
}

// Before runs fn at the start of the next call of method op that has no
// such function yet, before the call does anything, outside the store's
// lock (so fn may call the store, or wait for other calls). Calling it
// again queues a function for the call after. It panics if the store has
// no method op.
func (f *Faults) Before(op string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check(op)
	f.before[op] = append(f.before[op], fn)
}

// After runs fn at the end of the next call of method op that has no
// such function yet: after the call has done all it does (or failed),
// before it returns, outside the store's lock. Calling it again queues a
// function for the call after. It panics if the store has no method op.
func (f *Faults) After(op string, fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check(op)
	f.after[op] = append(f.after[op], fn)
}

// Calls reports how many calls of method op the store has had (a call
// that a fault made fail counts; a Retry counts once). It panics if the
// store has no method op.
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check(op)
	return f.calls[op]
}

// check panics unless op is one of the store's methods, and reports
// whether it acts on a lease.
func (f *Faults) check(op string) bool {
	lease, ok := f.ops[op]
	if !ok {
		names := make([]string, 0, len(f.ops))
		for name := range f.ops {
			names = append(names, name)
		}
		sort.Strings(names)
		panic(fmt.Sprintf("memstore: no method %q; the store has %v", op, names))
	}
	return lease
}

// take counts a call of op and returns its fault and hooks, if any.
func (f *Faults) take(op string) (fault Fault, before, after func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check(op)
	f.calls[op]++
	if q := f.faults[op]; len(q) > 0 {
		fault, f.faults[op] = q[0], q[1:]
	}
	if q := f.before[op]; len(q) > 0 {
		before, f.before[op] = q[0], q[1:]
	}
	if q := f.after[op]; len(q) > 0 {
		after, f.after[op] = q[0], q[1:]
	}
	return fault, before, after
}

// request is one call of a store's method, as the production store
// carries it out: perhaps a write of its own before the main one, the
// main request (a read, or a write that is atomic and may be
// conditional), and perhaps a write of its own after a main one that
// succeeded. Each runs under the store's lock by itself, so other calls
// may come between them, as they may between the production store's
// requests.
type request struct {
	op    string
	first func()       // a write made before the main one (closing a binding)
	lapse func()       // makes the lease on the record lapse (Lapse)
	main  func() error // the main request; run twice on Retry
	then  func()       // a write made after the main one succeeded
}

// run carries out r on a store whose lock is mu, with the faults set for
// the call.
func (f *Faults) run(ctx context.Context, mu *sync.Mutex, r request) error {
	fault, before, after := f.take(r.op)
	if before != nil {
		before()
	}
	if after != nil {
		defer after()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if fault == Fail {
		return ErrInjected
	}
	locked := func(fn func()) {
		mu.Lock()
		defer mu.Unlock()
		fn()
	}
	if r.first != nil {
		locked(r.first)
	}
	var err error
	locked(func() {
		if fault == Lapse {
			r.lapse()
		}
		err = r.main()
	})
	switch fault {
	case LoseAnswer:
		return ErrInjected
	case Retry:
		locked(func() { err = r.main() })
	}
	if err == nil && r.then != nil {
		locked(r.then)
	}
	return err
}

// apiError is a refusal that the real service gives as an API error with
// a code; it satisfies smithy.APIError as the SDK's errors do.
type apiError struct {
	code, message string
}

func (e *apiError) Error() string                 { return e.code + ": " + e.message }
func (e *apiError) ErrorCode() string             { return e.code }
func (e *apiError) ErrorMessage() string          { return e.message }
func (e *apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }

var _ smithy.APIError = (*apiError)(nil)

func refusal(code, format string, args ...any) error {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}
