package api_test

// A Resumable.js or Flow.js chunk takes its upload from the identifier's
// record while that record says the upload is open, without reading the
// session. These tests hold it to its word: once the upload is aborted,
// expired or finished, no chunk lands in it, and while it lives the
// record keeps up with it (its expiry, its multipart upload).

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
)

// itemsOf lists the table items of upload id (session and part records)
// and its staged objects.
func (e *env) itemsOf(id string) []string {
	e.t.Helper()
	var out []string
	for k, v := range e.storage() {
		if strings.Contains(k, "U#"+id) || strings.Contains(k, "staging/"+id+"/") {
			out = append(out, k+" = "+v)
		}
	}
	slices.Sort(out)
	return out
}

// TestResumableChunkAfterAbort: an upload of Resumable.js's is aborted
// halfway, and caught before the abort's cleanup (which deletes its
// identifier's record) has run; its test GET then answers "send it" for
// a chunk it holds, the next chunk starts a new upload, and the aborted
// one receives nothing. Then the abort finishes, by the native DELETE.
func TestResumableChunkAfterAbort(t *testing.T) {
	e := newEnv(t, nil)
	f := resumableFile{data: randomBytes(7<<20+5, 31), name: "abort.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-abortbin"
	var first map[string]any
	for n := 1; n <= 3; n++ {
		var st int
		if st, first = e.sendResumable(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, first)
		}
	}
	old, _ := first["id"].(string)
	// What Abort does first; the cleanup comes after.
	store := dynamo.New(e.db, e.table)
	s, err := store.GetSession(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EndSession(context.Background(), s, []upload.State{upload.StateOpen}, upload.StateAborted, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := e.itemsOf(old)
	if st := e.testResumable(f, 2); st != http.StatusNoContent {
		t.Fatalf("test chunk 2 of the aborted upload: %d, want 204", st)
	}
	st, out := e.sendResumable(f, 4)
	if st != 200 || out["id"] == old {
		t.Fatalf("chunk after abort: %d %v, want it stored in a new upload, not %s", st, out, old)
	}
	if after := e.itemsOf(old); !slices.Equal(after, before) {
		t.Fatalf("the aborted upload changed: %v, then %v", before, after)
	}
	if st := e.call("DELETE", "/v1/uploads/"+old, nil, nil); st != http.StatusNoContent {
		t.Fatalf("abort %s: %d", old, st)
	}
}

// TestResumableChunkAfterExpiry: past its expiry an upload takes no
// chunk, even before the sweep has ended it.
func TestResumableChunkAfterExpiry(t *testing.T) {
	e := newEnv(t, nil)
	f := resumableFile{data: randomBytes(7<<20+5, 32), name: "late.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-latebin"
	_, first := e.sendResumable(f, 1)
	old, _ := first["id"].(string)
	e.clock.Advance(24*time.Hour + time.Minute)
	before := e.itemsOf(old)
	st, out := e.sendResumable(f, 2)
	if st != 200 || out["id"] == old {
		t.Fatalf("chunk after expiry: %d %v, want it stored in a new upload, not %s", st, out, old)
	}
	if after := e.itemsOf(old); !slices.Equal(after, before) {
		t.Fatalf("the expired upload changed: %v, then %v", before, after)
	}
}

// TestResumableBindingKeepsUp: a chunk that moves the upload's expiry
// moves the record's copy too, so that a chunk after the first expiry
// goes on in the same upload at the cost of reading the record alone;
// once the file is complete, a chunk sent again is answered with the
// finished file.
func TestResumableBindingKeepsUp(t *testing.T) {
	ops := newOpCounter()
	e := newEnvWith(t, envOptions{dynamo: ops.install})
	f := resumableFile{data: randomBytes(6<<20+5, 33), name: "slow.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-slowbin"
	_, first := e.sendResumable(f, 1)
	id, _ := first["id"].(string)
	e.clock.Advance(2 * time.Hour) // past a 24th of the expiry: chunk 2 extends it
	if st, out := e.sendResumable(f, 2); st != 200 || out["id"] != id {
		t.Fatalf("chunk 2: %d %v", st, out)
	}
	e.clock.Advance(23 * time.Hour) // past the first expiry, not the second
	ops.take()
	if st, out := e.sendResumable(f, 3); st != 200 || out["id"] != id {
		t.Fatalf("chunk 3, a day after chunk 1: %d %v, want it in %s", st, out, id)
	}
	if counts, _ := ops.take(); counts["GetItem"] != 1 {
		t.Errorf("chunk 3 read %d items, want 1 (the identifier's record)", counts["GetItem"])
	}
	last := e.sendResumableRest(f, 4)
	st, again := e.sendResumable(f, 2)
	if st != 200 || again["state"] != "complete" || again["key"] != last["key"] {
		t.Fatalf("chunk 2 after completion: %d %v, want the finished file %v", st, again, last["key"])
	}
	if st := e.testResumable(f, 2); st != 200 {
		t.Fatalf("test chunk 2 after completion: %d, want 200", st)
	}
	// The record no longer says the upload is open.
	out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{
		TableName: &e.table, FilterExpression: aws.String("sk = :i AND attribute_exists(openUntil)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":i": &types.AttributeValueMemberS{Value: "I"}},
	})
	if err != nil || len(out.Items) != 0 {
		t.Fatalf("identifier records still open after completion: %d, %v", len(out.Items), err)
	}
}

// identifierRecords reads every identifier record in the table.
func (e *env) identifierRecords() []map[string]types.AttributeValue {
	e.t.Helper()
	out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{
		TableName: &e.table, FilterExpression: aws.String("sk = :i"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":i": &types.AttributeValueMemberS{Value: "I"}},
	})
	if err != nil {
		e.t.Fatalf("scan identifier records: %v", err)
	}
	return out.Items
}

// TestResumableBindingOfOldSession: a session written before sessions
// said whether their identifier's record keeps a copy of them is taken
// to have one if it is indexed and has an identifier, as every such
// record then did; so ending it, as an abort or the sweep does with the
// session it read, still takes back its record's word that it is open.
func TestResumableBindingOfOldSession(t *testing.T) {
	e := newEnv(t, nil)
	f := resumableFile{data: randomBytes(6<<20+5, 34), name: "old.bin", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-oldsession"
	_, first := e.sendResumable(f, 1)
	id, _ := first["id"].(string)
	ctx := context.Background()
	if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &e.table, UpdateExpression: aws.String("REMOVE live"),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "U#" + id}, "sk": &types.AttributeValueMemberS{Value: "S"},
		},
		ConditionExpression: aws.String("attribute_exists(live)"),
	}); err != nil {
		t.Fatalf("make session %s look old: %v", id, err)
	}
	if recs := e.identifierRecords(); len(recs) != 1 || recs[0]["openUntil"] == nil {
		t.Fatalf("%d identifier records, want one that says the upload is open (openUntil)", len(recs))
	}
	store := dynamo.New(e.db, e.table)
	s, err := store.GetSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EndSession(ctx, s, []upload.State{upload.StateOpen}, upload.StateAborted, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if recs := e.identifierRecords(); len(recs) != 1 || recs[0]["openUntil"] != nil {
		t.Fatalf("%d identifier records after the upload ended, want one that no longer says it is open (openUntil)", len(recs))
	}
}
