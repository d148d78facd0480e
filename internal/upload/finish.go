package upload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// Complete finishes the owner's upload id: it assembles any part a crashed
// request left, has S3 join the parts (verifying the full-object
// CRC64NVME) and records the result. Completing a complete upload answers
// with the same result; an upload with chunks missing is refused with the
// missing ranges.
func (e *Engine) Complete(ctx context.Context, owner, id string) (*Session, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	return e.finish(ctx, s)
}

// finish does the completion work. It reads and writes at most the data
// of the parts whose assembly is still owed (normally none, at most one
// after a crash), whatever the file size.
func (e *Engine) finish(ctx context.Context, s *Session) (*Session, error) {
	switch s.State {
	case StateComplete:
		return s, nil
	case StateCompleting:
		if e.opt.Now().Before(s.CompleteUntil) {
			return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
		}
	case StateOpen:
	default:
		return nil, e.stateAllowsChunks(s)
	}
	parts, err := e.readyParts(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := e.verifyCRC(s, parts); err != nil {
		return nil, err
	}
	now := e.opt.Now()
	token := newID()
	if err := e.sessions.BeginComplete(ctx, s, token, now.Add(e.opt.ClaimTimeout), now); err != nil {
		if errors.Is(err, ErrConflict) {
			return e.completedOrBusy(ctx, s)
		}
		// The write may have taken effect with its answer lost.
		e.releaseComplete(ctx, s, token)
		return nil, fmt.Errorf("begin completion of %s: %w", s.ID, err)
	}
	fin, err := e.completeClaimed(ctx, s, parts, token)
	if err != nil {
		e.releaseComplete(ctx, s, token)
		return nil, err
	}
	return fin, nil
}

// releaseComplete gives up token's claim to finish s after a failure, so
// that the client's retry (or the sweep) takes the completion over at
// once rather than after the claim lapses. A completion that ended the
// upload (a checksum that did not match) or took effect after all no
// longer holds a claim to give up; if the release fails, the lapse still
// frees the claim.
func (e *Engine) releaseComplete(ctx context.Context, s *Session, token string) {
	err := e.sessions.ReleaseComplete(context.WithoutCancel(ctx), s.ID, token)
	if err != nil && !errors.Is(err, ErrConflict) {
		e.log(ctx, s).Warn("release completion claim", "err", err)
	}
}

// completeClaimed does the completion work once token holds the claim to
// finish s, whose parts are all assembled.
func (e *Engine) completeClaimed(ctx context.Context, s *Session, parts []*Part, token string) (*Session, error) {
	obj, err := e.join(ctx, s, parts)
	if err != nil {
		return nil, err
	}
	if err := e.verifyReadBack(ctx, s); err != nil {
		return nil, err
	}
	e.dropLeftovers(ctx, s)
	fin := *s
	fin.State = StateComplete
	fin.CompleteToken = token
	fin.CompletedAt = e.opt.Now().UTC()
	// Due for the sweep (which deletes its part records and frees its
	// client identifier) one expiry period later: a client whose last
	// answer was lost still finds the finished file by its identifier.
	fin.ExpiresAt = fin.CompletedAt.Add(e.opt.Expiry)
	fin.ETag, fin.CRC64 = obj.ETag, obj.CRC64
	if err := e.sessions.FinishComplete(ctx, &fin); err != nil {
		return nil, fmt.Errorf("record completion of %s: %w", s.ID, err)
	}
	e.log(ctx, s).Info("upload complete", "key", fin.Key, "size", fin.Size, "crc64nvme", fin.CRC64)
	return &fin, nil
}

// readyParts checks that every part is assembled, assembling those whose
// chunks are all in but whose assembler never finished. Missing chunks are
// refused with their ranges; a part another request is assembling right
// now answers busy.
func (e *Engine) readyParts(ctx context.Context, s *Session) ([]*Part, error) {
	parts, err := e.partTable(ctx, s)
	if err != nil {
		return nil, err
	}
	if missing := missingRanges(s, parts); len(missing) > 0 {
		return nil, &Error{Code: CodeIncomplete, Missing: missing,
			Message: fmt.Sprintf("upload %s is missing %d chunk(s), first missing chunk %d", s.ID, countRanges(missing), missing[0].First)}
	}
	for k, p := range parts {
		if p.Assembled() {
			continue
		}
		if e.opt.Now().Before(p.ClaimUntil) {
			return nil, refuse(CodeBusy, "part %d of upload %s is being assembled; retry shortly", k+1, s.ID)
		}
		if done, err := e.assemble(ctx, s, k, nil); err != nil {
			return nil, err
		} else if done < 0 {
			return nil, refuse(CodeBusy, "part %d of upload %s is being assembled; retry shortly", k+1, s.ID)
		}
		if parts[k], err = e.sessions.GetPart(ctx, s.ID, k); err != nil {
			return nil, fmt.Errorf("read part %d of %s: %w", k, s.ID, err)
		}
	}
	return parts, nil
}

// partTable reads all of a session's part records into a slice indexed by
// part, with empty records for parts nothing has reached.
func (e *Engine) partTable(ctx context.Context, s *Session) ([]*Part, error) {
	list, err := e.sessions.ListParts(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("list parts of %s: %w", s.ID, err)
	}
	n := s.Parts
	if s.Kind == Sequential {
		n = s.NextPart
	}
	parts := make([]*Part, n)
	for _, p := range list {
		if p.Index >= 0 && p.Index < n {
			parts[p.Index] = p
		}
	}
	for k := range parts {
		if parts[k] == nil {
			parts[k] = &Part{Index: k}
		}
	}
	return parts, nil
}

// join has S3 put the parts together into the final object.
func (e *Engine) join(ctx context.Context, s *Session, parts []*Part) (Object, error) {
	if s.Size == 0 {
		obj, err := e.blobs.PutObject(ctx, s.Key, s.ContentType, objectMeta(s), nil, crc64nvme.Checksum(nil))
		if err != nil {
			return Object{}, fmt.Errorf("write empty object of %s: %w", s.ID, err)
		}
		return obj, nil
	}
	mpu, err := e.multipart(ctx, s)
	if err != nil {
		return Object{}, err
	}
	list := make([]CompletedPart, len(parts))
	for k, p := range parts {
		list[k] = CompletedPart{Number: k + 1, ETag: p.ETag, CRC: p.CRC}
	}
	whole := e.wholeCRC(parts)
	obj, err := e.blobs.CompleteMultipart(ctx, s.Key, mpu, list, whole)
	if err != nil {
		// A completion that S3 carried out but whose answer was lost
		// leaves the object in place and the multipart upload gone.
		if head, herr := e.blobs.HeadObject(ctx, s.Key); herr == nil && head.CRC64 == crc64nvme.Encode(whole) {
			return head, nil
		}
		return Object{}, fmt.Errorf("complete multipart upload of %s: %w", s.ID, err)
	}
	return obj, nil
}

// wholeCRC combines the parts' CRC64NVMEs into the whole file's.
func (e *Engine) wholeCRC(parts []*Part) uint64 {
	var whole uint64
	for k, p := range parts {
		if k == 0 {
			whole = p.CRC
		} else {
			whole = e.crcJoin.Combine(whole, p.CRC, p.Size)
		}
	}
	return whole
}

// verifyCRC checks a whole-file CRC64NVME the client asked to verify,
// from the parts' checksums alone. A mismatch leaves the upload open.
func (e *Engine) verifyCRC(s *Session, parts []*Part) error {
	want, err := ParseChecksum(s.Verify)
	if s.Verify == "" || err != nil || want.Alg != "crc64nvme" {
		return nil
	}
	got := e.wholeCRC(parts)
	if s.Size == 0 {
		got = crc64nvme.Checksum(nil)
	}
	if crc64nvme.Encode(got) != base64.StdEncoding.EncodeToString(want.Digest) {
		return refuse(CodeChecksum, "crc64nvme checksum does not match: the file's is %s, the client's %s", crc64nvme.Encode(got), base64.StdEncoding.EncodeToString(want.Digest))
	}
	return nil
}

// verifyReadBack checks a whole-file md5, sha1 or sha256 the client asked
// to verify by reading the finished object once. On a mismatch the object
// is deleted and the upload ends as aborted: its chunks are spent.
func (e *Engine) verifyReadBack(ctx context.Context, s *Session) error {
	want, err := ParseChecksum(s.Verify)
	if s.Verify == "" || err != nil || want.Alg == "crc64nvme" {
		return nil
	}
	rc, err := e.blobs.OpenStaged(ctx, s.Key)
	if err != nil {
		return fmt.Errorf("read back %s: %w", s.ID, err)
	}
	bad := want.VerifyReader(rc)
	rc.Close()
	if bad == nil {
		return nil
	}
	if _, ok := AsError(bad); !ok {
		return fmt.Errorf("read back %s: %w", s.ID, bad)
	}
	if err := e.blobs.DeleteStaged(ctx, []string{s.Key}); err != nil {
		return fmt.Errorf("discard %s after a checksum mismatch: %w", s.ID, err)
	}
	if err := e.sessions.EndSession(ctx, s, []State{StateCompleting}, StateAborted, e.opt.Now().UTC()); err != nil {
		return fmt.Errorf("end %s after a checksum mismatch: %w", s.ID, err)
	}
	if err := e.release(ctx, s); err != nil {
		e.log(ctx, s).Warn("release after checksum mismatch", "err", err)
	}
	e2, _ := AsError(bad)
	e2.Message += "; the file was discarded"
	return e2
}

// completedOrBusy answers a completion that lost the race to another.
func (e *Engine) completedOrBusy(ctx context.Context, s *Session) (*Session, error) {
	fresh, err := e.sessions.GetSession(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", s.ID, err)
	}
	if fresh.State == StateComplete {
		return fresh, nil
	}
	if fresh.State == StateCompleting {
		return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
	}
	return nil, e.stateAllowsChunks(fresh)
}

// dropLeftovers deletes staged chunks that duplicate requests or crashes
// left behind.
func (e *Engine) dropLeftovers(ctx context.Context, s *Session) {
	keys, err := e.blobs.ListStaged(ctx, stagingPrefix(s.ID))
	if err == nil && len(keys) > 0 {
		err = e.blobs.DeleteStaged(ctx, keys)
	}
	if err != nil {
		e.log(ctx, s).Warn("delete leftover staged chunks", "err", err)
	}
}

// Abort ends the owner's open upload and deletes everything it stored.
// Aborting an aborted upload succeeds again; a complete one is refused.
func (e *Engine) Abort(ctx context.Context, owner, id string) error {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return err
	}
	switch s.State {
	case StateComplete, StateCompleting:
		return refuse(CodeComplete, "upload %s is complete and can no longer be aborted", s.ID)
	case StateOpen:
		err := e.sessions.EndSession(ctx, s, []State{StateOpen}, StateAborted, e.opt.Now().UTC())
		if errors.Is(err, ErrConflict) {
			return e.Abort(ctx, owner, id)
		}
		if err != nil {
			return fmt.Errorf("abort %s: %w", s.ID, err)
		}
	}
	return e.release(ctx, s)
}

// release deletes what an ended upload stored: its multipart upload,
// staged chunks and part records; then it drops the session from the
// sweep's index and leaves it to DynamoDB's TTL.
func (e *Engine) release(ctx context.Context, s *Session) error {
	fresh, err := e.sessions.GetSession(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("read session %s: %w", s.ID, err)
	}
	if fresh.MultipartID != "" {
		if err := e.blobs.AbortMultipart(ctx, fresh.Key, fresh.MultipartID); err != nil {
			return fmt.Errorf("abort multipart upload of %s: %w", s.ID, err)
		}
	}
	if err := e.abortStrays(ctx, fresh); err != nil {
		return err
	}
	keys, err := e.blobs.ListStaged(ctx, stagingPrefix(s.ID))
	if err != nil {
		return fmt.Errorf("list staged chunks of %s: %w", s.ID, err)
	}
	if err := e.blobs.DeleteStaged(ctx, keys); err != nil {
		return fmt.Errorf("delete staged chunks of %s: %w", s.ID, err)
	}
	if err := e.sessions.DeleteParts(ctx, s.ID); err != nil {
		return fmt.Errorf("delete part records of %s: %w", s.ID, err)
	}
	if err := e.sessions.Forget(ctx, fresh, e.opt.Now().Add(e.opt.Retention)); err != nil {
		return fmt.Errorf("retire session %s: %w", s.ID, err)
	}
	e.log(ctx, s).Info("upload released", "state", string(fresh.State))
	return nil
}

// abortStrays aborts multipart uploads of the session that S3 may hold
// unrecorded (one whose CreateMultipartUpload answer was lost). Listing
// them is billed, so only a session that may have one pays for it.
func (e *Engine) abortStrays(ctx context.Context, s *Session) error {
	if !s.MayHaveStrayMultipart() {
		return nil
	}
	if err := e.blobs.AbortAllMultipart(ctx, s.Key); err != nil {
		return fmt.Errorf("abort stray multipart uploads of %s: %w", s.ID, err)
	}
	return nil
}

// SweepStats counts what a sweep did.
type SweepStats struct {
	Expired  int // open uploads found past their expiry and ended
	Released int // ended uploads whose data was deleted
	// Finished counts uploads that finish by themselves found past their
	// expiry with every chunk in, and finished rather than expired.
	Finished int
	Errors   int
}

// Sweep ends open uploads past their expiry and deletes what they stored,
// in batches of batch, until there are none left or the deadline is near.
// An upload that finishes by itself and has every chunk in is finished
// instead (see sweepFinish). Two sweeps at once are safe: each step is
// conditional or idempotent.
func (e *Engine) Sweep(ctx context.Context, batch int) (SweepStats, error) {
	var st SweepStats
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 5*time.Second {
			return st, nil
		}
		ids, err := e.sessions.ListExpired(ctx, e.opt.Now(), batch)
		if err != nil {
			return st, fmt.Errorf("list expired uploads: %w", err)
		}
		progress := 0
		for _, id := range ids {
			ok, err := e.sweepOne(ctx, id, &st)
			if err != nil {
				st.Errors++
				e.opt.Logger.Warn("sweep upload", "upload_id", id, "err", err)
			}
			if ok {
				progress++
			}
		}
		if len(ids) < batch || progress == 0 {
			return st, nil
		}
	}
}

func (e *Engine) sweepOne(ctx context.Context, id string, st *SweepStats) (bool, error) {
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read session %s: %w", id, err)
	}
	now := e.opt.Now().UTC()
	switch s.State {
	case StateOpen, StateCompleting:
		if now.Before(s.ExpiresAt) || (s.State == StateCompleting && now.Before(s.CompleteUntil)) {
			return false, nil
		}
		if ok, expire, err := e.sweepFinish(ctx, s, now, st); !expire {
			return ok, err
		}
		err := e.sessions.EndSession(ctx, s, []State{s.State}, StateExpired, now)
		if errors.Is(err, ErrConflict) {
			return false, nil // touched or ended by someone else meanwhile
		}
		if err != nil {
			return false, fmt.Errorf("expire %s: %w", id, err)
		}
		st.Expired++
	case StateComplete:
		if err := e.abortStrays(ctx, s); err != nil {
			return false, err
		}
		if err := e.sessions.DeleteParts(ctx, id); err != nil {
			return false, fmt.Errorf("delete part records of %s: %w", id, err)
		}
		return true, e.sessions.Forget(ctx, s, now.Add(e.opt.Retention))
	}
	if err := e.release(ctx, s); err != nil {
		return false, err
	}
	st.Released++
	return true, nil
}

// sweepFinish finishes, rather than expires, an upload past its expiry
// that finishes by itself and has every part counted: open, its last
// chunk's request having failed to finish it, or completing under a claim
// that lapsed. Its client sent the whole file and has no completion
// request to make; it may have given up on its last chunk's error
// (Flow.js does at the first by default), or been told by a release
// before this one that the file was done. Finishing costs what any
// completion does, at most one part's data. It reports whether the upload
// was finished (ok) and whether it is to be expired after all: when it is
// not such an upload, when finishing is refused (a chunk missing after
// all, a checksum that does not match), and when finishing fails in a way
// that may pass once it is a further expiry period overdue or at the end
// of its lifetime, when S3 is about to drop its data (before that, it is
// left for a later sweep). One that another request is finishing is left
// alone.
func (e *Engine) sweepFinish(ctx context.Context, s *Session, now time.Time, st *SweepStats) (ok, expire bool, err error) {
	if !unfinished(s) {
		return false, true, nil
	}
	_, err = e.finish(ctx, s)
	switch {
	case err == nil:
		st.Finished++
		return true, false, nil
	case CodeOf(err) == CodeBusy:
		return false, false, nil
	case CodeOf(err) == CodeInternal && now.Before(s.ExpiresAt.Add(e.opt.Expiry)) && now.Before(e.lifetimeEnd(s)):
		return false, false, fmt.Errorf("finish %s: %w", s.ID, err)
	}
	e.log(ctx, s).Warn("expire an upload with every chunk in that could not be finished", "err", err)
	return false, true, nil
}
