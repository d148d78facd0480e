package fileupload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
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

// encodeURI is JavaScript's encodeURI, which the plugin applies to the
// file name it puts in Content-Disposition.
func encodeURI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(";,/?:@&=+$-_.!~*'()#", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// encodeRFC5987 writes a name as an RFC 5987 ext-value's value-chars.
func encodeRFC5987(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// FuzzDispositionName: any Content-Disposition is read or refused with a
// 400 refusal; a file name as the plugin sends it (attachment;
// filename="<encodeURI(name)>") and as RFC 5987 writes it (filename*=
// UTF-8”…) comes back exactly as it was.
func FuzzDispositionName(f *testing.F) {
	f.Fuzz(func(t *testing.T, cd, name string) {
		if _, err := dispositionName(cd); err != nil {
			if e, ok := upload.AsError(err); !ok || e.Code != upload.CodeInvalid || e.Message == "" {
				t.Fatalf("dispositionName(%q) refused with %v", cd, err)
			}
		}
		if name == "" || !utf8.ValidString(name) {
			return // the plugin's names are JavaScript strings
		}
		for _, sent := range []string{
			`attachment; filename="` + encodeURI(name) + `"`,
			`attachment; filename*=UTF-8''` + encodeRFC5987(name),
		} {
			if got, err := dispositionName(sent); err != nil || got != name {
				t.Fatalf("the name %q, sent as %q, came back as %q, %v", name, sent, got, err)
			}
		}
	})
}

// fuError is the dialect's error shape.
type fuError struct {
	Error string `json:"error"`
	Limit int64  `json:"limit"`
	Files []struct {
		Name  string `json:"name"`
		Size  *int64 `json:"size"`
		Error string `json:"error"`
	} `json:"files"`
}

// checkRefusal checks an error answer of the handler on unreachable
// stores: the dialect's shape, a 4xx when the stores were not called, a
// 503 to retry when they were.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable) {
	t.Helper()
	var e fuError
	if err := decodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a jQuery-File-Upload error: %v", rec.Code, rec.Body, err)
	}
	if e.Error == "" || len(e.Files) > 1 || len(e.Files) == 1 && (e.Files[0].Name == "" || e.Files[0].Size == nil || e.Files[0].Error != e.Error) ||
		rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: error, files or type wrong", rec.Code, rec.Body)
	}
	if len(u.calls) == 0 && (rec.Code < 400 || rec.Code > 499) {
		t.Fatalf("refused without a store call, yet %d %q", rec.Code, rec.Body)
	}
	if len(u.calls) > 0 && (rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1") {
		t.Fatalf("the stores failed (%v), yet %d %q", u.calls, rec.Code, rec.Body)
	}
}

// checkName checks a file name that reached the stores: one the engine
// takes, as the lookup key of the upload it names.
func checkName(t *testing.T, u *unreachable, name string) {
	t.Helper()
	if name == "" || len(name) > fuzzLimits.MaxNameLength || !utf8.ValidString(name) {
		t.Fatalf("the name %q (%d bytes) reached the stores: %v", name, len(name), u.calls)
	}
	if !slices.Equal(u.calls, []string{"LookupIdentifier"}) || u.idents[0] != identifier(name) {
		t.Fatalf("store calls %v %q for the name %q", u.calls, u.idents, name)
	}
}

// FuzzUpload drives a chunk request (POST, PUT or PATCH alike) with any
// Content-Disposition, Content-Range, Content-Type and body, as a form or
// raw. What reaches the stores is one file with a name the engine takes,
// a Content-Range (if any) that parses, starts within the file and spans
// exactly the bytes sent, and a size within the limit; the rest is a 4xx
// in the dialect's error shape.
func FuzzUpload(f *testing.F) {
	f.Fuzz(func(t *testing.T, disposition, contentRange, contentType string, body []byte) {
		engine, u := newUnreachable()
		h := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/fileupload", bytes.NewReader(body))
		for k, v := range map[string]string{"Content-Disposition": disposition, "Content-Range": contentRange, "Content-Type": contentType} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.Upload(rec, r)
		checkRefusal(t, rec, u)
		if len(u.calls) == 0 {
			return
		}
		name, data := "", body
		if r.MultipartForm != nil {
			var files []*multipart.FileHeader
			for _, fhs := range r.MultipartForm.File {
				files = append(files, fhs...)
			}
			if len(files) != 1 {
				t.Fatalf("a form with %d files reached the stores", len(files))
			}
			file, err := files[0].Open()
			if err != nil {
				t.Fatal(err)
			}
			data, _ = io.ReadAll(file)
			file.Close()
			name = files[0].Filename
		}
		if disposition != "" {
			dn, err := dispositionName(disposition)
			if err != nil {
				t.Fatalf("a Content-Disposition the dialect refuses (%v) reached the stores", err)
			}
			if dn != "" {
				name = dn
			}
		}
		checkName(t, u, name)
		rg := contentrange.Range{Start: 0, End: int64(len(data)) - 1, Total: int64(len(data))}
		if contentRange != "" {
			var err error
			if rg, err = contentrange.Parse(contentRange); err != nil || rg.Len() != int64(len(data)) {
				t.Fatalf("Content-Range %q for %d bytes reached the stores: %v", contentRange, len(data), err)
			}
		}
		if rg.Total > fuzzLimits.MaxFileSize || int64(len(data)) > fuzzLimits.MaxChunkSize {
			t.Fatalf("%d bytes of a %d-byte file reached the stores", len(data), rg.Total)
		}
	})
}

// FuzzResume drives the resume GET with any query string. Without a file
// name it lists nothing; a size that is not a whole number of bytes is a
// 400; a name no upload can have (over the name limit, not UTF-8) has
// nothing to resume and needs no store; any other name is looked up.
func FuzzResume(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawQuery string) {
		engine, u := newUnreachable()
		h := New(engine, fuzzOwner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("GET", "/fileupload", nil)
		r.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		h.Resume(rec, r)
		if rec.Code != http.StatusOK {
			checkRefusal(t, rec, u)
		}
		q := r.URL.Query()
		name := q.Get("file")
		var got struct {
			Files *[]any `json:"files"`
			File  *struct {
				Name string `json:"name"`
				Size int64  `json:"size"`
			} `json:"file"`
		}
		switch {
		case name == "":
			if err := decodeStrict(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || got.Files == nil || len(*got.Files) != 0 || len(u.calls) > 0 {
				t.Fatalf("no file name: %d %q, store calls %v", rec.Code, rec.Body, u.calls)
			}
		case len(u.calls) > 0:
			checkName(t, u, name)
		case rec.Code == http.StatusOK:
			if err := decodeStrict(rec.Body.Bytes(), &got); err != nil || got.File != nil || got.Files != nil {
				t.Fatalf("%q: %q without a store call", rawQuery, rec.Body)
			}
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
