package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"chunkup/internal/api"
	"chunkup/internal/upload"
)

// muFile is a file as a MultipleUpload client cuts it: count chunks, all
// of chunkSize but the last, which holds what is left (shorter, or, when
// count is set to round down, longer).
type muFile struct {
	data      []byte
	name      string
	id        string // X-Upload-Id
	chunkSize int
	count     int
}

func newMUFile(data []byte, name, id string, chunkSize int) muFile {
	return muFile{data: data, name: name, id: id, chunkSize: chunkSize, count: (len(data) + chunkSize - 1) / chunkSize}
}

func (f muFile) chunk(i int) []byte { // i from 0
	lo := i * f.chunkSize
	if i == f.count-1 {
		return f.data[lo:]
	}
	return f.data[lo : lo+f.chunkSize]
}

// headers are what the client sends with chunk i. A browser cannot send
// a name that is not Latin-1 in a header: such names go percent-encoded.
func (f muFile) headers(i int) map[string]string {
	name := f.name
	if strings.ContainsFunc(name, func(r rune) bool { return r > 0x7e }) {
		name = url.PathEscape(name)
	}
	return map[string]string{
		"X-Upload-Id":   f.id,
		"X-Chunk-Index": strconv.Itoa(i),
		"X-Chunk-Count": strconv.Itoa(f.count),
		"X-File-Name":   name,
		"X-File-Size":   strconv.Itoa(len(f.data)),
	}
}

// muAnswer is every field MultipleUpload's answers have.
type muAnswer struct {
	Success        *bool  `json:"success"`
	Error          string `json:"error"`
	ChunksReceived *int   `json:"chunksReceived"`
	FileGUID       string `json:"fileGuid"`
	FileName       string `json:"fileName"`
	FileSize       *int64 `json:"fileSize"`
	Key            string `json:"key"`
	CRC64          string `json:"crc64nvme"`
}

// String shows an answer as its JSON, pointed-to values and all.
func (a muAnswer) String() string {
	b, _ := json.Marshal(a)
	return string(b)
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// done reports whether a is the answer for a finished file.
func (a muAnswer) done() bool { return a.FileGUID != "" }

// muSend posts a chunk with the given headers (an empty value leaves the
// header out).
func (e *env) muSend(method string, hdr map[string]string, body []byte) (int, muAnswer) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+"/multipleupload/upload-chunk", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return e.muDo(req)
}

func (e *env) muChunk(f muFile, i int) (int, muAnswer) {
	e.t.Helper()
	return e.muSend("POST", f.headers(i), f.chunk(i))
}

func (e *env) muDo(req *http.Request) (int, muAnswer) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a muAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("%s %s: %d %q is not JSON: %v", req.Method, req.URL, resp.StatusCode, raw, err)
	}
	return resp.StatusCode, a
}

// muWhole posts a whole file as MultipleUpload does: a form with the field
// "file".
func (e *env) muWhole(name, fileType string, data []byte) (int, muAnswer) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	h.Set("Content-Type", fileType)
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", e.url+"/multipleupload/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.muDo(req)
}

// checkFinished checks a finished file's answer and that its object is
// the file, byte for byte.
func (e *env) checkFinished(a muAnswer, name string, data []byte) {
	e.t.Helper()
	if a.Success == nil || !*a.Success || !uuidShape.MatchString(a.FileGUID) || a.FileName != name || a.FileSize == nil || *a.FileSize != int64(len(data)) {
		e.t.Fatalf("final answer %+v, want success, a UUID fileGuid, fileName %q, fileSize %d", a, name, len(data))
	}
	if id := strings.ReplaceAll(a.FileGUID, "-", ""); !strings.HasPrefix(a.Key, "uploads/"+id+"/") {
		e.t.Fatalf("key %q is not the upload %s's", a.Key, a.FileGUID)
	}
	if got, crc := e.object(a.Key); !bytes.Equal(got, data) || crc == "" {
		e.t.Fatalf("object %s differs from the file (%d bytes, want %d) or has no CRC64NVME", a.Key, len(got), len(data))
	}
}

// TestMultipleUploadChunksOutOfOrder: the last chunk first (its length
// says nothing of the chunk size alone), the rest shuffled, one chunk
// twice; each answer counts the chunks received, the one that completes
// the file answers as a whole-file upload, and a chunk sent after that
// changes nothing.
func TestMultipleUploadChunksOutOfOrder(t *testing.T) {
	e := newEnv(t, nil)
	f := newMUFile(randomBytes(12<<20+123, 81), "holiday video.mp4", "3f1c2a9e-5d7b-4e11-9c3a-7b2d8e6f1a40", 1<<20)
	order := append([]int{f.count - 1}, rand.New(rand.NewPCG(8, 1)).Perm(f.count-1)...)
	var final muAnswer
	for k, i := range order {
		st, a := e.muChunk(f, i)
		if k == len(order)-1 {
			final = a
			break
		}
		if st != 200 || a.Success == nil || !*a.Success || a.ChunksReceived == nil || *a.ChunksReceived != k+1 || a.done() {
			t.Fatalf("chunk %d (%d-th sent): %d %+v, want success and chunksReceived %d", i, k+1, st, a, k+1)
		}
		if k == 3 { // the same chunk again: nothing new
			if st, a := e.muChunk(f, i); st != 200 || a.ChunksReceived == nil || *a.ChunksReceived != k+1 {
				t.Fatalf("duplicate chunk %d: %d %+v, want chunksReceived %d", i, st, a, k+1)
			}
		}
	}
	e.checkFinished(final, f.name, f.data)
	if n := e.sessionCount(); n != 1 {
		t.Fatalf("%d sessions for one file", n)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged chunks left: %v", left)
	}
	st, again := e.muChunk(f, 2)
	if st != 200 || again.FileGUID != final.FileGUID || e.blobs.completes.Load() != 1 {
		t.Fatalf("chunk sent after completion: %d %+v (completions %d), want the same file", st, again, e.blobs.completes.Load())
	}
	e.checkFinished(again, f.name, f.data)
}

// sameFile reports whether two whole-file answers name the same finished
// file.
func sameFile(a, b muAnswer) bool {
	return a.done() && a.FileGUID == b.FileGUID && a.Key == b.Key && a.CRC64 == b.CRC64 && a.FileName == b.FileName &&
		a.FileSize != nil && b.FileSize != nil && *a.FileSize == *b.FileSize
}

// muState is where the engine says the upload of a whole-file answer
// stands.
func (e *env) muState(a muAnswer) upload.State {
	e.t.Helper()
	s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, strings.ReplaceAll(a.FileGUID, "-", ""))
	if err != nil {
		e.t.Fatalf("get upload %s: %v", a.FileGUID, err)
	}
	return s.State
}

// TestMultipleUploadChunkAfterFinish: chunks re-sent after the file was
// finished (as a client does whose answer was lost) are answered with the
// finished file, the same answer as the one that finished it, and change
// nothing stored: not the object, not a record, and nothing is staged.
// That holds for the chunk that finished the file, one of the first part
// and one of the last, and for a re-send whose bytes differ.
func TestMultipleUploadChunkAfterFinish(t *testing.T) {
	e := newEnv(t, nil)
	f := newMUFile(randomBytes(6<<20+300<<10, 88), "after.bin", "after-1", 1<<20)
	var final muAnswer
	for i := range f.count {
		var st int
		if st, final = e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %+v", i, st, final)
		}
	}
	e.checkFinished(final, f.name, f.data)
	before, staged, completes := e.storage(), e.blobs.putStaged.Load(), e.blobs.completes.Load()
	changed := append([]byte(nil), f.chunk(1)...)
	changed[0] ^= 0xff
	resends := []struct {
		name string
		i    int
		body []byte
	}{
		{"the last chunk", f.count - 1, f.chunk(f.count - 1)},
		{"a chunk of the first part", 0, f.chunk(0)},
		{"a chunk of the last part", f.count - 2, f.chunk(f.count - 2)},
		{"a chunk with other bytes", 1, changed},
	}
	for _, r := range resends {
		st, a := e.muSend("POST", f.headers(r.i), r.body)
		if st != 200 || !sameFile(a, final) || a.ChunksReceived != nil {
			t.Errorf("%s again: %d %+v, want the finished file's answer %+v", r.name, st, a, final)
		}
	}
	e.unchanged("chunks re-sent after the file was finished", before, e.storage(), false)
	if n, m := e.blobs.putStaged.Load()-staged, e.blobs.completes.Load()-completes; n != 0 || m != 0 {
		t.Errorf("re-sent chunks staged %d chunks and completed %d times; want none", n, m)
	}
	if st := e.muState(final); st != upload.StateComplete {
		t.Errorf("state %q, want %q", st, upload.StateComplete)
	}
	e.checkFinished(final, f.name, f.data)
}

// muPersist sends chunk i as the client does: again after a 503 (a fault
// worth retrying), a few times, counting the retries in retried. The
// local S3 server fails a few puts racing with a delete under the same
// prefix (versitygw's POSIX backend removes the emptied directory), a
// fault AWS does not have.
func (e *env) muPersist(f muFile, i int, retried *atomic.Int64) (int, muAnswer) {
	e.t.Helper()
	st, a := e.muChunk(f, i)
	for try := 0; st == http.StatusServiceUnavailable && try < 4; try++ {
		retried.Add(1)
		time.Sleep(100 * time.Millisecond)
		st, a = e.muChunk(f, i)
	}
	return st, a
}

// TestMultipleUploadDuplicateWhileFinishing runs the race of a retry
// whose first answer was lost: the last chunk and a copy of an earlier
// chunk sent at once, the copy started a little later each round so that
// it lands before the last chunk is in, while its part is assembled,
// while the file is being finished and after. The copy is answered
// either with the count of chunks in before the last (it came first) or
// with the finished file, never with a count of every chunk and no file
// (which tells the client nothing of where the file is), and never with
// an error but a 503, which the client retries; the last chunk is
// answered with the file; the file is finished once, right, and
// nothing is left staged.
func TestMultipleUploadDuplicateWhileFinishing(t *testing.T) {
	e := newEnv(t, nil)
	const size, chunk = 6<<20 + 300<<10, 1 << 20 // 7 chunks, parts of 5 and 2
	// How long the last chunk takes alone (assembling its part and
	// finishing the file) is how far the copies' starts spread.
	cal := newMUFile(randomBytes(size, 89), "calibrate.bin", "calibrate", chunk)
	var span time.Duration
	for i := range cal.count {
		start := time.Now()
		if st, a := e.muChunk(cal, i); st != 200 {
			t.Fatalf("calibration chunk %d: %d %+v", i, st, a)
		}
		span = time.Since(start)
	}
	const rounds = 16
	var counted, during, after int
	var retried atomic.Int64
	for r := range rounds {
		f := newMUFile(randomBytes(size, uint64(100+r)), fmt.Sprintf("race %d.bin", r), fmt.Sprintf("race-%d", r), chunk)
		last := f.count - 1
		for i := range last {
			if st, a := e.muChunk(f, i); st != 200 || a.ChunksReceived == nil || *a.ChunksReceived != i+1 {
				t.Fatalf("round %d, chunk %d: %d %+v", r, i, st, a)
			}
		}
		dup := []int{0, last - 1}[r%2] // of an assembled part, or of the last chunk's part
		delay := span * time.Duration(r/2) / (rounds/2 - 1) * 5 / 4
		completes := e.blobs.completes.Load()
		var wg sync.WaitGroup
		var lastSt, dupSt int
		var lastA, dupA muAnswer
		var lastEnd, dupStart time.Time
		wg.Add(2)
		go func() {
			defer wg.Done()
			lastSt, lastA = e.muPersist(f, last, &retried)
			lastEnd = time.Now()
		}()
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			dupStart = time.Now()
			dupSt, dupA = e.muPersist(f, dup, &retried)
		}()
		wg.Wait()
		if lastSt != 200 || !lastA.done() {
			t.Fatalf("round %d: last chunk %d %+v, want the finished file", r, lastSt, lastA)
		}
		switch {
		case dupSt == 200 && sameFile(dupA, lastA) && dupStart.Before(lastEnd):
			during++
		case dupSt == 200 && sameFile(dupA, lastA):
			after++
		case dupSt == 200 && !dupA.done() && dupA.Success != nil && *dupA.Success && dupA.ChunksReceived != nil && *dupA.ChunksReceived == last:
			counted++
		default:
			t.Fatalf("round %d: copy of chunk %d sent %v after the last: %d %+v; want %d chunks received or the file %+v",
				r, dup, delay, dupSt, dupA, last, lastA)
		}
		e.checkFinished(lastA, f.name, f.data)
		if n := e.blobs.completes.Load() - completes; n != 1 {
			t.Fatalf("round %d: %d completions, want 1", r, n)
		}
		if st := e.muState(lastA); st != upload.StateComplete {
			t.Fatalf("round %d: state %q, want %q", r, st, upload.StateComplete)
		}
		if left := e.stagedKeys(); len(left) != 0 {
			t.Fatalf("round %d: staged chunks left: %v", r, left)
		}
	}
	if n := e.multipartUploads(); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	t.Logf("last chunk alone took %v; copies answered: %d with a count, %d with the file while the last chunk was in flight, %d after; %d 503s retried",
		span, counted, during, after, retried.Load())
	if during == 0 {
		t.Error("no copy was answered with the file while the last chunk's request was at work: the race was not run")
	}
}

// failBeginComplete makes the engine's DynamoDB client fail the next write
// that starts finishing an upload, once armed, without it taking effect.
type failBeginComplete struct{ armed atomic.Bool }

func (f *failBeginComplete) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		fail := middleware.InitializeMiddlewareFunc("FailBeginComplete", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok && strings.Contains(aws.ToString(u.UpdateExpression), "= :completing") &&
				f.armed.CompareAndSwap(true, false) {
				return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("begin completion failed")
			}
			return next.HandleInitialize(ctx, in)
		})
		return st.Initialize.Add(fail, middleware.After)
	})
}

// TestMultipleUploadFinishFailed: the request that brought the last chunk
// stored it but could not finish the file (DynamoDB failed), so its
// answer is a 503. Every chunk is in and nobody else will finish the
// file: the client's retry of the chunk does, and is answered with it.
func TestMultipleUploadFinishFailed(t *testing.T) {
	fail := &failBeginComplete{}
	e := newEnvWith(t, envOptions{dynamo: fail.install})
	f := newMUFile(randomBytes(6<<20+300<<10, 91), "retry.bin", "retry-1", 1<<20)
	for i := range f.count - 1 {
		if st, a := e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %v", i, st, a)
		}
	}
	fail.armed.Store(true)
	if st, a := e.muChunk(f, f.count-1); st != http.StatusServiceUnavailable || a.done() {
		t.Fatalf("last chunk with the completion failing: %d %v, want 503", st, a)
	}
	if fail.armed.Load() {
		t.Fatal("the last chunk never tried to finish the file")
	}
	st, a := e.muChunk(f, f.count-1)
	if st != 200 || !a.done() {
		t.Fatalf("last chunk again: %d %v, want the finished file", st, a)
	}
	e.checkFinished(a, f.name, f.data)
	if n := e.blobs.completes.Load(); n != 1 {
		t.Fatalf("%d completions, want 1", n)
	}
}

// TestMultipleUploadLastChunkLarger: a client that lets the last chunk
// take the remainder (larger than the others), last chunk first.
func TestMultipleUploadLastChunkLarger(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(5<<20+700<<10, 82)
	f := muFile{data: data, name: "scan.tiff", id: "scan-1", chunkSize: 1 << 20, count: 5}
	if len(f.chunk(4)) <= f.chunkSize {
		t.Fatal("the test file's last chunk should be larger than the others")
	}
	var a muAnswer
	for _, i := range []int{4, 0, 3, 1, 2} {
		var st int
		if st, a = e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d: %d %+v", i, st, a)
		}
	}
	e.checkFinished(a, f.name, f.data)
}

// TestMultipleUploadParallel: every chunk at once, four at a time, and
// the last twice: one upload, one completion, every final answer alike.
func TestMultipleUploadParallel(t *testing.T) {
	e := newEnv(t, nil)
	f := newMUFile(randomBytes(9<<20+5, 83), "données 2026.csv", "parallel-1", 1<<20)
	sends := append(rand.New(rand.NewPCG(9, 2)).Perm(f.count), f.count-1)
	var mu sync.Mutex
	var finals []muAnswer
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, i := range sends {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, a := e.muChunk(f, i)
			if st != 200 {
				t.Errorf("chunk %d: %d %+v", i, st, a)
			}
			if a.done() {
				mu.Lock()
				finals = append(finals, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(finals) == 0 || e.blobs.completes.Load() != 1 || e.sessionCount() != 1 {
		t.Fatalf("%d final answers, %d completions, %d sessions; want some, 1, 1", len(finals), e.blobs.completes.Load(), e.sessionCount())
	}
	for _, a := range finals {
		if a.FileGUID != finals[0].FileGUID {
			t.Fatalf("final answers name two files: %+v", finals)
		}
	}
	e.checkFinished(finals[0], f.name, f.data)
}

// TestMultipleUploadWholeFile: a whole file in one form POST, and an
// empty one.
func TestMultipleUploadWholeFile(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(300<<10+9, 84)
	st, a := e.muWhole("résumé.pdf", "application/pdf", data)
	if st != 200 {
		t.Fatalf("whole file: %d %+v", st, a)
	}
	e.checkFinished(a, "résumé.pdf", data)
	if ct := e.contentType(a.Key); ct != "application/pdf" {
		t.Errorf("object's Content-Type %q, want application/pdf", ct)
	}
	st, b := e.muWhole("empty.txt", "text/plain", nil)
	if st != 200 {
		t.Fatalf("empty file: %d %+v", st, b)
	}
	e.checkFinished(b, "empty.txt", nil)
	if n := e.multipartUploads(); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	if b.FileGUID == a.FileGUID {
		t.Fatal("two files, one fileGuid")
	}
}

// TestMultipleUploadBadInput: each bad request is answered 400 (413 for a
// size over a limit) with {"success": false, "error": …}, and the upload
// in progress is as it was: it still completes with the right bytes.
func TestMultipleUploadBadInput(t *testing.T) {
	e := newEnv(t, smallLimits)
	f := newMUFile(randomBytes(3<<20+10, 85), "keep.bin", "keep-1", 1<<20)
	if st, a := e.muChunk(f, 0); st != 200 {
		t.Fatalf("good chunk: %d %+v", st, a)
	}
	staged := len(e.stagedKeys())
	with := func(k, v string) map[string]string {
		h := f.headers(1)
		h[k] = v
		return h
	}
	cases := []struct {
		name   string
		method string
		hdr    map[string]string
		body   []byte
		status int
	}{
		{"no X-Upload-Id", "POST", with("X-Upload-Id", ""), f.chunk(1), 400},
		{"no X-Chunk-Count", "POST", with("X-Chunk-Count", ""), f.chunk(1), 400},
		{"no X-Chunk-Index", "POST", with("X-Chunk-Index", ""), f.chunk(1), 400},
		{"no X-File-Name", "POST", with("X-File-Name", ""), f.chunk(1), 400},
		{"no X-File-Size", "POST", with("X-File-Size", ""), f.chunk(1), 400},
		{"negative index", "POST", with("X-Chunk-Index", "-1"), f.chunk(1), 400},
		{"huge index", "POST", with("X-Chunk-Index", "99999999999999999999"), f.chunk(1), 400},
		{"index = count", "POST", with("X-Chunk-Index", "4"), f.chunk(1), 400},
		{"index not a number", "POST", with("X-Chunk-Index", "one"), f.chunk(1), 400},
		{"count not a number", "POST", with("X-Chunk-Count", "4.5"), f.chunk(1), 400},
		{"count zero", "POST", with("X-Chunk-Count", "0"), f.chunk(1), 400},
		{"count negative", "POST", with("X-Chunk-Count", "-4"), f.chunk(1), 400},
		{"count over the limit", "POST", with("X-Chunk-Count", "41"), f.chunk(1), 400},
		{"size not a number", "POST", with("X-File-Size", "3MB"), f.chunk(1), 400},
		{"size negative", "POST", with("X-File-Size", "-1"), f.chunk(1), 400},
		{"size over the limit", "POST", with("X-File-Size", "68157440"), f.chunk(1), 413},
		{"long X-Upload-Id", "POST", with("X-Upload-Id", strings.Repeat("u", 513)), f.chunk(1), 400},
		{"empty middle chunk", "POST", f.headers(1), nil, 400},
		{"last chunk that cannot end the file", "POST", f.headers(3), f.chunk(3)[:3], 400},
		{"chunk over the chunk limit", "POST", f.headers(1), randomBytes(2<<20+1, 86), 413},
		{"GET", "GET", f.headers(1), nil, 400},
		{"PUT", "PUT", f.headers(1), f.chunk(1), 400},
		{"PATCH", "PATCH", f.headers(1), f.chunk(1), 400},
		{"DELETE", "DELETE", f.headers(1), nil, 400},
	}
	for _, c := range cases {
		st, a := e.muSend(c.method, c.hdr, c.body)
		if st != c.status || a.Success == nil || *a.Success || a.Error == "" {
			t.Errorf("%s: %d %+v, want %d {success: false, error: …}", c.name, st, a, c.status)
		}
	}
	e.muBadWholeFiles()
	if n, after := e.sessionCount(), len(e.stagedKeys()); n != 1 || after != staged {
		t.Fatalf("bad requests changed what is stored: %d sessions, %d staged chunks (had %d)", n, after, staged)
	}
	var a muAnswer
	for i := 1; i < f.count; i++ {
		var st int
		if st, a = e.muChunk(f, i); st != 200 {
			t.Fatalf("chunk %d after the bad requests: %d %+v", i, st, a)
		}
	}
	e.checkFinished(a, f.name, f.data)
}

// muBadWholeFiles sends whole-file POSTs that must be refused.
func (e *env) muBadWholeFiles() {
	e.t.Helper()
	if st, a := e.muWhole("big.bin", "application/octet-stream", randomBytes(2<<20+1, 87)); st != 413 || a.Success == nil || *a.Success || !strings.Contains(a.Error, "2097152") {
		e.t.Errorf("whole file over the limit: %d %+v, want 413 naming the limit", st, a)
	}
	bodies := map[string]struct{ ct, body string }{
		"not a form":    {"application/octet-stream", "data"},
		"no file field": {"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--x--\r\n"},
		"no file name":  {"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\nv\r\n--x--\r\n"},
		"broken form":   {"multipart/form-data; boundary=x", "--x\r\nbroken"},
	}
	for name, b := range bodies {
		req, _ := http.NewRequest("POST", e.url+"/multipleupload/upload", strings.NewReader(b.body))
		req.Header.Set("Content-Type", b.ct)
		if st, a := e.muDo(req); st != 400 || a.Success == nil || *a.Success || a.Error == "" {
			e.t.Errorf("whole file, %s: %d %+v, want 400 {success: false, error: …}", name, st, a)
		}
	}
	req, _ := http.NewRequest("GET", e.url+"/multipleupload/upload", nil)
	if st, a := e.muDo(req); st != 400 || a.Success == nil || *a.Success {
		e.t.Errorf("GET /multipleupload/upload: %d %+v, want 400", st, a)
	}
}
