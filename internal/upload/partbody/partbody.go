// Package partbody reads the bytes of one S3 part, made of the staged
// chunks of an upload, as the body of its UploadPart request: from
// buffers already in memory (Buffers, which can seek, so the SDK can send
// the part again after a failed attempt), or streamed from storage one
// chunk after another (Stream, for parts too large to hold).
package partbody

import (
	"context"
	"fmt"
	"io"
)

// Buffers reads byte slices one after another as one body, and seeks
// within them, as an io.ReadSeekCloser over their concatenation would.
// The slices are read in place, never copied or changed.
type Buffers struct {
	bufs [][]byte
	size int64
	off  int64 // where the next read starts
	i    int   // the slice holding off, when off < size
	at   int64 // where slice i starts
}

// NewBuffers returns a body that reads bufs in order.
func NewBuffers(bufs [][]byte) *Buffers {
	b := &Buffers{bufs: bufs}
	for _, s := range bufs {
		b.size += int64(len(s))
	}
	return b
}

// Size is the number of bytes the body holds.
func (b *Buffers) Size() int64 { return b.size }

// Read reads from the slice the offset is in, moving to the next one when
// it is used up, as io.Reader says.
func (b *Buffers) Read(p []byte) (int, error) {
	for b.off < b.size {
		cur := b.bufs[b.i]
		if rel := b.off - b.at; rel < int64(len(cur)) {
			n := copy(p, cur[rel:])
			b.off += int64(n)
			return n, nil
		}
		b.at += int64(len(cur))
		b.i++
	}
	return 0, io.EOF
}

// Seek moves the offset, as io.Seeker says.
func (b *Buffers) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	case io.SeekStart:
	default:
		return 0, fmt.Errorf("seek part body: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek part body to %d: before the start", offset)
	}
	b.off, b.i, b.at = offset, 0, 0
	for b.i < len(b.bufs) && b.at+int64(len(b.bufs[b.i])) <= offset {
		b.at += int64(len(b.bufs[b.i]))
		b.i++
	}
	return offset, nil
}

// Close does nothing: the slices are the garbage collector's.
func (b *Buffers) Close() error { return nil }

// Opener opens the staged object at key for reading.
type Opener func(ctx context.Context, key string) (io.ReadCloser, error)

// Stream reads the staged objects of a part one after another, opening
// each only when the one before is used up, so that a part is sent
// without being held in memory. It cannot seek.
type Stream struct {
	ctx  context.Context
	open Opener
	keys []string
	cur  io.ReadCloser
}

// NewStream returns a body that reads the objects at keys, in order,
// through open.
func NewStream(ctx context.Context, open Opener, keys []string) *Stream {
	return &Stream{ctx: ctx, open: open, keys: keys}
}

// Read reads from the object being read, opening the next one when it
// is used up, as io.Reader says.
func (s *Stream) Read(p []byte) (int, error) {
	for {
		if s.cur == nil {
			if len(s.keys) == 0 {
				return 0, io.EOF
			}
			rc, err := s.open(s.ctx, s.keys[0])
			if err != nil {
				return 0, fmt.Errorf("open staged object %s: %w", s.keys[0], err)
			}
			s.cur, s.keys = rc, s.keys[1:]
		}
		n, err := s.cur.Read(p)
		if err == io.EOF {
			s.cur.Close()
			s.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close closes the object being read, if any.
func (s *Stream) Close() error {
	if s.cur != nil {
		return s.cur.Close()
	}
	return nil
}
