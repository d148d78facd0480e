package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"chunkup/internal/upload/partbody"
)

// Part assembly: under the part's lease, the staged chunks of a whole
// part are read (the request's own chunk from memory), uploaded as one
// S3 part, recorded, counted and deleted.
//
// Entry points (for intake, sequential intake and completion):
// Engine.assemble, Engine.assembleHeld.
// Calls: the multipart start (multipart.go); package partbody for the
// part's bytes; the part ledger's CRC fold.

// heldChunk is a staged chunk whose bytes the request still has in
// memory: the one it brought. Assembling its part takes those bytes
// rather than reading the chunk back from S3.
type heldChunk struct {
	key  string
	data []byte
}

// is reports whether c is the held chunk (and so h is not nil).
func (h *heldChunk) is(c ChunkRecord) bool {
	return h != nil && c.Key == h.key && int64(len(h.data)) == c.Size
}

// assemble claims part k, uploads its staged chunks as one S3 part and
// records it. It returns the number of parts counted so far (0 for a
// sequential upload, whose parts are not counted), or -1 if another
// request holds the claim. held, if not nil, is a chunk the
// request has in memory.
func (e *Engine) assemble(ctx context.Context, s *Session, k int, held *heldChunk) (int, error) {
	claim := e.newLease()
	p, err := e.sessions.ClaimPart(ctx, s.ID, k, claim, e.opt.Now())
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return -1, nil
		}
		return 0, fmt.Errorf("claim part %d of %s: %w", k, s.ID, err)
	}
	return e.assembleHeld(ctx, s, k, claim.Token, p, held)
}

// assembleHeld assembles part k under the claim token holds, which the
// claim's write returned as p, and gives the claim up if that fails.
func (e *Engine) assembleHeld(ctx context.Context, s *Session, k int, token string, p *Part, held *heldChunk) (int, error) {
	done, err := e.assembleClaimed(ctx, s, k, token, p, held)
	if err != nil {
		// Let the next request retry at once rather than after the claim
		// lapses.
		e.releasePart(ctx, s, k, token)
	}
	return done, err
}

// releasePart gives up token's claim on part k, if token holds it; if the
// release fails, the claim's lapse still frees the part.
func (e *Engine) releasePart(ctx context.Context, s *Session, k int, token string) {
	err := e.sessions.ReleasePart(context.WithoutCancel(ctx), s.ID, k, token)
	if err != nil && !errors.Is(err, ErrConflict) {
		e.log(ctx, s).Warn("release part claim", "part", k, "err", err)
	}
}

// assembleClaimed does the work of assemble once the claim is held on
// part k, which the claim's write returned as p.
func (e *Engine) assembleClaimed(ctx context.Context, s *Session, k int, token string, p *Part, held *heldChunk) (int, error) {
	chunks, size, crc, err := e.partContents(s, k, p)
	if err != nil {
		return 0, err
	}
	etag := emptyPartETag
	if size > 0 {
		if etag, err = e.uploadPart(ctx, s, k, chunks, size, crc, held); err != nil {
			return 0, err
		}
	}
	assembled := AssembledPart{ETag: etag, CRC: crc, Size: size, Chunks: chunks}
	if err := e.sessions.RecordPart(ctx, s.ID, k, token, assembled, e.opt.Now()); err != nil {
		return 0, fmt.Errorf("record part %d of %s: %w", k, s.ID, err)
	}
	if err := e.blobs.DeleteStaged(ctx, chunkKeys(chunks)); err != nil {
		// The completion or the bucket's lifecycle rule removes them later.
		e.log(ctx, s).Warn("delete staged chunks", "part", k, "err", err)
	}
	if s.Kind == Sequential {
		// Its offset is its progress, and its client's last request
		// finishes it: no count of parts serves it (see CountPart).
		e.log(ctx, s).Info("part assembled", "part", k+1, "bytes", size)
		return 0, nil
	}
	done, err := e.sessions.CountPart(ctx, s.ID, k)
	if err != nil {
		return 0, fmt.Errorf("count part %d of %s: %w", k, s.ID, err)
	}
	e.log(ctx, s).Info("part assembled", "part", k+1, "bytes", size, "parts_done", done)
	return done, nil
}

// emptyPartETag stands for the part of an empty file, which is never sent
// to S3: completion writes an empty file whole (see join), and a multipart
// upload started for it would be left open.
const emptyPartETag = "empty"

// uploadPart sends part k, made of chunks, to the session's multipart
// upload (starting it if need be) and returns its ETag.
func (e *Engine) uploadPart(ctx context.Context, s *Session, k int, chunks []ChunkRecord, size int64, crc uint64, held *heldChunk) (string, error) {
	mpu, err := e.multipart(ctx, s)
	if err != nil {
		return "", err
	}
	body, err := e.partBody(ctx, chunks, size, held)
	if err != nil {
		return "", fmt.Errorf("read part %d of %s: %w", k+1, s.ID, err)
	}
	defer body.Close()
	etag, err := e.blobs.UploadPart(ctx, s.Key, mpu, k+1, body, size, crc)
	if err != nil {
		return "", fmt.Errorf("upload part %d of %s: %w", k+1, s.ID, err)
	}
	return etag, nil
}

// partContents lists the chunks that make part k, in order, with the
// part's size and CRC64NVME.
func (e *Engine) partContents(s *Session, k int, p *Part) ([]ChunkRecord, int64, uint64, error) {
	if s.Kind == Sequential {
		// A sealed part lists all its pieces and carries their CRC.
		chunks := make([]ChunkRecord, 0, len(p.Chunks))
		var size int64
		for _, c := range p.Chunks {
			chunks = append(chunks, c)
			size += c.Size
		}
		slices.SortFunc(chunks, func(a, b ChunkRecord) int { return a.Index - b.Index })
		return chunks, size, p.CRC, nil
	}
	chunks, err := partChunks(s, k, p)
	if err != nil {
		return nil, 0, 0, err
	}
	crc, size := foldCRC(e.crcJoin, chunks)
	return chunks, size, crc, nil
}

// partChunks lists part k's chunk records in order, checking that every
// chunk the plan puts in the part is there.
func partChunks(s *Session, k int, p *Part) ([]ChunkRecord, error) {
	first, end := s.PartChunks(k)
	out := make([]ChunkRecord, 0, end-first)
	for i := first; i < end; i++ {
		c, ok := p.Chunks[i]
		if !ok {
			return nil, fmt.Errorf("part %d of %s lacks chunk %d", k, s.ID, i)
		}
		out = append(out, c)
	}
	return out, nil
}

func chunkKeys(chunks []ChunkRecord) []string {
	keys := make([]string, len(chunks))
	for i, c := range chunks {
		keys[i] = c.Key
	}
	return keys
}

// partFetchers is how many staged chunks are fetched at once.
const partFetchers = 4

// partBody returns the bytes of a part: in memory when it is small enough,
// otherwise as a stream. In memory, each chunk keeps a buffer of its own
// (the held chunk its own bytes, uncopied), and the body can seek, so the
// SDK can send it again after a failed attempt.
func (e *Engine) partBody(ctx context.Context, chunks []ChunkRecord, size int64, held *heldChunk) (io.ReadCloser, error) {
	if size > e.opt.MaxBufferedPart {
		return partbody.NewStream(ctx, e.opener(held), chunkKeys(chunks)), nil
	}
	bufs := make([][]byte, len(chunks))
	errs := make(chan error, len(chunks))
	sem := make(chan struct{}, partFetchers)
	for i, c := range chunks {
		if held.is(c) {
			bufs[i] = held.data
			errs <- nil
			continue
		}
		bufs[i] = make([]byte, c.Size)
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- e.fetchChunk(ctx, c, bufs[i])
		}()
	}
	var first error
	for range chunks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	return partbody.NewBuffers(bufs), nil
}

// opener opens staged chunks for a streamed part body, taking the held
// chunk, if any, from memory.
func (e *Engine) opener(held *heldChunk) partbody.Opener {
	return func(ctx context.Context, key string) (io.ReadCloser, error) {
		if held != nil && key == held.key {
			return io.NopCloser(bytes.NewReader(held.data)), nil
		}
		return e.blobs.OpenStaged(ctx, key)
	}
}

// fetchChunk reads one staged chunk into dst, which must be its size.
func (e *Engine) fetchChunk(ctx context.Context, c ChunkRecord, dst []byte) error {
	rc, err := e.blobs.OpenStaged(ctx, c.Key)
	if err != nil {
		return fmt.Errorf("open staged chunk %d: %w", c.Index, err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, dst); err != nil {
		return fmt.Errorf("read staged chunk %d: %w", c.Index, err)
	}
	if n, _ := rc.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("staged chunk %d is longer than its %d bytes", c.Index, c.Size)
	}
	return nil
}
