package api_test

// What a fault in the middle of an ending leaves behind: each test here
// makes one DynamoDB call of the engine fail where the soak's fault proxy
// once did (issue 17), and checks that nothing stays bound or unfinished.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"chunkup/internal/api"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
)

// faultWhen says where a dynamoFault strikes its call.
type faultWhen int

const (
	// faultBefore fails the call before it is sent: it never takes effect.
	faultBefore faultWhen = iota
	// faultAfter fails the call once it has taken effect: its answer is lost.
	faultAfter
	// faultRetried sends the call again once it has taken effect and
	// answers with what that second attempt got, as the SDK's retry of a
	// call whose first answer was lost meets the call's own write.
	faultRetried
)

// dynamoFault fails the next n calls of the engine's DynamoDB client that
// match accepts (n is 0 until a test arms it), as when the SDK's retries
// run out on faults.
type dynamoFault struct {
	n     atomic.Int64
	when  faultWhen
	match func(params any) bool
	// then, if set, runs when a fault strikes, before the call fails.
	then func()
}

// take uses up one of the faults armed, if any is left.
func (f *dynamoFault) take() bool {
	for {
		n := f.n.Load()
		if n <= 0 {
			return false
		}
		if f.n.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (f *dynamoFault) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		strike := middleware.InitializeMiddlewareFunc("DynamoFault", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !f.match(in.Parameters) || !f.take() {
				return next.HandleInitialize(ctx, in)
			}
			if f.then != nil {
				f.then()
			}
			if f.when == faultBefore {
				return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("request failed (test fault)")
			}
			out, md, err := next.HandleInitialize(ctx, in)
			switch {
			case err != nil:
				return out, md, err
			case f.when == faultRetried:
				return next.HandleInitialize(ctx, in)
			}
			return middleware.InitializeOutput{}, md, errors.New("answer lost (test fault)")
		})
		return st.Initialize.Add(strike, middleware.After)
	})
}

// identifierKey reports whether key is an identifier record's.
func identifierKey(key map[string]types.AttributeValue) bool {
	pk, ok := key["pk"].(*types.AttributeValueMemberS)
	return ok && strings.HasPrefix(pk.Value, "I#")
}

func identifierDelete(p any) bool {
	in, ok := p.(*dynamodb.DeleteItemInput)
	return ok && identifierKey(in.Key)
}

func identifierPut(p any) bool {
	in, ok := p.(*dynamodb.PutItemInput)
	return ok && identifierKey(in.Item)
}

func identifierGet(p any) bool {
	in, ok := p.(*dynamodb.GetItemInput)
	return ok && identifierKey(in.Key)
}

func attrS(v types.AttributeValue) string {
	s, _ := v.(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

// retireWrite is Forget's write that drops a session from the sweep's index.
func retireWrite(p any) bool {
	in, ok := p.(*dynamodb.UpdateItemInput)
	return ok && strings.HasPrefix(*in.UpdateExpression, "REMOVE sweep")
}

// beginCompletion is BeginComplete's write that takes the completion claim.
func beginCompletion(p any) bool {
	in, ok := p.(*dynamodb.UpdateItemInput)
	return ok && strings.Contains(*in.UpdateExpression, "= :completing, ctoken")
}

// sweepsLeave checks that the sweep, run once the clock is past every
// expiry, leaves no identifier record and no session in its index.
func (e *env) sweepsLeave(ctx context.Context) {
	e.t.Helper()
	for i := 0; i < 2; i++ {
		if _, err := e.svc.Engine.Sweep(ctx, 10); err != nil {
			e.t.Fatalf("sweep: %v", err)
		}
	}
	if recs := e.identifierRecords(); len(recs) != 0 {
		var left []string
		for _, r := range recs {
			left = append(left, attrS(r["pk"])+" → "+attrS(r["id"]))
		}
		e.t.Fatalf("identifier records outlived their uploads: %v", left)
	}
	due, err := dynamo.New(e.db, e.table).ListExpired(ctx, e.clock.Now(), 10)
	if err != nil || len(due) != 0 {
		e.t.Fatalf("sessions still in the sweep's index: %v %v", due, err)
	}
}

// TestForgetFailingFreesIdentifierLater: the sweep retires a finished
// upload of jQuery-File-Upload's, which its identifier (the file's name)
// points at, and one of the two writes of that fails: the delete of the
// identifier's record before it took effect, or the write that drops the
// session from the sweep's index after it took effect, its answer lost.
// The sweep's next run must still find what is left to do: the record is
// gone and so is the session from the index.
func TestForgetFailingFreesIdentifierLater(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault *dynamoFault
	}{
		{"identifier delete fails", &dynamoFault{when: faultBefore, match: identifierDelete}},
		{"retire answer lost", &dynamoFault{when: faultAfter, match: retireWrite}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{dynamo: tc.fault.install})
			ctx := context.Background()
			f := fuFile{name: "swept.bin", data: randomBytes(300_000, 161), chunk: 1 << 20}
			st, a, _ := e.fuDo(f.request(e.url, 0))
			if st != 200 || len(a.Files) != 1 {
				t.Fatalf("upload: %d %+v", st, a)
			}
			e.fuFinished(a, f)
			if n := len(e.identifierRecords()); n != 1 {
				t.Fatalf("%d identifier records for the finished upload, want 1", n)
			}
			e.clock.Advance(25 * time.Hour)
			tc.fault.n.Store(1)
			swept, err := e.svc.Engine.Sweep(ctx, 10)
			if err != nil || swept.Errors != 1 || tc.fault.n.Load() != 0 {
				t.Fatalf("sweep with the fault: %+v %v; want the fault to fail it once", swept, err)
			}
			e.sweepsLeave(ctx)
		})
	}
}

// TestLostBindKeepsItsUpload: the write that binds a new upload's
// identifier (a jQuery-File-Upload file's name) took effect, but its
// answer was lost and the SDK's retry met the write itself; the read
// that should tell whose write won fails too. The upload the identifier
// may point at must not be deleted: the identifier does point at it, and
// a record bound to an upload that is gone is never freed (the sweep
// finds uploads, not identifiers). Kept, the upload is the one the
// client's retry continues, and the sweep frees the identifier with it.
func TestLostBindKeepsItsUpload(t *testing.T) {
	lookup := &dynamoFault{when: faultBefore, match: identifierGet}
	// Once the bind has struck: its check, and the next look at the identifier.
	bind := &dynamoFault{when: faultRetried, match: identifierPut, then: func() { lookup.n.Store(2) }}
	e := newEnvWith(t, envOptions{dynamo: func(o *dynamodb.Options) { bind.install(o); lookup.install(o) }})
	ctx := context.Background()
	f := fuFile{name: "bound.bin", data: randomBytes(3<<20, 162), chunk: 1 << 20}
	bind.n.Store(1)
	if st, a, _ := e.fuDo(f.request(e.url, 0)); st != http.StatusServiceUnavailable {
		t.Fatalf("first chunk with the bind's answer lost: %d %+v, want 503", st, a)
	}
	if bind.n.Load() != 0 || lookup.n.Load() == 2 {
		t.Fatal("the faults did not strike")
	}
	lookup.n.Store(0)
	store := dynamo.New(e.db, e.table)
	id, err := store.LookupIdentifier(ctx, api.Anonymous, "fileupload:"+f.name)
	if err != nil {
		t.Fatalf("identifier: %v", err)
	}
	if _, err := store.GetSession(ctx, id); err != nil {
		t.Fatalf("the identifier points at upload %s, which is gone: %v", id, err)
	}
	if st, a := e.fuResume(url.Values{"file": {f.name}, "size": {"3145728"}}); st != 200 || a.File == nil || a.File.Size != 0 {
		t.Fatalf("resume GET: %d %+v, want the kept upload with 0 bytes", st, a.File)
	}
	e.clock.Advance(25 * time.Hour)
	e.sweepsLeave(ctx)
}

// TestDRFCompletionAfterLostAnswer: the write that starts completing a
// drf-chunked-upload took effect, but its answer was lost, so the
// completion failed (503) with the upload left completing under a claim
// it gave up. The upload is not complete: GET shows it uploading with
// every byte in, and the client's retried completion finishes it. (It
// was answered 400 "already marked as complete", which the client takes
// for success: a file it believes stored was never made.)
func TestDRFCompletionAfterLostAnswer(t *testing.T) {
	begin := &dynamoFault{when: faultAfter, match: beginCompletion}
	e := newEnvWith(t, envOptions{dynamo: begin.install})
	data := randomBytes(300_000, 163)
	u := e.drfUploadAll("late.bin", data, 100_000)
	sum := md5.Sum(data)
	fields := url.Values{"md5": {hex.EncodeToString(sum[:])}}
	begin.n.Store(1)
	if a := e.drfComplete(u.URL, fields); a.status != http.StatusServiceUnavailable || begin.n.Load() != 0 {
		t.Fatalf("completion with its answer lost: %d %s, want 503", a.status, a.raw)
	}
	if g := e.drfSend("GET", u.URL, nil, nil).upload(t); g.Status != 1 || g.Offset != int64(len(data)) {
		t.Fatalf("GET after the failed completion: %+v, want uploading with every byte", g)
	}
	done := e.drfComplete(u.URL, fields).upload(t)
	if done.Status != 2 || done.ID != u.ID {
		t.Fatalf("completion again: %+v", done)
	}
	if got, _ := e.object(upload.ObjectKey(u.ID, "late.bin")); string(got) != string(data) {
		t.Fatal("the object differs from the file")
	}
}

// TestFileUploadCompletionAfterLostAnswer: the last chunk of a
// jQuery-File-Upload file brings its last byte, and the write that starts
// completing the file took effect with its answer lost: the chunk fails
// (503) and the upload is left completing under a claim it gave up. The
// plugin sends the chunk again; that request must finish the file, not
// answer "being completed" until the upload expires.
func TestFileUploadCompletionAfterLostAnswer(t *testing.T) {
	begin := &dynamoFault{when: faultAfter, match: beginCompletion}
	e := newEnvWith(t, envOptions{dynamo: begin.install})
	f := fuFile{name: "last.bin", data: randomBytes(3<<20+17, 164), chunk: 1 << 20}
	for ub := 0; ub < 3<<20; ub += f.chunk {
		if st, a, _ := e.fuDo(f.request(e.url, ub)); st != 200 {
			t.Fatalf("chunk at %d: %d %+v", ub, st, a)
		}
	}
	begin.n.Store(1)
	if st, a, _ := e.fuDo(f.request(e.url, 3<<20)); st != http.StatusServiceUnavailable || begin.n.Load() != 0 {
		t.Fatalf("last chunk with the completion's answer lost: %d %+v, want 503", st, a)
	}
	st, a, _ := e.fuDo(f.request(e.url, 3<<20))
	if st != 200 || len(a.Files) != 1 {
		t.Fatalf("last chunk again: %d %+v", st, a)
	}
	e.fuFinished(a, f)
}

// countWrite is CountPart's first write, which adds a part to the
// session's count of assembled parts.
func countWrite(p any) bool {
	in, ok := p.(*dynamodb.UpdateItemInput)
	return ok && strings.HasPrefix(*in.UpdateExpression, "ADD partsDone")
}

// TestUncountedPartIsAskedForAgain: the request whose chunk completes a
// part of a Flow.js file assembles the part, and then fails to count it
// (503). The part's chunks are all stored, but an upload that finishes by
// itself is finished only once every part is counted: Flow.js, resuming,
// tests each chunk first, and must hear that the part's chunks are to be
// sent, or it takes the file for done and the upload is never finished
// (the sweep then expires it: a file lost, as in the soak of seed 31337).
// The chunk sent again counts the part, and the file is finished.
func TestUncountedPartIsAskedForAgain(t *testing.T) {
	count := &dynamoFault{when: faultBefore, match: countWrite}
	e := newEnvWith(t, envOptions{dynamo: count.install, tweak: func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond }})
	f := flowFile{data: randomBytes(7<<20, 165), name: "uncounted.bin", fileType: "application/octet-stream", chunkSize: 1 << 20, identifier: "uncounted-bin"}
	// Part 1 is chunks 1-5 (5 MiB); chunk 5 completes it.
	for n := 1; n <= 4; n++ {
		if st, out := e.flowPost(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	count.n.Store(1)
	if st, _ := e.flowPost(f, 5); st == 200 || count.n.Load() != 0 {
		t.Fatal("chunk 5 answered 200 though its part was not counted")
	}
	if n := e.blobs.uploadParts.Load(); n != 1 {
		t.Fatalf("%d part uploads, want part 1 assembled", n)
	}
	e.clock.Advance(46 * time.Second) // the failed request's claim lapses
	for n := 1; n <= 5; n++ {
		if st := e.flowTest(f.params(n)); st == 200 {
			t.Fatalf("test GET of chunk %d of the uncounted part answered 200: Flow.js would skip it", n)
		}
	}
	if st, out := e.flowPost(f, 5); st != 200 {
		t.Fatalf("chunk 5 again: %d %v", st, out)
	}
	if st := e.flowTest(f.params(5)); st != 200 {
		t.Fatalf("test GET of chunk 5 once its part is counted: %d, want 200", st)
	}
	if st, out := e.flowPost(f, 6); st != 200 {
		t.Fatalf("chunk 6: %d %v", st, out)
	}
	if got, _ := e.object(e.flowLastTwice(f)); !bytes.Equal(got, f.data) {
		t.Fatal("the file differs")
	}
}
