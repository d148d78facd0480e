package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"

	"chunkup/internal/api"
	"chunkup/internal/local/emulator"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
	"chunkup/internal/upload"
)

// emulatedGateway builds every function of the template for this machine
// and runs it under the Lambda Runtime Interface Emulator on the table and
// bucket, with the environment the template gives it and the stack's
// endpoints and credentials, its events going to the EventBridge at
// eventsURL, behind the gateway. Everything stops when the test ends.
func emulatedGateway(t *testing.T, st *stack.Stack, tmpl *samtemplate.Template, table, bucket, eventsURL string, routes []gateway.Route, opts gateway.Options) (http.Handler, *emulator.Emulator, error) {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		return nil, nil, err
	}
	var out io.Writer
	if os.Getenv("CHUNKUP_TEST_LOG") != "" {
		out = os.Stderr
	}
	env := st.Environ(table, bucket)
	env["EVENT_BUS_NAME"], env["EVENTS_ENDPOINT"] = "default", eventsURL
	em, err := emulator.StartTemplate(context.Background(), root, tmpl, t.TempDir(), table, bucket, env,
		emulator.Options{Output: out, Logger: opts.Logger})
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() {
		if err := em.Close(); err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	fns := map[string]gateway.Function{}
	for name, p := range em.Pools() {
		fns[name] = p
	}
	gw, err := gateway.NewWithFunctions(routes, fns, opts)
	return gw, em, err
}

// TestDialectsThroughTheBinaries: a file uploaded by each client family's
// protocol (tus included) through the built functions under the emulator, behind the
// gateway (what `make run` serves), is stored byte for byte with its
// CRC64NVME, is announced by one Upload Completed event on the local
// EventBridge, and leaves no staged chunk. The functions' binaries did all
// of it: the test's own engine stored nothing.
func TestDialectsThroughTheBinaries(t *testing.T) {
	e := newEnvWith(t, envOptions{emulated: true})
	const mib = 1 << 20

	t.Run("native", func(t *testing.T) {
		e := e.on(t)
		data := randomBytes(11*mib+77, 201)
		up := e.createNative("native.bin", int64(len(data)), mib)
		var wg sync.WaitGroup
		for n := range up.Chunks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if st, out := e.putNative(up.ID, n, chunkOf(data, mib, n)); st != 200 || out["stored"] != true {
					t.Errorf("chunk %d: %d %v", n, st, out)
				}
			}()
		}
		wg.Wait()
		e.oneCompleted(e.completeNative(up.ID, data).Key, data, "native")
	})
	t.Run("resumable", func(t *testing.T) {
		e := e.on(t)
		f := resumableFile{data: randomBytes(7*mib+300<<10, 202), name: "resumable.mp4", chunkSize: mib}
		f.identifier = strconv.Itoa(len(f.data)) + "-resumablemp4"
		var out map[string]any
		for n := 1; n <= f.chunks(); n++ {
			var st int
			if st, out = e.sendResumable(f, n); st != 200 {
				t.Fatalf("chunk %d: %d %v", n, st, out)
			}
		}
		if st := e.testResumable(f, 3); st != 200 {
			t.Fatalf("test chunk 3: %d, want 200", st)
		}
		e.objectIs(out, f.data)
		e.oneCompleted(out["key"].(string), f.data, "resumable")
	})
	t.Run("flow", func(t *testing.T) {
		e := e.on(t)
		f := flowFile{data: randomBytes(6*mib+100<<10, 203), name: "flow.mp4", fileType: "video/mp4", chunkSize: mib}
		f.identifier = strconv.Itoa(len(f.data)) + "-flowmp4"
		var out map[string]any
		for n := 1; n <= f.chunks(); n++ {
			var st int
			if st, out = e.flowPost(f, n); st != 200 {
				t.Fatalf("chunk %d: %d %v", n, st, out)
			}
		}
		e.objectIs(out, f.data)
		e.oneCompleted(out["key"].(string), f.data, "flow")
	})
	t.Run("multipleupload", func(t *testing.T) {
		e := e.on(t)
		f := newMUFile(randomBytes(6*mib+5, 204), "multiple.bin", "3f2a6c1e-0b7d-4c49-9a51-5d2e8f0c7b14", mib)
		var a muAnswer
		for i := range f.count {
			var st int
			if st, a = e.muChunk(f, i); st != 200 {
				t.Fatalf("chunk %d: %d %v", i, st, a)
			}
		}
		e.checkFinished(a, f.name, f.data)
		e.oneCompleted(a.Key, f.data, "multipleupload")
	})
	t.Run("django", func(t *testing.T) {
		e := e.on(t)
		data := randomBytes(6*mib+321, 205)
		id := e.djangoUpload("django.mov", data, 1_000_000, len(data))
		st, a := e.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}})
		if st != 200 || a.Size != int64(len(data)) {
			t.Fatalf("complete: %d %+v", st, a)
		}
		if got, crc := e.object(a.Key); !bytes.Equal(got, data) || crc != a.CRC64NVME {
			t.Fatalf("object %s differs from the file (%d bytes, crc %q vs %q)", a.Key, len(got), crc, a.CRC64NVME)
		}
		e.oneCompleted(a.Key, data, "django")
	})
	t.Run("drf", func(t *testing.T) {
		e := e.on(t)
		data := randomBytes(9*mib, 206)
		u := e.drfUploadAll("drf.bin", data, 4*mib)
		sum := md5.Sum(data)
		if done := e.drfComplete(u.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).upload(t); done.Status != 2 {
			t.Fatalf("completed: %+v", done)
		}
		if got, crc := e.object(upload.ObjectKey(u.ID, "drf.bin")); !bytes.Equal(got, data) || crc == "" {
			t.Fatalf("object differs from the file (%d of %d bytes, crc %q)", len(got), len(data), crc)
		}
		e.oneCompleted(upload.ObjectKey(u.ID, "drf.bin"), data, "drf")
	})
	t.Run("fileupload", func(t *testing.T) {
		e := e.on(t)
		f := fuFile{name: "file upload.mp4", data: randomBytes(6*mib+1234, 207), chunk: mib}
		a, _ := e.fuUpload(f, 0)
		e.fuFinished(a, f)
		e.oneCompleted(a.Files[0].Key, f.data, "fileupload")
	})
	t.Run("tus", func(t *testing.T) {
		e := e.on(t)
		data := randomBytes(7*mib+99, 208)
		path := e.tusCreate(len(data), "filename "+b64("tus.bin"))
		// The event names the dialect as the in-process handlers do.
		e.oneCompleted(e.tusFinished(e.tusSend(path, data, 0, 3*mib), data), data, api.DialectOf(path))
	})
	if left := e.stagedKeys(); len(left) != 0 {
		t.Errorf("staged chunks left: %v", left)
	}
	if n := e.blobs.putStaged.Load() + e.blobs.uploadParts.Load() + e.blobs.completes.Load(); n != 0 {
		t.Errorf("the in-process engine stored %d chunks, parts or files: the uploads did not all go through the binaries", n)
	}
	for _, fn := range []string{"ReceiveFunction", "CheckFunction", "CompleteFunction"} {
		if st := e.em.Pool(fn).Stats(); st.Invocations == 0 || st.ColdStarts == 0 || st.Errors != 0 {
			t.Errorf("%s under the emulator: %+v, want invocations, a cold start and no error", fn, st)
		}
	}
}

// on is the env for a subtest: the same stack and functions, failing t.
func (e *env) on(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// objectIs checks the answer that completed a file (state complete, its
// key) and that the object is data with a CRC64NVME.
func (e *env) objectIs(answer map[string]any, data []byte) {
	e.t.Helper()
	key, _ := answer["key"].(string)
	if answer["state"] != "complete" || key == "" {
		e.t.Fatalf("the last chunk's answer %v does not complete the file", answer)
	}
	if got, crc := e.object(key); !bytes.Equal(got, data) || crc == "" {
		e.t.Fatalf("object %s differs from the file (%d bytes, want %d) or has no CRC64NVME", key, len(got), len(data))
	}
}
