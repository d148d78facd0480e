package memstore

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"time"

	"chunkup/internal/upload"
)

// A partRec is a part's item: the chunks staged for it, the lease of its
// assembler (claim and claimUntil, which come and go together), and once
// it is assembled what S3 gave it.
type partRec struct {
	chunks     map[int]upload.ChunkRecord
	claim      string
	claimUntil int64
	claimSet   bool
	etag       string
	hasETag    bool // assembled: etag, size and finishedAt are set
	crc        uint64
	hasCRC     bool
	size       int64
	finishedAt int64
	counted    bool
}

func (p *partRec) clone() *partRec {
	c := *p
	c.chunks = maps.Clone(p.chunks)
	if c.chunks == nil {
		c.chunks = map[int]upload.ChunkRecord{}
	}
	return &c
}

// part reads the record as the DynamoDB store decodes it.
func (p *partRec) part(k int) *upload.Part {
	out := &upload.Part{
		Index: k, Chunks: maps.Clone(p.chunks), Claim: upload.Lease{Token: p.claim},
		ETag: p.etag, CRC: p.crc, Size: p.size, Counted: p.counted, FinishedAt: timeOf(p.finishedAt),
	}
	if out.Chunks == nil {
		out.Chunks = map[int]upload.ChunkRecord{}
	}
	if p.claimSet {
		out.Claim.Until = timeOf(p.claimUntil)
	}
	return out
}

func (p *partRec) itemSize(id string, k int) int {
	it := &item{}
	it.str("pk", sessionPK(id))
	it.str("sk", partSK(k))
	for i, c := range p.chunks {
		it.mapOf("c"+strconv.Itoa(i), 3, func(m *item) {
			m.str("k", c.Key)
			m.num("s", c.Size)
			m.unum("h", c.CRC)
		})
	}
	if p.claimSet {
		it.str("claim", p.claim)
		it.num("claimUntil", p.claimUntil)
	}
	if p.hasETag {
		it.str("etag", p.etag)
		it.num("size", p.size)
		it.num("finishedAt", p.finishedAt)
	}
	if p.hasCRC {
		it.unum("crc", p.crc)
	}
	if p.counted {
		it.boolean("counted")
	}
	return it.size
}

// updatePart applies change to part k of session id, if cond holds of its
// record (nil if there is none); otherwise ErrConflict. A missing record
// is created by the change if upsert is set. The record is left unchanged
// when the change would make it too large. It returns the record as
// changed.
func (m *Sessions) updatePart(id string, k int, upsert bool, cond func(*partRec) bool, change func(*partRec)) (*partRec, error) {
	if err := checkKey(sessionPK(id)); err != nil {
		return nil, err
	}
	p := m.parts[id][k]
	if !cond(p) || (p == nil && !upsert) {
		return nil, upload.ErrConflict
	}
	var next *partRec
	if p == nil {
		next = &partRec{chunks: map[int]upload.ChunkRecord{}}
	} else {
		next = p.clone()
	}
	change(next)
	if err := tooLarge(next.itemSize(id, k), p != nil); err != nil {
		return nil, err
	}
	if m.parts[id] == nil {
		m.parts[id] = map[int]*partRec{}
	}
	m.parts[id][k] = next
	return next, nil
}

// lapsePart makes the claim on part k of session id lapse (Lapse).
func (m *Sessions) lapsePart(id string, k int) func() {
	return func() {
		if p := m.parts[id][k]; p != nil && p.claimSet {
			p.claimUntil = 0
		}
	}
}

// RecordChunk adds a staged chunk to part k, unless it is recorded or the
// part assembled, and stamps the part with the recording request's
// claim. It returns the part as the write left it.
func (m *Sessions) RecordChunk(ctx context.Context, id string, k int, c upload.ChunkRecord, claim upload.Lease) (*upload.Part, error) {
	token, until := claim.Token, claim.Until
	var out *upload.Part
	err := m.run(ctx, &m.mu, request{op: "RecordChunk", lapse: m.lapsePart(id, k), main: func() error {
		out = nil
		p, err := m.updatePart(id, k, true, func(p *partRec) bool {
			if p == nil {
				return true
			}
			_, has := p.chunks[c.Index]
			return !has && !p.hasETag
		}, func(p *partRec) {
			p.chunks[c.Index] = c
			p.claim, p.claimUntil, p.claimSet = token, msOf(until), true
		})
		if err == nil {
			out = p.part(k)
		}
		return err
	}})
	if err != nil {
		return nil, wrap("record chunk", err)
	}
	return out, nil
}

// GetPart reads part k; a part nothing reached comes back empty.
func (m *Sessions) GetPart(ctx context.Context, id string, k int) (*upload.Part, error) {
	var out *upload.Part
	err := m.run(ctx, &m.mu, request{op: "GetPart", main: func() error {
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		if p := m.parts[id][k]; p != nil {
			out = p.part(k)
		} else {
			out = &upload.Part{Index: k, Chunks: map[int]upload.ChunkRecord{}}
		}
		return nil
	}})
	if err != nil {
		return nil, wrap("get part", err)
	}
	return out, nil
}

// ListParts reads every part record of a session, in order.
func (m *Sessions) ListParts(ctx context.Context, id string) ([]*upload.Part, error) {
	var out []*upload.Part
	err := m.run(ctx, &m.mu, request{op: "ListParts", main: func() error {
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		out = m.sortedParts(id, false, -1)
		return nil
	}})
	if err != nil {
		return nil, wrap("query parts", err)
	}
	return out, nil
}

// sortedParts returns session id's part records in order (highest first
// if desc), at most limit of them unless limit is negative.
func (m *Sessions) sortedParts(id string, desc bool, limit int) []*upload.Part {
	ks := slices.Sorted(maps.Keys(m.parts[id]))
	if desc {
		slices.Reverse(ks)
	}
	if limit >= 0 && len(ks) > limit {
		ks = ks[:limit]
	}
	var out []*upload.Part
	for _, k := range ks {
		out = append(out, m.parts[id][k].part(k))
	}
	return out
}

// ReadProgress reads a session and, in the same request, its
// highest-numbered part records, at most parts of them, highest first.
func (m *Sessions) ReadProgress(ctx context.Context, id string, parts int) (*upload.Session, []*upload.Part, error) {
	var s *upload.Session
	var tail []*upload.Part
	err := m.run(ctx, &m.mu, request{op: "ReadProgress", main: func() error {
		s, tail = nil, nil
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		if parts+1 < 1 {
			return refusal("ValidationException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", parts+1)
		}
		rec, ok := m.sessions[id]
		if !ok {
			return upload.ErrNotFound
		}
		s = rec.session()
		tail = m.sortedParts(id, true, parts)
		if tail == nil {
			tail = []*upload.Part{}
		}
		return nil
	}})
	if errors.Is(err, upload.ErrNotFound) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, wrap("query session and parts", err)
	}
	return s, tail, nil
}

// ClaimPart takes the lease to assemble part k, if the part exists, is
// not assembled and its lease is free, lapsed or token's own; it returns
// the part as the claim left it.
func (m *Sessions) ClaimPart(ctx context.Context, id string, k int, claim upload.Lease, now time.Time) (*upload.Part, error) {
	token, until := claim.Token, claim.Until
	var out *upload.Part
	err := m.run(ctx, &m.mu, request{op: "ClaimPart", lapse: m.lapsePart(id, k), main: func() error {
		out = nil
		p, err := m.updatePart(id, k, false, func(p *partRec) bool {
			return p != nil && !p.hasETag && (!p.claimSet || p.claimUntil <= msOf(now) || p.claim == token)
		}, func(p *partRec) { p.claim, p.claimUntil, p.claimSet = token, msOf(until), true })
		if err == nil {
			out = p.part(k)
		}
		return err
	}})
	if err != nil {
		return nil, wrap("claim part", err)
	}
	return out, nil
}

// ReleasePart gives up the claim on part k, if token holds it.
func (m *Sessions) ReleasePart(ctx context.Context, id string, k int, token string) error {
	return wrap("release part", m.run(ctx, &m.mu, request{op: "ReleasePart", lapse: m.lapsePart(id, k), main: func() error {
		_, err := m.updatePart(id, k, false, func(p *partRec) bool { return p != nil && p.claimSet && p.claim == token },
			func(p *partRec) { p.claim, p.claimUntil, p.claimSet = "", 0, false })
		return err
	}}))
}

// RecordPart records the assembled part, if token holds its claim (or
// the part already has done's ETag: a retry whose first attempt took
// effect), and drops the records of the chunks it was made of.
func (m *Sessions) RecordPart(ctx context.Context, id string, k int, token string, done upload.AssembledPart, now time.Time) error {
	return wrap("record part", m.run(ctx, &m.mu, request{op: "RecordPart", lapse: m.lapsePart(id, k), main: func() error {
		_, err := m.updatePart(id, k, false, func(p *partRec) bool {
			return p != nil && ((p.claimSet && p.claim == token) || (p.hasETag && p.etag == done.ETag))
		}, func(p *partRec) {
			p.etag, p.hasETag, p.crc, p.hasCRC, p.size, p.finishedAt = done.ETag, true, done.CRC, true, done.Size, msOf(now)
			p.claim, p.claimUntil, p.claimSet = "", 0, false
			for _, c := range done.Chunks {
				delete(p.chunks, c.Index)
			}
		})
		return err
	}}))
}

// CountPart adds one to the session's count of assembled parts, then
// (a request of its own) marks part k counted. Each call counts: a call
// sent twice counts twice, as a crash between the count and the mark
// leaves the count ahead.
func (m *Sessions) CountPart(ctx context.Context, id string, k int) (int, error) {
	var n int
	err := m.run(ctx, &m.mu, request{
		op: "CountPart",
		main: func() error {
			rec, err := m.update(id, func(*sessionRec) bool { return true }, func(r *sessionRec) { r.s.PartsDone++ })
			if err == nil {
				n = rec.s.PartsDone
			}
			return err
		},
		then: func() {
			_, _ = m.updatePart(id, k, true, func(*partRec) bool { return true }, func(p *partRec) { p.counted = true })
		},
	})
	if err != nil {
		return 0, wrap("count part", err)
	}
	return n, nil
}

// DeleteParts removes every part record of a session.
func (m *Sessions) DeleteParts(ctx context.Context, id string) error {
	return wrap("delete part records", m.run(ctx, &m.mu, request{op: "DeleteParts", main: func() error {
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		delete(m.parts, id)
		return nil
	}}))
}

// CommitAppend applies one step of a sequential upload if the session is
// open, at offset c.Old and partStart c.PartStart, with no seal pending.
func (m *Sessions) CommitAppend(ctx context.Context, id string, c upload.Commit, now time.Time) error {
	return wrap("commit append", m.run(ctx, &m.mu, request{op: "CommitAppend", main: func() error {
		_, err := m.update(id, func(r *sessionRec) bool {
			s := &r.s // an indexed session has no offset, and the condition on it fails
			return s.State == upload.StateOpen && s.Kind == upload.Sequential && s.Offset == c.Old && s.PartStart == c.PartStart && s.Seal == nil
		}, func(r *sessionRec) {
			s := &r.s
			s.Offset, s.Hashes, s.UpdatedAt = c.New, cloneHashes(c.Hashes), trunc(now)
			if c.Seal != nil {
				seal := *c.Seal
				seal.Keys = slices.Clone(c.Seal.Keys)
				s.PartStart, s.NextPart, s.Pending, s.PartCRC, s.Seal = c.New, c.Seal.Part+1, nil, 0, &seal
				return
			}
			s.Pending, s.PartCRC = append(s.Pending, c.Piece), c.PartCRC
		})
		return err
	}}))
}

// PutSealedPart writes the record of a sealed part, its pieces and
// CRC64NVME, unless part k has a record.
func (m *Sessions) PutSealedPart(ctx context.Context, id string, k int, chunks []upload.ChunkRecord, crc uint64) error {
	return wrap("put sealed part", m.run(ctx, &m.mu, request{op: "PutSealedPart", main: func() error {
		_, err := m.updatePart(id, k, true, func(p *partRec) bool { return p == nil }, func(p *partRec) {
			for _, c := range chunks {
				p.chunks[c.Index] = c
			}
			p.crc, p.hasCRC = crc, true
		})
		return err
	}}))
}

// ClearSeal removes the session's seal of part k, if that is its seal.
func (m *Sessions) ClearSeal(ctx context.Context, id string, k int) error {
	return wrap("clear seal", m.run(ctx, &m.mu, request{op: "ClearSeal", main: func() error {
		_, err := m.update(id, func(r *sessionRec) bool { return r.s.Seal != nil && r.s.Seal.Part == k },
			func(r *sessionRec) { r.s.Seal = nil })
		return err
	}}))
}
