package upload

import (
	"context"
	"fmt"
)

// Discarding: deleting what an ended upload stored (its multipart
// upload, staged chunks and part records) and retiring its session.
//
// Entry points (for completion and the lifecycle): Engine.discard,
// Engine.abortStrays, Engine.dropLeftovers.

// release deletes what an ended upload stored: its multipart upload,
// staged chunks and part records; then it drops the session from the
// sweep's index and leaves it to DynamoDB's TTL.
func (e *Engine) discard(ctx context.Context, s *Session) error {
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
	if err := e.dropStaged(ctx, fresh); err != nil {
		return err
	}
	if err := e.sessions.DeleteParts(ctx, s.ID); err != nil {
		return fmt.Errorf("delete part records of %s: %w", s.ID, err)
	}
	// The event goes out before the session leaves the sweep's index: if
	// it fails, the sweep comes back to it.
	if err := e.announce(ctx, fresh); err != nil {
		return err
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

// dropLeftovers deletes staged chunks that duplicate requests or crashes
// left behind.
func (e *Engine) dropLeftovers(ctx context.Context, s *Session) {
	if err := e.dropStaged(ctx, s); err != nil {
		e.log(ctx, s).Warn("delete leftover staged chunks", "err", err)
	}
}

// dropStaged deletes every staged chunk of s. A direct upload stages
// nothing (its client sends the parts to S3), so nothing is listed for
// it: a billed request saved per upload.
func (e *Engine) dropStaged(ctx context.Context, s *Session) error {
	if s.Kind == Direct {
		return nil
	}
	keys, err := e.blobs.ListStaged(ctx, stagingPrefix(s.ID))
	if err != nil {
		return fmt.Errorf("list staged chunks of %s: %w", s.ID, err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := e.blobs.DeleteStaged(ctx, keys); err != nil {
		return fmt.Errorf("delete staged chunks of %s: %w", s.ID, err)
	}
	return nil
}
