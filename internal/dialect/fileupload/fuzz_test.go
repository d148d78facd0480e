package fileupload

import (
	"bytes"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"unicode/utf8"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
	"chunkup/internal/wire/contentrange"
)

// encodeURI is JavaScript's encodeURI, which the plugin applies to the
// file name it puts in Content-Disposition.
func encodeURI(s string) string { return dialecttest.PercentEncode(s, ";,/?:@&=+$-_.!~*'()#") }

// encodeRFC5987 writes a name as an RFC 5987 ext-value's value-chars.
func encodeRFC5987(s string) string { return dialecttest.PercentEncode(s, "!#$&+-.^_`|~") }

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
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable.Stores) {
	t.Helper()
	var e fuError
	if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a jQuery-File-Upload error: %v", rec.Code, rec.Body, err)
	}
	if e.Error == "" || len(e.Files) > 1 || len(e.Files) == 1 && (e.Files[0].Name == "" || e.Files[0].Size == nil || e.Files[0].Error != e.Error) ||
		rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: error, files or type wrong", rec.Code, rec.Body)
	}
	dialecttest.CheckStatus(t, rec, u)
}

// checkName checks a file name that reached the stores: one the engine
// takes, as the lookup key of the upload it names.
func checkName(t *testing.T, u *unreachable.Stores, name string) {
	t.Helper()
	if name == "" || len(name) > dialecttest.Limits().MaxNameLength || !utf8.ValidString(name) {
		t.Fatalf("the name %q (%d bytes) reached the stores: %v", name, len(name), u.Calls)
	}
	if !slices.Equal(u.Calls, []string{"LookupIdentifier"}) || u.Idents[0] != identifier(name) {
		t.Fatalf("store calls %v %q for the name %q", u.Calls, u.Idents, name)
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
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/fileupload", bytes.NewReader(body))
		for k, v := range map[string]string{"Content-Disposition": disposition, "Content-Range": contentRange, "Content-Type": contentType} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.Upload(rec, r)
		checkRefusal(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		name, data := "", body
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "multipart/form-data" {
			var files []*multipart.FileHeader
			for _, fhs := range dialecttest.StdForm(t, contentType, "", body).MultipartForm.File {
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
		if rg.Total > dialecttest.Limits().MaxFileSize || int64(len(data)) > dialecttest.Limits().MaxChunkSize {
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
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
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
			if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || got.Files == nil || len(*got.Files) != 0 || len(u.Calls) > 0 {
				t.Fatalf("no file name: %d %q, store calls %v", rec.Code, rec.Body, u.Calls)
			}
		case len(u.Calls) > 0:
			checkName(t, u, name)
		case rec.Code == http.StatusOK:
			if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &got); err != nil || got.File != nil || got.Files != nil {
				t.Fatalf("%q: %q without a store call", rawQuery, rec.Body)
			}
		}
	})
}
