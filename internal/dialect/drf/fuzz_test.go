package drf

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
	"chunkup/internal/wire/contentrange"
)

// rangeDetails are the original's answers to a Content-Range it does not
// take.
var rangeDetails = []string{"Error in request headers", "End of chunk exceeds reported total", "Size of file exceeds the limit"}

// FuzzParseRange: parseRange takes exactly the headers contentrange
// takes whose TOTAL is within the file size limit, and answers every
// other header as the original does: a 400 {"detail": …} that is one of
// its three answers, with the limit when (and only when) TOTAL is over it.
func FuzzParseRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		a := &API{engine: upload.New(nil, nil, upload.Options{Limits: dialecttest.Limits()})}
		rng, err := a.parseRange(v)
		if want, perr := contentrange.Parse(v); perr == nil && want.Total <= dialecttest.Limits().MaxFileSize {
			if err != nil || rng != want {
				t.Fatalf("parseRange(%q) = %+v, %v; contentrange takes it as %+v", v, rng, err, want)
			}
			return
		}
		var p *problem
		if err == nil || !errors.As(err, &p) || p.status != http.StatusBadRequest {
			t.Fatalf("parseRange(%q) = %+v, %v", v, rng, err)
		}
		detail, _ := p.body["detail"].(string)
		known := slices.ContainsFunc(rangeDetails, func(d string) bool { return strings.HasPrefix(detail, d) })
		limit, hasLimit := p.body["limit"]
		overLimit := strings.HasPrefix(detail, "Size of file exceeds the limit")
		if !known || hasLimit != overLimit || hasLimit && limit != dialecttest.Limits().MaxFileSize {
			t.Fatalf("parseRange(%q): %v", v, p.body)
		}
	})
}

// drfMux routes requests to the dialect as api.New does.
func drfMux(a *API) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /drf/uploads", a.Create)
	mux.HandleFunc("POST /drf/uploads", a.Whole)
	mux.HandleFunc("PUT /drf/uploads/{id}", a.Append)
	mux.HandleFunc("GET /drf/uploads", a.List)
	mux.HandleFunc("GET /drf/uploads/{id}", a.Get)
	mux.HandleFunc("/drf/uploads", a.Other)
	mux.HandleFunc("/drf/uploads/{id}", a.Other)
	mux.HandleFunc("POST /drf/uploads/{id}", a.Complete)
	return mux
}

// engineID reports whether id has the shape of the engine's ids.
func engineID(id string) bool {
	_, err := hex.DecodeString(id)
	return len(id) == 32 && err == nil
}

// FuzzRequest drives every route of the dialect with any method, upload
// id, Content-Type, Content-Range and body. The answer is always the
// original's shape: a 4xx {"detail": …} (a string, or a field's list of
// messages) unless the stores were called, then a 503 to retry; OPTIONS
// describes the view. What reaches the stores is an id of the engine's
// shape, looked up, or a new upload: a file name the engine takes, within
// the size limit, and for a chunk PUT a Content-Range from byte 0 that
// spans exactly the chunk's bytes.
func FuzzRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, method, id, contentType, contentRange string, body []byte) {
		if strings.Contains(id, "/") || id == "." || id == ".." || method == http.MethodConnect {
			return // not one of the dialect's routes once the path is clean
		}
		target := "/drf/uploads"
		if id != "" {
			target += "/" + id
		}
		r, err := http.NewRequest(method, "http://api.example.com/", bytes.NewReader(body))
		if err != nil {
			return // not a method a request can carry
		}
		r.URL.Path, r.URL.RawPath = target, ""
		r.RequestURI = target
		for k, v := range map[string]string{"Content-Type": contentType, "Content-Range": contentRange} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		engine, u := dialecttest.Unreachable()
		a := New(engine, "/drf/uploads", "drf", dialecttest.Owner, "anonymous", slog.New(slog.DiscardHandler))
		mux := drfMux(a)
		if _, pattern := mux.Handler(r); pattern == "" {
			return // no route: API Gateway answers, not the dialect
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK && method == http.MethodOptions {
			return
		}
		var e struct {
			Detail         json.RawMessage `json:"detail"`
			Limit          *int64          `json:"limit"`
			ExpectedOffset *int64          `json:"expected_offset"`
			ProvidedOffset *int64          `json:"provided_offset"`
		}
		if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %q is not a DRF error: %v", method, target, rec.Code, rec.Body, err)
		}
		var detail string
		var fields map[string][]string
		if json.Unmarshal(e.Detail, &detail) != nil && (json.Unmarshal(e.Detail, &fields) != nil || len(fields) != 1 || len(fields["filename"]) != 1) {
			t.Fatalf("%s %s: detail %s", method, target, e.Detail)
		}
		dialecttest.CheckStatus(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		if slices.Equal(u.Calls, []string{"ListOwned"}) {
			if target != "/drf/uploads" || (method != http.MethodGet && method != http.MethodHead) {
				t.Fatalf("%s %s: listed uploads", method, target)
			}
			return
		}
		if slices.Equal(u.Calls, []string{"GetSession"}) {
			if got := r.PathValue("id"); !engineID(got) || u.IDs[0] != got {
				t.Fatalf("%s %s: looked up %q", method, target, u.IDs)
			}
			return
		}
		if !slices.Equal(u.Calls, []string{"CreateSession"}) {
			t.Fatalf("%s %s: store calls %v", method, target, u.Calls)
		}
		s := u.Created[0]
		if s.Name == "" || s.Name != strings.TrimSpace(s.Name) || len(s.Name) > dialecttest.Limits().MaxNameLength || !utf8.ValidString(s.Name) ||
			s.Size < 0 || s.Size > dialecttest.Limits().MaxFileSize || s.Key != upload.ObjectKey(s.ID, s.Name) || s.Kind != upload.Sequential {
			t.Fatalf("%s %s: created %+v", method, target, s)
		}
		if method == http.MethodPut {
			rg, err := contentrange.Parse(contentRange)
			if err != nil || rg.Start != 0 || rg.Total != s.Size || rg.Len() > dialecttest.Limits().MaxChunkSize {
				t.Fatalf("PUT with Content-Range %q created %+v: %v", contentRange, s, err)
			}
		}
	})
}
