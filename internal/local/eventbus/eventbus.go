// Package eventbus is a local stand-in for Amazon EventBridge, for the
// local stack only (it never ships): it takes PutEvents, in EventBridge's
// own wire protocol (AWS JSON 1.1, X-Amz-Target AWSEvents.PutEvents), so
// the service's own EventBridge client talks to it unchanged; it logs
// each event, keeps the last ones, shows them to watchers as they come,
// and can forward each, as EventBridge delivers it to a target, to a URL.
//
// It checks what EventBridge checks of an entry that chunkup could get
// wrong (source, detail-type, a JSON object as detail, sizes), but
// signatures not at all: it serves loopback only.
package eventbus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Event is an event as EventBridge delivers it to a target (its
// envelope), and as the stand-in keeps, shows and forwards it.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	// EventBusName is the bus the entry named (not part of EventBridge's
	// envelope; shown for the developer).
	EventBusName string `json:"eventBusName,omitempty"`
}

// Options configure a Bus.
type Options struct {
	// Keep is how many of the last events are kept (default 100).
	Keep int
	// ForwardTo, if set, is a URL each event is POSTed to, as JSON.
	ForwardTo string
	// Client sends the forwarded events (default: one with a 10 s timeout).
	Client *http.Client
	// Account and Region are what the envelopes say (default
	// 000000000000 and us-east-1).
	Account, Region string
	Logger          *slog.Logger
}

// Bus is the stand-in: an http.Handler of the PutEvents API.
type Bus struct {
	opt Options

	mu       sync.Mutex
	last     []Event
	watchers map[chan Event]struct{}
	failNext int
	forwards sync.WaitGroup
}

// New returns a bus.
func New(opt Options) *Bus {
	if opt.Keep <= 0 {
		opt.Keep = 100
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.Account == "" {
		opt.Account = "000000000000"
	}
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{opt: opt, watchers: map[chan Event]struct{}{}}
}

// Limits of PutEvents that the stand-in enforces, as EventBridge does.
const (
	maxEntries   = 10
	maxEntrySize = 256 << 10
)

// putEventsInput and putEventsOutput are PutEvents' request and answer.
type putEventsInput struct {
	Entries []struct {
		Source       string
		DetailType   string
		Detail       string
		EventBusName string
		Resources    []string
		Time         *float64 // seconds since the epoch, as JSON 1.1 sends a timestamp
	}
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putEventsOutput struct {
	FailedEntryCount int
	Entries          []resultEntry
}

// ServeHTTP answers PutEvents; any other operation is refused as
// EventBridge refuses an unknown one.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "UnknownOperationException", "only POST is served")
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "AWSEvents.PutEvents" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not served by the local EventBridge (only AWSEvents.PutEvents)", target))
		return
	}
	var in putEventsInput
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEntries*maxEntrySize+64<<10))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", "the body is not a PutEvents request: "+err.Error())
		return
	}
	if n := len(in.Entries); n < 1 || n > maxEntries {
		fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d entries: a request carries 1 to %d", n, maxEntries))
		return
	}
	out := putEventsOutput{Entries: make([]resultEntry, len(in.Entries))}
	for i, e := range in.Entries {
		if b.failing() {
			out.FailedEntryCount++
			out.Entries[i] = resultEntry{ErrorCode: "InternalFailure", ErrorMessage: "injected failure (FailNext)"}
			continue
		}
		ev, err := b.accept(e.Source, e.DetailType, e.Detail, e.EventBusName, e.Resources, e.Time)
		if err != nil {
			out.FailedEntryCount++
			out.Entries[i] = resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: err.Error()}
			continue
		}
		out.Entries[i] = resultEntry{EventID: ev.ID}
		b.record(ev)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

// accept checks one entry and makes it an event.
func (b *Bus) accept(source, detailType, detail, bus string, resources []string, at *float64) (Event, error) {
	switch {
	case source == "":
		return Event{}, fmt.Errorf("an entry needs a Source")
	case detailType == "":
		return Event{}, fmt.Errorf("an entry needs a DetailType")
	case len(source)+len(detailType)+len(detail) > maxEntrySize:
		return Event{}, fmt.Errorf("the entry is over the limit of %d bytes", maxEntrySize)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(detail), &obj); err != nil || obj == nil {
		return Event{}, fmt.Errorf("the Detail is not a JSON object")
	}
	if bus == "" {
		bus = "default"
	}
	when := time.Now().UTC()
	if at != nil {
		when = time.UnixMilli(int64(*at * 1000)).UTC()
	}
	if resources == nil {
		resources = []string{}
	}
	return Event{
		Version: "0", ID: newID(), DetailType: detailType, Source: source,
		Account: b.opt.Account, Time: when.Truncate(time.Second), Region: b.opt.Region,
		Resources: resources, Detail: json.RawMessage(detail), EventBusName: bus,
	}, nil
}

// record keeps, logs, shows and forwards an accepted event.
func (b *Bus) record(ev Event) {
	b.mu.Lock()
	b.last = append(b.last, ev)
	if over := len(b.last) - b.opt.Keep; over > 0 {
		b.last = append([]Event(nil), b.last[over:]...)
	}
	for c := range b.watchers {
		select {
		case c <- ev:
		default: // a watcher that does not keep up misses events; the list has them
		}
	}
	b.mu.Unlock()
	b.opt.Logger.Info("event", "bus", ev.EventBusName, "source", ev.Source, "detail-type", ev.DetailType, "detail", string(ev.Detail))
	if b.opt.ForwardTo != "" {
		b.forwards.Add(1)
		go func() {
			defer b.forwards.Done()
			b.forward(ev)
		}()
	}
}

// forward POSTs ev to the ForwardTo URL, once; a failure is logged.
func (b *Bus) forward(ev Event) {
	body, _ := json.Marshal(ev)
	resp, err := b.opt.Client.Post(b.opt.ForwardTo, "application/json", bytes.NewReader(body))
	if err != nil {
		b.opt.Logger.Warn("forward event", "to", b.opt.ForwardTo, "id", ev.ID, "err", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.opt.Logger.Warn("forward event", "to", b.opt.ForwardTo, "id", ev.ID, "status", resp.StatusCode)
	}
}

// Wait waits for the forwards under way to end.
func (b *Bus) Wait() { b.forwards.Wait() }

// Events returns the events kept, oldest first.
func (b *Bus) Events() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Event(nil), b.last...)
}

// FailNext makes the next n entries fail, as EventBridge answers an
// entry it could not take (InternalFailure, in a 200 answer): for tests
// of a sender that must try again.
func (b *Bus) FailNext(n int) {
	b.mu.Lock()
	b.failNext = n
	b.mu.Unlock()
}

func (b *Bus) failing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failNext > 0 {
		b.failNext--
		return true
	}
	return false
}

// Watch returns a channel of the events recorded from now on, until ctx
// is done.
func (b *Bus) Watch(ctx context.Context) <-chan Event {
	c := make(chan Event, 64)
	b.mu.Lock()
	b.watchers[c] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.watchers, c)
		b.mu.Unlock()
	}()
	return c
}

// ListHandler serves the events kept: GET answers them as a JSON array,
// oldest first; with Accept: text/event-stream, it sends them and then
// each new one as a server-sent event, until the client goes.
func (b *Bus) ListHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Header.Get("Accept") != "text/event-stream" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(b.Events())
			return
		}
		b.stream(w, r)
	})
}

func (b *Bus) stream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	live := b.Watch(r.Context())
	w.Header().Set("Content-Type", "text/event-stream")
	send := func(ev Event) {
		data, _ := json.Marshal(ev)
		fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.ID, data)
	}
	for _, ev := range b.Events() {
		send(ev)
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-live:
			send(ev)
			flusher.Flush()
		}
	}
}

func fail(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": msg})
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
