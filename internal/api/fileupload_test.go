package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"chunkup/internal/api"
)

// fuFile is a file as jQuery-File-Upload sends it with maxChunkSize set.
type fuFile struct {
	name   string
	data   []byte
	chunk  int    // maxChunkSize
	method string // POST unless set
	raw    bool   // multipart: false
	param  string // paramName, "files[]" unless set
}

// fuAnswer is what chunkup answers jQuery-File-Upload.
type fuAnswer struct {
	Files []struct {
		Name      string `json:"name"`
		Size      int64  `json:"size"`
		Type      string `json:"type"`
		Key       string `json:"key"`
		CRC64NVME string `json:"crc64nvme"`
		Error     string `json:"error"`
	} `json:"files"`
	File *struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"file"`
	Error string `json:"error"`
	Limit int64  `json:"limit"`
}

// encodeURI is JavaScript's encodeURI, which the plugin applies to the
// name in Content-Disposition.
func encodeURI(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(";,/?:@&=+$-_.!~*'()#", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// headers are the plugin's headers for the chunk from byte ub: the file
// name always (the chunk is a Blob), Content-Range when the file is cut.
func (f fuFile) headers(ub, n int) map[string]string {
	h := map[string]string{"Content-Disposition": `attachment; filename="` + encodeURI(f.name) + `"`}
	if f.chunk < len(f.data) || ub > 0 {
		h["Content-Range"] = contentRange(ub, n, len(f.data))
	}
	return h
}

// body is the request body for a piece: a form with the piece as a file
// part named after the file, or the piece itself.
func (f fuFile) body(piece []byte) ([]byte, string) {
	if f.raw {
		return piece, "application/octet-stream"
	}
	param := f.param
	if param == "" {
		param = "files[]"
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(param, f.name)
	fw.Write(piece)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func (f fuFile) request(base string, ub int) *http.Request {
	piece := f.data[ub:min(ub+f.chunk, len(f.data))]
	body, ct := f.body(piece)
	method := f.method
	if method == "" {
		method = "POST"
	}
	req, _ := http.NewRequest(method, base+"/fileupload", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	for k, v := range f.headers(ub, len(piece)) {
		req.Header.Set(k, v)
	}
	return req
}

func (e *env) fuDo(req *http.Request) (int, fuAnswer, http.Header) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a fuAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("%s %s: %d %q is not JSON", req.Method, req.URL, resp.StatusCode, raw)
	}
	return resp.StatusCode, a, resp.Header
}

// uploadedBytes reads the Range header as the plugin does: the number
// after the dash, plus one; 0 without one.
func uploadedBytes(h http.Header) int {
	_, upper, ok := strings.Cut(h.Get("Range"), "-")
	n, err := strconv.Atoi(upper)
	if !ok || err != nil {
		return 0
	}
	return n + 1
}

// fuUpload runs the plugin's chunk loop from byte ub: each answer's Range
// says where the next chunk starts. It returns the last answer and the
// number of requests.
func (e *env) fuUpload(f fuFile, ub int) (fuAnswer, int) {
	e.t.Helper()
	var a fuAnswer
	requests := 0
	for first := true; first || ub < len(f.data); first = false {
		var st int
		var h http.Header
		st, a, h = e.fuDo(f.request(e.url, ub))
		requests++
		n := min(f.chunk, len(f.data)-ub)
		if st != 200 || len(a.Files) != 1 || a.Files[0].Name != f.name || a.Files[0].Error != "" {
			e.t.Fatalf("%s chunk at %d: %d %+v", f.name, ub, st, a)
		}
		if got := uploadedBytes(h); got != ub+n || a.Files[0].Size != int64(ub+n) {
			e.t.Fatalf("%s chunk at %d: Range %q, size %d; want %d bytes stored", f.name, ub, h.Get("Range"), a.Files[0].Size, ub+n)
		}
		ub = uploadedBytes(h)
	}
	return a, requests
}

// fuResume is the GET of the plugin's documented resume recipe.
func (e *env) fuResume(query url.Values) (int, fuAnswer) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/fileupload?"+query.Encode(), nil)
	st, a, h := e.fuDo(req)
	if cc := h.Get("Cache-Control"); st == 200 && cc != "no-store" {
		e.t.Fatalf("resume GET may be cached: Cache-Control %q", cc)
	}
	return st, a
}

func (e *env) fuFinished(a fuAnswer, f fuFile) {
	e.t.Helper()
	file := a.Files[0]
	if file.Size != int64(len(f.data)) || file.Key == "" || file.CRC64NVME == "" {
		e.t.Fatalf("%s: final answer %+v", f.name, a)
	}
	got, crc := e.object(file.Key)
	if !bytes.Equal(got, f.data) || crc != file.CRC64NVME {
		e.t.Fatalf("%s: object %s differs (%d bytes, crc %q vs %q)", f.name, file.Key, len(got), crc, file.CRC64NVME)
	}
}

// TestFileUploadChunked: the plugin's chunked upload by POST (multipart,
// default field), PUT (raw body) and PATCH (multipart, own paramName),
// with a name that encodeURI escapes.
func TestFileUploadChunked(t *testing.T) {
	e := newEnv(t, nil)
	files := []fuFile{
		{name: "big movie.mp4", data: randomBytes(17<<20+1234, 91), chunk: 1 << 20},
		{name: "Ünïcødé ✓ 100%.bin", data: randomBytes(5<<19+7, 92), chunk: 1_000_000, method: "PUT", raw: true},
		{name: "rapport (final);v2.pdf", data: randomBytes(5<<19, 93), chunk: 1 << 20, method: "PATCH", param: "upload"},
	}
	for _, f := range files {
		a, requests := e.fuUpload(f, 0)
		if want := (len(f.data) + f.chunk - 1) / f.chunk; requests != want {
			t.Fatalf("%s: %d requests, want %d", f.name, requests, want)
		}
		e.fuFinished(a, f)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged pieces left: %v", left)
	}
	// The plugin reads Range from a cross-origin answer only if the API
	// exposes it (template.yaml's CORS is held to api.CORS by a test).
	if !slices.Contains(api.CORS().ExposeHeaders, "range") {
		t.Fatal("CORS does not expose Range to scripts")
	}
}

// TestFileUploadWholeFile: a file that fits one chunk comes without
// Content-Range and is finished by that request; an empty one too.
func TestFileUploadWholeFile(t *testing.T) {
	e := newEnv(t, nil)
	for _, f := range []fuFile{
		{name: "note.txt", data: randomBytes(300_000, 94), chunk: 1 << 20},
		{name: "empty.txt", data: []byte{}, chunk: 1 << 20},
	} {
		st, a, _ := e.fuDo(f.request(e.url, 0))
		if st != 200 || len(a.Files) != 1 {
			t.Fatalf("%s: %d %+v", f.name, st, a)
		}
		e.fuFinished(a, f)
	}
}

// TestFileUploadResume: the upload stops after four chunks; the resume
// GET gives the bytes stored, and the plugin sends only the rest. A chunk
// re-sent after its answer was lost changes nothing, and its Range puts
// the plugin back where the upload is.
func TestFileUploadResume(t *testing.T) {
	e := newEnv(t, nil)
	f := fuFile{name: "résumé.pdf", data: randomBytes(9<<20+99, 95), chunk: 1 << 20}
	for ub := 0; ub < 4<<20; ub += f.chunk {
		if st, a, _ := e.fuDo(f.request(e.url, ub)); st != 200 {
			t.Fatalf("chunk at %d: %d %+v", ub, st, a)
		}
	}
	if st, a := e.fuResume(url.Values{"file": {f.name}}); st != 200 || a.File == nil || a.File.Name != f.name || a.File.Size != 4<<20 {
		t.Fatalf("resume GET: %d %+v", st, a.File)
	}
	if st, a := e.fuResume(url.Values{"file": {f.name}, "size": {"12345"}}); st != 200 || a.File != nil {
		t.Fatalf("resume GET for a file of another size: %d %+v", st, a.File)
	}
	if st, a := e.fuResume(url.Values{"file": {"other.pdf"}}); st != 200 || a.File != nil {
		t.Fatalf("resume GET for an unknown file: %d %+v", st, a.File)
	}
	// The answer to chunk 4 was lost: the plugin sends it again.
	st, a, h := e.fuDo(f.request(e.url, 3<<20))
	if st != 200 || uploadedBytes(h) != 4<<20 || a.Files[0].Size != 4<<20 {
		t.Fatalf("re-sent chunk: %d %+v Range %q", st, a, h.Get("Range"))
	}
	staged := len(e.stagedKeys())
	a, requests := e.fuUpload(f, 4<<20)
	if want := 6; requests != want {
		t.Fatalf("resumed upload took %d requests, want %d", requests, want)
	}
	e.fuFinished(a, f)
	if staged == 0 {
		t.Fatal("nothing was staged before the resume: the test did not interrupt anything")
	}
	// Finished: nothing to resume; the next upload of that name is new.
	if st, a := e.fuResume(url.Values{"file": {f.name}}); st != 200 || a.File != nil {
		t.Fatalf("resume GET after completion: %d %+v", st, a.File)
	}
	g := fuFile{name: f.name, data: randomBytes(3<<20, 96), chunk: 1 << 20}
	a, _ = e.fuUpload(g, 0)
	e.fuFinished(a, g)
}

// TestFileUploadStartsOver: a file sent again from byte 0 without the
// resume recipe starts a new upload instead of mixing two files.
func TestFileUploadStartsOver(t *testing.T) {
	e := newEnv(t, nil)
	first := fuFile{name: "same.bin", data: randomBytes(4<<20, 97), chunk: 1 << 20}
	for ub := 0; ub < 2<<20; ub += first.chunk {
		if st, a, _ := e.fuDo(first.request(e.url, ub)); st != 200 {
			t.Fatalf("chunk at %d: %d %+v", ub, st, a)
		}
	}
	second := first
	second.data = randomBytes(4<<20, 98)
	a, _ := e.fuUpload(second, 0)
	e.fuFinished(a, second)
}

// TestFileUploadExpired: after a day without chunks there is nothing to
// resume, a later chunk is refused 410, and the file starts over.
func TestFileUploadExpired(t *testing.T) {
	e := newEnv(t, nil)
	f := fuFile{name: "slow.bin", data: randomBytes(3<<20, 99), chunk: 1 << 20}
	if st, a, _ := e.fuDo(f.request(e.url, 0)); st != 200 {
		t.Fatalf("first chunk: %d %+v", st, a)
	}
	e.clock.Advance(24*time.Hour + time.Minute)
	if st, a := e.fuResume(url.Values{"file": {f.name}}); st != 200 || a.File != nil {
		t.Fatalf("resume GET after expiry: %d %+v", st, a.File)
	}
	st, a, _ := e.fuDo(f.request(e.url, 1<<20))
	if st != 410 || a.Error == "" || len(a.Files) != 1 || a.Files[0].Error == "" {
		t.Fatalf("chunk after expiry: %d %+v", st, a)
	}
	a, _ = e.fuUpload(f, 0)
	e.fuFinished(a, f)
}

// fuRefusal is a bad request and the answer it must get.
type fuRefusal struct {
	what    string
	method  string
	ct      string
	headers map[string]string
	body    []byte
	status  int
	message string
	limit   int64
}

// TestFileUploadBadInput: each bad request gets a 4xx with a message in
// the plugin's shapes, and the upload in progress is unchanged.
func TestFileUploadBadInput(t *testing.T) {
	e := newEnv(t, smallLimits)
	const mib = 1 << 20
	f := fuFile{name: "keep.bin", data: randomBytes(3*mib+10, 100), chunk: mib}
	if st, a, _ := e.fuDo(f.request(e.url, 0)); st != 200 {
		t.Fatalf("first chunk: %d %+v", st, a)
	}
	staged := e.stagedKeys()
	next := f.data[mib : 2*mib]
	cd := `attachment; filename="keep.bin"`
	hdr := func(rng string) map[string]string {
		return map[string]string{"Content-Disposition": cd, "Content-Range": rng}
	}
	twoFiles, twoCT := twoFileForm(next)
	noFile, noFileCT := fieldsOnlyForm()
	total := len(f.data)
	cases := []fuRefusal{
		{"malformed Content-Range", "POST", "application/octet-stream", hdr("bytes 1048576-2097151"), next, 400, "TOTAL", 0},
		{"Content-Range with =", "PUT", "application/octet-stream", hdr(fmt.Sprintf("bytes=%d-%d/%d", mib, 2*mib-1, total)), next, 400, "bytes ", 0},
		{"negative START", "PUT", "application/octet-stream", hdr(fmt.Sprintf("bytes -%d-%d/%d", mib, 2*mib-1, total)), next, 400, "START", 0},
		{"huge numbers", "PATCH", "application/octet-stream", hdr("bytes 99999999999999999999-99999999999999999999/99999999999999999999"), next, 400, "digits", 0},
		{"chunk shorter than Content-Range", "POST", "application/octet-stream", hdr(contentRange(mib, mib, total)), next[:999], 400, "999 bytes", 0},
		{"START ahead of the upload", "POST", "application/octet-stream", hdr(contentRange(2*mib, mib, total)), next, 400, "has 1048576 bytes", 0},
		{"another TOTAL", "POST", "application/octet-stream", hdr(contentRange(mib, mib, total+1)), next, 400, fmt.Sprint(total), 0},
		{"TOTAL over the limit", "POST", "application/octet-stream", hdr(contentRange(mib, mib, 64<<20+1)), next, 413, "limit of 67108864 bytes", 64 << 20},
		{"chunk over the chunk limit", "POST", "application/octet-stream", hdr(contentRange(mib, 2*mib+1, total)), f.data[mib : 3*mib+1], 413, "limit of 2097152 bytes", 2 << 20},
		{"unknown file", "POST", "application/octet-stream", map[string]string{"Content-Disposition": `attachment; filename="nope.bin"`, "Content-Range": contentRange(mib, mib, total)}, next, 404, "from byte 0", 0},
		{"raw body without a name", "PUT", "application/octet-stream", map[string]string{"Content-Range": contentRange(mib, mib, total)}, next, 400, "no name", 0},
		{"Content-Disposition without filename", "PUT", "application/octet-stream", map[string]string{"Content-Disposition": "attachment", "Content-Range": contentRange(mib, mib, total)}, next, 400, "no filename", 0},
		{"two files in one form", "POST", twoCT, hdr(contentRange(mib, mib, total)), twoFiles, 400, "2 files", 0},
		{"form without a file", "POST", noFileCT, hdr(contentRange(mib, mib, total)), noFile, 400, "0 files", 0},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, e.url+"/fileupload", bytes.NewReader(c.body))
		req.Header.Set("Content-Type", c.ct)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		st, a, _ := e.fuDo(req)
		if st != c.status || !strings.Contains(a.Error, c.message) || a.Limit != c.limit {
			t.Errorf("%s: %d %+v, want %d %q limit %d", c.what, st, a, c.status, c.message, c.limit)
		}
		if c.headers["Content-Disposition"] == cd && st < 413 && (len(a.Files) != 1 || a.Files[0].Name != "keep.bin" || a.Files[0].Error != a.Error) {
			t.Errorf("%s: no per-file error in %+v", c.what, a)
		}
	}
	if st, a := e.fuResume(url.Values{"file": {"keep.bin"}, "size": {"-1"}}); st != 400 || a.Error == "" {
		t.Errorf("resume GET with a negative size: %d %+v", st, a)
	}
	for _, m := range []string{"DELETE", "HEAD"} {
		if st := e.call(m, "/fileupload", nil, nil); st != http.StatusNotFound {
			t.Errorf("%s /fileupload: %d, want 404", m, st)
		}
	}
	if st, a := e.fuResume(url.Values{"file": {"keep.bin"}}); st != 200 || a.File == nil || a.File.Size != mib || !slices.Equal(e.stagedKeys(), staged) {
		t.Fatalf("bad requests changed the upload: %+v, staged %v (was %v)", a.File, e.stagedKeys(), staged)
	}
	a, _ := e.fuUpload(f, mib)
	e.fuFinished(a, f)
}

// TestFileUploadGapAnswersRange: a chunk past the stored bytes is refused
// with the Range of what is stored, for pages that read it on failure.
func TestFileUploadGapAnswersRange(t *testing.T) {
	e := newEnv(t, nil)
	f := fuFile{name: "gap.bin", data: randomBytes(3<<20, 101), chunk: 1 << 20}
	e.fuDo(f.request(e.url, 0))
	st, a, h := e.fuDo(f.request(e.url, 2<<20))
	if st != 400 || uploadedBytes(h) != 1<<20 || len(a.Files) != 1 || a.Files[0].Error == "" {
		t.Fatalf("chunk past the gap: %d %+v Range %q", st, a, h.Get("Range"))
	}
	if st, a := e.fuResume(nil); st != 200 || a.Files == nil || len(a.Files) != 0 {
		t.Fatalf("GET without a file: %d %+v", st, a)
	}
}

func twoFileForm(data []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range []string{"a.bin", "b.bin"} {
		fw, _ := mw.CreateFormFile("files[]", name)
		fw.Write(data)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func fieldsOnlyForm() ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "no file here")
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// invokeWithHeaders calls a function's handler as API Gateway would for
// a caller whose JWT names sub.
func (e *env) invokeWithHeaders(sub, function, method, path, query string, headers map[string]string, body []byte) events.APIGatewayV2HTTPResponse {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query,
		Headers: headers, Body: base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true,
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

// TestFileUploadNamesAreScopedByOwner: two callers upload files of the
// same name at once and each gets their own.
func TestFileUploadNamesAreScopedByOwner(t *testing.T) {
	e := newEnv(t, nil)
	files := map[string]fuFile{
		"alice": {name: "cv.pdf", data: randomBytes(2<<20+5, 102), chunk: 1 << 20, raw: true},
		"bob":   {name: "cv.pdf", data: randomBytes(2<<20+5, 103), chunk: 1 << 20, raw: true},
	}
	keys := map[string]string{}
	for ub := 0; ub < 2<<20+5; ub += 1 << 20 {
		for _, who := range []string{"alice", "bob"} {
			f := files[who]
			req := f.request("", ub)
			body, _ := io.ReadAll(req.Body)
			hdr := map[string]string{"content-type": req.Header.Get("Content-Type")}
			for k := range req.Header {
				hdr[strings.ToLower(k)] = req.Header.Get(k)
			}
			resp := e.invokeWithHeaders(who, api.ReceiveFunction, "POST", "/fileupload", "", hdr, body)
			var a fuAnswer
			json.Unmarshal([]byte(resp.Body), &a)
			if resp.StatusCode != 200 || len(a.Files) != 1 {
				t.Fatalf("%s chunk at %d: %d %s", who, ub, resp.StatusCode, resp.Body)
			}
			keys[who] = a.Files[0].Key
		}
	}
	for who, f := range files {
		if got, _ := e.object(keys[who]); !bytes.Equal(got, f.data) {
			t.Fatalf("%s's file is not theirs", who)
		}
	}
}
