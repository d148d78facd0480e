package api_test

// How many DynamoDB reads a chunk costs. Reads are most of what an
// indexed upload pays DynamoDB for, and a read that grows with the file
// (a query of every part record on every chunk) makes a large upload's
// bill grow with the square of its chunk count. These tests count the
// engine's own requests, by operation, with middleware on its client.

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// opCounter counts the DynamoDB requests a client sends, by operation
// (a request the SDK retries counts once).
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func newOpCounter() *opCounter { return &opCounter{ops: map[string]int{}} }

// install adds the counting step to a client's options.
func (c *opCounter) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		count := middleware.InitializeMiddlewareFunc("CountOperations", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.ops[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		})
		return st.Initialize.Add(count, middleware.After)
	})
}

// take returns the counts since the last take and starts again from zero.
func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.ops)
	clear(c.ops)
	return out
}

// reads is the number of read requests in counts.
func reads(counts map[string]int) (getItem, query int) {
	return counts["GetItem"] + counts["BatchGetItem"], counts["Query"] + counts["Scan"]
}

// TestResumableReadsPerChunk uploads a file as Resumable.js does, one
// chunk at a time, each after its testChunks GET, and counts the reads
// each kind of request costs.
//
// A GET reads the identifier record, the session and the chunk's part
// (3 GetItem). A POST reads the identifier record and the session (2);
// assembling a part reads nothing more, since the claim's write returns
// the part (it used to read the part again: 1 GetItem more per part).
// Both bounds are what is achieved; a read added to either path fails
// here.
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
		for k, v := range ops.take() {
			gets[k] += v
		}
		if st, out := e.sendResumable(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %v", i, st, out)
		} else if i == n && out["state"] != "complete" {
			t.Fatalf("last chunk: %v, want the file complete", out)
		}
		for k, v := range ops.take() {
			posts[k] += v
		}
	}
	t.Logf("%d chunks: test GETs %v; POSTs %v", n, gets, posts)
	// The first GET finds no identifier (1 read); every other reads the
	// identifier, the session and the chunk's part (3 reads).
	if g, q := reads(gets); g > 3*n-2 || q > 0 {
		t.Errorf("%d test GETs cost %d GetItem and %d Query, want at most %d and 0", n, g, q, 3*n-2)
	}
	// Every POST reads the identifier and the session (2), the first one
	// only the identifier it then creates; the first part reads the
	// session once more to start the multipart upload, and completion
	// lists the parts once.
	if g, q := reads(posts); g > 2*n+1 || q > 1 {
		t.Errorf("%d chunk POSTs cost %d GetItem and %d Query, want at most %d and 1", n, g, q, 2*n+1)
	}
}
