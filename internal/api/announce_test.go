package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"chunkup/internal/local/eventbus"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
)

// eventDetail is an event's detail as a consumer reads it.
type eventDetail struct {
	ID          string            `json:"id"`
	Owner       string            `json:"owner"`
	Bucket      string            `json:"bucket"`
	Key         string            `json:"key"`
	Name        string            `json:"name"`
	Size        int64             `json:"size"`
	ContentType string            `json:"contentType"`
	Dialect     string            `json:"dialect"`
	Checksums   map[string]string `json:"checksums"`
	Metadata    map[string]string `json:"metadata"`
	CreatedAt   string            `json:"createdAt"`
	CompletedAt string            `json:"completedAt"`
	EndedAt     string            `json:"endedAt"`
}

// events returns the events the local EventBridge took, of detail-type
// kind, with their details.
func (e *env) events(kind upload.EventType) []eventDetail {
	e.t.Helper()
	var out []eventDetail
	for _, ev := range e.bus.Events() {
		if ev.Source != "chunkup" || ev.EventBusName != "default" {
			e.t.Fatalf("event from %q on bus %q, want chunkup on default", ev.Source, ev.EventBusName)
		}
		if ev.DetailType != string(kind) {
			continue
		}
		var d eventDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			e.t.Fatalf("detail %s: %v", ev.Detail, err)
		}
		out = append(out, d)
	}
	return out
}

// oneCompleted checks that exactly one "Upload Completed" event went out
// for the object at key, with its size, CRC64NVME and dialect, and
// returns it.
func (e *env) oneCompleted(key string, data []byte, dialect string) eventDetail {
	e.t.Helper()
	var mine []eventDetail
	for _, d := range e.events(upload.EventCompleted) {
		if d.Key == key {
			mine = append(mine, d)
		}
	}
	if len(mine) != 1 {
		e.t.Fatalf("%s: %d Upload Completed events for %s, want 1 (all: %+v)", dialect, len(mine), key, e.bus.Events())
	}
	d := mine[0]
	_, crc := e.object(key)
	if d.Size != int64(len(data)) || d.Checksums["crc64nvme"] != crc || crc == "" || d.Dialect != dialect ||
		d.Bucket != e.bucket || !strings.HasPrefix(key, "uploads/"+d.ID+"/") || d.Owner != "anonymous" || d.CompletedAt == "" {
		e.t.Fatalf("%s: event %+v; want size %d, crc64nvme %s, bucket %s", dialect, d, len(data), crc, e.bucket)
	}
	return d
}

// TestOneEventPerCompletedUpload: an upload finished in each dialect
// sends exactly one "Upload Completed" event, with the object's key,
// size and CRC64NVME and the dialect's name; a refused upload and an
// aborted one send none.
func TestOneEventPerCompletedUpload(t *testing.T) {
	e := newEnvWith(t, envOptions{events: true})

	data := randomBytes(3<<20+17, 201)
	body, _ := json.Marshal(map[string]any{"name": "n.bin", "size": len(data), "chunkSize": 1 << 20, "metadata": map[string]string{"album": "summer-2024"}})
	var up nativeUpload
	if st := e.call("POST", "/v1/uploads", bytes.NewReader(body), &up); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	for n := 0; n < up.Chunks; n++ {
		if st, out := e.putNative(up.ID, n, chunkOf(data, 1<<20, n)); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	done := e.completeNative(up.ID, data)
	if d := e.oneCompleted(done.Key, data, "native"); d.Metadata["album"] != "summer-2024" || d.Name != "n.bin" {
		t.Fatalf("native event lacks the client's metadata or name: %+v", d)
	}
	e.completeNative(up.ID, data) // completing again sends nothing more
	e.oneCompleted(done.Key, data, "native")

	for _, dialect := range autoDialects {
		f := e.autoFile(dialect, dialect+".bin", 2<<20+5, 202)
		e.sendAllBut(f)
		st, out := f.send(f.chunks)
		e.checkAutoDone(dialect, st, out, f.data)
		e.oneCompleted(out["key"].(string), f.data, dialect)
	}

	mu := randomBytes(300_000, 203)
	if st, a := e.muWhole("mu.bin", "application/octet-stream", mu); st != 200 || !a.done() {
		t.Fatalf("multipleupload: %d %v", st, a)
	} else {
		e.oneCompleted(a.Key, mu, "multipleupload")
	}

	dj := randomBytes(2_500_000, 204)
	id := e.djangoUpload("dj.bin", dj, 1_000_000, len(dj))
	st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(dj)}})
	if st != 200 {
		t.Fatalf("django complete: %d %+v", st, a)
	}
	if d := e.oneCompleted(a.Key, dj, "django"); d.Checksums["md5"] != md5Hex(dj) {
		t.Fatalf("django event's checksums %v lack the md5 chunkup computed", d.Checksums)
	}

	drf := randomBytes(2_500_000, 205)
	u := e.drfUploadAll("drf.bin", drf, 1_000_000)
	sum := md5.Sum(drf)
	e.drfComplete(u.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).upload(t)
	e.oneCompleted(upload.ObjectKey(u.ID, "drf.bin"), drf, "drf")

	fu := fuFile{name: "fu.bin", data: randomBytes(2_500_000, 206), chunk: 1 << 20}
	fa, _ := e.fuUpload(fu, 0)
	e.fuFinished(fa, fu)
	e.oneCompleted(fa.Files[0].Key, fu.data, "fileupload")

	tu := randomBytes(2_200_000, 207)
	e.oneCompleted(e.tusFinished(e.tusSend(e.tusCreate(len(tu), "filename "+b64("tus.bin")), tu, 0, 1<<20), tu), tu, "tus")
	// A concatenation is one file to the app: one event, for the final
	// upload, none for its partial uploads.
	p1, p2 := randomBytes(5<<20, 208), randomBytes(300_000, 209)
	partials := []string{e.tusPartial(p1, 1<<20), e.tusPartial(p2, 1<<20)}
	final := e.tusDo("POST", "/files", map[string]string{"Upload-Concat": "final;" + strings.Join(partials, " ")}, nil).want(t, "create final", 201)
	joined := append(bytes.Clone(p1), p2...)
	finalKey := e.tusFinished(final, joined)
	e.oneCompleted(finalKey, joined, "tus")
	for _, d := range e.events(upload.EventCompleted) {
		for _, p := range partials {
			if strings.HasSuffix(p, "/"+d.ID) {
				t.Errorf("an Upload Completed event for partial upload %s: %+v", p, d)
			}
		}
	}

	co := randomBytes(5<<20+4321, 210)
	c := e.companionCreate("companion.bin")
	if _, st, msg := e.companionComplete(c, e.sendParts(c, co, 5<<20, 4321)); st != 200 {
		t.Fatalf("companion completion: %d %s", st, msg)
	}
	e.oneCompleted(c.Key, co, "companion")

	before := len(e.bus.Events())
	big, _ := json.Marshal(map[string]any{"name": "no.bin", "size": 10, "metadata": map[string]string{"x": strings.Repeat("v", upload.MaxMetadataBytes)}})
	var refused nativeError
	if st := e.call("POST", "/v1/uploads", bytes.NewReader(big), &refused); st != 400 || refused.Error.Limit != upload.MaxMetadataBytes {
		t.Fatalf("metadata over the limit: %d %+v, want 400 naming the limit", st, refused)
	}
	ab := e.createNative("gone.bin", 10, 10)
	if st, _ := e.putNative(ab.ID, 0, make([]byte, 10)); st != 200 {
		t.Fatalf("chunk: %d", st)
	}
	if st := e.call("DELETE", "/v1/uploads/"+ab.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("abort: %d", st)
	}
	evs := e.bus.Events()[before:]
	if len(evs) != 1 || evs[0].DetailType != string(upload.EventAborted) || !strings.Contains(string(evs[0].Detail), ab.ID) {
		t.Fatalf("after a refused and an aborted upload: %+v; want one Upload Aborted", evs)
	}
}

// failSettle makes the write that clears an owed event fail while
// armed, as a sender that dies after publishing would leave it.
type failSettle struct{ armed atomic.Bool }

func (f *failSettle) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("failSettle",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && f.armed.Load() && strings.Contains(*u.UpdateExpression, "REMOVE evOwed") {
					return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected fault: the clearing write failed")
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// TestEventOwedAfterACrashIsSent: the sender fails between the write that
// completes the upload and the one that clears the owed event (the
// publish fails; or it succeeds and the clearing write fails). The
// client's answer is the finished file; the sweep, once the event is
// due, sends it (again, in the second case: at least once, with the
// upload id to drop the repeat by), and clears it; the finished upload
// keeps its identifier for an expiry period as before.
func TestEventOwedAfterACrashIsSent(t *testing.T) {
	fail := &failSettle{}
	e := newEnvWith(t, envOptions{events: true, dynamo: fail.install})
	ctx := context.Background()

	// The publish fails: nothing went out.
	lost := e.autoFile("resumable", "lost.bin", 2<<20+9, 211)
	e.sendAllBut(lost)
	e.bus.FailNext(1)
	st, out := lost.send(lost.chunks)
	e.checkAutoDone("last chunk, the event failing", st, out, lost.data)
	if n := len(e.bus.Events()); n != 0 {
		t.Fatalf("%d events after a failed publish", n)
	}
	if s := e.sessionOf(lost.identifier); !s.EventOwed {
		t.Fatal("the session does not record the owed event")
	}

	// The publish succeeds, the clearing write fails.
	twice := e.autoFile("flow", "twice.bin", 2<<20+10, 212)
	e.sendAllBut(twice)
	fail.armed.Store(true)
	st, out2 := twice.send(twice.chunks)
	fail.armed.Store(false)
	e.checkAutoDone("last chunk, the clearing write failing", st, out2, twice.data)
	if n := len(e.events(upload.EventCompleted)); n != 1 {
		t.Fatalf("%d events, want the one published", n)
	}

	// Not yet due: a request may still be sending it.
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Announced != 0 {
		t.Fatalf("sweep at once: %+v %v; want nothing sent", st, err)
	}
	e.clock.Advance(time.Minute)
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Announced != 2 || st.Errors != 0 {
		t.Fatalf("sweep a minute later: %+v %v; want both owed events sent", st, err)
	}
	e.oneCompleted(out["key"].(string), lost.data, "resumable")
	var repeats []eventDetail
	for _, d := range e.events(upload.EventCompleted) {
		if d.Key == out2["key"] {
			repeats = append(repeats, d)
		}
	}
	if len(repeats) != 2 || repeats[0].ID != repeats[1].ID || repeats[0].CompletedAt != repeats[1].CompletedAt {
		t.Fatalf("the event published before the failed write: %+v; want it twice, with one id", repeats)
	}
	for _, f := range []autoFile{lost, twice} {
		s := e.sessionOf(f.identifier)
		if s.EventOwed || !s.ExpiresAt.Equal(s.CompletedAt.Add(24*time.Hour)) {
			t.Fatalf("%s after the sweep: owed %v, due %v; want cleared and due a day after completion %v", f.identifier, s.EventOwed, s.ExpiresAt, s.CompletedAt)
		}
	}
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Announced != 0 || len(e.bus.Events()) != 3 {
		t.Fatalf("a second sweep: %+v %v, %d events; want nothing more", st, err, len(e.bus.Events()))
	}
	// The identifier still finds the finished file, as before events.
	if st := lost.test(lost.chunks); st != 200 {
		t.Fatalf("test of the last chunk of the finished file: %d, want 200", st)
	}
	if _, err := dynamo.New(e.db, e.table).LookupIdentifier(ctx, "anonymous", lost.identifier); err != nil {
		t.Fatalf("the identifier was freed before its expiry period: %v", err)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Engine.Sweep(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamo.New(e.db, e.table).LookupIdentifier(ctx, "anonymous", lost.identifier); err == nil {
		t.Fatal("the identifier is still bound an expiry period after completion")
	}
	if n := len(e.bus.Events()); n != 3 {
		t.Fatalf("%d events after the last sweep, want 3", n)
	}
}

// TestEventOwedIsSentByTheNextRequest: a completion whose event failed
// is completed again by the client; that request sends the event.
func TestEventOwedIsSentByTheNextRequest(t *testing.T) {
	e := newEnvWith(t, envOptions{events: true})
	data := randomBytes(1<<20+3, 221)
	up := e.createNative("again.bin", int64(len(data)), 1<<20)
	for n := 0; n < up.Chunks; n++ {
		e.putNative(up.ID, n, chunkOf(data, 1<<20, n))
	}
	e.bus.FailNext(1)
	done := e.completeNative(up.ID, data)
	if n := len(e.bus.Events()); n != 0 {
		t.Fatalf("%d events after a failed publish", n)
	}
	e.completeNative(up.ID, data)
	e.oneCompleted(done.Key, data, "native")
}

// TestExpiredAndAbortedEvents: the sweep's expiry of an upload sends
// "Upload Expired"; an abort whose event fails is sent by the sweep
// before the upload leaves its index.
func TestExpiredAndAbortedEvents(t *testing.T) {
	e := newEnvWith(t, envOptions{events: true})
	ctx := context.Background()
	stale := e.createNative("stale.bin", 10, 10)
	ab := e.createNative("aborted.bin", 10, 10)
	e.bus.FailNext(1)
	if st := e.call("DELETE", "/v1/uploads/"+ab.ID, nil, nil); st/100 != 5 {
		t.Fatalf("abort with the event failing: %d, want a retryable 5xx", st)
	}
	if n := len(e.bus.Events()); n != 0 {
		t.Fatalf("%d events after a failed publish", n)
	}
	e.clock.Advance(25 * time.Hour)
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || st.Expired != 1 || st.Released != 2 || st.Errors != 0 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	byID := map[string]eventbus.Event{}
	for _, ev := range e.bus.Events() {
		var d eventDetail
		json.Unmarshal(ev.Detail, &d)
		if _, dup := byID[d.ID]; dup {
			t.Fatalf("two events for %s", d.ID)
		}
		byID[d.ID] = ev
	}
	if len(byID) != 2 || byID[stale.ID].DetailType != string(upload.EventExpired) || byID[ab.ID].DetailType != string(upload.EventAborted) {
		t.Fatalf("events %+v; want Upload Expired for %s and Upload Aborted for %s", e.bus.Events(), stale.ID, ab.ID)
	}
	if st, err := e.svc.Engine.Sweep(ctx, 10); err != nil || len(e.bus.Events()) != 2 {
		t.Fatalf("a second sweep: %+v %v; want no more events", st, err)
	}
}

// TestEventCostsOneWrite: with events on, finishing an upload costs one
// DynamoDB write more than without (the write that clears the owed
// event; the completion's own write records it) and reads nothing more;
// the bench's per-GiB counts can move by that write and the one
// PutEvents, per upload.
func TestEventCostsOneWrite(t *testing.T) {
	counts := map[bool]map[string]int{}
	for _, events := range []bool{false, true} {
		ops := newOpCounter()
		e := newEnvWith(t, envOptions{events: events, dynamo: ops.install})
		data := randomBytes(6<<20+7, 231)
		up := e.createNative("cost.bin", int64(len(data)), 1<<20)
		for n := 0; n < up.Chunks; n++ {
			e.putNative(up.ID, n, chunkOf(data, 1<<20, n))
		}
		ops.take()
		e.completeNative(up.ID, data)
		counts[events], _ = ops.take()
	}
	t.Logf("completion without events %v, with %v", counts[false], counts[true])
	writes := func(c map[string]int) int { return c["UpdateItem"] + c["PutItem"] + c["DeleteItem"] }
	if w0, w1 := writes(counts[false]), writes(counts[true]); w1 != w0+1 {
		t.Errorf("completion writes: %d without events, %d with; want exactly one more", w0, w1)
	}
	g0, q0 := reads(counts[false])
	if g1, q1 := reads(counts[true]); g1 != g0 || q1 != q0 {
		t.Errorf("completion reads with events %d GetItem, %d Query; without %d and %d", g1, q1, g0, q0)
	}
}
