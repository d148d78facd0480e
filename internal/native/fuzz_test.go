package native

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"chunkup/internal/upload"
)

// nativeError is the one shape of every native error, decoded strictly.
type nativeError struct {
	Error struct {
		Code    upload.Code    `json:"code"`
		Message string         `json:"message"`
		Limit   int64          `json:"limit"`
		Missing []upload.Range `json:"missing"`
	} `json:"error"`
}

// checkRefusal checks a native error answer: JSON in the one error shape,
// the status statusOf gives its code, and, when the stores were never
// called, a 4xx. It returns the code.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable) upload.Code {
	t.Helper()
	var e nativeError
	if err := decodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a native error: %v", rec.Code, rec.Body, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" || rec.Code != statusOf(e.Error.Code) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: code, message, status or type wrong", rec.Code, rec.Body)
	}
	if len(u.calls) == 0 && (rec.Code < 400 || rec.Code > 499) {
		t.Fatalf("refused without a store call, yet %d %q", rec.Code, rec.Body)
	}
	if len(u.calls) > 0 && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1") {
		t.Fatalf("the stores failed (%v), yet %d %q", u.calls, rec.Code, rec.Body)
	}
	return e.Error.Code
}

// FuzzCreate drives POST /v1/uploads with any body. A body the handler
// refuses gets a 4xx native error and never reaches the stores; one that
// reaches them creates exactly the upload the JSON describes, with a name
// the engine takes and a geometry NewPlan accepts, within every limit.
func FuzzCreate(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		engine, u := newUnreachable()
		a := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		rec := httptest.NewRecorder()
		a.Create(rec, httptest.NewRequest("POST", "/v1/uploads", bytes.NewReader(body)))
		if rec.Code == http.StatusCreated {
			t.Fatalf("created an upload on stores that fail: %q", rec.Body)
		}
		checkRefusal(t, rec, u)
		if len(u.calls) == 0 {
			return
		}
		if !slices.Equal(u.calls, []string{"CreateSession"}) || len(u.sessions) != 1 {
			t.Fatalf("store calls %v", u.calls)
		}
		s := u.sessions[0]
		var req struct {
			Name      string `json:"name"`
			Size      *int64 `json:"size"`
			Type      string `json:"type"`
			ChunkSize int64  `json:"chunkSize"`
			Checksum  string `json:"checksum"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Size == nil {
			t.Fatalf("%q reached the stores but is not a create request: %v", body, err)
		}
		if req.Checksum != "" {
			if c, err := upload.ParseChecksum(req.Checksum); err != nil || s.Verify != c.String() {
				t.Fatalf("checksum %q reached the stores as %v (%v)", req.Checksum, s.Verify, err)
			}
		}
		chunk := req.ChunkSize
		if chunk == 0 {
			chunk = min(DefaultChunkSize, fuzzLimits.MaxChunkSize)
		}
		if s.Name != req.Name || s.Size != *req.Size || s.ContentType != req.Type || s.ChunkSize != chunk {
			t.Fatalf("%q became the upload %q %d %q chunks of %d", body, s.Name, s.Size, s.ContentType, s.ChunkSize)
		}
		checkSession(t, s)
	})
}

// checkSession checks an upload the engine was about to store.
func checkSession(t *testing.T, s *upload.Session) {
	t.Helper()
	plan, err := upload.NewPlan(s.Geometry)
	l := fuzzLimits
	switch {
	case err != nil || plan != s.Plan:
		t.Fatalf("session plan %+v; NewPlan gives %+v, %v", s.Plan, plan, err)
	case s.Name == "" || len(s.Name) > l.MaxNameLength || !utf8.ValidString(s.Name):
		t.Fatalf("session name %q", s.Name)
	case s.Size > l.MaxFileSize || s.ChunkSize > l.MaxChunkSize || s.Chunks > l.MaxChunks || s.ChunkLen(s.Chunks-1) > l.MaxChunkSize:
		t.Fatalf("session %+v is over the limits %+v", s.Geometry, l)
	case s.Key != upload.ObjectKey(s.ID, s.Name) || s.Owner != "fuzz":
		t.Fatalf("session key %q owner %q", s.Key, s.Owner)
	}
}

// FuzzPutChunk drives PUT /v1/uploads/{id}/chunks/{n} with any id, chunk
// number, checksum headers (X-Chunk-Checksum, Content-MD5) and body, and
// the id routes (status, complete, abort) with the same id. Only a whole
// chunk number from 0, a body within the chunk limit that matches every
// checksum sent and an id of the engine's shape reach the stores;
// everything else is a 4xx native error (chunk_out_of_range for a bad
// number, invalid_request or checksum_mismatch for a checksum that does
// not read or does not match, 404 for an id no upload can have).
func FuzzPutChunk(f *testing.F) {
	f.Fuzz(func(t *testing.T, id, n, checksum, contentMD5 string, body []byte) {
		engine, u := newUnreachable()
		a := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("PUT", "/v1/uploads/x/chunks/0", bytes.NewReader(body))
		r.SetPathValue("id", id)
		r.SetPathValue("n", n)
		var sums []string
		if checksum != "" {
			r.Header.Set("X-Chunk-Checksum", checksum)
			sums = append(sums, r.Header.Get("X-Chunk-Checksum"))
		}
		if contentMD5 != "" {
			r.Header.Set("Content-MD5", contentMD5)
			sums = append(sums, "md5="+r.Header.Get("Content-MD5"))
		}
		matches := true
		for _, v := range sums {
			c, err := upload.ParseChecksum(v)
			matches = matches && err == nil && c.Verify(body) == nil
		}
		rec := httptest.NewRecorder()
		a.PutChunk(rec, r)
		code := checkRefusal(t, rec, u)
		number, err := strconv.Atoi(n)
		switch {
		case err != nil || number < 0:
			if code != upload.CodeChunkRange || len(u.calls) > 0 {
				t.Fatalf("chunk number %q: %s, store calls %v", n, code, u.calls)
			}
		case int64(len(body)) > fuzzLimits.MaxChunkSize:
			if code != upload.CodeChunkTooLarge || len(u.calls) > 0 {
				t.Fatalf("a %d-byte chunk: %s, store calls %v", len(body), code, u.calls)
			}
		case !matches:
			if code != upload.CodeInvalid && code != upload.CodeChecksum || len(u.calls) > 0 {
				t.Fatalf("checksums %q of %q: %s, store calls %v", sums, body, code, u.calls)
			}
		case !engineID(id):
			if code != upload.CodeNotFound || len(u.calls) > 0 {
				t.Fatalf("id %q: %s, store calls %v", id, code, u.calls)
			}
		default:
			if !slices.Equal(u.calls, []string{"GetSession"}) || u.ids[0] != id {
				t.Fatalf("id %q chunk %q: store calls %v %v", id, n, u.calls, u.ids)
			}
		}
		for _, route := range []struct {
			method string
			h      http.HandlerFunc
		}{{"GET", a.Status}, {"POST", a.Complete}, {"DELETE", a.Abort}} {
			u.calls, u.ids = nil, nil
			r := httptest.NewRequest(route.method, "/v1/uploads/x", nil)
			r.SetPathValue("id", id)
			rec := httptest.NewRecorder()
			route.h(rec, r)
			code := checkRefusal(t, rec, u)
			if engineID(id) != (len(u.calls) > 0) || !engineID(id) && code != upload.CodeNotFound {
				t.Fatalf("%s id %q: %s, store calls %v", route.method, id, code, u.calls)
			}
		}
	})
}

// engineID reports whether id has the shape of the engine's ids: 32 hex
// digits.
func engineID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

// unreachable stands in for both stores of an engine whose stores are
// never there: every call is recorded and fails. A fuzz run on it proves
// parsing only (the integration tests prove the stores): what the parser
// refuses must never reach it.
type unreachable struct {
	upload.Sessions // not called: every method is overridden below
	upload.Blobs
	calls    []string
	idents   []string          // identifiers looked up
	ids      []string          // session ids read
	sessions []*upload.Session // sessions created
}

var errUnreachable = errors.New("fuzz: the stores are unreachable")

func (u *unreachable) hit(call string) error {
	u.calls = append(u.calls, call)
	return errUnreachable
}

func (u *unreachable) CreateSession(_ context.Context, s *upload.Session) error {
	u.sessions = append(u.sessions, s)
	return u.hit("CreateSession")
}
func (u *unreachable) GetSession(_ context.Context, id string) (*upload.Session, error) {
	u.ids = append(u.ids, id)
	return nil, u.hit("GetSession")
}
func (u *unreachable) LookupIdentifier(_ context.Context, _, ident string) (string, error) {
	u.idents = append(u.idents, ident)
	return "", u.hit("LookupIdentifier")
}
func (u *unreachable) DeleteSession(context.Context, string) error { return u.hit("DeleteSession") }
func (u *unreachable) BindIdentifier(context.Context, string, string, string, string, time.Time) error {
	return u.hit("BindIdentifier")
}
func (u *unreachable) SetMultipartID(context.Context, string, string) (string, error) {
	return "", u.hit("SetMultipartID")
}
func (u *unreachable) Touch(context.Context, string, time.Time, time.Time) error {
	return u.hit("Touch")
}
func (u *unreachable) RecordChunk(context.Context, string, int, upload.ChunkRecord) (int, error) {
	return 0, u.hit("RecordChunk")
}
func (u *unreachable) GetPart(context.Context, string, int) (*upload.Part, error) {
	return nil, u.hit("GetPart")
}
func (u *unreachable) ListParts(context.Context, string) ([]*upload.Part, error) {
	return nil, u.hit("ListParts")
}
func (u *unreachable) ClaimPart(context.Context, string, int, string, time.Time, time.Time) error {
	return u.hit("ClaimPart")
}
func (u *unreachable) ReleasePart(context.Context, string, int, string) error {
	return u.hit("ReleasePart")
}
func (u *unreachable) FinishPart(context.Context, string, int, string, string, uint64, int64, time.Time) error {
	return u.hit("FinishPart")
}
func (u *unreachable) CountPart(context.Context, string, int) (int, error) {
	return 0, u.hit("CountPart")
}
func (u *unreachable) DeleteParts(context.Context, string) error { return u.hit("DeleteParts") }
func (u *unreachable) CommitAppend(context.Context, string, upload.Commit, time.Time) error {
	return u.hit("CommitAppend")
}
func (u *unreachable) PutSealedPart(context.Context, string, int, []upload.ChunkRecord, uint64) error {
	return u.hit("PutSealedPart")
}
func (u *unreachable) ClearSeal(context.Context, string, int) error { return u.hit("ClearSeal") }
func (u *unreachable) BeginComplete(context.Context, string, string, time.Time, time.Time) error {
	return u.hit("BeginComplete")
}
func (u *unreachable) FinishComplete(context.Context, *upload.Session) error {
	return u.hit("FinishComplete")
}
func (u *unreachable) EndSession(context.Context, string, []upload.State, upload.State, time.Time) error {
	return u.hit("EndSession")
}
func (u *unreachable) Forget(context.Context, *upload.Session, time.Time) error {
	return u.hit("Forget")
}
func (u *unreachable) ListExpired(context.Context, time.Time, int) ([]string, error) {
	return nil, u.hit("ListExpired")
}
func (u *unreachable) PutStaged(context.Context, string, []byte, uint64) error {
	return u.hit("PutStaged")
}
func (u *unreachable) OpenStaged(context.Context, string) (io.ReadCloser, error) {
	return nil, u.hit("OpenStaged")
}
func (u *unreachable) DeleteStaged(context.Context, []string) error { return u.hit("DeleteStaged") }
func (u *unreachable) ListStaged(context.Context, string) ([]string, error) {
	return nil, u.hit("ListStaged")
}
func (u *unreachable) CreateMultipart(context.Context, string, string, map[string]string) (string, error) {
	return "", u.hit("CreateMultipart")
}
func (u *unreachable) UploadPart(context.Context, string, string, int, io.Reader, int64, uint64) (string, error) {
	return "", u.hit("UploadPart")
}
func (u *unreachable) CompleteMultipart(context.Context, string, string, []upload.CompletedPart, uint64) (upload.Object, error) {
	return upload.Object{}, u.hit("CompleteMultipart")
}
func (u *unreachable) AbortMultipart(context.Context, string, string) error {
	return u.hit("AbortMultipart")
}
func (u *unreachable) PutObject(context.Context, string, string, map[string]string, []byte, uint64) (upload.Object, error) {
	return upload.Object{}, u.hit("PutObject")
}
func (u *unreachable) HeadObject(context.Context, string) (upload.Object, error) {
	return upload.Object{}, u.hit("HeadObject")
}

// fuzzLimits are small enough that a fuzzer's inputs reach every limit.
var fuzzLimits = upload.Limits{MaxFileSize: 50 << 30, MaxChunkSize: 1024, MaxChunks: 100000, MaxNameLength: 255}

// newUnreachable returns an engine on stores that fail every call, and
// the stores.
func newUnreachable() (*upload.Engine, *unreachable) {
	u := &unreachable{}
	opt := upload.DefaultOptions()
	opt.Limits = fuzzLimits
	opt.Logger = slog.New(slog.DiscardHandler)
	return upload.New(u, u, opt), u
}

func fuzzOwner(*http.Request) string { return "fuzz" }

// decodeStrict decodes a whole answer body into v, refusing fields v does
// not have and anything after the one JSON value.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
