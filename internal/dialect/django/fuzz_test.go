package django

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
	"chunkup/internal/wire/contentrange"
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
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable.Stores) {
	t.Helper()
	var e djangoError
	if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a django-chunked-upload error: %v", rec.Code, rec.Body, err)
	}
	if e.Detail == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: detail or type wrong", rec.Code, rec.Body)
	}
	dialecttest.CheckStatus(t, rec, u)
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
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/chunked-upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if contentRange != "" {
			r.Header.Set("Content-Range", contentRange)
		}
		rec := httptest.NewRecorder()
		h.Chunk(rec, r)
		checkRefusal(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		std := dialecttest.StdForm(t, contentType, "", body)
		if id := strings.TrimSpace(std.PostFormValue("upload_id")); id != "" {
			if !engineID(id) || !slices.Equal(u.Calls, []string{"GetSession"}) || u.IDs[0] != id {
				t.Fatalf("upload_id %q: store calls %v %q", id, u.Calls, u.IDs)
			}
			return
		}
		fh, err := stdFilePart(std.MultipartForm)
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
		if rg.Start != 0 || rg.Len() != int64(len(data)) || rg.Total > dialecttest.Limits().MaxFileSize || int64(len(data)) > dialecttest.Limits().MaxChunkSize {
			t.Fatalf("%d bytes at %+v reached the stores", len(data), rg)
		}
		if !slices.Equal(u.Calls, []string{"CreateSession"}) {
			t.Fatalf("store calls %v", u.Calls)
		}
		s := u.Created[0]
		if s.Size != rg.Total || s.Name != fh.Filename || s.Name == "" || len(s.Name) > dialecttest.Limits().MaxNameLength || !utf8.ValidString(s.Name) ||
			s.Key != upload.ObjectKey(s.ID, s.Name) || s.Kind != upload.Sequential {
			t.Fatalf("the chunk %q at %+v became %+v", fh.Filename, rg, s)
		}
	})
}

// FuzzComplete drives the completion POST with any Content-Type and body:
// only an upload_id of the engine's shape with an md5 reaches the stores.
func FuzzComplete(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/chunked-upload/complete", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.Complete(rec, r)
		checkRefusal(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		id, md5 := strings.TrimSpace(r.PostFormValue("upload_id")), strings.TrimSpace(r.PostFormValue("md5"))
		if !engineID(id) || md5 == "" || !slices.Equal(u.Calls, []string{"GetSession"}) || u.IDs[0] != id {
			t.Fatalf("upload_id %q md5 %q: store calls %v %q", id, md5, u.Calls, u.IDs)
		}
	})
}

// stdFilePart finds the chunk in a form the standard library read: the
// one file in the field FileField, or else the form's only file.
func stdFilePart(form *multipart.Form) (*multipart.FileHeader, error) {
	if fhs := form.File[FileField]; len(fhs) == 1 {
		return fhs[0], nil
	}
	var all []*multipart.FileHeader
	for _, fhs := range form.File {
		all = append(all, fhs...)
	}
	if len(all) != 1 {
		return nil, fmt.Errorf("the form has %d files", len(all))
	}
	return all[0], nil
}
