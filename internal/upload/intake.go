package upload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// Chunk intake, indexed: a chunk that carries its number is staged and
// recorded in its part; the request whose chunk makes the part whole
// assembles it, and the one whose part makes an upload that completes by
// itself whole completes it. A chunk sent again is answered from the
// part record, and finishes what a crashed request left.
//
// Entry points: Engine.PutChunk, Engine.AddChunk.
// Calls: assembly (assemble.go); completion (complete.go).

// ChunkResult says what became of a chunk.
type ChunkResult struct {
	// Stored is false when the chunk was already there: it changed nothing.
	Stored bool
	// Session is the upload after the chunk; complete if this chunk
	// finished it.
	Session *Session
}

// PutChunk stores chunk index (from 0) of the owner's upload id.
func (e *Engine) PutChunk(ctx context.Context, owner, id string, index int, data []byte) (ChunkResult, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return ChunkResult{}, err
	}
	return e.AddChunk(ctx, s, index, data)
}

// AddChunk stores chunk index of session s, as read by Get or Open. When
// the chunk completes its part, this request assembles the part; when that
// part is the upload's last and the upload finishes by itself, this
// request finishes it.
//
// A chunk of an upload that finishes by itself and has every part counted
// (new, sent again, or come while the upload is being finished) is
// answered with the finished upload, or refused as busy (CodeBusy) if
// another request is finishing it and has not done so within
// Options.DuplicateWait: never as stored while the upload is unfinished.
// The client has no completion request to make, so the request that
// should have finished the upload may have failed and left it to this
// chunk, its client's retry.
func (e *Engine) AddChunk(ctx context.Context, s *Session, index int, data []byte) (ChunkResult, error) {
	if s.AutoComplete && s.State == StateCompleting {
		return e.autoComplete(ctx, s, false, e.waitUntil())
	}
	if err := e.checkChunk(s, index, data); err != nil {
		return ChunkResult{Session: s}, err
	}
	crc := crc64nvme.Checksum(data)
	key := stagingKey(s.ID, index)
	if err := e.blobs.PutStaged(ctx, key, data, crc); err != nil {
		return ChunkResult{}, fmt.Errorf("stage chunk %d of %s: %w", index, s.ID, err)
	}
	k := s.PartOf(index)
	claim := e.newLease()
	part, err := e.recordChunk(ctx, s, k, ChunkRecord{Index: index, Key: key, Size: int64(len(data)), CRC: crc}, claim)
	if errors.Is(err, ErrConflict) {
		// Sent before: the first copy stands and this one is dropped.
		if err := e.blobs.DeleteStaged(ctx, []string{key}); err != nil {
			e.log(ctx, s).Warn("drop duplicate chunk", "chunk", index, "err", err)
		}
		return e.afterDuplicate(ctx, s, k, part)
	}
	if err != nil {
		// The write may have taken effect with its answer lost: then it
		// may have completed the part, and its claim would hold the part
		// for nobody until it lapses. Giving it up (only if it is still
		// this request's) lets the client's retry or the completion
		// assemble the part at once.
		e.releasePart(ctx, s, k, claim.Token)
		return ChunkResult{}, err
	}
	e.count(ctx, MetricBytesReceived, s, float64(len(data)))
	e.keepAlive(ctx, s)
	first, end := s.PartChunks(k)
	if len(part.Chunks) < end-first || part.Claim.Token != claim.Token {
		// The part lacks chunks, or another request's chunk completed it
		// and that request assembles it.
		return ChunkResult{Stored: true, Session: s}, nil
	}
	done, err := e.assembleHeld(ctx, s, k, claim.Token, part, &heldChunk{key: key, data: data})
	if err != nil {
		return ChunkResult{}, err
	}
	return e.afterPart(ctx, s, done, true, e.waitUntil())
}

// recordChunk records a staged chunk in its part, stamping the part with
// claim (see PartLedger.RecordChunk), and returns the part. A
// conditional write that lost may have lost to itself: when its first
// attempt took effect but the answer never came, the SDK's retry finds
// the chunk recorded. The staging key, unique to this request, tells the
// two apart; the part then comes from a read. When the chunk was
// recorded by another request (ErrConflict), it also returns the part as
// it read it, so that the duplicate is answered without reading the part
// again.
func (e *Engine) recordChunk(ctx context.Context, s *Session, k int, c ChunkRecord, claim Lease) (*Part, error) {
	p, err := e.sessions.RecordChunk(ctx, s.ID, k, c, claim)
	if !errors.Is(err, ErrConflict) {
		if err != nil {
			return nil, fmt.Errorf("record chunk %d of %s: %w", c.Index, s.ID, err)
		}
		return p, nil
	}
	p, gerr := e.sessions.GetPart(ctx, s.ID, k)
	if gerr != nil {
		return nil, fmt.Errorf("read part %d of %s: %w", k, s.ID, gerr)
	}
	if mine, ok := p.Chunks[c.Index]; ok && mine.Key == c.Key && !p.Assembled() {
		return p, nil
	}
	return p, err
}

func (e *Engine) checkChunk(s *Session, index int, data []byte) error {
	if err := e.refuseState(s); err != nil {
		return err
	}
	if s.Kind == Direct {
		return refuse(CodeInvalid, "upload %s is a direct upload: its parts go straight to S3, not through chunkup", s.ID)
	}
	if index < 0 || index >= s.Chunks {
		return refuse(CodeChunkRange, "chunk %d is out of range: this upload has chunks 0 to %d", index, s.Chunks-1)
	}
	if int64(len(data)) > e.opt.MaxChunkSize {
		return overLimit(CodeChunkTooLarge, e.opt.MaxChunkSize, "chunk is %d bytes, over the limit of %d bytes", len(data), e.opt.MaxChunkSize)
	}
	if want := s.ChunkLen(index); int64(len(data)) != want {
		return refuse(CodeChunkLength, "chunk %d must be %d bytes, got %d", index, want, len(data))
	}
	if index == 0 {
		return e.checkType(data)
	}
	return nil
}

// afterDuplicate answers a chunk that was already recorded, and finishes
// work a crashed request left: a part whose chunks are all in but whose
// assembler died, an assembled part that was never counted, or an upload
// that finishes by itself and was not finished once its last part was
// counted. While another request is assembling the chunk's part it waits
// for that (a client must not take a chunk for done before its part is
// safe), and answers busy if the part is still not done when it must
// stop; for an upload that finishes by itself, it also waits for the part
// to be counted. p, if not nil, is the part as the request has just read
// it.
func (e *Engine) afterDuplicate(ctx context.Context, s *Session, k int, p *Part) (ChunkResult, error) {
	stop := e.waitUntil()
	var res ChunkResult
	err := e.poll(ctx, stop, pollInterval, fmt.Sprintf("part %d of %s", k, s.ID), func() (bool, error) {
		if p == nil {
			var err error
			if p, err = e.sessions.GetPart(ctx, s.ID, k); err != nil {
				return false, fmt.Errorf("read part %d of %s: %w", k, s.ID, err)
			}
		}
		var done bool
		var err error
		res, done, err = e.settleDuplicate(ctx, s, k, p, stop)
		p = nil
		return done, err
	})
	if errors.Is(err, errWaitedOut) {
		return ChunkResult{}, refuse(CodeBusy, "part %d of upload %s is being assembled; retry shortly", k+1, s.ID)
	}
	return res, err
}

// pollInterval is how often a request that waits for another's work on
// a part or an upload looks again.
const pollInterval = 100 * time.Millisecond

// settleDuplicate is one look of afterDuplicate at part k as read, p: it
// answers the chunk (done), or reports that another request is still
// assembling the part or, for an upload that finishes by itself,
// counting it.
func (e *Engine) settleDuplicate(ctx context.Context, s *Session, k int, p *Part, stop time.Time) (ChunkResult, bool, error) {
	first, end := s.PartChunks(k)
	now := e.opt.Now()
	switch {
	case !p.Assembled() && len(p.Chunks) < end-first:
		return ChunkResult{Stored: false, Session: s}, true, nil
	case !p.Assembled() && !p.Claim.Held(now):
		done, err := e.assemble(ctx, s, k, nil)
		if err != nil || done < 0 {
			return ChunkResult{}, err != nil, err // done < 0: another took the part over first
		}
		res, err := e.afterPart(ctx, s, done, false, stop)
		return res, true, err
	case p.Assembled() && !p.Counted && now.Sub(p.FinishedAt) > e.opt.ClaimTimeout:
		done, err := e.sessions.CountPart(ctx, s.ID, k)
		if err != nil {
			return ChunkResult{}, true, fmt.Errorf("count part %d of %s: %w", k, s.ID, err)
		}
		res, err := e.afterPart(ctx, s, done, false, stop)
		return res, true, err
	case p.Assembled() && p.Counted && s.AutoComplete:
		res, err := e.afterCounted(ctx, s, stop)
		return res, true, err
	case p.Assembled() && !s.AutoComplete:
		return ChunkResult{Stored: false, Session: s}, true, nil
	}
	return ChunkResult{}, false, nil
}

// afterPart finishes an upload that finishes by itself once its last part
// has been counted (done is the count), as autoComplete does.
func (e *Engine) afterPart(ctx context.Context, s *Session, done int, stored bool, stop time.Time) (ChunkResult, error) {
	if done < s.Parts || !s.AutoComplete {
		return ChunkResult{Stored: stored, Session: s}, nil
	}
	return e.autoComplete(ctx, s, stored, stop)
}

// afterCounted answers a chunk sent again, of an upload that finishes by
// itself, whose part is assembled and counted. If every part is counted,
// the upload is to be finished before the chunk is answered: the request
// that counted the last part may have failed to finish it, and this chunk
// may be its client's retry. The request's copy of the session may not
// say how many parts are counted (one taken from the identifier's record
// does not), so the session is read: on this path only, which a client
// takes when it sends a chunk twice.
func (e *Engine) afterCounted(ctx context.Context, s *Session, stop time.Time) (ChunkResult, error) {
	fresh, err := e.sessions.GetSession(ctx, s.ID)
	if err != nil {
		return ChunkResult{}, fmt.Errorf("read session %s: %w", s.ID, err)
	}
	if fresh.State == StateOpen && fresh.PartsDone < fresh.Parts {
		return ChunkResult{Stored: false, Session: s}, nil
	}
	return e.autoComplete(ctx, fresh, false, stop)
}

// keepAlive moves the expiry forward after a chunk, writing at most once
// per twenty-fourth of the expiry period rather than on every chunk, and
// never past the end of the upload's lifetime.
func (e *Engine) keepAlive(ctx context.Context, s *Session) {
	now := e.opt.Now().UTC()
	next := now.Add(e.opt.Expiry)
	if end := e.lifetimeEnd(s); next.After(end) {
		next = end
	}
	if next.Sub(s.ExpiresAt) < e.opt.Expiry/24 {
		return
	}
	if err := e.sessions.Touch(ctx, s.ID, next, now); err != nil {
		e.log(ctx, s).Warn("extend expiry", "err", err)
		return
	}
	s.ExpiresAt = next
}
