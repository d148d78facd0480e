package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

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
		return e.autoFinish(ctx, s, false, time.Now().Add(e.opt.DuplicateWait))
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
	token, until := newID(), e.opt.Now().Add(e.opt.ClaimTimeout)
	part, err := e.recordChunk(ctx, s, k, ChunkRecord{Index: index, Key: key, Size: int64(len(data)), CRC: crc}, token, until)
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
		e.releasePart(ctx, s, k, token)
		return ChunkResult{}, err
	}
	e.keepAlive(ctx, s)
	first, end := s.PartChunks(k)
	if len(part.Chunks) < end-first || part.ClaimToken != token {
		// The part lacks chunks, or another request's chunk completed it
		// and that request assembles it.
		return ChunkResult{Stored: true, Session: s}, nil
	}
	done, err := e.assembleHeld(ctx, s, k, token, part, &heldChunk{key: key, data: data})
	if err != nil {
		return ChunkResult{}, err
	}
	return e.afterPart(ctx, s, done, true, time.Now().Add(e.opt.DuplicateWait))
}

// recordChunk records a staged chunk in its part, stamping the part with
// the claim token (see Sessions.RecordChunk), and returns the part. A
// conditional write that lost may have lost to itself: when its first
// attempt took effect but the answer never came, the SDK's retry finds
// the chunk recorded. The staging key, unique to this request, tells the
// two apart; the part then comes from a read. When the chunk was
// recorded by another request (ErrConflict), it also returns the part as
// it read it, so that the duplicate is answered without reading the part
// again.
func (e *Engine) recordChunk(ctx context.Context, s *Session, k int, c ChunkRecord, token string, until time.Time) (*Part, error) {
	p, err := e.sessions.RecordChunk(ctx, s.ID, k, c, token, until)
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
	if err := e.stateAllowsChunks(s); err != nil {
		return err
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

func (e *Engine) stateAllowsChunks(s *Session) error {
	switch s.State {
	case StateOpen:
		return nil
	case StateExpired:
		if end := e.lifetimeEnd(s); !s.ExpiresAt.Before(end) {
			return overLimit(CodeExpired, int64(e.opt.MaxLifetime/time.Second),
				"upload %s expired at %s, the end of its lifetime: an upload must be finished within %s of its start (limit in seconds)",
				s.ID, end.Format(time.RFC3339), e.opt.MaxLifetime)
		}
		return refuse(CodeExpired, "upload %s expired at %s", s.ID, s.ExpiresAt.Format(time.RFC3339))
	case StateAborted:
		return refuse(CodeAborted, "upload %s was aborted", s.ID)
	default:
		return refuse(CodeComplete, "upload %s is already complete", s.ID)
	}
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
	first, end := s.PartChunks(k)
	stop := time.Now().Add(e.opt.DuplicateWait)
	for ; ; p = nil {
		if p == nil {
			var err error
			if p, err = e.sessions.GetPart(ctx, s.ID, k); err != nil {
				return ChunkResult{}, fmt.Errorf("read part %d of %s: %w", k, s.ID, err)
			}
		}
		now := e.opt.Now()
		switch {
		case !p.Assembled() && len(p.Chunks) < end-first:
			return ChunkResult{Stored: false, Session: s}, nil
		case !p.Assembled() && !now.Before(p.ClaimUntil):
			done, err := e.assemble(ctx, s, k, nil)
			if err != nil {
				return ChunkResult{}, err
			}
			if done >= 0 {
				return e.afterPart(ctx, s, done, false, stop)
			}
		case p.Assembled() && !p.Counted && now.Sub(p.FinishedAt) > e.opt.ClaimTimeout:
			done, err := e.sessions.CountPart(ctx, s.ID, k)
			if err != nil {
				return ChunkResult{}, fmt.Errorf("count part %d of %s: %w", k, s.ID, err)
			}
			return e.afterPart(ctx, s, done, false, stop)
		case p.Assembled() && p.Counted && s.AutoComplete:
			return e.afterCounted(ctx, s, stop)
		case p.Assembled() && !s.AutoComplete:
			return ChunkResult{Stored: false, Session: s}, nil
		}
		// The part is being assembled, or (for an upload that finishes
		// by itself) counted, by another request.
		if time.Now().After(stop) {
			return ChunkResult{}, refuse(CodeBusy, "part %d of upload %s is being assembled; retry shortly", k+1, s.ID)
		}
		select {
		case <-ctx.Done():
			return ChunkResult{}, fmt.Errorf("wait for part %d of %s: %w", k, s.ID, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// afterPart finishes an upload that finishes by itself once its last part
// has been counted (done is the count), as autoFinish does.
func (e *Engine) afterPart(ctx context.Context, s *Session, done int, stored bool, stop time.Time) (ChunkResult, error) {
	if done < s.Parts || !s.AutoComplete {
		return ChunkResult{Stored: stored, Session: s}, nil
	}
	return e.autoFinish(ctx, s, stored, stop)
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
	return e.autoFinish(ctx, fresh, false, stop)
}

// autoFinish answers a chunk of an upload that finishes by itself and has
// every part counted, s as the request last read it, with the finished
// upload, whoever finishes it. The request finishes the upload unless
// another holds the claim to; then it waits for that one (reading the
// session every 100 ms, which costs no read of the part records), takes
// the completion over if the claim lapses, and answers busy if the upload
// is still not finished at stop. A count that ran ahead of the parts
// (after a crash) finds a chunk missing: the chunk is answered as the
// upload stands, and the one that brings the missing chunk finishes it.
func (e *Engine) autoFinish(ctx context.Context, s *Session, stored bool, stop time.Time) (ChunkResult, error) {
	for {
		fin, err := e.finish(ctx, s)
		if err == nil {
			return ChunkResult{Stored: stored, Session: fin}, nil
		}
		switch CodeOf(err) {
		case CodeIncomplete:
			e.log(ctx, s).Info("auto-complete deferred", "reason", err.Error())
			return ChunkResult{Stored: stored, Session: s}, nil
		case CodeBusy:
		default:
			return ChunkResult{}, err
		}
		if time.Now().After(stop) {
			return ChunkResult{}, err
		}
		select {
		case <-ctx.Done():
			return ChunkResult{}, fmt.Errorf("wait for %s to be finished: %w", s.ID, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		fresh, err := e.sessions.GetSession(ctx, s.ID)
		if err != nil {
			return ChunkResult{}, fmt.Errorf("read session %s: %w", s.ID, err)
		}
		s = fresh
	}
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

// heldChunk is a staged chunk whose bytes the request still has in
// memory: the one it brought. Assembling its part takes those bytes
// rather than reading the chunk back from S3.
type heldChunk struct {
	key  string
	data []byte
}

// assemble claims part k, uploads its staged chunks as one S3 part and
// records it. It returns the number of parts counted so far, or -1 if
// another request holds the claim. held, if not nil, is a chunk the
// request has in memory.
func (e *Engine) assemble(ctx context.Context, s *Session, k int, held *heldChunk) (int, error) {
	now := e.opt.Now()
	token := newID()
	p, err := e.sessions.ClaimPart(ctx, s.ID, k, token, now.Add(e.opt.ClaimTimeout), now)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return -1, nil
		}
		return 0, fmt.Errorf("claim part %d of %s: %w", k, s.ID, err)
	}
	return e.assembleHeld(ctx, s, k, token, p, held)
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
	if s.Size > 0 {
		if etag, err = e.uploadPart(ctx, s, k, chunks, size, crc, held); err != nil {
			return 0, err
		}
	}
	assembled := AssembledPart{ETag: etag, CRC: crc, Size: size, Chunks: chunks}
	if err := e.sessions.FinishPart(ctx, s.ID, k, token, assembled, e.opt.Now()); err != nil {
		return 0, fmt.Errorf("record part %d of %s: %w", k, s.ID, err)
	}
	if err := e.blobs.DeleteStaged(ctx, chunkKeys(chunks)); err != nil {
		// The completion or the bucket's lifecycle rule removes them later.
		e.log(ctx, s).Warn("delete staged chunks", "part", k, "err", err)
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
	size, crc := e.partSum(chunks)
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

func (e *Engine) partSum(chunks []ChunkRecord) (int64, uint64) {
	var size int64
	var crc uint64
	for i, c := range chunks {
		if i == 0 {
			crc = c.CRC
		} else {
			crc = e.crcJoin.Combine(crc, c.CRC, c.Size)
		}
		size += c.Size
	}
	return size, crc
}

func chunkKeys(chunks []ChunkRecord) []string {
	keys := make([]string, len(chunks))
	for i, c := range chunks {
		keys[i] = c.Key
	}
	return keys
}

// multipart returns the session's S3 multipart upload, starting it if this
// is the first part. One request at a time may start it (a claim in the
// session), so two first parts at once do not both pay for one; the other
// waits for the id to be recorded, or takes over a claim that lapsed.
func (e *Engine) multipart(ctx context.Context, s *Session) (string, error) {
	if s.MultipartID != "" {
		return s.MultipartID, nil
	}
	stop := time.Now().Add(e.opt.DuplicateWait)
	for {
		fresh, err := e.sessions.GetSession(ctx, s.ID)
		if err != nil {
			return "", fmt.Errorf("read session %s: %w", s.ID, err)
		}
		if fresh.MultipartID != "" {
			s.MultipartID = fresh.MultipartID
			return s.MultipartID, nil
		}
		now := e.opt.Now()
		token := newID()
		err = e.sessions.ClaimMultipart(ctx, s.ID, token, now.Add(e.opt.ClaimTimeout), now)
		if err == nil {
			return e.startMultipart(ctx, s, token)
		}
		if !errors.Is(err, ErrConflict) {
			return "", fmt.Errorf("claim multipart upload of %s: %w", s.ID, err)
		}
		if time.Now().After(stop) {
			return "", refuse(CodeBusy, "the multipart upload of %s is being started; retry shortly", s.ID)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for the multipart upload of %s: %w", s.ID, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// startMultipart starts the multipart upload under a claim and records it.
// A claim that lapses first may let another request start one as well:
// the one recorded first wins and the other is aborted.
func (e *Engine) startMultipart(ctx context.Context, s *Session, token string) (string, error) {
	mine, retried, err := e.blobs.CreateMultipart(ctx, s.Key, s.ContentType, objectMeta(s))
	if err != nil {
		// Let the next part try at once rather than after the claim lapses
		// (it counts a second claim, so the sweep looks for a stray).
		if rerr := e.sessions.ReleaseMultipart(context.WithoutCancel(ctx), s.ID, token); rerr != nil {
			e.log(ctx, s).Warn("release multipart claim", "err", rerr)
		}
		return "", fmt.Errorf("start multipart upload of %s: %w", s.ID, err)
	}
	won, err := e.sessions.SetMultipartID(ctx, s.ID, mine, retried)
	if err != nil {
		return "", fmt.Errorf("record multipart upload of %s: %w", s.ID, err)
	}
	if won != mine {
		if err := e.blobs.AbortMultipart(ctx, s.Key, mine); err != nil {
			e.log(ctx, s).Warn("abort surplus multipart upload", "err", err)
		}
	}
	s.MultipartID = won
	return won, nil
}

// partFetchers is how many staged chunks are fetched at once.
const partFetchers = 4

// partBody returns the bytes of a part: in memory when it is small enough,
// otherwise as a stream. In memory, each chunk keeps a buffer of its own
// (the held chunk its own bytes, uncopied), and the body can seek, so the
// SDK can send it again after a failed attempt.
func (e *Engine) partBody(ctx context.Context, chunks []ChunkRecord, size int64, held *heldChunk) (io.ReadCloser, error) {
	if size > e.opt.MaxBufferedPart {
		return &stagedReader{ctx: ctx, blobs: e.blobs, chunks: chunks, held: held}, nil
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
	return newPieces(bufs), nil
}

// pieces reads byte slices one after another as one body that can seek.
type pieces struct {
	bufs [][]byte
	size int64
	off  int64 // where the next read starts
	i    int   // the slice holding off, when off < size
	at   int64 // where slice i starts
}

func newPieces(bufs [][]byte) *pieces {
	p := &pieces{bufs: bufs}
	for _, b := range bufs {
		p.size += int64(len(b))
	}
	return p
}

// Read reads from the slice the offset is in, moving to the next one when
// it is used up.
func (p *pieces) Read(b []byte) (int, error) {
	for p.off < p.size {
		cur := p.bufs[p.i]
		if rel := p.off - p.at; rel < int64(len(cur)) {
			n := copy(b, cur[rel:])
			p.off += int64(n)
			return n, nil
		}
		p.at += int64(len(cur))
		p.i++
	}
	return 0, io.EOF
}

// Seek moves the offset, as io.Seeker says.
func (p *pieces) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += p.off
	case io.SeekEnd:
		offset += p.size
	case io.SeekStart:
	default:
		return 0, fmt.Errorf("seek part body: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek part body to %d: before the start", offset)
	}
	p.off, p.i, p.at = offset, 0, 0
	for p.i < len(p.bufs) && p.at+int64(len(p.bufs[p.i])) <= offset {
		p.at += int64(len(p.bufs[p.i]))
		p.i++
	}
	return offset, nil
}

// Close does nothing: the slices are the garbage collector's.
func (p *pieces) Close() error { return nil }

// is reports whether c is the held chunk (and so h is not nil).
func (h *heldChunk) is(c ChunkRecord) bool {
	return h != nil && c.Key == h.key && int64(len(h.data)) == c.Size
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

// stagedReader reads a part's staged chunks one after another, opening
// each only when the one before is used up, so a part is streamed to S3
// without being held in memory.
type stagedReader struct {
	ctx    context.Context
	blobs  Blobs
	chunks []ChunkRecord
	held   *heldChunk
	cur    io.ReadCloser
}

func (r *stagedReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.chunks) == 0 {
				return 0, io.EOF
			}
			rc, err := r.open(r.chunks[0])
			if err != nil {
				return 0, err
			}
			r.cur, r.chunks = rc, r.chunks[1:]
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (r *stagedReader) open(c ChunkRecord) (io.ReadCloser, error) {
	if r.held.is(c) {
		return io.NopCloser(bytes.NewReader(r.held.data)), nil
	}
	rc, err := r.blobs.OpenStaged(r.ctx, c.Key)
	if err != nil {
		return nil, fmt.Errorf("open staged chunk %d: %w", c.Index, err)
	}
	return rc, nil
}

func (r *stagedReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}
