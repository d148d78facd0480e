package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

// TestFailedAssemblyIsRetried: S3 fails while a part is being assembled;
// the client retries the chunk and that retry assembles the part.
func TestFailedAssemblyIsRetried(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(6<<20, 41)
	up := e.createNative("r.bin", int64(len(data)), chunk)
	for n := 0; n < 4; n++ {
		if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d", n, st)
		}
	}
	e.blobs.failParts.Store(1)
	if st, _ := e.putNative(up.ID, 4, chunkOf(data, chunk, 4)); st != http.StatusServiceUnavailable {
		t.Fatalf("chunk 4 with S3 failing: %d, want 503", st)
	}
	if e.blobs.uploadParts.Load() != 0 {
		t.Fatal("a part counted as uploaded though S3 failed")
	}
	st, out := e.putNative(up.ID, 4, chunkOf(data, chunk, 4))
	if st != 200 || out["stored"] != false {
		t.Fatalf("retried chunk 4: %d %v", st, out)
	}
	if e.blobs.uploadParts.Load() != 1 {
		t.Fatalf("retry did not assemble the part (%d part uploads)", e.blobs.uploadParts.Load())
	}
	// The assembled part's record keeps its ETag and drops its chunk list.
	p, err := dynamo.New(e.db, e.table).GetPart(context.Background(), up.ID, 0)
	if err != nil || p.ETag == "" || len(p.Chunks) != 0 || p.Claim.Token != "" {
		t.Fatalf("part record after assembly: %+v %v", p, err)
	}
	e.putNative(up.ID, 5, chunkOf(data, chunk, 5))
	e.completeNative(up.ID, data)
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged chunks left: %v", left)
	}
}

// TestCrashedClaimLapses: the request whose chunk completed a part (and
// so holds the claim to assemble it, from the write that recorded the
// chunk) died before assembling it. Completion answers busy while the
// claim is live and assembles the part itself once it lapses.
func TestCrashedClaimLapses(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(5<<20+100, 42)
	up := e.createNative("c.bin", int64(len(data)), chunk)
	for n := 0; n < 4; n++ {
		e.putNative(up.ID, n, chunkOf(data, chunk, n))
	}
	// The dead request staged chunk 4 and recorded it, and got no further.
	ctx := context.Background()
	store := dynamo.New(e.db, e.table)
	now := e.clock.Now()
	dead := upload.ChunkRecord{Index: 4, Key: "staging/" + up.ID + "/00000004-deadrequest", Size: chunk}
	dead.CRC = crc64nvme.Checksum(chunkOf(data, chunk, 4))
	if err := e.blobs.PutStaged(ctx, dead.Key, chunkOf(data, chunk, 4), dead.CRC); err != nil {
		t.Fatal(err)
	}
	p, err := store.RecordChunk(ctx, up.ID, 0, dead, upload.Lease{Token: "dead-request", Until: now.Add(45 * time.Second)})
	if err != nil || len(p.Chunks) != 5 || p.Claim.Token != "dead-request" {
		t.Fatalf("record chunk 4 as the dead request: %+v %v", p, err)
	}
	if st, _ := e.putNative(up.ID, 5, chunkOf(data, chunk, 5)); st != 200 {
		t.Fatalf("chunk 5: %d", st)
	}
	if n := e.blobs.uploadParts.Load(); n != 1 { // part 2 (chunk 5) only
		t.Fatalf("%d part uploads: part 1 was assembled under another's live claim", n)
	}
	var er nativeError
	if code := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &er); code != http.StatusServiceUnavailable || er.Error.Code != "upload_busy" {
		t.Fatalf("complete under a live claim: %d %+v", code, er)
	}
	e.clock.Advance(46 * time.Second)
	e.completeNative(up.ID, data)
}

// loseRecordAnswer makes the engine's DynamoDB client lose the answer to
// the next write that records chunk index, once armed: the write takes
// effect, and the engine gets an error in its place, as when the SDK's
// retries run out after the first attempt went through.
type loseRecordAnswer struct {
	armed atomic.Bool
	index string
}

func (l *loseRecordAnswer) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		lose := middleware.InitializeMiddlewareFunc("LoseRecordAnswer", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			u, ok := in.Parameters.(*dynamodb.UpdateItemInput)
			if ok && err == nil && strings.Contains(*u.UpdateExpression, "claim = :t") &&
				u.ExpressionAttributeNames["#c"] == l.index && l.armed.CompareAndSwap(true, false) {
				return out, md, errors.New("answer lost")
			}
			return out, md, err
		})
		return st.Initialize.Add(lose, middleware.After)
	})
}

// TestLostAnswerToCompletingChunk: the write that records a part's last
// chunk took effect, but its answer was lost, so the request failed while
// the write had made it the part's claimant. The request gives the claim
// up, and the client's retry of the chunk assembles the part at once
// rather than waiting for the claim to lapse.
func TestLostAnswerToCompletingChunk(t *testing.T) {
	lose := &loseRecordAnswer{index: "c4"}
	e := newEnvWith(t, envOptions{dynamo: lose.install, tweak: func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond }})
	const chunk = 1 << 20
	data := randomBytes(5<<20+100, 44)
	up := e.createNative("lost.bin", int64(len(data)), chunk)
	for n := 0; n < 4; n++ {
		if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d", n, st)
		}
	}
	lose.armed.Store(true)
	if st, _ := e.putNative(up.ID, 4, chunkOf(data, chunk, 4)); st < 500 {
		t.Fatalf("chunk 4 with its answer lost: %d, want a server error", st)
	}
	p, err := dynamo.New(e.db, e.table).GetPart(context.Background(), up.ID, 0)
	if err != nil || len(p.Chunks) != 5 || p.Claim.Token != "" {
		t.Fatalf("part after the lost answer: %d chunks, claim %q, %v; want 5 chunks and no claim", len(p.Chunks), p.Claim.Token, err)
	}
	if st, out := e.putNative(up.ID, 4, chunkOf(data, chunk, 4)); st != 200 || out["stored"] != false {
		t.Fatalf("chunk 4 again: %d %v, want 200 and stored false", st, out)
	}
	if n := e.blobs.uploadParts.Load(); n != 1 {
		t.Fatalf("%d part uploads after the retry, want 1", n)
	}
	e.putNative(up.ID, 5, chunkOf(data, chunk, 5))
	e.completeNative(up.ID, data)
}

// TestCrashedMultipartClaimLapses: a request claimed the start of the
// multipart upload and died (perhaps after S3 started one). A part that is
// complete waits for it, answers busy while the claim is live, and starts
// the upload itself once it lapses; the file is whole, and its cleanup
// looks for the multipart upload the dead request may have left.
func TestCrashedMultipartClaimLapses(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond })
	const chunk = 1 << 20
	data := randomBytes(5<<20, 43)
	up := e.createNative("m.bin", int64(len(data)), chunk)
	store := dynamo.New(e.db, e.table)
	now := e.clock.Now()
	if err := store.ClaimMultipart(context.Background(), up.ID, upload.Lease{Token: "dead-request", Until: now.Add(45 * time.Second)}, now); err != nil {
		t.Fatalf("claim as the dead request: %v", err)
	}
	for n := 0; n < up.Chunks-1; n++ {
		if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d", n, st)
		}
	}
	last := up.Chunks - 1
	var er nativeError
	if st := e.call("PUT", fmt.Sprintf("/v1/uploads/%s/chunks/%d", up.ID, last), bytes.NewReader(chunkOf(data, chunk, last)), &er); st != http.StatusServiceUnavailable || er.Error.Code != "upload_busy" {
		t.Fatalf("last chunk under a live multipart claim: %d %+v, want 503 upload_busy", st, er)
	}
	if n := e.blobs.creates.Load(); n != 0 {
		t.Fatalf("%d multipart uploads started under another's live claim", n)
	}
	e.clock.Advance(46 * time.Second)
	e.completeNative(up.ID, data)
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Engine.Sweep(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if n := e.blobs.listsMultipart.Load(); n != 1 {
		t.Errorf("the sweep listed multipart uploads %d times, want once (the dead request's may be stray)", n)
	}
}

// TestFailedAssemblyIsAskedForAgain: the chunk that completes a part is
// not the part's last (chunks arrive out of order), and S3 fails while
// that request assembles the part. Flow.js retries the chunk with a test
// GET first: it must hear the chunk is missing — whichever chunk of the
// part it asks for — or it skips the chunk, believes the file is done, and
// the part is never assembled.
func TestFailedAssemblyIsAskedForAgain(t *testing.T) {
	e := newEnv(t, nil)
	f := flowFile{data: randomBytes(7<<20, 44), name: "late.bin", fileType: "application/octet-stream", chunkSize: 1 << 20, identifier: "late-bin"}
	// Part 1 is chunks 1-5 (5 MiB); chunk 3 arrives last and completes it.
	for _, n := range []int{1, 2, 4, 5} {
		if st, out := e.flowPost(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	e.blobs.failParts.Store(1)
	if st, _ := e.flowPost(f, 3); st == 200 {
		t.Fatal("chunk 3 answered 200 though S3 failed its part")
	}
	for _, n := range []int{3, 1, 5} {
		if st := e.flowTest(f.params(n)); st == 200 {
			t.Fatalf("test GET of chunk %d of the unassembled part answered 200: the client would skip it", n)
		}
	}
	if st, out := e.flowPost(f, 3); st != 200 {
		t.Fatalf("chunk 3 again: %d %v", st, out)
	}
	if n := e.blobs.uploadParts.Load(); n != 1 {
		t.Fatalf("%d part uploads after the retry, want 1", n)
	}
	if st := e.flowTest(f.params(3)); st != 200 {
		t.Fatalf("test GET of chunk 3 after its part was assembled: %d, want 200", st)
	}
	if st, out := e.flowPost(f, 6); st != 200 {
		t.Fatalf("chunk 6: %d %v", st, out)
	}
	if got, _ := e.object(e.flowLastTwice(f)); !bytes.Equal(got, f.data) {
		t.Fatal("the file differs")
	}
}

// TestFailedMultipartStartIsRetried: S3 fails the request that starts the
// file's multipart upload. The request that tried gives its claim back,
// so the client's retry starts the upload at once rather than waiting for
// the claim to lapse; and since S3 may have started one anyway, the
// cleanup looks for it.
func TestFailedMultipartStartIsRetried(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) { o.DuplicateWait = 300 * time.Millisecond })
	const chunk = 1 << 20
	data := randomBytes(5<<20, 45)
	up := e.createNative("s.bin", int64(len(data)), chunk)
	for n := 0; n < up.Chunks-1; n++ {
		e.putNative(up.ID, n, chunkOf(data, chunk, n))
	}
	last := up.Chunks - 1
	e.blobs.failCreates.Store(1)
	if st, _ := e.putNative(up.ID, last, chunkOf(data, chunk, last)); st != http.StatusServiceUnavailable {
		t.Fatalf("last chunk with S3 failing: %d, want 503", st)
	}
	if st, out := e.putNative(up.ID, last, chunkOf(data, chunk, last)); st != 200 {
		t.Fatalf("last chunk again, at once: %d %v", st, out)
	}
	if n := e.blobs.uploadParts.Load(); n != 1 {
		t.Fatalf("%d part uploads, want 1", n)
	}
	e.completeNative(up.ID, data)
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Engine.Sweep(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if n := e.blobs.listsMultipart.Load(); n != 1 {
		t.Errorf("the sweep listed multipart uploads %d times, want once", n)
	}
}
