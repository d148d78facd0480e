package reqbody

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// memBody is a request body already in memory, as the Lambda adapter
// makes one: it reads like any body and hands out all of its bytes.
type memBody struct {
	*bytes.Reader
	data []byte
}

func newMemBody(data []byte) memBody { return memBody{bytes.NewReader(data), data} }

func (b memBody) Bytes() []byte { return b.data }
func (b memBody) Close() error  { return nil }

// unsized is a body whose length nothing tells.
func unsized(data []byte) io.ReadCloser { return io.NopCloser(io.MultiReader(bytes.NewReader(data))) }

func TestRead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	cases := []struct {
		name   string
		body   func() io.ReadCloser
		length int64 // Content-Length
		limit  int64
		want   []byte // nil: refused as over the limit
	}{
		{"sized", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, 1000, 1000, data},
		{"sized, over", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, 1000, 999, nil},
		{"declared over, is over", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, 5000, 999, nil},
		{"declared short", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, 10, 1000, data},
		{"declared short, over", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, 10, 999, nil},
		{"declared long", func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data[:10])) }, 1000, 1000, data[:10]},
		{"unknown", func() io.ReadCloser { return unsized(data) }, -1, 1000, data},
		{"unknown, over", func() io.ReadCloser { return unsized(data) }, -1, 999, nil},
		{"zero length", func() io.ReadCloser { return unsized(data) }, 0, 1000, data},
		{"empty", func() io.ReadCloser { return http.NoBody }, 0, 1000, []byte{}},
		{"empty, no room", func() io.ReadCloser { return http.NoBody }, 0, 0, []byte{}},
		{"in memory", func() io.ReadCloser { return newMemBody(data) }, 0, 1000, data},
		{"in memory, over", func() io.ReadCloser { return newMemBody(data) }, 1000, 999, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("PUT", "/", nil)
			r.Body, r.ContentLength = c.body(), c.length
			got, err := Read(httptest.NewRecorder(), r, c.limit)
			if c.want == nil {
				var tooBig *http.MaxBytesError
				if !errors.As(err, &tooBig) || tooBig.Limit != c.limit || got != nil {
					t.Fatalf("got %d bytes, %v; want an *http.MaxBytesError with limit %d", len(got), err, c.limit)
				}
				return
			}
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(c.want))
			}
		})
	}
}

// TestReadMaxBytesReader: a body refused over the limit is refused as
// http.MaxBytesReader refuses it, with what the server needs to close
// the connection.
func TestReadMaxBytesReader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := Read(w, r, 10)
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			t.Errorf("Read: %v, want an *http.MaxBytesError", err)
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/octet-stream", strings.NewReader(strings.Repeat("x", 100)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("%d, close %v; want 413 and the connection closed", resp.StatusCode, resp.Close)
	}
}

// TestReadInMemoryNoCopy: an in-memory body comes back as it is.
func TestReadInMemoryNoCopy(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 4<<20)
	r := httptest.NewRequest("PUT", "/", nil)
	r.Body = newMemBody(data)
	got, err := Read(httptest.NewRecorder(), r, int64(len(data)))
	if err != nil || len(got) != len(data) || &got[0] != &data[0] {
		t.Fatalf("got %d bytes (%v) that are not the body's own", len(got), err)
	}
	if n := allocated(func() { Read(httptest.NewRecorder(), r, int64(len(data))) }); n > 4<<10 {
		t.Fatalf("reading a 4 MiB body in memory allocated %d bytes", n)
	}
}

// TestReadAllocates: a body of known length is read into one buffer of
// its size.
func TestReadAllocates(t *testing.T) {
	const size = 4 << 20
	data := bytes.Repeat([]byte{7}, size)
	n := allocated(func() {
		r := httptest.NewRequest("PUT", "/", bytes.NewReader(data))
		if got, err := Read(httptest.NewRecorder(), r, size); err != nil || len(got) != size {
			t.Fatalf("got %d bytes: %v", len(got), err)
		}
	})
	if n > size*12/10 {
		t.Fatalf("reading a %d-byte body allocated %d bytes (%.2f×)", size, n, float64(n)/size)
	}
}

func TestReadPart(t *testing.T) {
	data := bytes.Repeat([]byte("abc"), 100) // 300 bytes
	cases := []struct {
		name        string
		limit, size int64
		keep        bool
	}{
		{"within", 300, 1000, true},
		{"exact size", 300, 300, true},
		{"size too small", 300, 10, true},
		{"unknown size", 300, -1, true},
		{"over", 299, 1000, false},
		{"over, unknown size", 299, -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n, err := ReadPart(bytes.NewReader(data), c.limit, c.size)
			switch {
			case err != nil || n != int64(len(data)):
				t.Fatalf("n %d, %v; want %d", n, err, len(data))
			case c.keep && !bytes.Equal(got, data):
				t.Fatalf("got %q", got)
			case !c.keep && got != nil:
				t.Fatalf("got %d bytes of a part over the limit", len(got))
			}
		})
	}
	failing := io.MultiReader(bytes.NewReader(data[:100]), iotestErrReader{})
	if got, n, err := ReadPart(failing, 300, 300); !errors.Is(err, errRead) || n != 100 || !bytes.Equal(got, data[:100]) {
		t.Fatalf("a failing read: %d bytes, n %d, %v", len(got), n, err)
	}
}

var errRead = errors.New("read failed")

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errRead }

// allocated is how many bytes f allocates on the heap, the least of
// three runs.
func allocated(f func()) uint64 {
	var least uint64
	for i := range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; i == 0 || n < least {
			least = n
		}
	}
	return least
}
