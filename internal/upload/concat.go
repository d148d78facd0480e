package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// Joining partial uploads into a final one (tus's concatenation): the
// client sends the pieces of a file as partial uploads, each a sequential
// upload finished into an object of its own, then names them in order to
// make the final upload. Each partial becomes one part of the final
// object, copied by S3 (UploadPartCopy) without passing through chunkup;
// partials under S3's part minimum are read and uploaded together, at
// most MaxBufferedPart bytes of them in all. S3 verifies the whole
// object's CRC64NVME, folded from the partials' own.
//
// Entry points: Engine.CreateFinal, Engine.FinishFinal.
// Calls: the multipart start; completion (completeClaimed).

// NewFinal describes a final upload: the owner's complete partial
// uploads, joined in the order given.
type NewFinal struct {
	Owner       string
	Name        string
	ContentType string
	Metadata    map[string]string
	Partials    []string // upload ids
}

// CreateFinal checks the partial uploads a final one joins (the owner's,
// partial, complete), creates the final upload and finishes it. A partial
// another owner has is unknown (CodeNotFound); an unfinished one is
// CodeIncomplete. If the finishing fails, the final upload stays and
// FinishFinal finishes it later. The same partials in the same order make
// the same final upload: a second creation answers the first one (under
// its first name and metadata), finishing it if it is not yet.
func (e *Engine) CreateFinal(ctx context.Context, req NewFinal) (*Session, error) {
	if err := e.checkFile(req.Name, 0); err != nil {
		return nil, err
	}
	if err := CheckMetadata(req.Metadata); err != nil {
		return nil, err
	}
	switch n := len(req.Partials); {
	case n == 0:
		return nil, refuse(CodeInvalid, "a final upload names at least one partial upload")
	case n > MaxParts:
		return nil, overLimit(CodeTooManyChunks, MaxParts, "a final upload joins at most %d partial uploads, not %d", MaxParts, n)
	}
	id := finalID(req.Owner, req.Partials)
	if prev, err := e.Get(ctx, req.Owner, id); err == nil {
		// These partials were joined before: a creation sent again
		// after its answer was lost. The final upload is that one, and
		// neither its partials nor the pre-create hook are asked again.
		return e.FinishFinal(ctx, prev)
	} else if CodeOf(err) != CodeNotFound {
		return nil, err
	}
	partials := make([]*Session, len(req.Partials))
	var size int64
	for i, id := range req.Partials {
		p, err := e.Get(ctx, req.Owner, id)
		if err != nil {
			return nil, err
		}
		if err := checkPartial(p, e.opt.Now()); err != nil {
			return nil, err
		}
		partials[i], size = p, size+p.Size
	}
	if size > e.opt.MaxFileSize {
		return nil, overLimit(CodeFileTooLarge, e.opt.MaxFileSize, "the partial uploads make %d bytes, over the file size limit of %d bytes", size, e.opt.MaxFileSize)
	}
	if read := bytesToRead(partials); read > e.opt.MaxBufferedPart {
		return nil, overLimit(CodeInvalid, e.opt.MaxBufferedPart,
			"partial uploads under %d bytes (but the last) are joined by reading them, at most %d bytes in all; these need %d: send fewer, larger partial uploads",
			MinPartSize, e.opt.MaxBufferedPart, read)
	}
	v, err := e.vet(ctx, PreCreateRequest{Owner: req.Owner, Name: req.Name, Size: &size, Type: req.ContentType, Metadata: req.Metadata, Concat: "final"})
	if err != nil {
		return nil, err
	}
	now := e.opt.Now().UTC()
	s := &Session{
		ID: id, Owner: req.Owner, Name: req.Name, ContentType: req.ContentType, Key: v.key(id, req.Name), Metadata: v.meta,
		Kind: Sequential, State: StateOpen, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(min(e.opt.Expiry, e.opt.MaxLifetime)),
		Sources: req.Partials, Dialect: dialectOf(ctx),
	}
	s.Size = size
	s.PartSize = MinPartSize
	if err := e.sessions.CreateSession(ctx, s); errors.Is(err, ErrConflict) {
		// Another creation of the same final upload won the race.
		prev, err := e.Get(ctx, req.Owner, id)
		if err != nil {
			return nil, err
		}
		return e.FinishFinal(ctx, prev)
	} else if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	e.started(ctx, s, "final upload created", "size", size, "partials", len(partials))
	return e.finishFinal(ctx, s, partials)
}

// finalID is the id of the final upload that joins partials, in order,
// for owner: the same for the same list, so that a creation sent again
// (its answer lost) finds the first one rather than making another, which
// could not be finished once the first had dropped the partials' objects.
// It is as hard to guess as the partials' own ids.
func finalID(owner string, partials []string) string {
	sum := sha256.Sum256([]byte("final\x00" + owner + "\x00" + strings.Join(partials, " ")))
	return hex.EncodeToString(sum[:16])
}

// checkPartial refuses an upload a final upload cannot join.
// A finished partial is kept an expiry period (Options.Expiry) for a
// final upload to join; then the sweep deletes it.
func checkPartial(p *Session, now time.Time) error {
	switch {
	case !p.Partial:
		return refuse(CodeInvalid, "upload %s is not a partial upload", p.ID)
	case p.State != StateComplete:
		return refuse(CodeIncomplete, "partial upload %s is not finished: it has %d of %d bytes", p.ID, p.Offset, p.Size)
	case !now.Before(p.ExpiresAt):
		return refuse(CodeExpired, "partial upload %s expired at %s: a finished partial upload is kept until then for a final upload to join", p.ID, p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// FinishFinal finishes final upload s if a failure left it unfinished;
// a finished one is answered as it is.
func (e *Engine) FinishFinal(ctx context.Context, s *Session) (*Session, error) {
	if s.State == StateComplete {
		return s, nil
	}
	partials := make([]*Session, len(s.Sources))
	for i, id := range s.Sources {
		p, err := e.Get(ctx, s.Owner, id)
		if err != nil {
			return nil, fmt.Errorf("partial upload %s of final %s: %w", id, s.ID, err)
		}
		partials[i] = p
	}
	return e.finishFinal(ctx, s, partials)
}

// finishFinal joins the partials into s's object under the completion
// lease.
func (e *Engine) finishFinal(ctx context.Context, s *Session, partials []*Session) (*Session, error) {
	switch {
	case !s.State.CanBecome(StateCompleting):
		return nil, e.refuseState(s)
	case s.Completion.Held(e.opt.Now()):
		return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
	}
	claim := e.newLease()
	if err := e.sessions.BeginComplete(ctx, s, claim, e.opt.Now()); err != nil {
		if errors.Is(err, ErrConflict) {
			return e.completedOrBusy(ctx, s, nil)
		}
		e.releaseComplete(ctx, s, claim.Token)
		return nil, fmt.Errorf("begin completion of %s: %w", s.ID, err)
	}
	parts, err := e.copyPartials(ctx, s, partials)
	if err != nil && s.MultipartID != "" {
		if joined, ok := e.joinedBefore(ctx, s, partials); ok {
			parts, err = joined, nil
		}
	}
	if err == nil {
		var fin *Session
		if fin, err = e.completeClaimed(ctx, s, parts, claim.Token); err == nil {
			e.dropPartials(ctx, fin, partials)
			return fin, nil
		}
	}
	e.releaseComplete(ctx, s, claim.Token)
	return nil, err
}

// joinedBefore reports whether an earlier attempt at final upload s
// joined its partials into its object (S3 completed the multipart upload,
// which now takes no parts) and failed before recording it: S3 then holds
// the object with the partials' CRC64NVME joined. It returns the parts
// that describe it, one per partial, for the completion to record.
func (e *Engine) joinedBefore(ctx context.Context, s *Session, partials []*Session) ([]*Part, bool) {
	var parts []*Part
	for _, p := range partials {
		if p.Size == 0 {
			continue
		}
		crc, err := partialCRC(p)
		if err != nil {
			return nil, false
		}
		parts = append(parts, &Part{Index: len(parts), CRC: crc, Size: p.Size})
	}
	whole, _ := foldCRC(e.crcJoin, parts)
	head, err := e.blobs.HeadObject(ctx, s.Key)
	if err != nil || len(parts) == 0 || head.CRC64 != crc64nvme.Encode(whole) || head.Size != s.Size {
		return nil, false
	}
	return parts, true
}

// copyPartials makes the final object's parts of the partials' objects:
// one part copied by S3 per partial of at least MinPartSize bytes (or the
// last), and smaller runs read and uploaded as one part. The parts are
// made at once, at most joinWorkers at a time, so the join takes about
// as long as its largest part rather than the sum of them all.
func (e *Engine) copyPartials(ctx context.Context, s *Session, partials []*Session) ([]*Part, error) {
	if s.Size == 0 {
		return nil, nil
	}
	mpu, err := e.multipart(ctx, s)
	if err != nil {
		return nil, err
	}
	runs := joinRuns(partials)
	parts := make([]*Part, len(runs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, joinWorkers)
	var wg sync.WaitGroup
	for i, run := range runs {
		if ctx.Err() != nil {
			break // a part failed: start no more
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			p, err := e.joinPart(ctx, s, mpu, i+1, run)
			if err != nil {
				cancel(err) // the first failure is the one reported
			}
			parts[i] = p
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return parts, nil
}

// joinWorkers bounds the parts a final upload's join makes at once: S3
// copies in parallel, and the reads of small partials are bounded in all
// by Options.MaxBufferedPart whatever the number.
const joinWorkers = 8

// joinRun is the partials that make one part of a final object: one that
// S3 copies (copy), or smaller ones that are read and uploaded together.
type joinRun struct {
	partials []*Session
	copy     bool
}

// joinRuns cuts partials into the runs that make the final object's
// parts, in order: a partial of at least MinPartSize bytes (or the last)
// alone, to be copied by S3; a run of smaller ones together, to be read,
// until it reaches MinPartSize. Empty partials add nothing.
func joinRuns(partials []*Session) []joinRun {
	var runs []joinRun
	var run []*Session // partials to read into the next part
	for i, p := range partials {
		if p.Size == 0 {
			continue
		}
		if len(run) == 0 && (p.Size >= MinPartSize || i == len(partials)-1) {
			runs = append(runs, joinRun{partials: []*Session{p}, copy: true})
			continue
		}
		run = append(run, p)
		if sizeOf(run) >= MinPartSize {
			runs, run = append(runs, joinRun{partials: run}), nil
		}
	}
	if len(run) > 0 {
		runs = append(runs, joinRun{partials: run})
	}
	return runs
}

// joinPart makes part number of the final upload s from run.
func (e *Engine) joinPart(ctx context.Context, s *Session, mpu string, number int, run joinRun) (*Part, error) {
	if !run.copy {
		return e.readPartials(ctx, s, mpu, number, run.partials)
	}
	p := run.partials[0]
	crc, err := partialCRC(p)
	if err != nil {
		return nil, err
	}
	etag, err := e.blobs.CopyPart(ctx, s.Key, mpu, number, p.Key)
	if err != nil {
		return nil, fmt.Errorf("copy partial %s into part %d of %s: %w", p.ID, number, s.ID, err)
	}
	return &Part{Index: number - 1, ETag: etag, CRC: crc, Size: p.Size}, nil
}

// readPartials reads the objects of a run of partials and uploads them
// as part number.
func (e *Engine) readPartials(ctx context.Context, s *Session, mpu string, number int, run []*Session) (*Part, error) {
	buf := make([]byte, 0, sizeOf(run))
	var crc uint64
	for i, p := range run {
		r, err := e.blobs.OpenObject(ctx, p.Key)
		if err != nil {
			return nil, fmt.Errorf("read partial %s of %s: %w", p.ID, s.ID, err)
		}
		start := len(buf)
		buf, err = readInto(buf, r, p.Size)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("read partial %s of %s: %w", p.ID, s.ID, err)
		}
		pc := crc64nvme.Checksum(buf[start:])
		if want, _ := partialCRC(p); pc != want {
			return nil, fmt.Errorf("partial %s of %s reads back with CRC64NVME %s, not %s", p.ID, s.ID, crc64nvme.Encode(pc), p.CRC64)
		}
		if i == 0 {
			crc = pc
		} else {
			crc = e.crcJoin.Combine(crc, pc, p.Size)
		}
	}
	etag, err := e.blobs.UploadPart(ctx, s.Key, mpu, number, bytes.NewReader(buf), int64(len(buf)), crc)
	if err != nil {
		return nil, fmt.Errorf("upload part %d of %s: %w", number, s.ID, err)
	}
	return &Part{Index: number - 1, ETag: etag, CRC: crc, Size: int64(len(buf))}, nil
}

// readInto appends exactly n bytes of r to buf.
func readInto(buf []byte, r io.Reader, n int64) ([]byte, error) {
	start := len(buf)
	buf = buf[:start+int(n)]
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return nil, err
	}
	return buf, nil
}

// dropPartials deletes the partials' objects once the final object holds
// their bytes: they were only ever pieces of it. Their sessions stay, as
// complete, until their records expire.
func (e *Engine) dropPartials(ctx context.Context, fin *Session, partials []*Session) {
	for _, p := range partials {
		if err := e.blobs.DeleteObject(ctx, p.Key); err != nil {
			e.log(ctx, fin).Warn("delete joined partial", "partial", p.ID, "err", err)
		}
	}
}

// bytesToRead is how many bytes of partials copyPartials reads, rather
// than has S3 copy.
func bytesToRead(partials []*Session) int64 {
	var read int64
	for _, run := range joinRuns(partials) {
		if !run.copy {
			read += sizeOf(run.partials)
		}
	}
	return read
}

func sizeOf(run []*Session) int64 {
	var n int64
	for _, p := range run {
		n += p.Size
	}
	return n
}

// partialCRC is a finished partial's CRC64NVME, as S3 reported it.
func partialCRC(p *Session) (uint64, error) {
	crc, ok := crc64nvme.Decode(p.CRC64)
	if !ok {
		return 0, fmt.Errorf("partial %s has no CRC64NVME recorded (%q)", p.ID, p.CRC64)
	}
	return crc, nil
}
