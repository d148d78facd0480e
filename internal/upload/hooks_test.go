package upload_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"chunkup/internal/upload"
	"chunkup/internal/upload/memstore"
)

// vetter is a pre-create hook that answers ans to every request.
type vetter struct{ ans upload.PreCreateAnswer }

func (v vetter) PreCreate(context.Context, upload.PreCreateRequest) (upload.PreCreateAnswer, error) {
	return v.ans, nil
}

// teller is an on-complete hook that counts its calls and answers each
// with the upload's id.
type teller struct {
	mu    sync.Mutex
	calls []string
}

func (h *teller) OnComplete(_ context.Context, req upload.CompleteRequest) (json.RawMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, req.ID)
	return json.RawMessage(`{"for": "` + req.ID + `"}`), nil
}

// withHooks is an env whose engine has the given hooks.
func withHooks(t *testing.T, pre upload.PreCreateHook, done upload.CompleteHook) *env {
	e := newEnv(t)
	e.opt.PreCreate, e.opt.OnComplete = pre, done
	e.engine = upload.New(e.sessions, e.blobs, e.opt)
	return e
}

// TestKeyPrefixes: the prefixes a pre-create hook may set, and the keys
// they make; a prefix chunkup cannot use fails the creation as a fault,
// not a refusal of the client, and creates nothing.
func TestKeyPrefixes(t *testing.T) {
	for prefix, want := range map[string]string{
		"":                       "uploads/",
		"users/alice":            "users/alice/",
		"users/alice/":           "users/alice/",
		"tenant-7/in_box(2)/":    "tenant-7/in_box(2)/",
		"uploads/x.y/":           "uploads/x.y/",
		"/abs/":                  "",
		"staging/x/":             "",
		"a//b/":                  "",
		"a/../b/":                "",
		"a/./b/":                 "",
		"sp ace/":                "",
		"ünï/":                   "",
		strings.Repeat("p", 600): "",
	} {
		e := withHooks(t, vetter{upload.PreCreateAnswer{KeyPrefix: prefix}}, nil)
		s, err := e.engine.Create(e.ctx, upload.NewUpload{Owner: owner, Name: "a b.bin", Geometry: newFile(1, 10, 1).g})
		if want == "" {
			if err == nil || upload.CodeOf(err) != upload.CodeInternal {
				t.Errorf("prefix %q: %v, want a fault", prefix, err)
			}
			if due, _ := e.sessions.ListExpired(e.ctx, e.clock.Now().Add(1<<40), 10); len(due) != 0 {
				t.Errorf("prefix %q: a session was created", prefix)
			}
			continue
		}
		if err != nil || s.Key != want+s.ID+"/a_b.bin" {
			t.Errorf("prefix %q: key %v (%v), want %s<id>/a_b.bin", prefix, s, err, want)
			continue
		}
		if id, ok := upload.IDOfKey(s.Key); !ok || id != s.ID {
			t.Errorf("IDOfKey(%q) = %q %v, want %s", s.Key, id, ok, s.ID)
		}
	}
}

// TestHookMetadata: the hook's metadata joins the client's, replacing
// an entry of the same name in any case; metadata over the limit is the
// hook's fault.
func TestHookMetadata(t *testing.T) {
	e := withHooks(t, vetter{upload.PreCreateAnswer{Metadata: map[string]string{"Album": "winter", "tenant": "acme"}}}, nil)
	s, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "a.bin", Size: 5, Metadata: map[string]string{"album": "summer", "camera": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"Album": "winter", "tenant": "acme", "camera": "x"}; len(s.Metadata) != 3 || s.Metadata["Album"] != "winter" || s.Metadata["camera"] != "x" || s.Metadata["tenant"] != "acme" {
		t.Errorf("metadata %v, want %v", s.Metadata, want)
	}
	e = withHooks(t, vetter{upload.PreCreateAnswer{Metadata: map[string]string{"big": strings.Repeat("v", upload.MaxMetadataBytes)}}}, nil)
	if _, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "a.bin", Size: 5}); upload.CodeOf(err) != upload.CodeInternal {
		t.Errorf("metadata over the limit: %v, want a fault", err)
	}
}

// TestRefusalStatus: a refusal's status defaults to 403, and one outside
// 400-499 is the hook's fault.
func TestRefusalStatus(t *testing.T) {
	for status, want := range map[int]int{0: 403, 402: 402, 451: 451, 200: 0, 500: 0} {
		e := withHooks(t, vetter{upload.PreCreateAnswer{Refuse: &upload.HookRefusal{Status: status, Message: "no"}}}, nil)
		_, err := e.engine.Create(e.ctx, upload.NewUpload{Owner: owner, Name: "a.bin", Geometry: newFile(1, 10, 1).g})
		ue, ok := upload.AsError(err)
		switch {
		case want == 0 && ok:
			t.Errorf("status %d: refusal %v, want a fault", status, ue)
		case want != 0 && (!ok || ue.Code != upload.CodeRefused || ue.Status != want || ue.Message != "no"):
			t.Errorf("status %d: %v, want upload_refused %d", status, err, want)
		}
	}
}

// TestOnCompleteOnce: the hook's answer is recorded with the completion,
// and a completion sent again answers it without calling the hook; a
// completion whose record failed calls it again (at least once) when the
// client retries, and one whose record took effect with its answer lost
// does not.
func TestOnCompleteOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault *memstore.Fault
		calls int
	}{
		{"no fault", nil, 1},
		{"the record fails", ptr(memstore.Fail), 2},
		{"the record's answer is lost", ptr(memstore.LoseAnswer), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &teller{}
			e := withHooks(t, nil, h)
			f := newFile(2, 1<<20, 9)
			s := e.create(f)
			e.put(s, f, 0)
			e.put(s, f, 1)
			if c.fault != nil {
				e.sessions.Inject("RecordComplete", *c.fault)
				if _, err := e.engine.Complete(e.ctx, owner, s.ID); err == nil {
					t.Fatal("the completion whose record failed succeeded")
				}
			}
			for range 2 {
				fin, err := e.engine.Complete(e.ctx, owner, s.ID)
				if err != nil || string(fin.App) != `{"for":"`+s.ID+`"}` {
					t.Fatalf("Complete: App %s (%v), want the hook's compacted answer", fin.App, err)
				}
			}
			if len(h.calls) != c.calls {
				t.Errorf("the hook was called %d times, want %d", len(h.calls), c.calls)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
