package companion

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
)

// routes are the Companion routes as api.New serves them.
var routes = []struct{ method, pattern string }{
	{"POST", "/s3/multipart"},
	{"GET", "/s3/multipart/{uploadId}/{partNumber}"},
	{"GET", "/s3/multipart/{uploadId}"},
	{"GET", "/s3/params"},
	{"POST", "/s3/multipart/{uploadId}/complete"},
	{"DELETE", "/s3/multipart/{uploadId}"},
}

// companionMux routes requests to the dialect as api.New does.
func companionMux(a *API) *http.ServeMux {
	handlers := []http.HandlerFunc{a.Create, a.SignPart, a.ListParts, a.Params, a.Complete, a.Abort}
	mux := http.NewServeMux()
	for i, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.pattern, handlers[i])
	}
	return mux
}

// FuzzRequest drives every Companion route with any upload id, part
// number, key, query and body (the JSON of a create or a completion).
// Every answer is JSON, an error one {"error": message} as Uppy reads
// it; a refusal made without the stores is a 4xx, and once the stores
// were called the answer is a 503 with Retry-After. What reaches the
// stores is a lookup of an id of the engine's shape, or a new upload
// whose object key is chunkup's, never the client's name as given; a
// part number S3 cannot take never does.
func FuzzRequest(f *testing.F) {
	id := "0123456789abcdef0123456789abcdef"
	f.Add(uint8(0), "", "", "", "", []byte(`{"filename":"a.bin","type":"application/octet-stream","metadata":{"name":"a.bin","n":1,"x":null}}`))
	f.Add(uint8(1), id, "1", "uploads/"+id+"/a.bin", "", []byte{})
	f.Add(uint8(1), id, "10001", "k", "", []byte{})
	f.Add(uint8(2), id, "", "uploads/"+id+"/a.bin", "", []byte{})
	f.Add(uint8(3), "", "", "", "filename=../../etc/passwd&type=text/plain&metadata[a]=b", []byte{})
	f.Add(uint8(4), id, "", "k", "", []byte(`{"parts":[{"PartNumber":1,"ETag":"\"e\""}]}`))
	f.Add(uint8(5), id, "", "", "", []byte{})
	f.Fuzz(func(t *testing.T, route uint8, uploadID, part, key, query string, body []byte) {
		rt := routes[int(route)%len(routes)]
		target := strings.NewReplacer("{uploadId}", url.PathEscape(uploadID), "{partNumber}", url.PathEscape(part)).Replace(rt.pattern)
		q := query
		if key != "" {
			q = "key=" + url.QueryEscape(key) + "&" + query
		}
		r, err := http.NewRequest(rt.method, "http://api.example.com"+target+"?"+q, bytes.NewReader(body))
		if err != nil {
			return
		}
		engine, u := dialecttest.Unreachable()
		mux := companionMux(New(engine, dialecttest.Owner, slog.New(slog.DiscardHandler)))
		if _, pattern := mux.Handler(r); pattern != rt.method+" "+rt.pattern {
			return // an id or part number with a slash is another route
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code < 400 {
			t.Fatalf("%s %s answered %d on stores that fail every call", rt.method, target, rec.Code)
		}
		var answer struct {
			Error string `json:"error"`
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer.Error == "" {
			t.Fatalf("%s %s: %d %s %q is not a JSON error", rt.method, target, rec.Code, ct, rec.Body)
		}
		dialecttest.CheckStatus(t, rec, u)
		if n, err := strconv.Atoi(r.PathValue("partNumber")); rt.pattern == routes[1].pattern && (err != nil || n < 1 || n > upload.MaxParts) && len(u.Calls) > 0 {
			t.Fatalf("part number %q reached the stores: %v", part, u.Calls)
		}
		if len(u.Calls) == 0 {
			return
		}
		switch u.Calls[0] {
		case "GetSession":
			if _, err := hex.DecodeString(u.IDs[0]); err != nil || len(u.IDs[0]) != 32 || u.IDs[0] != uploadID {
				t.Fatalf("%s %s: looked up %q", rt.method, target, u.IDs)
			}
		case "CreateMultipart", "PresignPost":
			k := u.Keys[0]
			id, ok := upload.IDOfKey(k)
			name := strings.TrimPrefix(k, "uploads/"+id+"/")
			if !ok || name == "" || name != upload.SanitizeName(name) || strings.Contains(name, "/") {
				t.Fatalf("%s %s: an object key %q that is not chunkup's", rt.method, target, k)
			}
		default:
			t.Fatalf("%s %s: first store call %v", rt.method, target, u.Calls)
		}
	})
}
