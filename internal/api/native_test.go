package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"chunkup/internal/upload"
	"chunkup/internal/wire/crc64nvme"
)

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (e *env) call(method, path string, body io.Reader, out any) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type nativeUpload struct {
	ID        string `json:"id"`
	ChunkSize int64  `json:"chunkSize"`
	Chunks    int    `json:"chunks"`
	State     string `json:"state"`
	Key       string `json:"key"`
	CRC64NVME string `json:"crc64nvme"`
	ExpiresAt string `json:"expiresAt"`
	Received  int    `json:"received"`
	Missing   []struct {
		First int `json:"first"`
		Last  int `json:"last"`
	} `json:"missing"`
}

type nativeError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Limit   int64  `json:"limit"`
	} `json:"error"`
}

func (e *env) createNative(name string, size, chunkSize int64) nativeUpload {
	e.t.Helper()
	var up nativeUpload
	body, _ := json.Marshal(map[string]any{"name": name, "size": size, "type": "application/octet-stream", "chunkSize": chunkSize})
	if st := e.call("POST", "/v1/uploads", bytes.NewReader(body), &up); st != http.StatusCreated {
		e.t.Fatalf("create %q: status %d", name, st)
	}
	return up
}

func (e *env) putNative(id string, n int, data []byte) (int, map[string]any) {
	e.t.Helper()
	var out map[string]any
	st := e.call("PUT", fmt.Sprintf("/v1/uploads/%s/chunks/%d", id, n), bytes.NewReader(data), &out)
	return st, out
}

// completeNative completes upload id, which must answer 200, checks that
// the object holds data, and returns the finished upload.
func (e *env) completeNative(id string, data []byte) nativeUpload {
	e.t.Helper()
	var done nativeUpload
	if code := e.call("POST", "/v1/uploads/"+id+"/complete", nil, &done); code != 200 || done.State != "complete" {
		e.t.Fatalf("complete %s: %d %+v", id, code, done)
	}
	if got, crc := e.object(done.Key); !bytes.Equal(got, data) || crc != done.CRC64NVME {
		e.t.Fatalf("the object of %s differs from the file sent (%d bytes, crc64nvme %s against the answer's %s)", id, len(got), crc, done.CRC64NVME)
	}
	return done
}

func chunkOf(data []byte, chunkSize int64, n int) []byte {
	lo := int64(n) * chunkSize
	return data[lo:min(lo+chunkSize, int64(len(data)))]
}

// TestNativeUploadShuffledParallel is the foundation's proof: a 23 MiB file
// by the native API, chunks in shuffled order four at a time, one re-sent
// after its part was assembled; the object is byte-identical, carries a
// full-object CRC64NVME, and no staged chunk is left.
func TestNativeUploadShuffledParallel(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(23<<20+12345, 1)
	up := e.createNative("big file.bin", int64(len(data)), chunk)
	if up.Chunks != 24 || up.ChunkSize != chunk {
		t.Fatalf("create answered %d chunks of %d", up.Chunks, up.ChunkSize)
	}
	order := rand.New(rand.NewPCG(7, 7)).Perm(up.Chunks)
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan string, up.Chunks)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if st, out := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != http.StatusOK || out["stored"] != true {
					errs <- fmt.Sprintf("chunk %d: %d %v", n, st, out)
				}
			}
		}()
	}
	for _, n := range order {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}

	// Chunk 0's part (chunks 0-4) is assembled by now: re-sending it
	// changes nothing.
	parts := e.blobs.uploadParts.Load()
	if st, out := e.putNative(up.ID, 0, chunkOf(data, chunk, 0)); st != http.StatusOK || out["stored"] != false {
		t.Fatalf("re-sent chunk 0: %d %v, want 200 stored=false", st, out)
	}
	if e.blobs.uploadParts.Load() != parts {
		t.Fatalf("re-sent chunk caused a part upload")
	}

	var st nativeUpload
	if code := e.call("GET", "/v1/uploads/"+up.ID, nil, &st); code != 200 || st.Received != up.Chunks || len(st.Missing) != 0 {
		t.Fatalf("status before completion: %d %+v", code, st)
	}
	var done nativeUpload
	if code := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); code != 200 || done.State != "complete" {
		t.Fatalf("complete: %d %+v", code, done)
	}
	got, crc := e.object(done.Key)
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("object differs from the file (%d vs %d bytes)", len(got), len(data))
	}
	if want := crc64nvme.Encode(crc64nvme.Checksum(data)); crc != want || done.CRC64NVME != want {
		t.Fatalf("CRC64NVME: S3 %q, answer %q, want %q", crc, done.CRC64NVME, want)
	}
	if !strings.HasPrefix(done.Key, "uploads/"+up.ID+"/") || !strings.HasSuffix(done.Key, "/big_file.bin") {
		t.Fatalf("key %q", done.Key)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged chunks left: %v", left)
	}
	if n := e.blobs.uploadParts.Load(); n != 5 { // 24 chunks in parts of 5 chunks
		t.Fatalf("%d parts uploaded, want 5 (each part once)", n)
	}
	// Completing again answers the same result and changes nothing.
	var again nativeUpload
	if code := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &again); code != 200 || again.CRC64NVME != done.CRC64NVME {
		t.Fatalf("second complete: %d %+v", code, again)
	}
	if e.blobs.completes.Load() != 1 {
		t.Fatalf("%d CompleteMultipartUpload calls", e.blobs.completes.Load())
	}
	// A chunk for the complete upload is refused and changes nothing.
	if code, _ := e.putNative(up.ID, 3, chunkOf(data, chunk, 3)); code != http.StatusConflict {
		t.Fatalf("chunk after completion: %d, want 409", code)
	}
	if got2, _ := e.object(done.Key); !bytes.Equal(got2, data) {
		t.Fatal("object changed after completion")
	}
}

// TestStreamedParts: parts too large to hold in memory are streamed chunk
// by chunk; the file is the same.
func TestStreamedParts(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) { o.MaxBufferedPart = 1 << 20 })
	const chunk = 1 << 20
	data := randomBytes(11<<20+5, 8)
	up := e.createNative("s.bin", int64(len(data)), chunk)
	for n := 0; n < up.Chunks; n++ {
		if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d", n, st)
		}
	}
	e.completeNative(up.ID, data)
}

// TestCompletionWorkIsBounded checks that the request that completes an
// upload reads and writes at most one part's worth of data, for a small
// and a large file alike.
func TestCompletionWorkIsBounded(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	for _, size := range []int{8 << 20, 64 << 20} {
		data := randomBytes(size, uint64(size))
		up := e.createNative("f.bin", int64(size), chunk)
		for n := 0; n < up.Chunks-1; n++ {
			if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
				t.Fatalf("chunk %d: %d", n, st)
			}
		}
		before := e.blobs.dataBytes()
		if st, _ := e.putNative(up.ID, up.Chunks-1, chunkOf(data, chunk, up.Chunks-1)); st != 200 {
			t.Fatal("last chunk refused")
		}
		var done nativeUpload
		if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 {
			t.Fatalf("complete: %d", st)
		}
		moved := e.blobs.dataBytes() - before
		// The last chunk is written staged, read back and written as part
		// of its part: at most one chunk plus two parts' bytes of 5 MiB.
		if bound := int64(chunk + 2*(5<<20)); moved > bound {
			t.Errorf("%d-byte file: last chunk + completion moved %d bytes, bound %d", size, moved, bound)
		}
		got, _ := e.object(done.Key)
		if !bytes.Equal(got, data) {
			t.Fatalf("%d-byte file: object differs", size)
		}
	}
}

func TestNativeAbortDeletesEverything(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(12<<20, 3)
	up := e.createNative("a.bin", int64(len(data)), chunk)
	for n := 0; n < 7; n++ { // one whole part and two staged chunks
		if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("chunk %d: %d", n, st)
		}
	}
	if e.multipartUploads() != 1 || len(e.stagedKeys()) != 2 {
		t.Fatalf("before abort: %d multipart uploads, staged %v", e.multipartUploads(), e.stagedKeys())
	}
	if st := e.call("DELETE", "/v1/uploads/"+up.ID, nil, nil); st != http.StatusNoContent {
		t.Fatalf("abort: %d", st)
	}
	if e.multipartUploads() != 0 || len(e.stagedKeys()) != 0 {
		t.Fatalf("after abort: %d multipart uploads, staged %v", e.multipartUploads(), e.stagedKeys())
	}
	var er nativeError
	if st, _ := e.putNative(up.ID, 8, chunkOf(data, chunk, 8)); st != http.StatusGone {
		t.Fatalf("chunk after abort: %d, want 410", st)
	}
	if st := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &er); st != http.StatusGone || er.Error.Code != "upload_aborted" {
		t.Fatalf("complete after abort: %d %+v", st, er)
	}
	if len(e.stagedKeys()) != 0 {
		t.Fatal("a chunk after abort was staged")
	}
}

// TestSweepExpiresAndIsSafeTwice lets an upload expire, runs two sweeps at
// once, and checks that its multipart upload and staged chunks are gone
// and that a later chunk gets the expired answer.
func TestSweepExpiresAndIsSafeTwice(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	data := randomBytes(11<<20, 4)
	up := e.createNative("x.bin", int64(len(data)), chunk)
	live := e.createNative("y.bin", int64(len(data)), chunk)
	for n := 0; n < 6; n++ {
		e.putNative(up.ID, n, chunkOf(data, chunk, n))
	}
	e.putNative(live.ID, 0, chunkOf(data, chunk, 0))
	e.clock.Advance(23 * time.Hour)
	e.putNative(live.ID, 1, chunkOf(data, chunk, 1)) // keeps live alive
	e.clock.Advance(2 * time.Hour)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Engine.Sweep(context.Background(), 10)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("sweep: %v", err)
		}
	}
	if n := e.multipartUploads(); n != 0 {
		t.Fatalf("%d multipart uploads left after sweep", n)
	}
	for _, k := range e.stagedKeys() {
		if strings.Contains(k, up.ID) {
			t.Fatalf("staged chunk %s of the expired upload left", k)
		}
	}
	var er nativeError
	if st := e.call("PUT", fmt.Sprintf("/v1/uploads/%s/chunks/6", up.ID), bytes.NewReader(chunkOf(data, chunk, 6)), &er); st != http.StatusGone || er.Error.Code != "upload_expired" {
		t.Fatalf("chunk after expiry: %d %+v", st, er)
	}
	var st nativeUpload
	if code := e.call("GET", "/v1/uploads/"+live.ID, nil, &st); code != 200 || st.State != "open" || st.Received != 2 {
		t.Fatalf("the live upload was touched by the sweep: %d %+v", code, st)
	}
	// A third sweep finds nothing more to do.
	stats, err := e.svc.Engine.Sweep(context.Background(), 10)
	if err != nil || stats.Expired != 0 {
		t.Fatalf("third sweep: %+v %v", stats, err)
	}
}

// TestFirstPartsRaceStartsOneMultipartUpload runs the race of two parts
// whose last chunks arrive at once, before the file has a multipart
// upload: each wants to start one. Exactly one CreateMultipartUpload is
// sent per file, the files are whole, and cleaning up after them lists no
// multipart uploads (nothing can be stray).
func TestFirstPartsRaceStartsOneMultipartUpload(t *testing.T) {
	e := newEnv(t, nil)
	const chunk = 1 << 20
	const files = 4
	data := randomBytes(10<<20, 9) // two parts of five chunks
	ups := make([]nativeUpload, files)
	for i := range ups {
		ups[i] = e.createNative(fmt.Sprintf("race-%d.bin", i), int64(len(data)), chunk)
		for _, n := range []int{0, 1, 2, 3, 5, 6, 7, 8} {
			if st, out := e.putNative(ups[i].ID, n, chunkOf(data, chunk, n)); st != http.StatusOK {
				t.Fatalf("chunk %d: %d %v", n, st, out)
			}
		}
	}
	if n := e.blobs.creates.Load(); n != 0 {
		t.Fatalf("%d multipart uploads started before any part was complete", n)
	}
	// The last chunk of each part, all at once.
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan string, 2*files)
	for i := range ups {
		for _, n := range []int{4, 9} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if st, out := e.putNative(ups[i].ID, n, chunkOf(data, chunk, n)); st != http.StatusOK || out["stored"] != true {
					errs <- fmt.Sprintf("file %d chunk %d: %d %v", i, n, st, out)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if n := e.blobs.creates.Load(); n != files {
		t.Fatalf("%d CreateMultipartUpload requests for %d files, want one each", n, files)
	}
	for _, up := range ups {
		e.completeNative(up.ID, data)
	}
	e.clock.Advance(25 * time.Hour)
	if _, err := e.svc.Engine.Sweep(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if n := e.blobs.listsMultipart.Load(); n != 0 {
		t.Errorf("cleaning up listed multipart uploads %d times; nothing could be stray", n)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Errorf("%d multipart uploads left", n)
	}
}

// TestAssemblyTakesItsOwnChunkFromMemory: the request whose chunk
// completes a part assembles it with that chunk's bytes as it has them,
// reading only the part's other chunks back from S3 — whether the part is
// fetched into memory or streamed. The files are whole.
func TestAssemblyTakesItsOwnChunkFromMemory(t *testing.T) {
	for name, buffered := range map[string]int64{"buffered": 16 << 20, "streamed": 1 << 20} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *upload.Options) { o.MaxBufferedPart = buffered })
			const chunk = 1 << 20
			data := randomBytes(10<<20, 10) // two parts of five chunks
			up := e.createNative("held.bin", int64(len(data)), chunk)
			order := []int{0, 1, 3, 4, 2, 5, 6, 7, 8, 9} // chunk 2 completes part 1, chunk 9 part 2
			for _, n := range order {
				if st, _ := e.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
					t.Fatalf("chunk %d: %d", n, st)
				}
			}
			if got, want := e.blobs.bytesRead.Load(), int64(len(data)-2*chunk); got != want {
				t.Fatalf("assembly read %d bytes back from S3, want %d (all but the two chunks that completed a part)", got, want)
			}
			e.completeNative(up.ID, data)
		})
	}
}

// TestNativeEmptyFile: a file of no bytes is one empty chunk, and the
// completion writes the empty object whole. Its part never goes to S3: a
// multipart upload started for it would be left open, since the
// completion does not join one (the soak found two such, on seed 2027).
func TestNativeEmptyFile(t *testing.T) {
	e := newEnv(t, nil)
	up := e.createNative("empty.bin", 0, 1<<20)
	if up.Chunks != 1 {
		t.Fatalf("an empty file has %d chunks, want 1", up.Chunks)
	}
	if st, out := e.putNative(up.ID, 0, nil); st != 200 || out["stored"] != true {
		t.Fatalf("the empty chunk: %d %v", st, out)
	}
	var st nativeUpload
	if code := e.call("GET", "/v1/uploads/"+up.ID, nil, &st); code != 200 || st.Received != 1 || len(st.Missing) != 0 {
		t.Fatalf("status: %d %+v, want the one chunk received", code, st)
	}
	var done nativeUpload
	if code := e.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); code != 200 || done.State != "complete" {
		t.Fatalf("complete: %d %+v", code, done)
	}
	if got, _ := e.object(done.Key); len(got) != 0 {
		t.Fatalf("object has %d bytes, want none", len(got))
	}
	if n := e.blobs.creates.Load(); n != 0 {
		t.Errorf("%d multipart uploads started for an empty file", n)
	}
	if n := e.multipartUploads(); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Errorf("staged chunks left: %v", left)
	}
}
