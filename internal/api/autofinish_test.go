package api_test

// Uploads that finish by themselves (Resumable.js, Flow.js): once every
// chunk is in, a chunk is answered with the finished file or with a 503
// to retry, never with a plain 200 while the file is unfinished. Such a
// client has no completion request to make; a 200 tells it the file is
// done, and if the request that should have finished the file failed,
// nothing else would.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
)

// autoFile is a file as a client whose uploads finish by themselves
// sends it: chunks numbered from 1, the last taking the remainder.
type autoFile struct {
	data       []byte
	identifier string // as the engine knows it (Flow.js's is scoped)
	chunks     int
	send       func(n int) (int, map[string]any)
	test       func(n int) int // the testChunks GET's status
}

// autoDialects are the clients whose uploads finish by themselves and
// that the tests here send as.
var autoDialects = []string{"resumable", "flow"}

// autoFile makes a file of size bytes in 1 MiB chunks, sent as dialect's
// client sends it.
func (e *env) autoFile(dialect, name string, size int, seed uint64) autoFile {
	e.t.Helper()
	data := randomBytes(size, seed)
	ident := strconv.Itoa(size) + "-" + strings.ReplaceAll(name, ".", "")
	switch dialect {
	case "resumable":
		f := resumableFile{data: data, name: name, identifier: ident, chunkSize: 1 << 20}
		return autoFile{data: data, identifier: ident, chunks: f.chunks(),
			send: func(n int) (int, map[string]any) { return e.sendResumable(f, n) },
			test: func(n int) int { return e.testResumable(f, n) }}
	case "flow":
		f := flowFile{data: data, name: name, fileType: "application/octet-stream", identifier: ident, chunkSize: 1 << 20}
		return autoFile{data: data, identifier: "flow:" + ident, chunks: f.chunks(),
			send: func(n int) (int, map[string]any) { return e.flowPost(f, n) },
			test: func(n int) int { return e.flowTest(f.params(n)) }}
	}
	e.t.Fatalf("no dialect %q", dialect)
	return autoFile{}
}

// sendAllBut sends every chunk but the last, each answered 200 with the
// upload open.
func (e *env) sendAllBut(f autoFile) {
	e.t.Helper()
	for n := 1; n < f.chunks; n++ {
		if st, out := f.send(n); st != 200 || out["state"] != "open" {
			e.t.Fatalf("chunk %d: %d %v, want 200 and the upload open", n, st, out)
		}
	}
}

// sessionOf reads the session of the upload the client calls ident.
func (e *env) sessionOf(ident string) *upload.Session {
	e.t.Helper()
	ctx := context.Background()
	out, err := e.db.Scan(ctx, &dynamodb.ScanInput{
		TableName:                 &e.table,
		FilterExpression:          aws.String("sk = :s AND ident = :i"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "S"}, ":i": &types.AttributeValueMemberS{Value: ident}},
	})
	if err != nil || len(out.Items) != 1 {
		e.t.Fatalf("sessions of %q: %d, %v; want 1", ident, len(out.Items), err)
	}
	pk := out.Items[0]["pk"].(*types.AttributeValueMemberS).Value
	s, err := dynamo.New(e.db, e.table).GetSession(ctx, strings.TrimPrefix(pk, "U#"))
	if err != nil {
		e.t.Fatalf("read session %s: %v", pk, err)
	}
	return s
}

// checkAutoDone checks that a chunk's answer is the finished file's and
// that the object is the file.
func (e *env) checkAutoDone(what string, st int, out map[string]any, data []byte) {
	e.t.Helper()
	key, _ := out["key"].(string)
	if st != 200 || out["state"] != "complete" || key == "" {
		e.t.Fatalf("%s: %d %v, want 200 and the finished file", what, st, out)
	}
	got, crc := e.object(key)
	if !bytes.Equal(got, data) || crc == "" || crc != out["crc64nvme"] {
		e.t.Fatalf("%s: the object is not the file (%d bytes, crc %q, answered %v)", what, len(got), crc, out["crc64nvme"])
	}
}

// TestAutoFinishAfterBeginFailed: the request that brought the last chunk
// counted the last part, then failed to start finishing the file (the
// write that begins the completion failed), so it answered 503. The
// client sends the chunk again; it is a duplicate of a chunk whose part
// is assembled and counted, and it must finish the file rather than be
// answered 200 with the upload left open for the sweep to expire. The
// same holds for a copy of a chunk of another part.
func TestAutoFinishAfterBeginFailed(t *testing.T) {
	for _, dialect := range autoDialects {
		for _, again := range []string{"last", "first"} {
			t.Run(dialect+"/"+again, func(t *testing.T) {
				fail := &failBeginComplete{}
				e := newEnvWith(t, envOptions{dynamo: fail.install})
				f := e.autoFile(dialect, "begin.bin", 6<<20+300<<10, 61) // 6 chunks: parts of 5 and 1
				e.sendAllBut(f)
				fail.armed.Store(true)
				if st, out := f.send(f.chunks); st != http.StatusServiceUnavailable {
					t.Fatalf("last chunk with the completion failing: %d %v, want 503", st, out)
				}
				if fail.armed.Load() {
					t.Fatal("the last chunk never tried to finish the file")
				}
				if s := e.sessionOf(f.identifier); s.State != upload.StateOpen || s.PartsDone != s.Parts {
					t.Fatalf("after the failure: state %q, %d of %d parts counted; want open with every part counted", s.State, s.PartsDone, s.Parts)
				}
				n := map[string]int{"last": f.chunks, "first": 2}[again]
				st, out := f.send(n)
				e.checkAutoDone(fmt.Sprintf("chunk %d again", n), st, out, f.data)
				if c := e.blobs.completes.Load(); c != 1 {
					t.Fatalf("%d completions, want 1", c)
				}
				st, more := f.send(f.chunks)
				e.checkAutoDone("the last chunk once more", st, more, f.data)
				if more["key"] != out["key"] || e.blobs.completes.Load() != 1 {
					t.Fatalf("the last chunk once more: %v, %d completions; want %v and 1", more, e.blobs.completes.Load(), out["key"])
				}
				if s := e.sessionOf(f.identifier); s.State != upload.StateComplete {
					t.Fatalf("state %q, want complete", s.State)
				}
			})
		}
	}
}

// failLastChunkCompletion sends every chunk of f, the last with S3
// failing the completion of its multipart upload once: the last chunk is
// answered 503.
func (e *env) failLastChunkCompletion(f autoFile) {
	e.t.Helper()
	e.sendAllBut(f)
	e.blobs.failCompletes.Store(1)
	if st, out := f.send(f.chunks); st != http.StatusServiceUnavailable {
		e.t.Fatalf("last chunk with S3 failing the completion: %d %v, want 503", st, out)
	}
	if e.blobs.failCompletes.Load() != 0 {
		e.t.Fatal("the last chunk never tried to complete the multipart upload")
	}
}

// TestAutoFinishAfterCompleteFailed: S3 fails the completion after the
// request that brought the last chunk took the claim to finish the file.
// The request gives the claim up as it fails, so the client's re-send
// takes the completion over at once and is answered with the finished
// file, rather than 503 until the claim lapses.
func TestAutoFinishAfterCompleteFailed(t *testing.T) {
	for _, dialect := range autoDialects {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond })
			f := e.autoFile(dialect, "complete.bin", 6<<20+300<<10, 62)
			e.failLastChunkCompletion(f)
			s := e.sessionOf(f.identifier)
			if s.State != upload.StateCompleting || s.Completion.Until.After(e.clock.Now()) {
				t.Fatalf("after the failure: state %q, claim until %v; want completing with the claim given up", s.State, s.Completion.Until)
			}
			st, out := f.send(f.chunks)
			e.checkAutoDone("the last chunk again at once", st, out, f.data)
			e.checkCleanFinish()
		})
	}
}

// TestAutoFinishUnderLiveClaim: while another request holds the claim to
// finish the file, a re-sent chunk waits for it and is answered 503
// (nobody finishes the file in its place), never 200 with the file
// unfinished; once that request gives the claim up without finishing, the
// re-sent chunk takes the completion over.
func TestAutoFinishUnderLiveClaim(t *testing.T) {
	for _, dialect := range autoDialects {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond })
			f := e.autoFile(dialect, "claimed.bin", 6<<20+300<<10, 63)
			// The last chunk's part is assembled and counted, but its
			// request "dies" before finishing: another takes the claim.
			e.failLastChunkCompletion(f)
			store := dynamo.New(e.db, e.table)
			s := e.sessionOf(f.identifier)
			now := e.clock.Now()
			if err := store.BeginComplete(context.Background(), s, upload.Lease{Token: "other-request", Until: now.Add(45 * time.Second)}, now); err != nil {
				t.Fatalf("take the completion claim: %v", err)
			}
			for _, n := range []int{f.chunks, 1} {
				st, out := f.send(n)
				if st != http.StatusServiceUnavailable || out["error"] != string(upload.CodeBusy) {
					t.Fatalf("chunk %d again under another request's live claim: %d %v, want 503 %s", n, st, out, upload.CodeBusy)
				}
			}
			if c := e.blobs.completes.Load(); c != 0 {
				t.Fatalf("%d completions under another request's live claim", c)
			}
			if err := store.ReleaseComplete(context.Background(), s.ID, "someone-else"); !errors.Is(err, upload.ErrConflict) {
				t.Fatalf("release of a claim the token does not hold: %v, want ErrConflict", err)
			}
			if err := store.ReleaseComplete(context.Background(), s.ID, "other-request"); err != nil {
				t.Fatalf("release the claim: %v", err)
			}
			st, out := f.send(f.chunks)
			e.checkAutoDone("the last chunk again after the claim was given up", st, out, f.data)
			e.checkCleanFinish()
		})
	}
}

// checkCleanFinish checks that the file was completed once and left no
// multipart upload or staged chunk behind.
func (e *env) checkCleanFinish() {
	e.t.Helper()
	if c := e.blobs.completes.Load(); c != 1 {
		e.t.Fatalf("%d completions, want 1", c)
	}
	if n := e.multipartUploads(); n != 0 {
		e.t.Fatalf("%d multipart uploads left open", n)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		e.t.Fatalf("staged chunks left: %v", left)
	}
}

// persist sends chunk n as Resumable.js does: again after a 503, a few
// times, counting the retries in retried.
func (f autoFile) persist(n int, retried *atomic.Int64) (int, map[string]any) {
	st, out := f.send(n)
	for try := 0; st == http.StatusServiceUnavailable && try < 4; try++ {
		retried.Add(1)
		time.Sleep(100 * time.Millisecond)
		st, out = f.send(n)
	}
	return st, out
}

// TestAutoFinishDuplicateWhileFinishing runs the race of a chunk sent
// again (its first answer lost) with the last chunk: the copy started a
// little later each round, so that it lands before the last chunk is in,
// while the last part is assembled and counted, while the file is being
// finished and after. A copy that finds every part counted finishes the
// file itself or waits for the request finishing it, so two requests may
// try to finish it at once. Every answer is 200 (after 503s retried):
// the last chunk's with the finished file, the copy's with the upload
// open only if it was sent before the last chunk's answer came, else
// with the finished file; the file is finished once, and right. The
// write that begins finishing the file is held a little, so that in some
// rounds both requests try it.
func TestAutoFinishDuplicateWhileFinishing(t *testing.T) {
	begins := &countBegins{hold: 150 * time.Millisecond}
	e := newEnvWith(t, envOptions{dynamo: begins.install})
	const size = 7<<20 + 300<<10 // 7 chunks: parts of 5 and 2
	cal := e.autoFile("resumable", "calibrate.bin", size, 63)
	var span time.Duration
	for n := 1; n <= cal.chunks; n++ {
		start := time.Now()
		if st, out := cal.send(n); st != 200 {
			t.Fatalf("calibration chunk %d: %d %v", n, st, out)
		}
		span = time.Since(start)
	}
	const rounds = 12
	var before, during, after, both int
	var retried atomic.Int64
	for r := range rounds {
		f := e.autoFile("resumable", fmt.Sprintf("race%d.bin", r), size, uint64(200+r))
		e.sendAllBut(f)
		last := f.chunks
		dup := []int{1, last - 1}[r%2] // of an assembled part, or of the last chunk's part
		delay := span * time.Duration(r/2) / (rounds/2 - 1) * 5 / 4
		completes, tries := e.blobs.completes.Load(), begins.n.Load()
		var wg sync.WaitGroup
		var lastSt, dupSt int
		var lastOut, dupOut map[string]any
		var lastEnd, dupStart time.Time
		wg.Add(2)
		go func() {
			defer wg.Done()
			lastSt, lastOut = f.persist(last, &retried)
			lastEnd = time.Now()
		}()
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			dupStart = time.Now()
			dupSt, dupOut = f.persist(dup, &retried)
		}()
		wg.Wait()
		e.checkAutoDone(fmt.Sprintf("round %d: the last chunk", r), lastSt, lastOut, f.data)
		switch {
		case dupSt == 200 && dupOut["state"] == "complete" && dupOut["key"] == lastOut["key"] && dupStart.Before(lastEnd):
			during++
		case dupSt == 200 && dupOut["state"] == "complete" && dupOut["key"] == lastOut["key"]:
			after++
		case dupSt == 200 && dupOut["state"] == "open" && dupStart.Before(lastEnd):
			before++
		default:
			t.Fatalf("round %d: copy of chunk %d sent %v after the last: %d %v; want the upload open (sent before the last chunk's answer) or the file %v",
				r, dup, delay, dupSt, dupOut, lastOut["key"])
		}
		if n := e.blobs.completes.Load() - completes; n != 1 {
			t.Fatalf("round %d: %d completions, want 1", r, n)
		}
		if begins.n.Load()-tries > 1 {
			both++
		}
		if s := e.sessionOf(f.identifier); s.State != upload.StateComplete {
			t.Fatalf("round %d: state %q, want complete", r, s.State)
		}
		if left := e.stagedKeys(); len(left) != 0 {
			t.Fatalf("round %d: staged chunks left: %v", r, left)
		}
	}
	if n := e.multipartUploads(); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	t.Logf("last chunk alone took %v; copies answered: %d open, %d with the file while the last chunk was in flight, %d after; %d 503s retried; both requests tried to begin the completion in %d rounds",
		span, before, during, after, retried.Load(), both)
	if during == 0 || both == 0 {
		t.Error("no copy was answered with the file while the last chunk's request was at work, or none tried to finish the file at the same time: the race was not run")
	}
}

// failUpdate makes the engine's DynamoDB client fail the next update
// whose expression contains expr, once armed, without it taking effect.
type failUpdate struct {
	expr  string
	armed atomic.Bool
}

func (f *failUpdate) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		fail := middleware.InitializeMiddlewareFunc("FailUpdate", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && strings.Contains(aws.ToString(u.UpdateExpression), f.expr) &&
				f.armed.CompareAndSwap(true, false) {
				return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected fault: update failed")
			}
			return next.HandleInitialize(ctx, in)
		})
		return st.Initialize.Add(fail, middleware.After)
	})
}

// TestAutoFinishLastChunkTestedMissing: the last chunk's request failed
// to finish the file, and the client gave the file up (Flow.js does at
// its first 503 by default); the page retries it, so the client tests
// every chunk again and sends only those it is told to. Every chunk is
// stored, but if every one tested as here, the client would take the file
// for done and send nothing, and nothing would finish it. The last chunk
// tests as missing, whether the failure came before the identifier's
// record stopped saying the upload is open or after; sent again, it
// finishes the file, and then tests as here.
func TestAutoFinishLastChunkTestedMissing(t *testing.T) {
	for _, dialect := range autoDialects {
		for _, c := range []struct{ name, expr string }{
			{"record still open", "REMOVE openUntil"}, // closing the identifier's record fails
			{"record closed", "= :completing"},        // the write on the session after it fails
		} {
			t.Run(dialect+"/"+c.name, func(t *testing.T) {
				fail := &failUpdate{expr: c.expr}
				e := newEnvWith(t, envOptions{dynamo: fail.install})
				f := e.autoFile(dialect, "tested.bin", 6<<20+300<<10, 68)
				e.sendAllBut(f)
				fail.armed.Store(true)
				if st, out := f.send(f.chunks); st != http.StatusServiceUnavailable {
					t.Fatalf("last chunk with the completion failing: %d %v, want 503", st, out)
				}
				if fail.armed.Load() {
					t.Fatal("the last chunk never tried to finish the file")
				}
				for n := 1; n < f.chunks; n++ {
					if st := f.test(n); st != 200 {
						t.Fatalf("test chunk %d: %d, want 200", n, st)
					}
				}
				if st := f.test(f.chunks); st != http.StatusNoContent {
					t.Fatalf("test of the last chunk, every chunk in and the file unfinished: %d, want 204", st)
				}
				st, out := f.send(f.chunks)
				e.checkAutoDone("the last chunk again", st, out, f.data)
				if st := f.test(f.chunks); st != 200 {
					t.Fatalf("test of the last chunk of the finished file: %d, want 200", st)
				}
				if c := e.blobs.completes.Load(); c != 1 {
					t.Fatalf("%d completions, want 1", c)
				}
			})
		}
	}
}

// countBegins counts the writes of the engine's DynamoDB client that try
// to begin finishing an upload, whether or not they win, and holds each
// for hold first: long enough for another request to try as well.
type countBegins struct {
	n    atomic.Int64
	hold time.Duration
}

func (c *countBegins) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		count := middleware.InitializeMiddlewareFunc("CountBegins", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && strings.Contains(aws.ToString(u.UpdateExpression), "= :completing") {
				c.n.Add(1)
				time.Sleep(c.hold)
			}
			return next.HandleInitialize(ctx, in)
		})
		return st.Initialize.Add(count, middleware.After)
	})
}

// TestSweepFinishesWholeAutoUploads: uploads that finish by themselves,
// whose every chunk is in but whose finishing failed and whose clients
// never came back (Flow.js gives up on a file at its first 503 by
// default), are finished by the sweep once they are due, not expired:
// the client sent the whole file and has no completion request to make.
// One that lacks a chunk is expired as before.
func TestSweepFinishesWholeAutoUploads(t *testing.T) {
	fail := &failBeginComplete{}
	e := newEnvWith(t, envOptions{dynamo: fail.install})
	const size = 6<<20 + 300<<10
	open := e.autoFile("flow", "open.bin", size, 64) // every part counted, never begun
	e.sendAllBut(open)
	fail.armed.Store(true)
	if st, out := open.send(open.chunks); st != http.StatusServiceUnavailable {
		t.Fatalf("last chunk with the completion failing: %d %v, want 503", st, out)
	}
	lapsed := e.autoFile("resumable", "lapsed.bin", size+1, 65) // completing, its finisher gone
	e.sendAllBut(lapsed)
	e.blobs.failCompletes.Store(1)
	if st, out := lapsed.send(lapsed.chunks); st != http.StatusServiceUnavailable {
		t.Fatalf("last chunk with S3 failing the completion: %d %v, want 503", st, out)
	}
	short := e.autoFile("resumable", "short.bin", size+2, 66) // lacks its last chunk
	e.sendAllBut(short)

	e.clock.Advance(25 * time.Hour)
	st, err := e.svc.Engine.Sweep(context.Background(), 10)
	if err != nil || st.Completed != 2 || st.Expired != 1 || st.Errors != 0 {
		t.Fatalf("sweep: %+v %v; want 2 finished, 1 expired, no errors", st, err)
	}
	for _, f := range []autoFile{open, lapsed} {
		s := e.sessionOf(f.identifier)
		if s.State != upload.StateComplete {
			t.Fatalf("%s: state %q, want complete", f.identifier, s.State)
		}
		if got, crc := e.object(s.Key); !bytes.Equal(got, f.data) || crc != s.CRC64 {
			t.Fatalf("%s: the object is not the file", f.identifier)
		}
	}
	if s := e.sessionOf(short.identifier); s.State != upload.StateExpired {
		t.Fatalf("the upload lacking a chunk: state %q, want expired", s.State)
	}
	if c := e.blobs.completes.Load(); c != 2 {
		t.Fatalf("%d completions, want 2", c)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left open", n)
	}
}

// TestSweepRetriesFailedAutoFinish: the sweep's own attempt to finish a
// whole upload that finishes by itself fails in a way that may pass; the
// upload is left for a later sweep rather than expired, until it is one
// more expiry period overdue: then it is expired, so that an upload that
// cannot be finished does not stay forever.
func TestSweepRetriesFailedAutoFinish(t *testing.T) {
	fail := &failBeginComplete{}
	e := newEnvWith(t, envOptions{dynamo: fail.install})
	f := e.autoFile("resumable", "retry.bin", 6<<20+300<<10, 67)
	e.sendAllBut(f)
	fail.armed.Store(true)
	if st, out := f.send(f.chunks); st != http.StatusServiceUnavailable {
		t.Fatalf("last chunk with the completion failing: %d %v, want 503", st, out)
	}
	ctx := context.Background()
	e.clock.Advance(25 * time.Hour)
	fail.armed.Store(true)
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Errors != 1 || st.Completed+st.Expired != 0 {
		t.Fatalf("first sweep, finishing failing: %+v %v; want one error and nothing finished or expired", st, err)
	}
	if s := e.sessionOf(f.identifier); s.State != upload.StateOpen {
		t.Fatalf("after the first sweep: state %q, want open", s.State)
	}
	e.clock.Advance(24 * time.Hour)
	fail.armed.Store(true)
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Expired != 1 || st.Completed != 0 {
		t.Fatalf("sweep a day later, finishing failing again: %+v %v; want the upload expired", st, err)
	}
	if s := e.sessionOf(f.identifier); s.State != upload.StateExpired {
		t.Fatalf("state %q, want expired", s.State)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left open", n)
	}
}

// TestNativeCompleteRetriedAtOnce: S3 fails the completion of a native
// upload once; the failing request gives its claim up, so the client's
// retry of the completion, sent at once, finishes the file rather than
// being told the upload is busy until the claim lapses.
func TestNativeCompleteRetriedAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(6<<20+77, 64)
	up := e.createNative("retried.bin", int64(len(data)), chunk)
	for n := range up.Chunks {
		if st, out := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != http.StatusOK {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	e.blobs.failCompletes.Store(1)
	var failed map[string]any
	if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &failed); st < 500 {
		t.Fatalf("complete with S3 failing: %d %v, want a 5xx", st, failed)
	}
	if e.blobs.failCompletes.Load() != 0 {
		t.Fatal("the completion never reached S3")
	}
	e.completeNative(up.ID, data)
	e.checkCleanFinish()
}
