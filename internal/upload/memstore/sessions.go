package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"chunkup/internal/upload"
)

// Sessions is upload.Sessions in memory, with the DynamoDB store's
// semantics (see the package doc). Its zero value is not usable; call
// NewSessions.
type Sessions struct {
	Faults

	mu       sync.Mutex
	sessions map[string]*sessionRec
	parts    map[string]map[int]*partRec // by session id, then part
	bindings map[bindingKey]*bindingRec
}

var _ upload.Sessions = (*Sessions)(nil)

// NewSessions returns an empty session store.
func NewSessions() *Sessions {
	return &Sessions{
		Faults:   newFaults(sessionOps),
		sessions: map[string]*sessionRec{},
		parts:    map[string]map[int]*partRec{},
		bindings: map[bindingKey]*bindingRec{},
	}
}

// sessionOps are the methods of Sessions, and whether each acts on a
// lease (and so can take Lapse).
var sessionOps = map[string]bool{
	"CreateSession": false, "GetSession": false, "DeleteSession": false,
	"LookupIdentifier": false, "LookupBinding": false, "BindIdentifier": false,
	"ClaimMultipart": true, "ReleaseMultipart": true, "SetMultipartID": true, "Touch": false,
	"RecordChunk": true, "GetPart": false, "ListParts": false, "ReadProgress": false,
	"ClaimPart": true, "ReleasePart": true, "RecordPart": true, "CountPart": false, "DeleteParts": false,
	"CommitAppend": false, "PutSealedPart": false, "ClearSeal": false,
	"BeginComplete": true, "RecordComplete": true, "ReleaseComplete": true,
	"EndSession": false, "Forget": false, "ListExpired": false,
	"SettleEvent": false,
	"ListOwned":   false,
}

// wrap names the method a failed call was, as the DynamoDB store's
// errors do (a lost condition stays upload.ErrConflict).
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// A sessionRec is a session's item: the session as the DynamoDB store
// keeps it (only the fields it writes, times in milliseconds), and the
// attributes that upload.Session does not show.
type sessionRec struct {
	s upload.Session // Completion.Until is kept in cuntil

	// The lease to start the multipart upload (mpuClaim, mpuClaimUntil).
	mpuClaim    string
	mpuUntil    int64
	mpuUntilSet bool
	// The completion lease's end (cuntil); its token is s.Completion.Token.
	cuntil    int64
	cuntilSet bool
	// inSweep says the session is in the sweep's index (its sweep
	// attribute is set).
	inSweep bool
}

// session returns the caller's copy of the session the record keeps.
func (r *sessionRec) session() *upload.Session {
	s := cloneSession(&r.s)
	if r.cuntilSet {
		s.Completion.Until = timeOf(r.cuntil)
	}
	return s
}

// size is the record's size as a DynamoDB item.
func (r *sessionRec) itemSize() int {
	s := &r.s
	it := &item{}
	it.str("pk", sessionPK(s.ID))
	it.str("sk", "S")
	for _, a := range []struct{ name, v string }{
		{"owner", s.Owner}, {"ident", s.Identifier}, {"name", s.Name}, {"ctype", s.ContentType},
		{"key", s.Key}, {"state", string(s.State)}, {"mpu", s.MultipartID}, {"verify", s.Verify},
		{"mpuClaim", r.mpuClaim}, {"ctoken", s.Completion.Token}, {"etag", s.ETag}, {"crc", s.CRC64},
		{"dialect", s.Dialect}, {"app", string(s.App)},
	} {
		it.str(a.name, a.v)
	}
	for _, a := range []struct {
		name string
		v    int64
	}{
		{"size", s.Size}, {"chunkSize", s.ChunkSize}, {"chunks", int64(s.Chunks)}, {"cpp", int64(s.ChunksPerPart)},
		{"parts", int64(s.Parts)}, {"partsDone", int64(s.PartsDone)},
		{"createdAt", msOf(s.CreatedAt)}, {"updatedAt", msOf(s.UpdatedAt)}, {"expiresAt", msOf(s.ExpiresAt)},
	} {
		it.num(a.name, a.v)
	}
	it.boolean("auto")
	it.boolean("live")
	if r.inSweep {
		it.str("sweep", sweepShard(s.ID))
	}
	if s.Kind == upload.Sequential {
		it.str("kind", string(s.Kind))
		it.num("partSize", s.PartSize)
		it.num("offset", s.Offset)
		it.num("partStart", s.PartStart)
		it.num("nextPart", int64(s.NextPart))
		it.unum("partCRC", s.PartCRC)
		it.strList("pending", s.Pending)
		it.mapOf("hashes", len(s.Hashes), func(m *item) {
			for alg, state := range s.Hashes {
				m.bytes(alg, state)
			}
		})
	}
	if len(s.Metadata) > 0 {
		it.mapOf("meta", len(s.Metadata), func(m *item) {
			for k, v := range s.Metadata {
				m.str(k, v)
			}
		})
	}
	if s.Partial {
		it.boolean("partial")
	}
	if len(s.Sources) > 0 {
		it.strList("sources", s.Sources)
	}
	if s.EventOwed {
		it.boolean("evOwed")
	}
	if s.Kind == upload.Direct {
		it.str("kind", string(s.Kind))
		it.boolean("declared")
		it.num("partSize", s.Direct.PartSize)
		it.num("maxPart", int64(s.Direct.MaxPart))
		it.boolean("form")
	}
	if r.mpuUntilSet {
		it.num("mpuClaimUntil", r.mpuUntil)
	}
	if s.MultipartClaims > 0 {
		it.num("mpuClaims", int64(s.MultipartClaims))
	}
	if s.MultipartRetried {
		it.boolean("mpuRetried")
	}
	if r.cuntilSet {
		it.num("cuntil", r.cuntil)
	}
	if !s.CompletedAt.IsZero() {
		it.num("completedAt", msOf(s.CompletedAt))
	}
	if s.Digests != nil {
		it.mapOf("digests", len(s.Digests), func(m *item) {
			for alg, hex := range s.Digests {
				m.str(alg, hex)
			}
		})
	}
	if seal := s.Seal; seal != nil {
		it.mapOf("seal", 5, func(m *item) {
			m.num("part", int64(seal.Part))
			m.num("start", seal.Start)
			m.num("end", seal.End)
			m.strList("keys", seal.Keys)
			m.unum("crc", seal.CRC)
		})
	}
	return it.size
}

// sweepShard is the shard of the sweep's index that session id is in,
// as the DynamoDB store spreads them.
func sweepShard(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "open#" + strconv.Itoa(int(h.Sum32()%sweepShards))
}

const sweepShards = 8

// newRecord is the record CreateSession writes for s: what the DynamoDB
// store's item for a new session holds.
func newRecord(s *upload.Session) *sessionRec {
	n := upload.Session{
		ID: s.ID, Owner: s.Owner, Identifier: s.Identifier, Name: s.Name, ContentType: s.ContentType, Key: s.Key,
		Plan: s.Plan, AutoComplete: s.AutoComplete, Verify: s.Verify, LiveBinding: s.LiveBinding,
		State: s.State, MultipartID: s.MultipartID, PartsDone: s.PartsDone,
		CreatedAt: trunc(s.CreatedAt), UpdatedAt: trunc(s.UpdatedAt), ExpiresAt: trunc(s.ExpiresAt),
		Dialect: s.Dialect, Partial: s.Partial, MultipartRetried: s.MultipartRetried,
	}
	if len(s.Metadata) > 0 { // an empty map is not written, and reads back as none
		n.Metadata = maps.Clone(s.Metadata)
	}
	if len(s.Sources) > 0 {
		n.Sources = slices.Clone(s.Sources)
	}
	if s.Kind == upload.Direct {
		n.Kind, n.Direct = upload.Direct, s.Direct
	}
	if s.Kind == upload.Sequential {
		n.Kind = upload.Sequential
		n.PartSize, n.Offset, n.PartStart, n.NextPart, n.PartCRC = s.PartSize, s.Offset, s.PartStart, s.NextPart, s.PartCRC
		n.Hashes = cloneHashes(s.Hashes)
	}
	return &sessionRec{s: n, inSweep: true}
}

// Times are kept as DynamoDB keeps them: Unix milliseconds, the zero
// time as 0.

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func trunc(t time.Time) time.Time { return timeOf(msOf(t)) }

func cloneSession(s *upload.Session) *upload.Session {
	c := *s
	c.Pending = slices.Clone(s.Pending)
	c.Hashes = cloneHashesKeepNil(s.Hashes)
	c.Digests = maps.Clone(s.Digests)
	c.Metadata = maps.Clone(s.Metadata)
	c.Sources = slices.Clone(s.Sources)
	c.App = slices.Clone(s.App)
	if s.Seal != nil {
		seal := *s.Seal
		seal.Keys = slices.Clone(s.Seal.Keys)
		c.Seal = &seal
	}
	return &c
}

// cloneHashes copies hash states; nil becomes an empty map, as an empty
// map attribute reads back.
func cloneHashes(h map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(h))
	for alg, state := range h {
		out[alg] = slices.Clone(state)
	}
	return out
}

func cloneHashesKeepNil(h map[string][]byte) map[string][]byte {
	if h == nil {
		return nil
	}
	return cloneHashes(h)
}

// CreateSession stores a new session; ErrConflict if its id exists.
func (m *Sessions) CreateSession(ctx context.Context, s *upload.Session) error {
	return wrap("put session", m.run(ctx, &m.mu, request{op: "CreateSession", main: func() error {
		if err := checkKey(sessionPK(s.ID)); err != nil {
			return err
		}
		if _, ok := m.sessions[s.ID]; ok {
			return upload.ErrConflict
		}
		rec := newRecord(s)
		if err := tooLarge(rec.itemSize(), false); err != nil {
			return err
		}
		m.sessions[s.ID] = rec
		return nil
	}}))
}

// GetSession reads a session; ErrNotFound if none.
func (m *Sessions) GetSession(ctx context.Context, id string) (*upload.Session, error) {
	var out *upload.Session
	err := m.run(ctx, &m.mu, request{op: "GetSession", main: func() error {
		out = nil
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		rec, ok := m.sessions[id]
		if !ok {
			return upload.ErrNotFound
		}
		out = rec.session()
		return nil
	}})
	if errors.Is(err, upload.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	return out, nil
}

// DeleteSession removes a session record (not its parts or binding);
// one that is not there is not an error.
func (m *Sessions) DeleteSession(ctx context.Context, id string) error {
	return wrap("delete session", m.run(ctx, &m.mu, request{op: "DeleteSession", main: func() error {
		if err := checkKey(sessionPK(id)); err != nil {
			return err
		}
		delete(m.sessions, id)
		return nil
	}}))
}

// update applies change to session id's record, if it exists and cond
// holds of it; otherwise ErrConflict (a condition on a missing item
// fails). The record is left unchanged when the change would make it
// too large. It returns the record as changed.
func (m *Sessions) update(id string, cond func(*sessionRec) bool, change func(*sessionRec)) (*sessionRec, error) {
	if err := checkKey(sessionPK(id)); err != nil {
		return nil, err
	}
	rec, ok := m.sessions[id]
	if !ok || !cond(rec) {
		return nil, upload.ErrConflict
	}
	next := &sessionRec{}
	*next = *rec
	next.s = *cloneSession(&rec.s)
	change(next)
	if err := tooLarge(next.itemSize(), true); err != nil {
		return nil, err
	}
	m.sessions[id] = next
	return next, nil
}

// ClaimMultipart takes the lease to start the multipart upload, counting
// the claims taken. A retry of this very claim finds its own token (and
// counts twice).
func (m *Sessions) ClaimMultipart(ctx context.Context, id string, claim upload.Lease, now time.Time) error {
	token, until := claim.Token, claim.Until
	return wrap("claim multipart upload", m.run(ctx, &m.mu, request{
		op:    "ClaimMultipart",
		lapse: func() { m.lapseSession(id, func(r *sessionRec) { r.mpuUntil = 0 }) },
		main: func() error {
			_, err := m.update(id, func(r *sessionRec) bool {
				free := !r.mpuUntilSet || r.mpuUntil <= msOf(now) || (r.mpuClaim != "" && r.mpuClaim == token)
				return r.s.MultipartID == "" && free
			}, func(r *sessionRec) {
				r.mpuClaim, r.mpuUntil, r.mpuUntilSet = token, msOf(until), true
				r.s.MultipartClaims++
			})
			return err
		},
	}))
}

// lapseSession makes a lease on session id's record lapse (Lapse).
func (m *Sessions) lapseSession(id string, lapse func(*sessionRec)) {
	if rec, ok := m.sessions[id]; ok {
		lapse(rec)
	}
}

// ReleaseMultipart gives up the lease to start the multipart upload, if
// token holds it.
func (m *Sessions) ReleaseMultipart(ctx context.Context, id, token string) error {
	return wrap("release multipart claim", m.run(ctx, &m.mu, request{
		op:    "ReleaseMultipart",
		lapse: func() { m.lapseSession(id, func(r *sessionRec) { r.mpuUntil = 0 }) },
		main: func() error {
			_, err := m.update(id, func(r *sessionRec) bool { return r.mpuClaim != "" && r.mpuClaim == token },
				func(r *sessionRec) { r.mpuClaim, r.mpuUntil, r.mpuUntilSet = "", 0, false })
			return err
		},
	}))
}

// SetMultipartID records the multipart upload unless another is
// recorded, drops the lease to start it, and copies the id to the
// session's live binding. When another is recorded it reads the session
// (a request of its own) and returns that one.
func (m *Sessions) SetMultipartID(ctx context.Context, id, mpu string, retried bool) (string, error) {
	var rec *sessionRec
	err := m.run(ctx, &m.mu, request{
		op:    "SetMultipartID",
		lapse: func() { m.lapseSession(id, func(r *sessionRec) { r.mpuUntil = 0 }) },
		main: func() error {
			var err error
			rec, err = m.update(id, func(r *sessionRec) bool { return r.s.MultipartID == "" || r.s.MultipartID == mpu },
				func(r *sessionRec) {
					r.s.MultipartID = mpu
					if retried {
						r.s.MultipartRetried = true
					}
					r.mpuClaim, r.mpuUntil, r.mpuUntilSet = "", 0, false
				})
			return err
		},
		then: func() {
			m.copyToBinding(id, rec, func(b *bindingRec) bool { return b.open }, func(b *bindingRec) { b.mpu = mpu })
		},
	})
	if err == nil {
		return mpu, nil
	}
	if !errors.Is(err, upload.ErrConflict) {
		return "", fmt.Errorf("set multipart id: %w", err)
	}
	s, err := m.GetSession(ctx, id)
	if err != nil {
		return "", err
	}
	if s.MultipartID == "" {
		return "", fmt.Errorf("set multipart id: session %s vanished", id)
	}
	return s.MultipartID, nil
}

// Touch moves an open session's expiry later, then its live binding's
// copy of it.
func (m *Sessions) Touch(ctx context.Context, id string, expires, now time.Time) error {
	var rec *sessionRec
	e := msOf(expires)
	return wrap("touch session", m.run(ctx, &m.mu, request{
		op: "Touch",
		main: func() error {
			var err error
			rec, err = m.update(id, func(r *sessionRec) bool {
				return r.s.State == upload.StateOpen && msOf(r.s.ExpiresAt) < e
			}, func(r *sessionRec) { r.s.ExpiresAt, r.s.UpdatedAt = timeOf(e), trunc(now) })
			return err
		},
		then: func() {
			m.copyToBinding(id, rec, func(b *bindingRec) bool { return b.open && b.openUntil < e },
				func(b *bindingRec) { b.openUntil = e })
		},
	}))
}

// IDs returns the ids of every session record the store holds, in order,
// for a test to check.
func (m *Sessions) IDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.sessions))
}
