package django

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
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"chunkup/internal/contentrange"
	"chunkup/internal/upload"
)

// djangoError is the original's error shape: {"detail": …}, with the
// limit or the offset where one applies.
type djangoError struct {
	Detail string `json:"detail"`
	Limit  int64  `json:"limit"`
	Offset *int64 `json:"offset"`
}

// checkRefusal checks an error answer of the handler on unreachable
// stores: the original's shape, a 4xx when the stores were not called, a
// 503 to retry when they were.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable) {
	t.Helper()
	var e djangoError
	if err := decodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a django-chunked-upload error: %v", rec.Code, rec.Body, err)
	}
	if e.Detail == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: detail or type wrong", rec.Code, rec.Body)
	}
	if len(u.calls) == 0 && (rec.Code < 400 || rec.Code > 499) {
		t.Fatalf("refused without a store call, yet %d %q", rec.Code, rec.Body)
	}
	if len(u.calls) > 0 && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1") {
		t.Fatalf("the stores failed (%v), yet %d %q", u.calls, rec.Code, rec.Body)
	}
}

// engineID reports whether id has the shape of the engine's ids.
func engineID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

// FuzzChunk drives the chunk POST with any Content-Range, Content-Type
// and body. What reaches the stores is a multipart form with one chunk
// file and either an upload_id of the engine's shape (looked up, nothing
// else) or none: then a new upload of Content-Range's TOTAL bytes (within
// the limit; the chunk itself without a header) starting at byte 0 with
// exactly the chunk's bytes, named after the chunk's file. The rest is a
// 4xx {"detail": …}.
func FuzzChunk(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentRange, contentType string, body []byte) {
		engine, u := newUnreachable()
		h := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/chunked-upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if contentRange != "" {
			r.Header.Set("Content-Range", contentRange)
		}
		rec := httptest.NewRecorder()
		h.Chunk(rec, r)
		checkRefusal(t, rec, u)
		if len(u.calls) == 0 {
			return
		}
		if r.MultipartForm == nil {
			t.Fatalf("a body that is not a form reached the stores: %v", u.calls)
		}
		if id := strings.TrimSpace(r.PostFormValue("upload_id")); id != "" {
			if !engineID(id) || !slices.Equal(u.calls, []string{"GetSession"}) || u.ids[0] != id {
				t.Fatalf("upload_id %q: store calls %v %q", id, u.calls, u.ids)
			}
			return
		}
		fh, err := filePart(r.MultipartForm)
		if err != nil {
			t.Fatalf("a form without its one chunk reached the stores: %v", err)
		}
		file, err := fh.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(file)
		file.Close()
		rg := contentrange.Range{Start: 0, End: int64(len(data)) - 1, Total: int64(len(data))}
		if contentRange != "" {
			if rg, err = contentrange.Parse(contentRange); err != nil {
				t.Fatalf("Content-Range %q reached the stores: %v", contentRange, err)
			}
		}
		if rg.Start != 0 || rg.Len() != int64(len(data)) || rg.Total > fuzzLimits.MaxFileSize || int64(len(data)) > fuzzLimits.MaxChunkSize {
			t.Fatalf("%d bytes at %+v reached the stores", len(data), rg)
		}
		if !slices.Equal(u.calls, []string{"CreateSession"}) {
			t.Fatalf("store calls %v", u.calls)
		}
		s := u.sessions[0]
		if s.Size != rg.Total || s.Name != fh.Filename || s.Name == "" || len(s.Name) > fuzzLimits.MaxNameLength || !utf8.ValidString(s.Name) ||
			s.Key != upload.ObjectKey(s.ID, s.Name) || s.Kind != upload.Sequential {
			t.Fatalf("the chunk %q at %+v became %+v", fh.Filename, rg, s)
		}
	})
}

// FuzzComplete drives the completion POST with any Content-Type and body:
// only an upload_id of the engine's shape with an md5 reaches the stores.
func FuzzComplete(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		engine, u := newUnreachable()
		h := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/chunked-upload/complete", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.Complete(rec, r)
		checkRefusal(t, rec, u)
		if len(u.calls) == 0 {
			return
		}
		id, md5 := strings.TrimSpace(r.PostFormValue("upload_id")), strings.TrimSpace(r.PostFormValue("md5"))
		if !engineID(id) || md5 == "" || !slices.Equal(u.calls, []string{"GetSession"}) || u.ids[0] != id {
			t.Fatalf("upload_id %q md5 %q: store calls %v %q", id, md5, u.calls, u.ids)
		}
	})
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
