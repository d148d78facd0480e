package native

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"unicode/utf8"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/upload/unreachable"
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
// the status reply.HTTPStatus gives its code, and, when the stores were never
// called, a 4xx. It returns the code.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, u *unreachable.Stores) upload.Code {
	t.Helper()
	var e nativeError
	if err := dialecttest.DecodeStrict(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %q is not a native error: %v", rec.Code, rec.Body, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" || rec.Code != reply.HTTPStatus(e.Error.Code) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q: code, message, status or type wrong", rec.Code, rec.Body)
	}
	dialecttest.CheckStatus(t, rec, u)
	return e.Error.Code
}

// FuzzCreate drives POST /v1/uploads with any body. A body the handler
// refuses gets a 4xx native error and never reaches the stores; one that
// reaches them creates exactly the upload the JSON describes, with a name
// the engine takes and a geometry NewPlan accepts, within every limit.
func FuzzCreate(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		engine, u := dialecttest.Unreachable()
		a := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		rec := httptest.NewRecorder()
		a.Create(rec, httptest.NewRequest("POST", "/v1/uploads", bytes.NewReader(body)))
		if rec.Code == http.StatusCreated {
			t.Fatalf("created an upload on stores that fail: %q", rec.Body)
		}
		checkRefusal(t, rec, u)
		if len(u.Calls) == 0 {
			return
		}
		if !slices.Equal(u.Calls, []string{"CreateSession"}) || len(u.Created) != 1 {
			t.Fatalf("store calls %v", u.Calls)
		}
		s := u.Created[0]
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
			chunk = min(DefaultChunkSize, dialecttest.Limits().MaxChunkSize)
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
	l := dialecttest.Limits()
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
		engine, u := dialecttest.Unreachable()
		a := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
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
			if code != upload.CodeChunkRange || len(u.Calls) > 0 {
				t.Fatalf("chunk number %q: %s, store calls %v", n, code, u.Calls)
			}
		case int64(len(body)) > dialecttest.Limits().MaxChunkSize:
			if code != upload.CodeChunkTooLarge || len(u.Calls) > 0 {
				t.Fatalf("a %d-byte chunk: %s, store calls %v", len(body), code, u.Calls)
			}
		case !matches:
			if code != upload.CodeInvalid && code != upload.CodeChecksum || len(u.Calls) > 0 {
				t.Fatalf("checksums %q of %q: %s, store calls %v", sums, body, code, u.Calls)
			}
		case !engineID(id):
			if code != upload.CodeNotFound || len(u.Calls) > 0 {
				t.Fatalf("id %q: %s, store calls %v", id, code, u.Calls)
			}
		default:
			if !slices.Equal(u.Calls, []string{"GetSession"}) || u.IDs[0] != id {
				t.Fatalf("id %q chunk %q: store calls %v %v", id, n, u.Calls, u.IDs)
			}
		}
		for _, route := range []struct {
			method string
			h      http.HandlerFunc
		}{{"GET", a.Status}, {"POST", a.Complete}, {"DELETE", a.Abort}} {
			u.Calls, u.IDs = nil, nil
			r := httptest.NewRequest(route.method, "/v1/uploads/x", nil)
			r.SetPathValue("id", id)
			rec := httptest.NewRecorder()
			route.h(rec, r)
			code := checkRefusal(t, rec, u)
			if engineID(id) != (len(u.Calls) > 0) || !engineID(id) && code != upload.CodeNotFound {
				t.Fatalf("%s id %q: %s, store calls %v", route.method, id, code, u.Calls)
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

// FuzzList drives GET /v1/uploads with any query string. A query the
// handler or the engine refuses gets a 400 invalid_request, naming the
// limit where it is one, and never reaches the stores; one that reaches
// them asks for a limit from 1 to upload.MaxListLimit, a state the
// listing knows and no cursor (a cursor this listing did not give is
// refused before any read).
func FuzzList(f *testing.F) {
	for _, seed := range []string{"", "limit=5&state=open", "state=complete", "limit=0", "limit=101", "state=aborted", "cursor=AQ", "limit=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		engine, u := dialecttest.Unreachable()
		a := New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("GET", "/v1/uploads", nil)
		r.URL.RawQuery = query
		rec := httptest.NewRecorder()
		a.List(rec, r)
		code := checkRefusal(t, rec, u)
		q := r.URL.Query()
		if len(u.Calls) == 0 {
			if code != upload.CodeInvalid {
				t.Fatalf("%q: %s without reaching the stores", query, code)
			}
			return
		}
		if !slices.Equal(u.Calls, []string{"ListOwned"}) {
			t.Fatalf("%q: store calls %v", query, u.Calls)
		}
		n, err := strconv.Atoi(q.Get("limit"))
		if q.Get("limit") != "" && (err != nil || n < 1 || n > upload.MaxListLimit) {
			t.Fatalf("%q reached the stores with limit %q", query, q.Get("limit"))
		}
		if s := q.Get("state"); s != "" && s != upload.ListOpen && s != upload.ListComplete || q.Get("cursor") != "" {
			t.Fatalf("%q reached the stores with state %q, cursor %q", query, s, q.Get("cursor"))
		}
	})
}
