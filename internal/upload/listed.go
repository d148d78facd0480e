package upload

import (
	"context"
	"errors"
	"fmt"

	"chunkup/internal/wire/crc64nvme"
)

// The parts S3 lists of a direct upload, and whether they make its file:
// what completion joins instead of the part ledger's records, since the
// client sent them to S3 itself.

// uploadedParts lists the parts S3 holds of direct upload s. A multipart
// upload that is gone (aborted outside chunkup, or by the bucket's
// lifecycle rule) leaves nothing to complete.
func (e *Engine) uploadedParts(ctx context.Context, s *Session) ([]UploadedPart, error) {
	parts, err := e.blobs.ListUploadedParts(ctx, s.Key, s.MultipartID)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(CodeAborted, "the multipart upload of %s is gone from S3", s.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("list parts of %s: %w", s.ID, err)
	}
	return parts, nil
}

// listedParts reads the parts S3 holds of direct upload s and checks that
// they make its file, whatever the client claims: numbered from 1 without
// a gap and within the plan, every part but the last at least
// MinPartSize, each with the CRC64NVME S3 computed, adding up to the
// declared size (or within MaxFileSize), and, if the client listed the
// parts it sent (claimed), exactly those. It returns them as assembled
// part records, in order, for the completion to join. A form upload's
// one "part" is its object, once S3 holds it.
func (e *Engine) listedParts(ctx context.Context, s *Session, claimed []ClaimedPart) ([]*Part, error) {
	if s.Direct.Form {
		parts, err := e.formObject(ctx, s)
		if err != nil {
			return nil, err
		}
		return parts, e.checkTotal(s, parts[0].Size)
	}
	listed, err := e.uploadedParts(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(listed) == 0 {
		return nil, refuse(CodeIncomplete, "upload %s has no parts in S3 yet", s.ID)
	}
	if claimed != nil {
		if err := matchClaims(s, listed, claimed); err != nil {
			return nil, err
		}
	}
	parts := make([]*Part, len(listed))
	var total int64
	for k, p := range listed {
		if err := e.checkListed(s, listed, k); err != nil {
			return nil, err
		}
		crc, _ := crc64nvme.Decode(p.CRC64)
		parts[k] = &Part{Index: k, ETag: p.ETag, CRC: crc, Size: p.Size}
		total += p.Size
	}
	if err := e.checkTotal(s, total); err != nil {
		return nil, err
	}
	return parts, nil
}

// checkListed checks part k of the parts S3 lists of s.
func (e *Engine) checkListed(s *Session, listed []UploadedPart, k int) error {
	p := listed[k]
	switch {
	case p.Number != k+1:
		return refuse(CodeIncomplete, "upload %s lacks part %d in S3 (its parts there are numbered 1 to %d with gaps)", s.ID, k+1, listed[len(listed)-1].Number)
	case p.Number > s.Direct.MaxPart:
		return overLimit(CodeChunkRange, int64(s.Direct.MaxPart), "upload %s has part %d in S3, past its last part, %d", s.ID, p.Number, s.Direct.MaxPart)
	case k < len(listed)-1 && p.Size < MinPartSize:
		return overLimit(CodeChunkTooSmall, MinPartSize, "part %d of upload %s is %d bytes: every part but the last must be at least %d bytes", p.Number, s.ID, p.Size, int64(MinPartSize))
	}
	if _, ok := crc64nvme.Decode(p.CRC64); !ok {
		return fmt.Errorf("S3 lists part %d of %s without a CRC64NVME", p.Number, s.ID)
	}
	return nil
}

// checkTotal checks the size the parts of s add up to.
func (e *Engine) checkTotal(s *Session, total int64) error {
	switch {
	case total > e.opt.MaxFileSize:
		return overLimit(CodeFileTooLarge, e.opt.MaxFileSize, "the parts of upload %s add up to %d bytes, over the limit of %d bytes", s.ID, total, e.opt.MaxFileSize)
	case s.Direct.Declared && total != s.Size:
		return refuse(CodeIncomplete, "the parts of upload %s in S3 add up to %d bytes, not the %d bytes declared", s.ID, total, s.Size)
	}
	return nil
}

// matchClaims checks the parts a client says it sent against those S3
// lists: the same numbers with the same ETags.
func matchClaims(s *Session, listed []UploadedPart, claimed []ClaimedPart) error {
	if len(claimed) != len(listed) {
		return refuse(CodeIncomplete, "the completion of upload %s lists %d parts; S3 holds %d", s.ID, len(claimed), len(listed))
	}
	for k, c := range claimed {
		p := listed[k]
		if c.Number != p.Number || unquote(c.ETag) != unquote(p.ETag) {
			return refuse(CodeIncomplete, "the completion of upload %s lists part %d with ETag %s where S3 holds part %d with ETag %s", s.ID, c.Number, c.ETag, p.Number, p.ETag)
		}
	}
	return nil
}

// unquote drops the quotes around an ETag, which clients keep or not.
func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// formObject is a form upload's object as one part, once S3 holds it.
func (e *Engine) formObject(ctx context.Context, s *Session) ([]*Part, error) {
	obj, err := e.blobs.HeadObject(ctx, s.Key)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(CodeIncomplete, "S3 holds no object for upload %s yet", s.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("read the object of %s: %w", s.ID, err)
	}
	crc, ok := crc64nvme.Decode(obj.CRC64)
	if !ok {
		return nil, fmt.Errorf("S3 holds the object of %s without a CRC64NVME", s.ID)
	}
	return []*Part{{Index: 0, ETag: obj.ETag, CRC: crc, Size: obj.Size}}, nil
}

// sizedByParts is direct upload s with the size its parts add up to,
// which S3 holds: an undeclared size is learnt here.
func sizedByParts(s *Session, parts []*Part) *Session {
	sized := *s
	sized.Size = 0
	for _, p := range parts {
		sized.Size += p.Size
	}
	return &sized
}
