package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"chunkup/internal/api"
)

// resumableFile is a file as Resumable.js cuts it: chunkSize pieces, the
// last one taking the remainder (so it may be larger than chunkSize).
type resumableFile struct {
	data       []byte
	name       string
	identifier string
	chunkSize  int
}

func (f resumableFile) chunks() int { return max(len(f.data)/f.chunkSize, 1) }

func (f resumableFile) chunk(n int) []byte { // n from 1
	lo := (n - 1) * f.chunkSize
	hi := lo + f.chunkSize
	if n == f.chunks() {
		hi = len(f.data)
	}
	return f.data[lo:hi]
}

// params are the query parameters Resumable.js sends with chunk n.
func (f resumableFile) params(n int) url.Values {
	return url.Values{
		"resumableChunkNumber":      {strconv.Itoa(n)},
		"resumableChunkSize":        {strconv.Itoa(f.chunkSize)},
		"resumableCurrentChunkSize": {strconv.Itoa(len(f.chunk(n)))},
		"resumableTotalSize":        {strconv.Itoa(len(f.data))},
		"resumableType":             {"application/octet-stream"},
		"resumableIdentifier":       {f.identifier},
		"resumableFilename":         {f.name},
		"resumableRelativePath":     {f.name},
		"resumableTotalChunks":      {strconv.Itoa(f.chunks())},
	}
}

// post builds Resumable.js's upload request for chunk n: the parameters in
// the query string and again as form fields, then the chunk as "file".
func (f resumableFile) post(n int) (string, *bytes.Buffer, string) {
	q := f.params(n)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range q {
		mw.WriteField(k, vs[0])
	}
	fw, _ := mw.CreateFormFile("file", "blob")
	fw.Write(f.chunk(n))
	mw.Close()
	return "/resumable?" + q.Encode(), &body, mw.FormDataContentType()
}

func (e *env) sendResumable(f resumableFile, n int) (int, map[string]any) {
	e.t.Helper()
	path, body, ct := f.post(n)
	req, _ := http.NewRequest("POST", e.url+path, body)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("chunk %d: %v", n, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *env) testResumable(f resumableFile, n int) int {
	e.t.Helper()
	return e.call("GET", "/resumable?"+f.params(n).Encode(), nil, nil)
}

// sessionCount counts upload sessions in the table.
func (e *env) sessionCount() int {
	e.t.Helper()
	out, err := e.db.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 &e.table,
		FilterExpression:          aws.String("sk = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "S"}},
	})
	if err != nil {
		e.t.Fatalf("scan: %v", err)
	}
	return len(out.Items)
}

func TestResumableUploadLikeTheClient(t *testing.T) {
	e := newEnv(t, nil)
	f := resumableFile{data: randomBytes(23<<20+300<<10, 11), name: "movie.mp4", chunkSize: 1 << 20}
	f.identifier = strconv.Itoa(len(f.data)) + "-moviemp4"
	if last := len(f.chunk(f.chunks())); last <= f.chunkSize {
		t.Fatalf("test file's last chunk is %d bytes; it should be larger than chunkSize", last)
	}
	// testChunks: nothing is there yet.
	if st := e.testResumable(f, 1); st != http.StatusNoContent {
		t.Fatalf("test before upload: %d, want 204", st)
	}
	// Three first chunks of a new file at once make one session.
	var wg sync.WaitGroup
	for n := 1; n <= 3; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, out := e.sendResumable(f, n); st != 200 {
				t.Errorf("chunk %d: %d %v", n, st, out)
			}
		}()
	}
	wg.Wait()
	if n := e.sessionCount(); n != 1 {
		t.Fatalf("three first chunks at once made %d sessions", n)
	}
	for n := 1; n <= 3; n++ {
		if st := e.testResumable(f, n); st != 200 {
			t.Fatalf("test chunk %d after upload: %d, want 200", n, st)
		}
	}
	if st := e.testResumable(f, 4); st != http.StatusNoContent {
		t.Fatalf("test chunk 4 before upload: %d, want 204", st)
	}
	for n := 4; n < f.chunks(); n++ {
		if st, out := e.sendResumable(f, n); st != 200 {
			t.Fatalf("chunk %d: %d %v", n, st, out)
		}
	}
	// The last chunk twice at once: one assembly, one completion.
	results := make([]map[string]any, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var st int
			st, results[i] = e.sendResumable(f, f.chunks())
			if st != 200 {
				t.Errorf("last chunk copy %d: %d %v", i, st, results[i])
			}
		}()
	}
	wg.Wait()
	if c := e.blobs.completes.Load(); c != 1 {
		t.Fatalf("%d completions, want 1", c)
	}
	parts := (f.chunks() + 4) / 5
	if p := e.blobs.uploadParts.Load(); p != int64(parts) {
		t.Fatalf("%d part uploads, want %d", p, parts)
	}
	key := ""
	for _, r := range results {
		if r["state"] == "complete" {
			key, _ = r["key"].(string)
		}
	}
	if key == "" {
		t.Fatalf("neither copy of the last chunk reported completion: %v", results)
	}
	got, crc := e.object(key)
	if !bytes.Equal(got, f.data) || crc == "" {
		t.Fatalf("object differs from the file or has no CRC64NVME (%d bytes, crc %q)", len(got), crc)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged chunks left: %v", left)
	}
	// After completion every chunk tests as present, and a re-sent chunk
	// is answered 200 and changes nothing.
	if st := e.testResumable(f, 2); st != 200 {
		t.Fatalf("test after completion: %d", st)
	}
	if st, _ := e.sendResumable(f, 2); st != 200 {
		t.Fatalf("re-sent chunk after completion: %d", st)
	}
	if got2, _ := e.object(key); !bytes.Equal(got2, f.data) || e.blobs.completes.Load() != 1 {
		t.Fatal("a re-sent chunk changed the finished file")
	}
}

// invokeAs calls a function's handler with an API Gateway event whose JWT
// authorizer names sub, as a deployed stack with auth on would.
func (e *env) invokeAs(sub, function, method, path, query, contentType string, body []byte) events.APIGatewayV2HTTPResponse {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query,
		Headers:         map[string]string{"content-type": contentType},
		Body:            base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "test-" + sub, Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "127.0.0.1"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": sub}},
			},
		},
	}
	resp, err := httpadapter.NewV2(e.svc.Handler(function)).ProxyWithContext(context.Background(), ev)
	if err != nil {
		e.t.Fatalf("invoke %s: %v", function, err)
	}
	return resp
}

// TestResumableIdentifierIsScopedByOwner: two users whose files share
// Resumable.js's default identifier (size-name) get two uploads.
func TestResumableIdentifierIsScopedByOwner(t *testing.T) {
	e := newEnv(t, nil)
	size := 6<<20 + 7
	a := resumableFile{data: randomBytes(size, 21), name: "cv.pdf", chunkSize: 1 << 20, identifier: fmt.Sprintf("%d-cvpdf", size)}
	b := a
	b.data = randomBytes(size, 22)
	keys := map[string]string{}
	for n := 1; n <= a.chunks(); n++ {
		for who, f := range map[string]resumableFile{"alice": a, "bob": b} {
			path, body, ct := f.post(n)
			u, _ := url.Parse(path)
			resp := e.invokeAs(who, api.ReceiveFunction, "POST", u.Path, u.RawQuery, ct, body.Bytes())
			if resp.StatusCode != 200 {
				t.Fatalf("%s chunk %d: %d %s", who, n, resp.StatusCode, resp.Body)
			}
			var out map[string]any
			json.Unmarshal([]byte(resp.Body), &out)
			if out["state"] == "complete" {
				keys[who] = out["key"].(string)
			}
		}
	}
	if len(keys) != 2 || keys["alice"] == keys["bob"] {
		t.Fatalf("two owners' uploads finished as %v", keys)
	}
	if got, _ := e.object(keys["alice"]); !bytes.Equal(got, a.data) {
		t.Fatal("alice's file is not hers")
	}
	if got, _ := e.object(keys["bob"]); !bytes.Equal(got, b.data) {
		t.Fatal("bob's file is not his")
	}
}

// TestResumableNewGeometryIsNewUpload: the same identifier with another
// chunk size starts over instead of mixing chunks of two cuts.
func TestResumableNewGeometryIsNewUpload(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(7<<20, 31)
	f1 := resumableFile{data: data, name: "a.bin", chunkSize: 1 << 20, identifier: "7340032-abin"}
	f2 := f1
	f2.chunkSize = 2 << 20
	if st, _ := e.sendResumable(f1, 1); st != 200 {
		t.Fatal("first cut refused")
	}
	if st := e.testResumable(f2, 1); st != http.StatusNoContent {
		t.Fatalf("chunk 1 of another cut tests as %d, want 204", st)
	}
	var last map[string]any
	for n := 1; n <= f2.chunks(); n++ {
		var st int
		if st, last = e.sendResumable(f2, n); st != 200 {
			t.Fatalf("second cut chunk %d: %d %v", n, st, last)
		}
	}
	got, _ := e.object(last["key"].(string))
	if !bytes.Equal(got, data) {
		t.Fatal("second cut's file differs")
	}
}
