package partbody

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBuffersReadsAsOneReader holds Buffers to a
// bytes.Reader over the same bytes joined, through random reads and seeks
// (the SDK seeks back to the start to send a part again).
func TestBuffersReadsAsOneReader(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		var bufs [][]byte
		for range r.IntN(5) {
			b := make([]byte, r.IntN(40))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			bufs = append(bufs, b)
		}
		whole := bytes.Join(bufs, nil)
		got, want := NewBuffers(bufs), bytes.NewReader(whole)
		for step := range 30 {
			if r.IntN(4) == 0 {
				off, whence := int64(r.IntN(len(whole)+5)), r.IntN(3)
				if whence != io.SeekStart {
					off -= int64(r.IntN(len(whole) + 1))
				}
				g, gerr := got.Seek(off, whence)
				w, werr := want.Seek(off, whence)
				if (gerr == nil) != (werr == nil) || (gerr == nil && g != w) {
					t.Fatalf("round %d step %d: Seek(%d, %d) = %d, %v; bytes.Reader says %d, %v", round, step, off, whence, g, gerr, w, werr)
				}
				continue
			}
			n := r.IntN(50)
			gb, wb := make([]byte, n), make([]byte, n)
			g, gerr := io.ReadFull(got, gb)
			w, werr := io.ReadFull(want, wb)
			if g != w || gerr != werr || !bytes.Equal(gb[:g], wb[:w]) {
				t.Fatalf("round %d step %d: read %d: %d %v %x; bytes.Reader %d %v %x", round, step, n, g, gerr, gb[:g], w, werr, wb[:w])
			}
		}
	}
}

// TestStreamReadsObjectsInOrder reads a stream of staged objects whole,
// opening each only once the one before is used up, closing each, and
// failing with the key of an object that cannot be opened.
func TestStreamReadsObjectsInOrder(t *testing.T) {
	objects := map[string][]byte{"a": []byte("one "), "b": nil, "c": []byte("two three"), "d": []byte("!")}
	var opened, closed []string
	open := func(_ context.Context, key string) (io.ReadCloser, error) {
		data, ok := objects[key]
		if !ok {
			return nil, errors.New("no such key")
		}
		opened = append(opened, key)
		return closer{Reader: bytes.NewReader(data), close: func() { closed = append(closed, key) }}, nil
	}
	s := NewStream(context.Background(), open, []string{"a", "b", "c", "d"})
	buf := make([]byte, 3) // reads smaller than the objects
	var got []byte
	for {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(opened) > len(closed)+1 {
			t.Fatalf("opened %v with only %v closed: more than one object open at once", opened, closed)
		}
	}
	if string(got) != "one two three!" || strings.Join(closed, "") != "abcd" {
		t.Fatalf("read %q, closed %v; want %q and every object closed in order", got, closed, "one two three!")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = NewStream(context.Background(), open, []string{"a", "missing"})
	_, err := io.ReadAll(s)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("reading past a missing object: %v; want an error naming its key", err)
	}
}

type closer struct {
	io.Reader
	close func()
}

func (c closer) Close() error { c.close(); return nil }
