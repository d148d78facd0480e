package main

// Regression tests for the service bugs the soak found. Each aims one
// fault — a write that takes effect but whose answer is lost — at one
// request, through the real SDK and its standard retryer, and checks that
// the upload still finishes and nothing leaks. Before the engine learnt to
// recognise its own earlier attempt, every one of them failed.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/local/faultproxy"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// reproEnv is the service with one CutAfter fault aimed at the first
// request match accepts.
func reproEnv(t *testing.T, match func(faultproxy.Request) bool) (*env, *caller) {
	t.Helper()
	return reproEnvN(t, match, 1)
}

// reproEnvN is reproEnv with CutAfter faults aimed at the first n requests
// match accepts.
func reproEnvN(t *testing.T, match func(faultproxy.Request) bool, n int) (*env, *caller) {
	t.Helper()
	var log io.Writer
	if testing.Verbose() {
		log = &testWriter{t}
	}
	e, err := setUp(context.Background(), Config{Concurrency: 1, FaultRate: 1, Faults: []faultproxy.Kind{faultproxy.CutAfter},
		FaultMatch: match, FaultLimit: int64(n), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tearDown)
	return e, &caller{base: e.url, hc: e.hc, st: newStats()}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// dynamoWrite matches the DynamoDB UpdateItem whose input contains all of parts.
func dynamoWrite(parts ...string) func(faultproxy.Request) bool {
	return func(r faultproxy.Request) bool {
		if r.Operation != "UpdateItem" {
			return false
		}
		for _, p := range parts {
			if !bytes.Contains(r.Body, []byte(p)) {
				return false
			}
		}
		return true
	}
}

func send(t *testing.T, c *caller, req request) reply {
	t.Helper()
	r, err := c.do(context.Background(), newRand(1, 1), req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	return r
}

func createNative(t *testing.T, c *caller, size int) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":"r.bin","size":%d,"chunkSize":%d}`, size, size)
	r := send(t, c, request{method: "POST", path: "/v1/uploads", header: map[string]string{"Content-Type": "application/json"}, body: []byte(body)})
	var v struct{ ID string }
	if r.status != 201 || json.Unmarshal(r.body, &v) != nil {
		t.Fatalf("create: %s", r)
	}
	return v.ID
}

// A chunk whose RecordChunk answer is lost: the SDK retries the
// UpdateItem, its condition fails on the chunk the first attempt
// recorded, AddChunk takes that for a duplicate and deletes the staged
// object — the one the part record now points at. The part can never be
// assembled: every later request 503s and the upload cannot complete.
func TestRecordChunkAnswerLost(t *testing.T) {
	_, c := reproEnv(t, dynamoWrite("SET #c = :c"))
	data := bytes.Repeat([]byte("x"), 1000)
	id := createNative(t, c, len(data))
	put := request{method: "PUT", path: "/v1/uploads/" + id + "/chunks/0", body: data}
	first := send(t, c, put)
	again := send(t, c, put)
	var r reply
	for i := 0; i < 3; i++ {
		if r = send(t, c, request{method: "POST", path: "/v1/uploads/" + id + "/complete"}); r.status == 200 {
			return
		}
	}
	t.Fatalf("chunk: %s; chunk again: %s; complete (3 tries, no faults): %s", first, again, r)
}

// A sequential chunk whose CommitAppend answer is lost: the retry's
// condition fails on the offset the first attempt moved, Append answers
// "offset mismatch" and deletes the piece that the session's pending list
// now names. jQuery-File-Upload is even told its bytes are stored (a copy
// "won the race"); the part of those bytes can never be assembled.
func TestCommitAppendAnswerLost(t *testing.T) {
	_, c := reproEnv(t, dynamoWrite("#off = :old", `":old":{"N":"0"}`))
	data := bytes.Repeat([]byte("y"), 200_000)
	chunk := func(start int) request {
		return request{method: "PUT", path: "/fileupload", body: data[start : start+100_000], header: map[string]string{
			"Content-Type":        "application/octet-stream",
			"Content-Disposition": `attachment; filename="r.bin"`,
			"Content-Range":       fmt.Sprintf("bytes %d-%d/%d", start, start+99_999, len(data)),
		}}
	}
	first := send(t, c, chunk(0))
	var r reply
	for i := 0; i < 3; i++ {
		if r = send(t, c, chunk(100_000)); r.status == 200 && strings.Contains(string(r.body), `"key"`) {
			return
		}
	}
	t.Fatalf("first chunk: %s (Range %q); last chunk (3 tries, no faults): %s", first, first.header.Get("Range"), r)
}

// A sequential step whose first attempt takes effect and whose every
// answer is lost: the SDK gives up, and the request cannot tell whether
// the step was applied. It used to drop its staged piece as if refused —
// the piece the session now counts as the file's first bytes — so the
// part could never be assembled and the upload never completed.
func TestCommitAppendOutcomeUnknown(t *testing.T) {
	_, c := reproEnvN(t, dynamoWrite("#off = :old", `":old":{"N":"0"}`), 3)
	data := bytes.Repeat([]byte("u"), 200_000)
	chunk := func(start int) request {
		return request{method: "PUT", path: "/fileupload", body: data[start : start+100_000], header: map[string]string{
			"Content-Type":        "application/octet-stream",
			"Content-Disposition": `attachment; filename="u.bin"`,
			"Content-Range":       fmt.Sprintf("bytes %d-%d/%d", start, start+99_999, len(data)),
		}}
	}
	first := send(t, c, chunk(0))
	if first.status < 500 {
		t.Fatalf("first chunk with every answer lost: %s, want a 5xx", first)
	}
	var r reply
	for i := 0; i < 3; i++ {
		if r = send(t, c, chunk(100_000)); r.status == 200 && strings.Contains(string(r.body), `"key"`) {
			return
		}
	}
	t.Fatalf("first chunk: %s; last chunk (3 tries, no faults): %s", first, r)
}

// resumableChunk is Resumable.js's octet POST (or test GET) of the only
// chunk of a 1,000-byte file.
func resumableChunk(method string, data []byte) request {
	q := url.Values{
		"resumableChunkNumber": {"1"}, "resumableChunkSize": {"1000"}, "resumableCurrentChunkSize": {strconv.Itoa(len(data))},
		"resumableTotalSize": {strconv.Itoa(len(data))}, "resumableIdentifier": {"1000-rbin"}, "resumableFilename": {"r.bin"},
		"resumableRelativePath": {"r.bin"}, "resumableTotalChunks": {"1"}, "resumableType": {""},
	}
	if method == "GET" {
		return request{method: "GET", path: "/resumable?" + q.Encode()}
	}
	return request{method: "POST", path: "/resumable?" + q.Encode(), header: map[string]string{"Content-Type": "application/octet-stream"}, body: data}
}

// The last chunk's ClaimPart answer is lost: the retry's condition fails
// on the request's own claim, assemble returns -1 ("another request holds
// it") and the chunk is answered 200 with the upload open. Nobody
// assembles the part. Resumable.js has every chunk acknowledged and is
// done; and when it comes back after the claim lapsed, the test GET still
// answers 200 (hasChunk counts a recorded chunk of an unassembled part as
// there), so it never sends the chunk that would recover the part.
func TestClaimPartAnswerLost(t *testing.T) {
	e, c := reproEnv(t, dynamoWrite("SET claim = :t"))
	data := bytes.Repeat([]byte("z"), 1000)
	post := send(t, c, resumableChunk("POST", data))
	e.clock.advance(e.opt.ClaimTimeout + time.Second)
	test := send(t, c, resumableChunk("GET", data))
	if !strings.Contains(string(post.body), `"complete"`) {
		t.Errorf("the only chunk was answered %s: not complete, and no request is assembling it", post)
	}
	if test.status == 200 && !strings.Contains(string(test.body), `"complete"`) {
		t.Errorf("after the lost claim lapsed, the test GET answers %s: the client skips the chunk and the upload never completes", test)
	}
}

// The RecordPart answer is lost: the part is uploaded and recorded, but
// the retry's condition (the claim, which the first attempt removed)
// fails, so the request errs (503) before counting the part. The
// client's retry is a duplicate of an assembled part and is answered 200,
// upload open: nothing counts the part for ClaimTimeout, the file is not
// completed, and the client is done.
func TestRecordPartAnswerLost(t *testing.T) {
	_, c := reproEnv(t, dynamoWrite("SET etag = :e"))
	data := bytes.Repeat([]byte("w"), 1000)
	first := send(t, c, resumableChunk("POST", data))
	retry := send(t, c, resumableChunk("POST", data))
	if retry.status != 200 || !strings.Contains(string(retry.body), `"complete"`) {
		t.Fatalf("chunk: %s; its retry: %s — the file is not complete and the client has every chunk acknowledged", first, retry)
	}
}

// The CreateMultipartUpload answer is lost: the SDK's retry starts a
// second multipart upload, which is the one recorded. The first is known
// to nobody: neither completion nor the sweep aborts it, and its parts
// (none here; any that raced it) stay billed until a lifecycle rule, if
// any, removes them.
func TestCreateMultipartAnswerLost(t *testing.T) {
	e, c := reproEnv(t, func(r faultproxy.Request) bool { return r.Method == "POST" && strings.Contains(r.URI, "?uploads") })
	data := bytes.Repeat([]byte("v"), 1000)
	id := createNative(t, c, len(data))
	send(t, c, request{method: "PUT", path: "/v1/uploads/" + id + "/chunks/0", body: data})
	done := send(t, c, request{method: "POST", path: "/v1/uploads/" + id + "/complete"})
	e.clock.advance(e.opt.Expiry + time.Hour)
	if _, err := e.engine.Sweep(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	out, err := e.s3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Uploads); n != 0 {
		t.Fatalf("completion answered %d; after the sweep %d multipart upload(s) are still open under %s", done.status, n, *out.Uploads[0].Key)
	}
}

// The BeginComplete answer is lost: the retry's condition fails on the
// request's own completion claim, so completion answers 503 (busy). The
// client's retry finds the upload "completing" and CompleteStream answers
// 400 "already marked complete" — even after the claim lapsed — so the
// drf (or django) client stops. Nobody finishes the upload; the sweep
// later expires it and deletes its data.
func TestBeginCompleteAnswerLost(t *testing.T) {
	e, c := reproEnv(t, dynamoWrite("#s = :open OR (#s = :completing"))
	data := bytes.Repeat([]byte("u"), 1000)
	body, ct := (&drfClient{f: &file{data: data, name: "r.bin"}}).form([][2]string{{"filename", "r.bin"}}, data)
	put := send(t, c, request{method: "PUT", path: "/drf/uploads", body: body,
		header: map[string]string{"Content-Type": ct, "Content-Range": "bytes 0-999/1000"}})
	var u struct{ ID, URL string }
	if put.status != 200 || json.Unmarshal(put.body, &u) != nil {
		t.Fatalf("PUT: %s", put)
	}
	sum := md5.Sum(data)
	complete := request{method: "POST", path: u.URL, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		body: []byte("md5=" + hex.EncodeToString(sum[:]))}
	first := send(t, c, complete)
	retry := send(t, c, complete)
	e.clock.advance(e.opt.ClaimTimeout + time.Second)
	later := send(t, c, complete)
	if _, _, err := e.fetch(context.Background(), upload.ObjectKey(u.ID, "r.bin")); err != nil {
		t.Fatalf("complete: %s; retry: %s; after the claim lapsed: %s; and there is no object: %v", first, retry, later, err)
	}
}

// A file finished, but the answer of the request that finished it was
// lost; the next sweep forgets the complete upload and frees its
// identifier at once (RecordComplete makes it due immediately). The
// client re-sends the chunk whose answer it lacks (the test GET now says
// 204): that starts a new upload holding only that chunk, which is
// acknowledged and never completes. The README's "a test GET for a
// finished file answers the same JSON" holds only until the next sweep.
func TestSweepForgetsFinishedIdentifier(t *testing.T) {
	e, c := reproEnv(t, func(faultproxy.Request) bool { return false })
	data := bytes.Repeat([]byte("t"), 2000)
	chunk := func(method string, n int) request {
		q := url.Values{
			"resumableChunkNumber": {strconv.Itoa(n)}, "resumableChunkSize": {"1000"}, "resumableCurrentChunkSize": {"1000"},
			"resumableTotalSize": {"2000"}, "resumableIdentifier": {"2000-rbin"}, "resumableFilename": {"r.bin"},
			"resumableRelativePath": {"r.bin"}, "resumableTotalChunks": {"2"}, "resumableType": {""},
		}
		if method == "GET" {
			return request{method: "GET", path: "/resumable?" + q.Encode()}
		}
		return request{method: "POST", path: "/resumable?" + q.Encode(), header: map[string]string{"Content-Type": "application/octet-stream"}, body: data[(n-1)*1000 : n*1000]}
	}
	send(t, c, chunk("POST", 1))
	lost := send(t, c, chunk("POST", 2)) // finishes the file; say its answer never reached the client
	e.clock.advance(time.Second)
	if _, err := e.engine.Sweep(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	test := send(t, c, chunk("GET", 2))
	again := send(t, c, chunk("POST", 2))
	if !strings.Contains(string(again.body), `"complete"`) {
		t.Fatalf("the chunk that finished the file: %s; after a sweep its test GET answers %d and sending it again answers %s — a new upload, never to complete", lost, test.status, again)
	}
}

// deleteHook runs before once, just before the first DeleteSession.
type deleteHook struct {
	upload.Sessions
	before func(id string)
}

func (h *deleteHook) DeleteSession(ctx context.Context, id string) error {
	if f := h.before; f != nil {
		h.before = nil
		f(id)
	}
	return h.Sessions.DeleteSession(ctx, id)
}

// The BindIdentifier answer is lost: the retry's condition fails on the
// binding the first attempt wrote, Open concludes another request bound
// the identifier first and deletes its new session — the one the
// identifier now points at. A concurrent chunk of the same file that found
// the upload by its identifier in the meantime is stored in that session
// and acknowledged; Open then binds a fresh session without it. The
// client never re-sends the acknowledged chunk, so the file never
// completes, and the chunk's staged object and part record outlive their
// deleted session: no sweep ever finds them.
func TestBindIdentifierAnswerLost(t *testing.T) {
	e, _ := reproEnv(t, func(faultproxy.Request) bool { return false })
	ctx := context.Background()
	p, err := faultproxy.New(faultproxy.Options{Backend: faultproxy.DynamoDB, Target: e.stack.DynamoEndpoint, Rate: 1,
		Kinds: []faultproxy.Kind{faultproxy.CutAfter}, Limit: 1,
		Match: func(r faultproxy.Request) bool {
			return r.Operation == "PutItem" && bytes.Contains(r.Body, []byte(`"I#`))
		}})
	if err != nil {
		t.Fatal(err)
	}
	purl, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	db := dynamodb.NewFromConfig(e.stack.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(purl) })
	hook := &deleteHook{Sessions: dynamo.New(db, e.table)}
	engine := upload.New(hook, s3store.New(e.s3, e.bucket), e.opt)
	data := bytes.Repeat([]byte("s"), 2000)
	req := upload.NewUpload{Owner: "o", Identifier: "2000-sbin", Name: "s.bin", AutoComplete: true,
		Geometry: upload.Geometry{Size: 2000, ChunkSize: 1000, Chunks: 2}}
	var orphan string
	var second upload.ChunkResult
	hook.before = func(string) { // chunk 2's request, running meanwhile
		s, err := engine.Open(ctx, req)
		if err != nil {
			t.Fatalf("chunk 2: %v", err)
		}
		orphan = s.ID
		if second, err = engine.AddChunk(ctx, s, 1, data[1000:]); err != nil {
			t.Fatalf("chunk 2: %v", err)
		}
	}
	s, err := engine.Open(ctx, req) // chunk 1's request: its binding's answer is lost
	if err != nil {
		t.Fatalf("chunk 1: %v", err)
	}
	if orphan == "" {
		// Open knew its own binding and deleted nothing; chunk 2 comes
		// after, into the one upload.
		if second, err = engine.AddChunk(ctx, s, 1, data[1000:]); err != nil {
			t.Fatalf("chunk 2: %v", err)
		}
	}
	if _, err := engine.AddChunk(ctx, s, 0, data[:1000]); err != nil {
		t.Fatalf("chunk 1: %v", err)
	}
	st, err := engine.Status(ctx, "o", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(e.opt.Expiry + time.Hour)
	if _, err := engine.Sweep(ctx, 100); err != nil {
		t.Fatal(err)
	}
	left, _ := e.list(ctx, "staging/"+orphan+"/")
	if len(st.Missing) > 0 || len(left) > 0 {
		t.Fatalf("chunk 2 was acknowledged (stored %v) into upload %s, which Open then deleted; the identifier's upload %s is missing chunks %v; after the sweep %d staged object(s) of the deleted upload remain",
			second.Stored, orphan, s.ID, st.Missing, len(left))
	}
}

// An upload that finishes by itself whose completion failed (the write
// that starts it carried out three times, each answer lost, so the
// request gave up with 503) and whose client went away: the final sweep
// completes it, and its cleanup is due one expiry period after that. The
// soak's sweep must run that cleanup too, or it reports the completed
// upload's session, part record and any stray multipart upload as left
// behind (make soak-hard, seed 4242) — also when the sweep's own
// completion took effect with its answer lost, so that the sweep counted
// an error, not a completion (seed 90210).
func TestSweepCompletedUploadIsCleanedUp(t *testing.T) {
	begin := func(r faultproxy.Request) bool { return dynamoWrite("SET #s = :completing, ctoken")(r) }
	finish := func(r faultproxy.Request) bool { return dynamoWrite("SET #s = :complete, etag")(r) }
	for _, tc := range []struct {
		name      string
		faults    int
		match     func() func(faultproxy.Request) bool
		completed int
	}{
		{"completed by the sweep", 3, func() func(faultproxy.Request) bool { return begin }, 1},
		{"completed by the sweep, its answer lost", 6, func() func(faultproxy.Request) bool {
			n := 0 // the chunk's three begins, then the sweep's three records of the completion
			return func(r faultproxy.Request) bool {
				if n < 3 && begin(r) || n >= 3 && finish(r) {
					n++
					return true
				}
				return false
			}
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, c := reproEnvN(t, tc.match(), tc.faults)
			f := newFile(0, 0, dResumable, 1, 1000, 0)
			rc := f.client.(*resumableClient)
			if r := send(t, c, rc.upload(1)); r.status < 500 {
				t.Fatalf("the only chunk, with its completion failing: %s, want a 5xx", r)
			}
			ctx := context.Background()
			rep := &Report{st: newStats()}
			if err := e.sweep(ctx, rep); err != nil {
				t.Fatal(err)
			}
			if rep.SweepAtEnd.Completed != tc.completed {
				t.Fatalf("the sweep counted %d completions, want %d", rep.SweepAtEnd.Completed, tc.completed)
			}
			if err := e.orphans(ctx, nil, rep); err != nil {
				t.Fatal(err)
			}
			if n := rep.Orphaned(); n != 0 {
				t.Fatalf("%d left behind: %+v", n, rep.Orphans)
			}
		})
	}
}
