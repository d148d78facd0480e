package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/upload"
)

func smallLimits(o *upload.Options) {
	o.MaxFileSize = 64 << 20
	o.MaxChunkSize = 2 << 20
	o.MaxChunks = 40
	o.MaxNameLength = 100
}

// TestNativeBadInput: each bad request gets a clear error with a stable
// code (and the limit, for a limit), and the stored upload is unchanged.
func TestNativeBadInput(t *testing.T) {
	e := newEnv(t, smallLimits)
	const chunk = 1 << 20
	data := randomBytes(3<<20+10, 51)
	up := e.createNative("keep.bin", int64(len(data)), chunk)
	e.putNative(up.ID, 0, chunkOf(data, chunk, 0))
	before := len(e.stagedKeys())

	creates := []struct {
		body, code string
		status     int
		limit      int64
	}{
		{`{"size":10}`, "invalid_request", 400, 0},
		{`{"name":"a"}`, "invalid_request", 400, 0},
		{`{"name":"a","size":-1}`, "invalid_request", 400, 0},
		{`not json`, "invalid_request", 400, 0},
		{`{"name":"a","size":1,"color":"red"}`, "invalid_request", 400, 0},
		{`{"name":"a","size":67108865}`, "file_too_large", 413, 64 << 20},
		{`{"name":"a","size":100,"chunkSize":3145728}`, "chunk_too_large", 413, 2 << 20},
		{`{"name":"a","size":50000000,"chunkSize":1048576}`, "too_many_chunks", 400, 40},
		{fmt.Sprintf(`{"name":%q,"size":1}`, strings.Repeat("n", 101)), "name_too_long", 400, 100},
		{`{"name":"a","size":10000000,"chunkSize":1024}`, "too_many_chunks", 400, 40},
	}
	for _, c := range creates {
		var er nativeError
		st := e.call("POST", "/v1/uploads", strings.NewReader(c.body), &er)
		if st != c.status || er.Error.Code != c.code || er.Error.Limit != c.limit || er.Error.Message == "" {
			t.Errorf("create %s: %d %+v, want %d %s limit %d", c.body, st, er, c.status, c.code, c.limit)
		}
		if c.limit > 0 && !strings.Contains(er.Error.Message, fmt.Sprint(c.limit)) {
			t.Errorf("create %s: message %q does not name the limit %d", c.body, er.Error.Message, c.limit)
		}
	}

	chunks := []struct {
		path   string
		body   []byte
		code   string
		status int
	}{
		{"/chunks/-1", chunkOf(data, chunk, 1), "chunk_out_of_range", 400},
		{"/chunks/x", chunkOf(data, chunk, 1), "chunk_out_of_range", 400},
		{"/chunks/4", chunkOf(data, chunk, 1), "chunk_out_of_range", 400},
		{"/chunks/99999999999999999999", chunkOf(data, chunk, 1), "chunk_out_of_range", 400},
		{"/chunks/1", chunkOf(data, chunk, 1)[:1000], "chunk_length_mismatch", 400},
		{"/chunks/3", chunkOf(data, chunk, 1), "chunk_length_mismatch", 400},
		{"/chunks/1", randomBytes(2<<20+1, 52), "chunk_too_large", 413},
	}
	for _, c := range chunks {
		var er nativeError
		st := e.call("PUT", "/v1/uploads/"+up.ID+c.path, bytes.NewReader(c.body), &er)
		if st != c.status || er.Error.Code != c.code {
			t.Errorf("PUT %s (%d bytes): %d %+v, want %d %s", c.path, len(c.body), st, er, c.status, c.code)
		}
	}
	for _, id := range []string{"0123456789abcdef0123456789abcdef", "nope", "..%2F..%2Fetc"} {
		var er nativeError
		if st := e.call("GET", "/v1/uploads/"+id, nil, &er); st != 404 || er.Error.Code != "upload_not_found" {
			t.Errorf("GET unknown %s: %d %+v", id, st, er)
		}
		if st := e.call("PUT", "/v1/uploads/"+id+"/chunks/0", bytes.NewReader([]byte("x")), &er); st != 404 {
			t.Errorf("PUT unknown %s: %d", id, st)
		}
	}
	var er nativeError
	if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &er); st != 409 || er.Error.Code != "upload_incomplete" {
		t.Errorf("early complete: %d %+v", st, er)
	}

	var st nativeUpload
	e.call("GET", "/v1/uploads/"+up.ID, nil, &st)
	if st.State != "open" || st.Received != 1 || len(st.Missing) != 1 || st.Missing[0].First != 1 || st.Missing[0].Last != 3 {
		t.Fatalf("bad requests changed the upload: %+v", st)
	}
	if after := len(e.stagedKeys()); after != before {
		t.Fatalf("bad requests left staged objects: %d before, %d after", before, after)
	}
}

// TestHostileNamesStayInTheirPrefix: file names that try to escape the
// upload's key prefix end up as one safe segment under it.
func TestHostileNamesStayInTheirPrefix(t *testing.T) {
	e := newEnv(t, nil)
	names := []string{"../../etc/passwd", "/abs/path.txt", `..\..\win.ini`, "a\u0000b", "\u2025\u2215x", "..", "line\r\nbreak", "%2e%2e%2fx"}
	for _, name := range names {
		up := e.createNative(name, 3, 1<<20)
		e.putNative(up.ID, 0, []byte("abc"))
		var done nativeUpload
		if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 {
			t.Fatalf("%q: complete %d", name, st)
		}
		prefix := "uploads/" + up.ID + "/"
		rest := strings.TrimPrefix(done.Key, prefix)
		if !strings.HasPrefix(done.Key, prefix) || rest == "" || strings.ContainsAny(rest, "/\\\x00\r\n") || strings.HasPrefix(rest, ".") {
			t.Errorf("%q became key %q", name, done.Key)
		}
	}
	out, err := e.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &e.bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if !strings.HasPrefix(*o.Key, "uploads/") {
			t.Errorf("object outside uploads/: %q", *o.Key)
		}
	}
}

// TestResumableBadInput: refusals use statuses Resumable.js treats as
// permanent (never 413, which it retries a hundred times), say what was
// wrong, and leave the stored upload as it was.
func TestResumableBadInput(t *testing.T) {
	e := newEnv(t, smallLimits)
	f := resumableFile{data: randomBytes(4<<20+5, 61), name: "ok.bin", chunkSize: 1 << 20, identifier: "ok-bin"}
	if st, _ := e.sendResumable(f, 1); st != 200 {
		t.Fatal("good chunk refused")
	}
	mutate := func(n int, change func(url.Values)) url.Values {
		q := f.params(n)
		change(q)
		return q
	}
	cases := map[string]url.Values{
		"no identifier":     mutate(2, func(q url.Values) { q.Del("resumableIdentifier") }),
		"no filename":       mutate(2, func(q url.Values) { q.Del("resumableFilename") }),
		"number not a num":  mutate(2, func(q url.Values) { q.Set("resumableChunkNumber", "two") }),
		"number zero":       mutate(2, func(q url.Values) { q.Set("resumableChunkNumber", "0") }),
		"number past total": mutate(2, func(q url.Values) { q.Set("resumableChunkNumber", "5") }),
		"negative size":     mutate(2, func(q url.Values) { q.Set("resumableTotalSize", "-5") }),
		"current mismatch":  mutate(2, func(q url.Values) { q.Set("resumableCurrentChunkSize", "5") }),
		"over file limit":   mutate(2, func(q url.Values) { q.Set("resumableTotalSize", "68157440"); q.Set("resumableTotalChunks", "65") }),
		"too many chunks":   mutate(2, func(q url.Values) { q.Set("resumableTotalChunks", "41") }),
		"geometry mismatch": mutate(2, func(q url.Values) { q.Set("resumableTotalChunks", "9") }),
		"long identifier":   mutate(2, func(q url.Values) { q.Set("resumableIdentifier", strings.Repeat("i", 513)) }),
	}
	for name, q := range cases {
		req, _ := http.NewRequest("POST", e.url+"/resumable?"+q.Encode(), bytes.NewReader(f.chunk(2)))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(msg.String(), "message") {
			t.Errorf("%s: %d %s, want 400 with a message", name, resp.StatusCode, msg.String())
		}
		if st := e.call("GET", "/resumable?"+q.Encode(), nil, nil); st == 200 {
			t.Errorf("%s: test GET answered 200", name)
		}
	}
	// A chunk over the chunk limit: 400 with the limit, not 413.
	big := resumableFile{data: randomBytes(3<<20, 62), name: "big.bin", chunkSize: 3 << 20, identifier: "big-bin"}
	st, out := e.sendResumable(big, 1)
	if st != 400 || !strings.Contains(fmt.Sprint(out["message"]), "2097152") {
		t.Errorf("oversized chunk: %d %v, want 400 naming the limit", st, out)
	}
	// A multipart post without the file field.
	path, _, _ := f.post(2)
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("form without file: %v %v", resp.StatusCode, err)
	}
	if st := e.testResumable(f, 1); st != 200 {
		t.Fatalf("bad requests disturbed the stored chunk: test answers %d", st)
	}
	if st := e.testResumable(f, 2); st != http.StatusNoContent {
		t.Fatalf("a bad request stored chunk 2: test answers %d", st)
	}
}
