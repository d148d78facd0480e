package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The multipart start: the S3 multipart upload of a file is started by
// the first part that needs it, under a lease so that parts racing to be
// first start one between them.
//
// Entry point (for assembly and completion): Engine.multipart.

// multipart returns the session's S3 multipart upload, starting it if this
// is the first part. One request at a time may start it (a claim in the
// session), so two first parts at once do not both pay for one; the other
// waits for the id to be recorded, or takes over a claim that lapsed.
func (e *Engine) multipart(ctx context.Context, s *Session) (string, error) {
	if s.MultipartID != "" {
		return s.MultipartID, nil
	}
	var mpu string
	err := e.poll(ctx, e.waitUntil(), startPollInterval, "the multipart upload of "+s.ID, func() (bool, error) {
		fresh, err := e.sessions.GetSession(ctx, s.ID)
		if err != nil {
			return false, fmt.Errorf("read session %s: %w", s.ID, err)
		}
		if fresh.MultipartID != "" {
			mpu = fresh.MultipartID
			return true, nil
		}
		claim := e.newLease()
		err = e.sessions.ClaimMultipart(ctx, s.ID, claim, e.opt.Now())
		if errors.Is(err, ErrConflict) {
			return false, nil // another request is starting it
		}
		if err != nil {
			return false, fmt.Errorf("claim multipart upload of %s: %w", s.ID, err)
		}
		// fresh, not s, which may be taken from a binding that lacks the
		// metadata the object carries.
		mpu, err = e.startMultipart(ctx, fresh, claim.Token)
		return err == nil, err
	})
	if errors.Is(err, errWaitedOut) {
		return "", refuse(CodeBusy, "the multipart upload of %s is being started; retry shortly", s.ID)
	}
	if err != nil {
		return "", err
	}
	s.MultipartID = mpu
	return mpu, nil
}

// startPollInterval is how often a part that waits for another request
// to start the multipart upload looks again: starting one is a single
// short S3 request.
const startPollInterval = 25 * time.Millisecond

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
