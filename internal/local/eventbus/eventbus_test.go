package eventbus_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"chunkup/internal/local/eventbus"
)

// client is the SDK's EventBridge client, pointed at srv.
func client(srv *httptest.Server) *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
}

func entry(detail string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{
		Source: aws.String("chunkup"), DetailType: aws.String("Upload Completed"),
		Detail: aws.String(detail), EventBusName: aws.String("uploads"),
		Time: aws.Time(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)),
	}
}

// TestPutEventsThroughTheSDK: the SDK's own client puts events; the bus
// answers as EventBridge does (an id per entry; a failed entry, not a
// failed request, for one it cannot take), keeps each accepted one in
// EventBridge's delivery envelope, and forwards it to the URL it was
// given.
func TestPutEventsThroughTheSDK(t *testing.T) {
	forwarded := make(chan eventbus.Event, 4)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev eventbus.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || r.Method != "POST" {
			t.Errorf("forwarded %s: %v", r.Method, err)
		}
		forwarded <- ev
	}))
	defer sink.Close()
	bus := eventbus.New(eventbus.Options{ForwardTo: sink.URL})
	srv := httptest.NewServer(bus)
	defer srv.Close()
	eb := client(srv)
	ctx := context.Background()

	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		entry(`{"id":"u1","size":5}`), entry(`not json`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 1 || len(out.Entries) != 2 || aws.ToString(out.Entries[0].EventId) == "" ||
		aws.ToString(out.Entries[1].ErrorCode) != "MalformedDetail" {
		t.Fatalf("answer %+v; want the first entry taken and the second refused", out)
	}
	evs := bus.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events kept, want 1", len(evs))
	}
	ev := evs[0]
	if ev.ID != aws.ToString(out.Entries[0].EventId) || ev.Source != "chunkup" || ev.DetailType != "Upload Completed" ||
		string(ev.Detail) != `{"id":"u1","size":5}` || ev.EventBusName != "uploads" || ev.Version != "0" ||
		!ev.Time.Equal(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)) || ev.Account == "" || ev.Region != "us-east-1" {
		t.Fatalf("kept %+v", ev)
	}
	bus.Wait()
	select {
	case got := <-forwarded:
		if got.ID != ev.ID || string(got.Detail) != string(ev.Detail) || got.DetailType != ev.DetailType {
			t.Fatalf("forwarded %+v, want %+v", got, ev)
		}
	default:
		t.Fatal("nothing forwarded")
	}

	bus.FailNext(1)
	out, err = eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry(`{"id":"u2"}`)}})
	if err != nil || out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != "InternalFailure" {
		t.Fatalf("with a failure injected: %+v %v", out, err)
	}
	if n := len(bus.Events()); n != 1 {
		t.Fatalf("%d events kept after a failed entry, want 1", n)
	}

	_, err = eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 11)})
	if err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("11 entries: %v; want a ValidationException", err)
	}
	if _, err := eb.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{}); err == nil || !strings.Contains(err.Error(), "UnknownOperation") {
		t.Fatalf("another operation: %v; want UnknownOperationException", err)
	}
}

// TestListAndWatch: GET lists the events kept, oldest first, as JSON;
// with Accept: text/event-stream it sends them, then each new one.
func TestListAndWatch(t *testing.T) {
	bus := eventbus.New(eventbus.Options{Keep: 2})
	api := httptest.NewServer(bus)
	defer api.Close()
	list := httptest.NewServer(bus.ListHandler())
	defer list.Close()
	eb := client(api)
	ctx := context.Background()
	for _, d := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry(d)}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(list.URL)
	if err != nil {
		t.Fatal(err)
	}
	var kept []eventbus.Event
	json.NewDecoder(resp.Body).Decode(&kept)
	resp.Body.Close()
	if len(kept) != 2 || string(kept[0].Detail) != `{"n":2}` || string(kept[1].Detail) != `{"n":3}` {
		t.Fatalf("listed %+v; want the last two, oldest first", kept)
	}

	req, _ := http.NewRequest("GET", list.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err = http.DefaultClient.Do(req.WithContext(sctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var ev eventbus.Event
				json.Unmarshal([]byte(data), &ev)
				return string(ev.Detail)
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if a, b := next(), next(); a != `{"n":2}` || b != `{"n":3}` {
		t.Fatalf("stream began with %s, %s", a, b)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{entry(`{"n":4}`)}}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != `{"n":4}` {
		t.Fatalf("live event %s, want {\"n\":4}", got)
	}
	cancel()
	io.Copy(io.Discard, resp.Body)
}
