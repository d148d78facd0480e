package tus

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
)

// FuzzMetadata: what parseMetadata takes, formatMetadata writes so that
// it reads back the same; what it refuses is a 400.
func FuzzMetadata(f *testing.F) {
	f.Add("filename aGVsbG8udHh0,filetype dGV4dC9wbGFpbg==,empty")
	f.Fuzz(func(t *testing.T, v string) {
		meta, err := parseMetadata(v)
		if err != nil {
			if p, ok := err.(*problem); !ok || p.status != http.StatusBadRequest {
				t.Fatalf("parseMetadata(%q): %v", v, err)
			}
			return
		}
		again, err := parseMetadata(formatMetadata(meta))
		if err != nil || !maps.Equal(meta, again) {
			t.Fatalf("parseMetadata(%q) = %v; written as %q it reads %v, %v", v, meta, formatMetadata(meta), again, err)
		}
	})
}

// FuzzConcat: a taken Upload-Concat is partial, or final with ids that
// are single path segments; a refused one is a 400.
func FuzzConcat(f *testing.F) {
	f.Add("final;/files/a https://h/files/b")
	f.Add("partial")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseConcat(v, "/files")
		switch {
		case err != nil:
			if p, ok := err.(*problem); !ok || p.status != http.StatusBadRequest {
				t.Fatalf("parseConcat(%q): %v", v, err)
			}
		case c == nil:
			if v != "" {
				t.Fatalf("parseConcat(%q) = nil", v)
			}
		case c.partial:
			if v != "partial" || len(c.final) > 0 {
				t.Fatalf("parseConcat(%q) = %+v", v, c)
			}
		default:
			if len(c.final) == 0 || slices.ContainsFunc(c.final, func(id string) bool { return id == "" || strings.ContainsAny(id, "/?# \t") }) {
				t.Fatalf("parseConcat(%q) = %+v", v, c)
			}
		}
	})
}

// tusMux routes requests to the dialect as api.New does.
func tusMux(a *API) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /files", a.Create)
	mux.HandleFunc("PATCH /files/{id}", a.Patch)
	mux.HandleFunc("POST /files/{id}", a.Override)
	mux.HandleFunc("HEAD /files/{id}", a.Head)
	mux.HandleFunc("DELETE /files/{id}", a.Delete)
	mux.HandleFunc("OPTIONS /files", a.Options)
	mux.HandleFunc("OPTIONS /files/{id}", a.Options)
	return mux
}

// FuzzRequest drives every route with any method, id, body and value of
// each header the dialect reads (Tus-Resumable, Content-Type,
// Upload-Offset, Upload-Length, Upload-Defer-Length, Upload-Metadata,
// Upload-Concat, Upload-Checksum, X-HTTP-Method-Override). A refusal made
// without the stores is a 4xx (a tus status) with Tus-Resumable; once the
// stores were called, the answer is a 503 with Retry-After. What reaches
// the stores is a lookup of an id of the engine's shape, or a new upload
// within the limits whose metadata the engine takes.
func FuzzRequest(f *testing.F) {
	f.Add("PATCH", "0123456789abcdef0123456789abcdef", "1.0.0", "application/offset+octet-stream", "0", "", "", "", "", "sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=", "", []byte{})
	f.Add("POST", "", "1.0.0", "", "", "10", "", "filename YS5iaW4=", "partial", "", "", []byte{})
	f.Fuzz(func(t *testing.T, method, id, resumable, ctype, offset, length, deferLen, meta, concat, checksum, override string, body []byte) {
		if strings.Contains(id, "/") || id == "." || id == ".." || method == http.MethodConnect {
			return
		}
		target := "/files"
		if id != "" {
			target += "/" + id
		}
		r, err := http.NewRequest(method, "http://api.example.com/", bytes.NewReader(body))
		if err != nil {
			return
		}
		r.URL.Path, r.URL.RawPath, r.RequestURI = target, "", target
		for k, v := range map[string]string{"Tus-Resumable": resumable, "Content-Type": ctype, "Upload-Offset": offset, "Upload-Length": length,
			"Upload-Defer-Length": deferLen, "Upload-Metadata": meta, "Upload-Concat": concat, "Upload-Checksum": checksum, "X-HTTP-Method-Override": override} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				r.Header.Set(k, v)
			}
		}
		engine, u := dialecttest.Unreachable()
		a := New(engine, "/files", dialecttest.Owner, slog.New(slog.DiscardHandler))
		mux := tusMux(a)
		if _, pattern := mux.Handler(r); pattern == "" {
			return
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if method == http.MethodOptions {
			if rec.Code != http.StatusNoContent || len(u.Calls) > 0 {
				t.Fatalf("OPTIONS: %d, store calls %v", rec.Code, u.Calls)
			}
			return
		}
		if rec.Header().Get("Tus-Resumable") != version { // the server's version, whatever the client sent
			t.Fatalf("%s %s: %d without Tus-Resumable", method, target, rec.Code)
		}
		if len(u.Calls) == 0 {
			if rec.Code < 400 || rec.Code > 499 && rec.Code != StatusChecksumMismatch {
				t.Fatalf("%s %s refused without a store call, yet %d %q", method, target, rec.Code, rec.Body)
			}
			return
		}
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("the stores failed (%v), yet %d %q", u.Calls, rec.Code, rec.Body)
		}
		switch u.Calls[0] {
		case "GetSession":
			if _, err := hex.DecodeString(u.IDs[0]); err != nil || len(u.IDs[0]) != 32 {
				t.Fatalf("%s %s: looked up %q", method, target, u.IDs)
			}
		case "CreateSession":
			s := u.Created[0]
			if s.Kind != upload.Sequential || s.Size > dialecttest.Limits().MaxFileSize || (s.Size < 0 && s.Size != upload.SizeDeferred) ||
				upload.CheckMetadata(s.Metadata) != nil || s.Key != upload.ObjectKey(s.ID, s.Name) {
				t.Fatalf("%s %s: created %+v", method, target, s)
			}
		default:
			t.Fatalf("%s %s: first store call %v", method, target, u.Calls)
		}
	})
}
