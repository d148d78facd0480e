package upload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// Completion: explicit (a client's completion request) and automatic
// (the chunk that makes an upload that completes by itself whole, a
// chunk sent again to one, the sweep). Under the completion lease,
// parts a crash left are assembled, S3 joins the parts and verifies the
// whole file's CRC64NVME, and the session becomes complete.
//
// Entry points: Engine.Complete; Engine.complete and Engine.autoComplete
// for intake, sequential intake and the sweep.
// Calls: assembly, for a part a crash left; the multipart start;
// discarding (discard.go), after a checksum that did not match; the parts
// S3 lists of a direct upload (listed.go).

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
	return e.complete(ctx, s)
}

// complete does the completion work. It reads and writes at most the data
// of the parts whose assembly is still owed (normally none, at most one
// after a crash), whatever the file size.
func (e *Engine) complete(ctx context.Context, s *Session) (*Session, error) {
	return e.completeWith(ctx, s, nil)
}

// completeWith is complete for an upload whose client lists the parts it
// sent to S3 (claimed; a direct upload's), which must be the ones S3 holds.
func (e *Engine) completeWith(ctx context.Context, s *Session, claimed []ClaimedPart) (*Session, error) {
	switch {
	case s.State == StateComplete:
		e.announceOrLeave(ctx, s) // an event a crash left owed
		return s, nil
	case !s.State.CanBecome(StateCompleting):
		return nil, e.refuseState(s)
	case s.Completion.Held(e.opt.Now()):
		return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
	}
	parts, err := e.readyParts(ctx, s, claimed)
	if err != nil {
		if c := CodeOf(err); s.Kind == Direct && (c == CodeAborted || c == CodeIncomplete) {
			// S3 no longer has the multipart upload, or lists only some
			// of its parts (as during a CompleteMultipartUpload): another
			// completion may have finished it since s was read.
			return e.completedOrBusy(ctx, s, err)
		}
		return nil, err
	}
	if s.Kind == Direct {
		s = sizedByParts(s, parts)
	}
	if err := e.verifyCRC(s, parts); err != nil {
		return nil, err
	}
	claim := e.newLease()
	if err := e.sessions.BeginComplete(ctx, s, claim, e.opt.Now()); err != nil {
		if errors.Is(err, ErrConflict) {
			return e.completedOrBusy(ctx, s, nil)
		}
		// The write may have taken effect with its answer lost.
		e.releaseComplete(ctx, s, claim.Token)
		return nil, fmt.Errorf("begin completion of %s: %w", s.ID, err)
	}
	fin, err := e.completeClaimed(ctx, s, parts, claim.Token)
	if err != nil {
		e.releaseComplete(ctx, s, claim.Token)
		return nil, err
	}
	return fin, nil
}

// autoComplete answers a chunk of an upload that finishes by itself and has
// every part counted, s as the request last read it, with the finished
// upload, whoever finishes it. The request finishes the upload unless
// another holds the claim to; then it waits for that one (reading the
// session every 100 ms, which costs no read of the part records), takes
// the completion over if the claim lapses, and answers busy if the upload
// is still not finished at stop. A count that ran ahead of the parts
// (after a crash) finds a chunk missing: the chunk is answered as the
// upload stands, and the one that brings the missing chunk finishes it.
func (e *Engine) autoComplete(ctx context.Context, s *Session, stored bool, stop time.Time) (ChunkResult, error) {
	fin, err := e.awaitComplete(ctx, s, stop)
	if CodeOf(err) == CodeIncomplete {
		e.log(ctx, s).Info("auto-complete deferred", "reason", err.Error())
		return ChunkResult{Stored: stored, Session: s}, nil
	}
	if err != nil {
		return ChunkResult{}, err
	}
	return ChunkResult{Stored: stored, Session: fin}, nil
}

// AwaitComplete completes the owner's upload id, as Complete does, but
// when another request is completing it, waits up to wait for that one
// (reading the session every pollInterval), takes the completion over if
// its lease lapses, and answers busy only if the upload is still not
// complete then. Other refusals (CodeIncomplete with the missing
// ranges) come back at once. It is for answers that must be the finished
// file's, whoever finishes it (MultipleUpload's chunk sent again).
func (e *Engine) AwaitComplete(ctx context.Context, owner, id string, wait time.Duration) (*Session, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	return e.awaitComplete(ctx, s, e.opt.Now().Add(wait))
}

// awaitComplete completes s, as the request last read it, waiting on the
// engine's clock until stop for a completion another request holds.
func (e *Engine) awaitComplete(ctx context.Context, s *Session, stop time.Time) (*Session, error) {
	var fin *Session
	var busy error
	first := true
	err := e.poll(ctx, stop, pollInterval, s.ID+" to be completed", func() (bool, error) {
		if !first {
			fresh, err := e.sessions.GetSession(ctx, s.ID)
			if err != nil {
				return false, fmt.Errorf("read session %s: %w", s.ID, err)
			}
			s = fresh
		}
		first = false
		f, err := e.complete(ctx, s)
		if CodeOf(err) == CodeBusy {
			busy = err
			return false, nil
		}
		fin = f
		return true, err
	})
	if errors.Is(err, errWaitedOut) {
		return nil, busy
	}
	return fin, err
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
	fin.Completion.Token = token
	fin.CompletedAt = e.opt.Now().UTC()
	// Due for the sweep (which deletes its part records and frees its
	// client identifier) one expiry period later: a client whose last
	// answer was lost still finds the finished file by its identifier.
	// While its event is owed, it is due once this request would have
	// sent it (a claim's length): the sweep sends an event that a crash
	// left owed, and announce puts the due time back.
	fin.ExpiresAt = fin.CompletedAt.Add(e.opt.Expiry)
	if fin.EventOwed = e.oweEvents(&fin); fin.EventOwed {
		fin.ExpiresAt = fin.CompletedAt.Add(min(e.opt.ClaimTimeout, e.opt.Expiry))
	}
	fin.ETag, fin.CRC64 = obj.ETag, obj.CRC64
	// The object is finished: the application's on-complete hook is told
	// now, and its answer recorded with the completion (hooks.go).
	fin.App = e.tellComplete(ctx, &fin)
	if err := e.sessions.RecordComplete(ctx, &fin); err != nil {
		return nil, fmt.Errorf("record completion of %s: %w", s.ID, err)
	}
	e.count(ctx, MetricCompleted, &fin, 1)
	e.log(ctx, s).Info("upload complete", "key", fin.Key, "size", fin.Size, "crc64nvme", fin.CRC64)
	e.announceOrLeave(ctx, &fin)
	return &fin, nil
}

// readyParts checks that every part is assembled, assembling those whose
// chunks are all in but whose assembler never finished. Missing chunks are
// refused with their ranges; a part another request is assembling right
// now answers busy. A direct upload's parts are those S3 lists, checked
// (listedParts) against what its client claims (claimed).
func (e *Engine) readyParts(ctx context.Context, s *Session, claimed []ClaimedPart) ([]*Part, error) {
	if s.Kind == Direct {
		return e.listedParts(ctx, s, claimed) // its parts are in S3, not in the ledger
	}
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
		if p.Claim.Held(e.opt.Now()) {
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

// join has S3 put the parts together into the final object.
func (e *Engine) join(ctx context.Context, s *Session, parts []*Part) (Object, error) {
	if s.Direct.Form { // its client posted the object whole
		return Object{Key: s.Key, Size: s.Size, ETag: parts[0].ETag, CRC64: crc64nvme.Encode(parts[0].CRC)}, nil
	}
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
	whole, _ := foldCRC(e.crcJoin, parts)
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

// verifyCRC checks a whole-file CRC64NVME the client asked to verify,
// from the parts' checksums alone. A mismatch leaves the upload open.
func (e *Engine) verifyCRC(s *Session, parts []*Part) error {
	want, err := ParseChecksum(s.Verify)
	if s.Verify == "" || err != nil || want.Alg != "crc64nvme" {
		return nil
	}
	got, _ := foldCRC(e.crcJoin, parts)
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
	rc, err := e.blobs.OpenObject(ctx, s.Key)
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
	if err := e.blobs.DeleteObject(ctx, s.Key); err != nil {
		return fmt.Errorf("discard %s after a checksum mismatch: %w", s.ID, err)
	}
	claimed := *s // as this request's BeginComplete left it
	claimed.State = StateCompleting
	if err := e.end(ctx, &claimed, StateAborted, e.opt.Now().UTC()); err != nil {
		return fmt.Errorf("end %s after a checksum mismatch: %w", s.ID, err)
	}
	if err := e.discard(ctx, s); err != nil {
		e.log(ctx, s).Warn("discard after checksum mismatch", "err", err)
	}
	e2, _ := AsError(bad)
	e2.Message += "; the file was discarded"
	return e2
}

// completedOrBusy answers a completion of s, as it was read, that
// another request may have overtaken (its conditional write lost, or S3
// no longer has the multipart upload or lists only part of it): the
// finished upload if it is complete now, busy while another completes
// it, the refusal of an upload that ended meanwhile. An upload still open
// was not overtaken: it answers otherwise if given, else busy.
func (e *Engine) completedOrBusy(ctx context.Context, s *Session, otherwise error) (*Session, error) {
	fresh, err := e.sessions.GetSession(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", s.ID, err)
	}
	switch {
	case fresh.State == StateComplete:
		return fresh, nil
	case fresh.State == StateCompleting:
		return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
	case fresh.State.AcceptsChunks() && otherwise != nil:
		return nil, otherwise
	case fresh.State.AcceptsChunks():
		return nil, refuse(CodeBusy, "upload %s changed while this request completed it; retry", s.ID)
	}
	return nil, e.refuseState(fresh)
}
