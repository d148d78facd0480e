package upload

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is where an upload stands: the session and, while it is open, the
// chunks still missing as ranges (never a list of thousands).
type Status struct {
	*Session
	Missing  []Range
	Received int // chunks received
}

// Status reads the owner's upload and the chunks it still needs.
func (e *Engine) Status(ctx context.Context, owner, id string) (Status, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{Session: s, Received: s.Chunks}
	if s.State != StateOpen && s.State != StateCompleting {
		if s.State != StateComplete {
			st.Received = 0
		}
		return st, nil
	}
	parts, err := e.partTable(ctx, s)
	if err != nil {
		return Status{}, err
	}
	st.Missing = missingRanges(s, parts)
	st.Received = s.Chunks - countRanges(st.Missing)
	return st, nil
}

// hasChunk reports whether chunk index of s is stored (staged or already
// part of an assembled part).
func (e *Engine) hasChunk(ctx context.Context, s *Session, index int) (bool, error) {
	if index < 0 || index >= s.Chunks {
		return false, nil
	}
	if s.State == StateComplete {
		return true, nil
	}
	if s.State != StateOpen && s.State != StateCompleting {
		return false, nil
	}
	p, err := e.sessions.GetPart(ctx, s.ID, s.PartOf(index))
	if err != nil {
		return false, fmt.Errorf("read part of chunk %d of %s: %w", index, s.ID, err)
	}
	return partHolds(s.Plan, p, index, e.opt.Now()), nil
}

// partHolds reports whether chunk index of an upload with plan pl is
// stored, by the record of its part, p, at time now.
func partHolds(pl Plan, p *Part, index int, now time.Time) bool {
	if p.Assembled() {
		return true
	}
	_, ok := p.Chunks[index]
	first, end := pl.PartChunks(pl.PartOf(index))
	if ok && len(p.Chunks) == end-first && !now.Before(p.ClaimUntil) {
		// Every chunk of the part is in but nobody is assembling it: the
		// request that completed it failed or died. Which chunk that was
		// only its client knows, so every chunk of the part counts as
		// missing: the client sends it again, and that request assembles
		// the part.
		return false
	}
	return ok
}

// FindChunk answers a client's "is this chunk here?": it returns the
// owner's live upload that the client calls
// identifier, if it has geometry g and holds chunk index (from 0), and
// nil if the chunk should be sent. A chunk its part record lacks is to
// be sent whatever the session says, so the part record is read first,
// found by the part plan that the identifier's binding carries, and the
// session only when the chunk is there and the binding does not say the
// upload is open, to tell that it still lives. (Answering "send it" is
// always safe: a chunk sent again is stored once.) It writes nothing.
//
// The last chunk of an upload that finishes by itself is to be sent
// while the upload has every part counted but is not finished (see
// unfinished): a client told that every chunk is here takes the file for
// done and sends nothing, and the last chunk sent again finishes it (see
// AddChunk). Where the binding says the upload is open, telling costs a
// read of the session, in a test of that one chunk once it is stored.
func (e *Engine) FindChunk(ctx context.Context, owner, identifier string, g Geometry, index int) (*Session, error) {
	b, err := e.sessions.LookupBinding(ctx, owner, identifier)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up identifier: %w", err)
	}
	if b.Plan.Chunks > 0 { // an indexed upload's binding, with its plan
		if b.Plan.Geometry != g || index < 0 || index >= g.Chunks {
			return nil, nil
		}
		p, err := e.sessions.GetPart(ctx, b.ID, b.Plan.PartOf(index))
		if err != nil {
			return nil, fmt.Errorf("read part of chunk %d of %s: %w", index, b.ID, err)
		}
		if !partHolds(b.Plan, p, index, e.opt.Now()) {
			return nil, nil
		}
		if s := e.live(b); s != nil && !(s.AutoComplete && index == s.Chunks-1) {
			return s, nil // the binding says the upload is open
		}
	}
	s, err := e.sessions.GetSession(ctx, b.ID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // the binding outlived its session
	}
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", b.ID, err)
	}
	e.settleExpiry(s)
	if !reusable(s, g) || (index == s.Chunks-1 && unfinished(s)) {
		return nil, nil
	}
	if b.Plan.Chunks > 0 {
		// The part holds the chunk; a reusable upload is open, completing
		// or complete, each of which keeps it.
		return s, nil
	}
	ok, err := e.hasChunk(ctx, s, index)
	if err != nil || !ok {
		return nil, err
	}
	return s, nil
}

// unfinished reports whether s finishes by itself and has every part
// counted, but is not finished: the request that should have finished it
// failed, or another is finishing it now.
func unfinished(s *Session) bool {
	if !s.AutoComplete {
		return false
	}
	return s.State == StateCompleting || (s.State == StateOpen && s.PartsDone >= s.Parts)
}

func missingRanges(s *Session, parts []*Part) []Range {
	if s.Kind == Sequential {
		return nil // its bytes are all in before it can complete
	}
	var out []Range
	add := func(i int) {
		if n := len(out); n > 0 && out[n-1].Last == i-1 {
			out[n-1].Last = i
			return
		}
		out = append(out, Range{First: i, Last: i})
	}
	for k, p := range parts {
		if p.Assembled() {
			continue
		}
		first, end := s.PartChunks(k)
		for i := first; i < end; i++ {
			if _, ok := p.Chunks[i]; !ok {
				add(i)
			}
		}
	}
	return out
}

func countRanges(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += r.Last - r.First + 1
	}
	return n
}

// Open returns the owner's upload that the client calls req.Identifier,
// creating it if there is none. Many first chunks at once create one
// session. An identifier whose upload has another size or chunk geometry,
// or was aborted or expired, starts a new upload: same-named files of one
// owner do not corrupt each other.
func (e *Engine) Open(ctx context.Context, req NewUpload) (*Session, error) {
	s, _, err := e.open(ctx, req, false)
	return s, err
}

// OpenCounted is Open for clients whose every answer says how many of the
// file's chunks are in (MultipleUpload). It also returns how many chunks
// the upload held when this request read it, before the request adds
// any: the same read that finds the session finds them, as long as the
// parts still being filled are the upload's last few (as they are when a
// client sends its chunks in order); otherwise the part records are read
// as well. A new upload holds none.
func (e *Engine) OpenCounted(ctx context.Context, req NewUpload) (*Session, int, error) {
	return e.open(ctx, req, true)
}

// open does the work of Open, and of OpenCounted if counted is set.
func (e *Engine) open(ctx context.Context, req NewUpload, counted bool) (*Session, int, error) {
	if err := e.checkRequest(req); err != nil {
		return nil, 0, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		var old *Session
		var received int
		var err error
		if counted {
			old, received, err = e.byIdentifier(ctx, req.Owner, req.Identifier, true)
		} else {
			old, err = e.byBinding(ctx, req.Owner, req.Identifier)
		}
		if err != nil {
			return nil, 0, err
		}
		if old != nil && reusable(old, req.Geometry) {
			return old, received, nil
		}
		replaces := ""
		if old != nil {
			replaces = old.ID
		}
		s, err := e.newSession(req)
		if err != nil {
			return nil, 0, err
		}
		// Open's requests take the upload from its binding while that
		// says it is open (byBinding); OpenCounted's read the session
		// for the count anyway, so their binding need not say.
		s.LiveBinding = !counted
		if err := e.sessions.CreateSession(ctx, s); err != nil {
			return nil, 0, fmt.Errorf("create session: %w", err)
		}
		won, err := e.bind(ctx, s, replaces)
		if err != nil {
			return nil, 0, err
		}
		if won {
			e.log(ctx, s).Info("upload created", "identifier", req.Identifier, "size", s.Size, "chunks", s.Chunks, "replaces", replaces)
			return s, 0, nil
		}
	}
	return nil, 0, refuse(CodeBusy, "identifier %q is changing hands too fast; retry", req.Identifier)
}

// bind points the new session's identifier at it (replacing replaces, if
// set). It reports false, having deleted the unused session, when another
// request bound the identifier first. A lost conditional write that lost
// to its own first attempt (whose answer never came) is a win; after any
// other failure the session is kept, since the identifier may point at it
// and a concurrent request may already have stored a chunk in it: the
// sweep removes it if it was never used, and frees the identifier with
// it. That includes a lost write whose winner cannot be read: deleted,
// the session would leave the identifier bound to nothing the sweep
// ever visits.
func (e *Engine) bind(ctx context.Context, s *Session, replaces string) (bool, error) {
	err := e.sessions.BindIdentifier(ctx, s, replaces)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return false, fmt.Errorf("bind identifier: %w", err)
	}
	now, err := e.sessions.LookupIdentifier(ctx, s.Owner, s.Identifier)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("bind identifier: read who bound it: %w", err)
	}
	if now == s.ID {
		return true, nil
	}
	if derr := e.sessions.DeleteSession(ctx, s.ID); derr != nil {
		e.log(ctx, s).Warn("delete unused session", "err", derr)
	}
	return false, nil
}

// byIdentifier follows the owner's identifier to its session (nil if it
// points nowhere), as readBound reads it.
func (e *Engine) byIdentifier(ctx context.Context, owner, identifier string, counted bool) (*Session, int, error) {
	id, err := e.sessions.LookupIdentifier(ctx, owner, identifier)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("look up identifier: %w", err)
	}
	return e.readBound(ctx, id, counted)
}

// byBinding is byIdentifier for the uploads Open finds: while the
// identifier's binding says the upload is open and not yet due to
// expire, the upload is taken from the binding, and its session is not
// read. The binding says so only while the session is open (it loses
// Live before the session leaves that state), so this request has seen
// it open, as one that read the session would have; the writes that
// follow judge the rest as they would (a chunk of an assembled part is a
// duplicate, completion takes its own claim).
func (e *Engine) byBinding(ctx context.Context, owner, identifier string) (*Session, error) {
	b, err := e.sessions.LookupBinding(ctx, owner, identifier)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up identifier: %w", err)
	}
	if s := e.live(b); s != nil {
		return s, nil
	}
	s, _, err := e.readBound(ctx, b.ID, false)
	return s, err
}

// live returns the upload binding b describes, if b says it is open and
// its expiry, as b has it, has not come; otherwise nil.
func (e *Engine) live(b Binding) *Session {
	if b.Live == nil || !e.opt.Now().Before(b.Live.ExpiresAt) {
		return nil
	}
	return b.Live // a fresh one on every lookup: nobody else holds it
}

// readBound reads session id, which an identifier points at, and settles
// its expiry. A session that is gone reads as aborted: the identifier is
// free, but BindIdentifier is to replace exactly this pointer. With
// counted, the session is read with its last part records, in one
// request, and readBound also returns how many chunks the upload holds
// (the part records are all read when those cannot tell).
func (e *Engine) readBound(ctx context.Context, id string, counted bool) (*Session, int, error) {
	var s *Session
	var tail []*Part
	var err error
	if counted {
		s, tail, err = e.sessions.ReadProgress(ctx, id, progressParts)
	} else {
		s, err = e.sessions.GetSession(ctx, id)
	}
	if errors.Is(err, ErrNotFound) {
		return &Session{ID: id, State: StateAborted}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read session %s: %w", id, err)
	}
	n := 0
	if counted {
		var ok bool
		if n, ok = tailCount(s, tail, progressParts); !ok {
			parts, err := e.partTable(ctx, s)
			if err != nil {
				return nil, 0, err
			}
			n = s.Chunks - countRanges(missingRanges(s, parts))
		}
	}
	e.settleExpiry(s)
	return s, n, nil
}

// progressParts is how many of an upload's highest-numbered part records
// OpenCounted reads with its session: a client sending its chunks in
// order, a few at a time, fills at most two parts at once, and a session
// with a few part records fits in one read unit.
const progressParts = 4

// tailCount counts the chunks of indexed upload s that are in, from the
// records of its highest-numbered parts, tail, highest first, as read
// just after s (at most limit of them). It reports false when it cannot
// tell: when parts below those records may lack chunks.
//
// Every part that s.PartsDone counts was assembled before s was read,
// and is marked counted in its record right after it is counted. Taking
// the parts of tail that are marked as the counted ones among them: if
// at least as many of the counted parts lie below the lowest record of
// tail as there are parts below it, every part below is assembled and
// holds all its chunks; if not, it reports false. A part of tail that is
// assembled but not marked is taken to be between its assembly and its
// count. If it is between its count and its mark instead (two writes in
// a row), the answer can run ahead by up to one part's chunks at that
// moment, as it can for good once a crash between those writes has made
// a later request count the part again: harmless in a count of chunks
// received, and nothing the upload does depends on it.
func tailCount(s *Session, tail []*Part, limit int) (int, bool) {
	n, counted, low := 0, 0, 0
	for _, p := range tail {
		if p.Index < 0 || p.Index >= s.Parts {
			continue
		}
		first, end := s.PartChunks(p.Index)
		if p.Assembled() {
			n += end - first
		} else {
			n += len(p.Chunks)
		}
		if p.Counted {
			counted++
		}
		low = p.Index
	}
	if len(tail) < limit || low == 0 {
		return n, true // every part record was read
	}
	if s.PartsDone-counted < low {
		return 0, false
	}
	below, _ := s.PartChunks(low)
	return min(below+n, s.Chunks), true
}

// reusable reports whether s can take chunks of a file with geometry g.
func reusable(s *Session, g Geometry) bool {
	if s.Size != g.Size || s.ChunkSize != g.ChunkSize || s.Chunks != g.Chunks {
		return false
	}
	return s.State == StateOpen || s.State == StateCompleting || s.State == StateComplete
}
