package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"chunkup/internal/api"
	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/upload"
)

// TestFaultLogNamesRequestAndUpload: in every dialect, a fault met once
// the request's upload is known (here S3 failing the completion) is
// answered 503 with Retry-After: 1 and logged once, with the id API
// Gateway gave the request (the answer's X-Request-Id) and the id of the
// upload. Half of the dialects learn that id only from the engine (their
// clients name files, not uploads); the others from the path or the form.
func TestFaultLogNamesRequestAndUpload(t *testing.T) {
	var log dialecttest.Log
	e := newEnv(t, func(o *upload.Options) { o.Logger = log.Logger() })
	data := randomBytes(1000, 61)
	sum := md5.Sum(data)
	md5Hex := hex.EncodeToString(sum[:])
	form := func(target string, v url.Values) *http.Request {
		req, _ := http.NewRequest("POST", target, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	// Each case makes an upload of the file name, of one chunk, and
	// returns the request whose completion fails.
	cases := map[string]func(name string) *http.Request{
		"native": func(name string) *http.Request {
			up := e.createNative(name, int64(len(data)), int64(len(data)))
			if st, out := e.putNative(up.ID, 0, data); st != http.StatusOK {
				t.Fatalf("native chunk: %d %v", st, out)
			}
			req, _ := http.NewRequest("POST", e.url+"/v1/uploads/"+up.ID+"/complete", nil)
			return req
		},
		"drf": func(name string) *http.Request {
			u := e.drfPut("/drf/uploads", contentRange(0, len(data), len(data)), name, data).upload(t)
			return form(u.URL, url.Values{"md5": {md5Hex}})
		},
		"django": func(name string) *http.Request {
			id := e.djangoUpload(name, data, len(data), len(data))
			return form(e.url+"/chunked-upload/complete", url.Values{"upload_id": {id}, "md5": {md5Hex}})
		},
		"flow": func(name string) *http.Request {
			f := flowFile{data: data, name: name, fileType: "application/octet-stream", identifier: name, chunkSize: len(data)}
			body, ct := f.multipartBody(f.params(1), f.chunk(1))
			req, _ := http.NewRequest("POST", e.url+"/flow", body)
			req.Header.Set("Content-Type", ct)
			return req
		},
		"multipleupload": func(name string) *http.Request {
			f := newMUFile(data, name, name, len(data))
			req, _ := http.NewRequest("POST", e.url+"/multipleupload/upload-chunk", bytes.NewReader(f.chunk(0)))
			req.Header.Set("Content-Type", "application/octet-stream")
			for k, v := range f.headers(0) {
				req.Header.Set(k, v)
			}
			return req
		},
		"fileupload": func(name string) *http.Request {
			return fuFile{name: name, data: data, chunk: len(data)}.request(e.url, 0)
		},
	}
	for dialect, failing := range cases {
		name := dialect + "-fault.bin"
		req := failing(name)
		e.blobs.failCompletes.Store(1)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", dialect, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.blobs.failCompletes.Store(0)
		rid := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || rid == "" {
			t.Fatalf("%s: completion failing: %d %q (Retry-After %q, X-Request-Id %q), want 503 with Retry-After 1 and a request id",
				dialect, resp.StatusCode, raw, resp.Header.Get("Retry-After"), rid)
		}
		var faults []map[string]any
		for _, rec := range log.Records(t, "request failed") {
			if rec["request_id"] == rid {
				faults = append(faults, rec)
			}
		}
		if len(faults) != 1 {
			t.Fatalf("%s: %d fault records of request %s, want 1: %v", dialect, len(faults), rid, faults)
		}
		id, _ := faults[0]["upload_id"].(string)
		s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, id)
		if err != nil || s.Name != name {
			t.Fatalf("%s: the fault names upload %q (%v), not the upload of %s: %v", dialect, id, s, name, err)
		}
	}
}
