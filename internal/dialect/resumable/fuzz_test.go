package resumable

import (
	"bytes"
	"io"
	"log/slog"
	"mime"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
)

// dialectOf is the dialect a fuzz input speaks.
func dialectOf(flow bool) Dialect {
	if flow {
		return FlowJS()
	}
	return ResumableJS("resumable")
}

// fuzzNumber is how parse reads a number parameter.
func fuzzNumber(v string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}

// FuzzParse: the parameters of a chunk or test request, in either
// dialect. What parse accepts is exactly what was sent (numbers as
// strconv reads them), a chunk number in [1, TotalChunks], a geometry the
// engine's NewPlan accepts, within the chunk count limit, a
// CurrentChunkSize that is the chunk's length in that geometry, and an
// identifier and file name within bounds; the same parameters written
// back the way the clients write them parse to the same thing. What it
// refuses is a refusal that the dialect answers with a 4xx.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, flow bool, number, chunkSize, current, total, chunks, identifier, filename, fileType string) {
		engine, u := dialecttest.Unreachable()
		h := NewDialect(engine, dialectOf(flow), dialecttest.Owner, slog.New(slog.DiscardHandler))
		pre := h.d.Prefix
		q := map[string]string{
			pre + "ChunkNumber": number, pre + "ChunkSize": chunkSize, pre + "CurrentChunkSize": current,
			pre + "TotalSize": total, pre + "TotalChunks": chunks, pre + "Identifier": identifier,
			pre + "Filename": filename, pre + "Type": fileType,
		}
		get := func(k string) string { return q[k] }
		p, err := h.parse(get)
		if len(u.Calls) > 0 {
			t.Fatalf("parse called the stores: %v", u.Calls)
		}
		if err != nil {
			e, ok := upload.AsError(err)
			if st := h.d.Status(upload.CodeOf(err)); !ok || e.Message == "" || st < 400 || st > 499 {
				t.Fatalf("parse refused with %v, answered %d", err, st)
			}
			return
		}
		n, _ := fuzzNumber(number)
		cs, _ := fuzzNumber(chunkSize)
		cur, _ := fuzzNumber(current)
		size, _ := fuzzNumber(total)
		count, _ := fuzzNumber(chunks)
		g := upload.Geometry{Size: size, ChunkSize: cs, Chunks: int(count)}
		if int64(p.number) != n || p.current != cur || p.geometry != g || p.identifier != identifier || p.filename != filename {
			t.Fatalf("parse read %+v from %q", p, q)
		}
		if p.fileType != fileType && h.d.TypeParam || p.fileType != "" && !h.d.TypeParam {
			t.Fatalf("parse took type %q from %q", p.fileType, fileType)
		}
		if p.number < 1 || p.number > g.Chunks || g.Chunks > dialecttest.Limits().MaxChunks {
			t.Fatalf("parse accepted chunk %d of %d", p.number, g.Chunks)
		}
		if _, err := upload.NewPlan(g); err != nil {
			t.Fatalf("parse accepted a geometry NewPlan refuses: %+v: %v", g, err)
		}
		if p.current != g.ChunkLen(p.number-1) {
			t.Fatalf("parse accepted CurrentChunkSize %d for chunk %d of %+v", p.current, p.number, g)
		}
		if identifier == "" || len(identifier) > MaxIdentifierLength || filename == "" {
			t.Fatalf("parse accepted identifier %q, file name %q", identifier, filename)
		}
		canon := map[string]string{
			pre + "ChunkNumber": strconv.Itoa(p.number), pre + "ChunkSize": strconv.FormatInt(cs, 10),
			pre + "CurrentChunkSize": strconv.FormatInt(cur, 10), pre + "TotalSize": strconv.FormatInt(size, 10),
			pre + "TotalChunks": strconv.Itoa(g.Chunks), pre + "Identifier": identifier, pre + "Filename": filename, pre + "Type": fileType,
		}
		again, err := h.parse(func(k string) string { return canon[k] })
		if err != nil || again != p {
			t.Fatalf("%q parses to %+v, written back to %+v, %v", q, p, again, err)
		}
	})
}

// resumableError is the one error shape of both dialects.
type resumableError struct {
	Error   upload.Code `json:"error"`
	Message string      `json:"message"`
	Limit   int64       `json:"limit"`
}

// checkAnswer checks an answer of the handler on unreachable stores:
// reaching them is a 503 the client may retry; not reaching them is a 4xx
// refusal in the dialect's shape, with the status the dialect gives its
// code.
func checkAnswer(t *testing.T, h *Handler, rec *httptest.ResponseRecorder, u *unreachable.Stores) {
	t.Helper()
	var e resumableError
	if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a %s error: %v", rec.Code, rec.Body, h.d.Prefix, err)
	}
	if e.Error == "" || e.Message == "" || rec.Code != h.d.Status(e.Error) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: code, message, status or type wrong", rec.Code, rec.Body)
	}
	dialecttest.CheckStatus(t, rec, u)
}

// checkLookup checks that a request that reached the stores had
// parameters parse accepts, and looked up its own identifier in its
// dialect's scope, with one LookupBinding and nothing else.
func checkLookup(t *testing.T, h *Handler, u *unreachable.Stores, get func(string) string) params {
	t.Helper()
	p, err := h.parse(get)
	if err != nil {
		t.Fatalf("a request parse refuses (%v) reached the stores: %v", err, u.Calls)
	}
	if !slices.Equal(u.Calls, []string{"LookupBinding"}) || u.Idents[0] != h.d.Scope+p.identifier {
		t.Fatalf("store calls %v %q for identifier %q", u.Calls, u.Idents, p.identifier)
	}
	return p
}

// FuzzTest drives the testChunks GET with any query string, in either
// dialect.
func FuzzTest(f *testing.F) {
	f.Fuzz(func(t *testing.T, flow bool, rawQuery string) {
		engine, u := dialecttest.Unreachable()
		h := NewDialect(engine, dialectOf(flow), dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("GET", "/resumable", nil)
		r.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		h.Test(rec, r)
		checkAnswer(t, h, rec, u)
		if len(u.Calls) > 0 {
			checkLookup(t, h, u, r.URL.Query().Get)
		}
	})
}

// FuzzUpload drives the chunk POST with any query string, Content-Type
// and body (a multipart form or the raw chunk), in either dialect. A
// request that reaches the stores had parameters parse accepts, read from
// where the dialect reads them, and a chunk of CurrentChunkSize bytes.
func FuzzUpload(f *testing.F) {
	f.Fuzz(func(t *testing.T, flow bool, rawQuery, contentType string, body []byte) {
		engine, u := dialecttest.Unreachable()
		h := NewDialect(engine, dialectOf(flow), dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/resumable", bytes.NewReader(body))
		r.URL.RawQuery = rawQuery
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.Upload(rec, r)
		checkAnswer(t, h, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		get, data := r.URL.Query().Get, body
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "multipart/form-data" {
			std := dialecttest.StdForm(t, contentType, rawQuery, body)
			get = std.FormValue
			if flow {
				get = std.PostFormValue
			}
			f, _, err := std.FormFile("file")
			if err != nil {
				t.Fatalf("a form without a file reached the stores: %v", err)
			}
			data, _ = io.ReadAll(f)
			f.Close()
		}
		if p := checkLookup(t, h, u, get); int64(len(data)) != p.current {
			t.Fatalf("a %d-byte chunk reached the stores as %+v", len(data), p)
		}
	})
}
