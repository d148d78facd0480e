package multipleupload

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
)

// chunkHeaders are a chunk POST's X- headers.
func chunkHeaders(uploadID, index, count, name, size string) http.Header {
	h := http.Header{}
	h.Set("X-Upload-Id", uploadID)
	h.Set("X-Chunk-Index", index)
	h.Set("X-Chunk-Count", count)
	h.Set("X-File-Name", name)
	h.Set("X-File-Size", size)
	return h
}

// encodeURIComponent is how the clients write a name that is not
// Latin-1 into X-File-Name (JavaScript's encodeURIComponent).
func encodeURIComponent(s string) string { return dialecttest.PercentEncode(s, "-_.!~*'()") }

// FuzzParseHeaders: what parseHeaders accepts is what was sent (numbers
// as strconv reads them, trimmed), a chunk index in [0, count), a count
// within the limit, a size within the limit, an upload id of 1 to 512
// bytes and a name; a name as the clients encode it comes back as it was.
// What it refuses is a 4xx refusal.
func FuzzParseHeaders(f *testing.F) {
	f.Fuzz(func(t *testing.T, uploadID, index, count, name, size string) {
		hd, err := parseHeaders(chunkHeaders(uploadID, index, count, name, size), dialecttest.Limits())
		if err != nil {
			e, ok := upload.AsError(err)
			if st := status(upload.CodeOf(err)); !ok || e.Message == "" || st < 400 || st > 499 {
				t.Fatalf("refused with %v, answered %d", err, st)
			}
			return
		}
		num := func(v string) int64 {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("parseHeaders accepted the number %q", v)
			}
			return n
		}
		l := dialecttest.Limits()
		switch {
		case hd.uploadID != strings.TrimSpace(uploadID) || hd.uploadID == "" || len(hd.uploadID) > MaxUploadIDLength:
			t.Fatalf("upload id %q from %q", hd.uploadID, uploadID)
		case int64(hd.index) != num(index) || int64(hd.count) != num(count) || hd.size != num(size):
			t.Fatalf("parseHeaders read %+v from %q %q %q", hd, index, count, size)
		case hd.index < 0 || hd.index >= hd.count || hd.count > l.MaxChunks || hd.size < 0 || hd.size > l.MaxFileSize:
			t.Fatalf("parseHeaders accepted %+v", hd)
		case hd.name == "":
			t.Fatalf("parseHeaders accepted the name %q", name)
		}
		if !utf8.ValidString(name) {
			return
		}
		again, err := parseHeaders(chunkHeaders(uploadID, index, count, encodeURIComponent(name), size), dialecttest.Limits())
		if err != nil || again.name != name {
			t.Fatalf("the name %q, encoded as %q, came back as %q, %v", name, encodeURIComponent(name), again.name, err)
		}
	})
}

// FuzzGeometry: for any chunk the headers allow (index in [0, count),
// count and size within the limits, a body within the chunk limit), the
// geometry worked out from it is one NewPlan accepts, gives the chunk its
// length, and is the same whichever chunk of that file arrives first.
func FuzzGeometry(f *testing.F) {
	f.Fuzz(func(t *testing.T, size int64, count, index int, n int64) {
		l := dialecttest.Limits()
		if index < 0 || index >= count || count > l.MaxChunks || size < 0 || size > l.MaxFileSize || n < 0 || n > l.MaxChunkSize {
			return // parseHeaders and readBody refuse these
		}
		hd := headers{uploadID: "u", index: index, count: count, name: "f", size: size}
		g, err := hd.geometry(n)
		if err != nil {
			if st := status(upload.CodeOf(err)); st < 400 || st > 499 {
				t.Fatalf("refused with %v, answered %d", err, st)
			}
			return
		}
		if g.Size != size || g.Chunks != count || g.ChunkLen(index) != n {
			t.Fatalf("chunk %d of %d bytes of a %d-byte file in %d: %+v", index, n, size, count, g)
		}
		if _, err := upload.NewPlan(g); err != nil {
			t.Fatalf("chunk %d of %d bytes of a %d-byte file in %d: NewPlan refuses %+v: %v", index, n, size, count, g, err)
		}
		for _, j := range []int{0, index - 1, index + 1, count - 1} {
			if j < 0 || j >= count {
				continue
			}
			other := headers{uploadID: "u", index: j, count: count, name: "f", size: size}
			if g2, err := other.geometry(g.ChunkLen(j)); err != nil || g2 != g || other.identifier(g2) != hd.identifier(g) {
				t.Fatalf("chunk %d gives %+v; chunk %d of that file gives %+v, %v", index, g, j, g2, err)
			}
		}
	})
}

// muError is the one error shape of the dialect.
type muError struct {
	Success *bool       `json:"success"`
	Error   string      `json:"error"`
	Code    upload.Code `json:"code"`
	Limit   int64       `json:"limit"`
}

// checkAnswer checks an answer of the handler on unreachable stores.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable.Stores) {
	t.Helper()
	var e muError
	if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a MultipleUpload error: %v", rec.Code, rec.Body, err)
	}
	if e.Success == nil || *e.Success || e.Error == "" || e.Code == "" || rec.Code != status(e.Code) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: success, error, code, status or type wrong", rec.Code, rec.Body)
	}
	dialecttest.CheckStatus(t, rec, u)
}

// FuzzChunk drives the chunk POST with any X- headers and body. Only a
// chunk whose headers parse and whose length fits a geometry NewPlan
// accepts reaches the stores, and it looks up the identifier of that
// upload id and geometry.
func FuzzChunk(f *testing.F) {
	f.Fuzz(func(t *testing.T, uploadID, index, count, name, size, contentType string, body []byte) {
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/multipleupload/upload-chunk", bytes.NewReader(body))
		r.Header = chunkHeaders(uploadID, index, count, name, size)
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.Chunk(rec, r)
		checkAnswer(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		hd, err := parseHeaders(r.Header, dialecttest.Limits())
		if err != nil {
			t.Fatalf("headers parseHeaders refuses (%v) reached the stores", err)
		}
		g, err := hd.geometry(int64(len(body)))
		if err != nil || int64(len(body)) > dialecttest.Limits().MaxChunkSize {
			t.Fatalf("a %d-byte chunk with %+v reached the stores: %v", len(body), hd, err)
		}
		if _, err := upload.NewPlan(g); err != nil {
			t.Fatalf("a chunk of a geometry NewPlan refuses (%+v: %v) reached the stores", g, err)
		}
		if !slices.Equal(u.Calls, []string{"LookupIdentifier"}) || u.Idents[0] != hd.identifier(g) {
			t.Fatalf("store calls %v %q", u.Calls, u.Idents)
		}
	})
}

// FuzzFile drives the whole-file POST with any Content-Type and body.
// Only a multipart form with one file "file" that has a name and fits in
// a chunk reaches the stores, and it creates an upload of that file in
// one chunk.
func FuzzFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		engine, u := dialecttest.Unreachable()
		h := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("POST", "/multipleupload/upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.File(rec, r)
		checkAnswer(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		if !slices.Equal(u.Calls, []string{"CreateSession"}) {
			t.Fatalf("store calls %v", u.Calls)
		}
		file, fh, err := dialecttest.StdForm(t, contentType, "", body).FormFile("file")
		if err != nil {
			t.Fatalf("a form without the file reached the stores: %v", err)
		}
		data, _ := io.ReadAll(file)
		file.Close()
		s := u.Created[0]
		plan, err := upload.NewPlan(s.Geometry)
		if s.Name != fh.Filename || s.Size != int64(len(data)) || s.Chunks != 1 || err != nil || plan != s.Plan ||
			s.Size > dialecttest.Limits().MaxChunkSize || !utf8.ValidString(s.Name) || len(s.Name) > dialecttest.Limits().MaxNameLength {
			t.Fatalf("the file %q of %d bytes became %+v (%v)", fh.Filename, len(data), s, err)
		}
	})
}
