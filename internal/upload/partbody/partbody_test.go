package partbody

import (
	"bytes"
	"io"
	"math/rand/v2"
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
