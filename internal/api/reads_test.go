package api_test

// How many DynamoDB reads a chunk costs. Reads are most of what an
// indexed upload pays DynamoDB for, and a read that grows with the file
// (a query of every part record on every chunk) makes a large upload's
// bill grow with the square of its chunk count. These tests count the
// engine's own requests, by operation, with middleware on its client.

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// opCounter counts the DynamoDB requests a client sends, by operation
// (a request the SDK retries counts once), and the read units that the
// reads consumed.
type opCounter struct {
	mu    sync.Mutex
	ops   map[string]int
	units map[string]float64
}

func newOpCounter() *opCounter { return &opCounter{ops: map[string]int{}, units: map[string]float64{}} }

// install adds the counting step to a client's options. It asks every
// read for its consumed capacity.
func (c *opCounter) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		count := middleware.InitializeMiddlewareFunc("CountOperations", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			switch p := in.Parameters.(type) {
			case *dynamodb.GetItemInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
			case *dynamodb.QueryInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
			}
			out, md, err := next.HandleInitialize(ctx, in)
			var used *types.ConsumedCapacity
			switch r := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				used = r.ConsumedCapacity
			case *dynamodb.QueryOutput:
				used = r.ConsumedCapacity
			}
			op := awsmiddleware.GetOperationName(ctx)
			c.mu.Lock()
			c.ops[op]++
			if used != nil {
				c.units[op] += aws.ToFloat64(used.CapacityUnits)
			}
			c.mu.Unlock()
			return out, md, err
		})
		return st.Initialize.Add(count, middleware.After)
	})
}

// take returns the counts and read units since the last take and starts
// again from zero.
func (c *opCounter) take() (map[string]int, map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops, units := maps.Clone(c.ops), maps.Clone(c.units)
	clear(c.ops)
	clear(c.units)
	return ops, units
}

// reads is the number of read requests in counts.
func reads(counts map[string]int) (getItem, query int) {
	return counts["GetItem"] + counts["BatchGetItem"], counts["Query"] + counts["Scan"]
}

// TestResumableReadsPerChunk uploads a file as Resumable.js does, one
// chunk at a time, each after its testChunks GET, and counts the reads
// each kind of request costs.
//
// A GET that finds the chunk missing reads the identifier record, which
// carries the upload's part plan, and the chunk's part (2 GetItem; it
// used to read the session in between). A POST reads the identifier
// record only, which says the upload is open while it is (1; it used to
// read the session too); assembling a part reads nothing more, since the
// claim's write returns the part (it used to read the part again: 1
// GetItem more per part). Both bounds are what is achieved; a read added
// to either path fails here.
func TestResumableReadsPerChunk(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	f := resumableFile{data: randomBytes(15<<20+77, 21), name: "reads.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-readsbin"
	n := f.chunks()
	gets, posts := map[string]int{}, map[string]int{}
	for i := 1; i <= n; i++ {
		ops.take()
		if st := e.testResumable(f, i); st != http.StatusNoContent {
			t.Fatalf("test chunk %d: %d, want 204", i, st)
		}
		got, _ := ops.take()
		for k, v := range got {
			gets[k] += v
		}
		if st, out := e.sendResumable(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %v", i, st, out)
		} else if i == n && out["state"] != "complete" {
			t.Fatalf("last chunk: %v, want the file complete", out)
		}
		got, _ = ops.take()
		for k, v := range got {
			posts[k] += v
		}
	}
	t.Logf("%d chunks: test GETs %v; POSTs %v", n, gets, posts)
	// The first GET finds no identifier (1 read); every other reads the
	// identifier and the chunk's part (2 reads).
	if g, q := reads(gets); g > 2*n-1 || q > 0 {
		t.Errorf("%d test GETs cost %d GetItem and %d Query, want at most %d and 0", n, g, q, 2*n-1)
	}
	// Every POST reads the identifier (1); the first part reads the
	// session to start the multipart upload, and the completion lists
	// the parts once. (The completion used to read the session again to
	// find the identifier record it closes: 1 GetItem more.)
	if g, q := reads(posts); g > n+1 || q > 1 {
		t.Errorf("%d chunk POSTs cost %d GetItem and %d Query, want at most %d and 1", n, g, q, n+1)
	}
}

// TestMultipleUploadReadsDoNotGrow uploads a small file and one four
// times larger through MultipleUpload, in order, and counts the reads.
// Each chunk is answered with how many chunks are in. That count used to
// come from a second read of the session and a query of every part
// record, on every chunk: reads per chunk grew with the file (quadratic
// in all). Now the read that finds the session (a query of the session
// and its last few part records, one read unit) finds the count too.
func TestMultipleUploadReadsDoNotGrow(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	var perChunk []float64
	for _, size := range []int{6 << 20, 24 << 20} {
		f := newMUFile(randomBytes(size+5, uint64(size)), "grow.bin", fmt.Sprintf("grow-%d", size), 1<<20)
		ops.take()
		var a muAnswer
		for i := range f.count {
			var st int
			if st, a = e.muChunk(f, i); st != 200 {
				t.Fatalf("%d-byte file, chunk %d: %d %+v", size, i, st, a)
			}
			if i < f.count-1 && (a.ChunksReceived == nil || *a.ChunksReceived != i+1) {
				t.Fatalf("%d-byte file, chunk %d: %+v, want chunksReceived %d", size, i, a, i+1)
			}
		}
		counts, units := ops.take()
		e.checkFinished(a, f.name, f.data)
		g, q := reads(counts)
		rru := units["GetItem"] + units["Query"]
		t.Logf("%d chunks: %v; read units %v", f.count, counts, units)
		// Every chunk but the first reads the identifier record (GetItem)
		// and the session with its last parts (Query); the first creates
		// the upload. The first part reads the session once more to start
		// the multipart upload, and the completion lists the parts once.
		// (The completion used to read the session again to find the
		// identifier record it closes: 1 GetItem more.)
		if g > f.count+1 || q > f.count {
			t.Errorf("%d chunks cost %d GetItem and %d Query, want at most %d and %d", f.count, g, q, f.count+1, f.count)
		}
		perChunk = append(perChunk, rru/float64(f.count))
	}
	// Half a unit of slack: the completion's one listing of every part
	// weighs more for the larger file.
	if perChunk[1] > perChunk[0]+0.5 {
		t.Errorf("read units per chunk grew with the file: %.2f for the small one, %.2f for the large one", perChunk[0], perChunk[1])
	}
}

// TestMultipleUploadCountsOutOfOrder: chunks sent one at a time in a
// random order fill many parts at once, which the read of the session
// and its last few part records cannot account for; the count is still
// exact (the part records are read as well), and a chunk sent twice adds
// nothing.
func TestMultipleUploadCountsOutOfOrder(t *testing.T) {
	e := newEnv(t, nil)
	f := newMUFile(randomBytes(27<<20+9, 88), "shuffled.bin", "shuffled-1", 1<<20) // 28 chunks, 6 parts
	order := rand.New(rand.NewPCG(88, 3)).Perm(f.count)
	var a muAnswer
	for k, i := range order {
		var st int
		if st, a = e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %+v", i, st, a)
		}
		if k < f.count-1 && (a.ChunksReceived == nil || *a.ChunksReceived != k+1) {
			t.Fatalf("chunk %d (%d-th sent): %+v, want chunksReceived %d", i, k+1, a, k+1)
		}
		if k%7 == 3 {
			if st, a := e.muChunk(f, i); st != 200 || a.ChunksReceived == nil || *a.ChunksReceived != k+1 {
				t.Fatalf("chunk %d again: %d %+v, want chunksReceived %d", i, st, a, k+1)
			}
		}
	}
	e.checkFinished(a, f.name, f.data)
}

// TestResumableTestWithOldBinding: an identifier record written before
// records carried the upload's part plan still answers the test GET
// right (the session is read to find the plan), and the upload goes on.
func TestResumableTestWithOldBinding(t *testing.T) {
	e := newEnv(t, nil)
	f := resumableFile{data: randomBytes(7<<20+3, 23), name: "old.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-oldbin"
	for n := 1; n <= 3; n++ {
		if st, out := e.sendResumable(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	ctx := context.Background()
	out, err := e.db.Scan(ctx, &dynamodb.ScanInput{
		TableName:                 &e.table,
		FilterExpression:          aws.String("sk = :i"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":i": &types.AttributeValueMemberS{Value: "I"}},
	})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("identifier records: %d, %v", len(out.Items), err)
	}
	key := map[string]types.AttributeValue{"pk": out.Items[0]["pk"], "sk": out.Items[0]["sk"]}
	if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &e.table, Key: key, UpdateExpression: aws.String("REMOVE #size, chunkSize, chunks, cpp, parts"),
		ExpressionAttributeNames: map[string]string{"#size": "size"},
	}); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]int{1: 200, 3: 200, 4: 204, 7: 204} {
		if st := e.testResumable(f, n); st != want {
			t.Errorf("test chunk %d: %d, want %d", n, st, want)
		}
	}
	e.sendResumableRest(f, 4)
	if st := e.testResumable(f, 2); st != 200 {
		t.Errorf("test chunk 2 of the finished file: %d, want 200", st)
	}
}

// sendResumableRest sends chunks first to the last, each answered 200,
// and returns the last answer, which must say the file is complete.
func (e *env) sendResumableRest(f resumableFile, first int) map[string]any {
	e.t.Helper()
	var last map[string]any
	for n := first; n <= f.chunks(); n++ {
		var st int
		if st, last = e.sendResumable(f, n); st != 200 {
			e.t.Fatalf("chunk %d: %d %v", n, st, last)
		}
	}
	if last["state"] != "complete" {
		e.t.Fatalf("last chunk: %v, want the file complete", last)
	}
	return last
}

// TestNativeWritesPerPart uploads a file through the native API, one
// chunk at a time, and counts the writes. Each chunk is one write that
// records it; the request whose chunk completes a part holds the claim to
// assemble it from that same write (a write of its own to claim the part
// used to follow: one more per part), and then records the part, counts
// it in the session and marks it counted (3). The first part also claims
// and records the multipart upload (2). The bound is what is achieved; a
// write added to the path fails here.
func TestNativeWritesPerPart(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	const chunk = 1 << 20
	const parts = 4 // 18 chunks: parts (5 MiB at least) of 5, 5, 5 and 3
	data := randomBytes(17<<20+5, 24)
	up := e.createNative("writes.bin", int64(len(data)), chunk)
	ops.take()
	for n := 0; n < up.Chunks; n++ {
		if st, out := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	counts, _ := ops.take()
	t.Logf("%d chunks, %d parts: %v", up.Chunks, parts, counts)
	writes := counts["UpdateItem"] + counts["PutItem"] + counts["DeleteItem"] + counts["TransactWriteItems"]
	if want := up.Chunks + 3*parts + 2; writes > want {
		t.Errorf("%d chunks in %d parts cost %d writes, want at most %d", up.Chunks, parts, writes, want)
	}
	if g, q := reads(counts); g > up.Chunks+1 || q > 0 {
		t.Errorf("%d chunks cost %d GetItem and %d Query, want at most %d and 0", up.Chunks, g, q, up.Chunks+1)
	}
	e.completeNative(up.ID, data)
}

// TestNativeEndingReads counts the reads of the requests that end a
// native upload: the sweep expiring it (the first upload past its expiry,
// so the sweep finds that one alone), completing it, and aborting it.
// Each reads the session it ends once to judge it (the abort and the
// sweep once more, after the write that ends it, to release what it
// stored). The write that ends it used to be preceded by a read of the
// session, to find an identifier record to close (which a native upload
// does not have): 1 GetItem more on each path.
func TestNativeEndingReads(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	const chunk = 1 << 20
	data := randomBytes(6<<20+9, 25) // two parts
	send := func(name string) nativeUpload {
		up := e.createNative(name, int64(len(data)), chunk)
		for n := 0; n < up.Chunks; n++ {
			if st, out := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
				t.Fatalf("%s, chunk %d: %d %v", name, n, st, out)
			}
		}
		return up
	}
	check := func(what string, wantGet, wantQuery int) {
		t.Helper()
		counts, _ := ops.take()
		t.Logf("%s: %v", what, counts)
		if g, q := reads(counts); g > wantGet || q > wantQuery {
			t.Errorf("%s cost %d GetItem and %d Query, want at most %d and %d", what, g, q, wantGet, wantQuery)
		}
	}

	send("expire.bin")
	e.clock.Advance(25 * time.Hour)
	ops.take()
	if st, err := e.svc.Engine.Sweep(context.Background(), 10); err != nil || st.Expired != 1 {
		t.Fatalf("sweep: %+v %v, want one upload expired", st, err)
	}
	// The session, before it is ended and after (2); the sweep's index,
	// once per shard (8), and the part records once.
	check("sweep", 2, 8+1)

	up := send("complete.bin")
	ops.take()
	e.completeNative(up.ID, data)
	// The session (1), and its part records listed once.
	check("completion", 1, 1)

	up = send("abort.bin")
	ops.take()
	if st := e.call("DELETE", "/v1/uploads/"+up.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("abort: %d", st)
	}
	// The session, before the abort and after it (2); deleting the part
	// records queries them once.
	check("abort", 2, 1)
}

// TestMultipleUploadWrites uploads a file through MultipleUpload, in
// order, with a pause that makes a chunk move the expiry, and counts the
// writes. MultipleUpload finds its upload by reading the session (for
// the count of chunks in), never from the identifier's record, so the
// record carries the part plan and the upload id only: no copy of the
// session to keep up. Keeping one used to cost a write when the
// multipart upload started, one per expiry moved, and one at completion
// (3 here). Resumable.js and Flow.js, which do read the copy, keep it
// (binding_test.go).
func TestMultipleUploadWrites(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	f := newMUFile(randomBytes(6<<20+5, 26), "writes.bin", "writes-1", 1<<20) // 7 chunks, parts of 5 and 2
	const parts = 2
	ops.take()
	var a muAnswer
	for i := range f.count {
		if i == 3 {
			e.clock.Advance(2 * time.Hour) // past a 24th of the expiry: this chunk moves it
		}
		var st int
		if st, a = e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %+v", i, st, a)
		}
	}
	counts, _ := ops.take()
	e.checkFinished(a, f.name, f.data)
	t.Logf("%d chunks, %d parts: %v", f.count, parts, counts)
	writes := counts["UpdateItem"] + counts["PutItem"] + counts["DeleteItem"] + counts["BatchWriteItem"] + counts["TransactWriteItems"]
	// The session and its identifier's record (2); a write per chunk;
	// per part, the writes that record it, count it and mark it counted
	// (3); claiming and recording the multipart upload (2); moving the
	// expiry (1); beginning and finishing the completion (2).
	if want := 2 + f.count + 3*parts + 2 + 1 + 2; writes > want {
		t.Errorf("%d chunks in %d parts cost %d writes, want at most %d", f.count, parts, writes, want)
	}
	recs := e.identifierRecords()
	if len(recs) != 1 {
		t.Fatalf("%d identifier records, want 1", len(recs))
	}
	for name := range recs[0] {
		switch name {
		case "pk", "sk", "id", "size", "chunkSize", "chunks", "cpp", "parts":
		default:
			t.Errorf("the identifier record has %s: a copy of the session nothing reads", name)
		}
	}
}
