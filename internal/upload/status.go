package upload

import (
	"context"
	"errors"
	"fmt"
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

// HasChunk reports whether chunk index of s is stored (staged or already
// part of an assembled part).
func (e *Engine) HasChunk(ctx context.Context, s *Session, index int) (bool, error) {
	if index < 0 || index >= s.Chunks {
		return false, nil
	}
	if s.State == StateComplete {
		return true, nil
	}
	if s.State != StateOpen && s.State != StateCompleting {
		return false, nil
	}
	k := s.PartOf(index)
	p, err := e.sessions.GetPart(ctx, s.ID, k)
	if err != nil {
		return false, fmt.Errorf("read part of chunk %d of %s: %w", index, s.ID, err)
	}
	if p.Assembled() {
		return true, nil
	}
	_, ok := p.Chunks[index]
	first, end := s.PartChunks(k)
	if ok && len(p.Chunks) == end-first && !e.opt.Now().Before(p.ClaimUntil) {
		// Every chunk of the part is in but nobody is assembling it: the
		// request that completed it failed or died. Which chunk that was
		// only its client knows, so every chunk of the part counts as
		// missing: the client sends it again, and that request assembles
		// the part.
		return false, nil
	}
	return ok, nil
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

// Find returns the owner's live upload that the client calls identifier,
// if it has geometry g; nil if there is none. It writes nothing, so a
// read-only function can answer "is this chunk here?".
func (e *Engine) Find(ctx context.Context, owner, identifier string, g Geometry) (*Session, error) {
	s, err := e.byIdentifier(ctx, owner, identifier)
	if err != nil || s == nil {
		return nil, err
	}
	if !reusable(s, g) {
		return nil, nil
	}
	return s, nil
}

// Open returns the owner's upload that the client calls req.Identifier,
// creating it if there is none. Many first chunks at once create one
// session. An identifier whose upload has another size or chunk geometry,
// or was aborted or expired, starts a new upload: same-named files of one
// owner do not corrupt each other.
func (e *Engine) Open(ctx context.Context, req NewUpload) (*Session, error) {
	if err := e.checkRequest(req); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		old, err := e.byIdentifier(ctx, req.Owner, req.Identifier)
		if err != nil {
			return nil, err
		}
		if old != nil && reusable(old, req.Geometry) {
			return old, nil
		}
		replaces := ""
		if old != nil {
			replaces = old.ID
		}
		s, err := e.newSession(req)
		if err != nil {
			return nil, err
		}
		if err := e.sessions.CreateSession(ctx, s); err != nil {
			return nil, fmt.Errorf("create session: %w", err)
		}
		won, err := e.bind(ctx, s, replaces)
		if err != nil {
			return nil, err
		}
		if won {
			e.log(ctx, s).Info("upload created", "identifier", req.Identifier, "size", s.Size, "chunks", s.Chunks, "replaces", replaces)
			return s, nil
		}
	}
	return nil, refuse(CodeBusy, "identifier %q is changing hands too fast; retry", req.Identifier)
}

// bind points the new session's identifier at it (replacing replaces, if
// set). It reports false, having deleted the unused session, when another
// request bound the identifier first. A lost conditional write that lost
// to its own first attempt (whose answer never came) is a win; after any
// other failure the session is kept, since the identifier may point at it
// and a concurrent request may already have stored a chunk in it: the
// sweep removes it if it was never used.
func (e *Engine) bind(ctx context.Context, s *Session, replaces string) (bool, error) {
	err := e.sessions.BindIdentifier(ctx, s.Owner, s.Identifier, s.ID, replaces, s.ExpiresAt.Add(e.opt.Retention))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return false, fmt.Errorf("bind identifier: %w", err)
	}
	if now, lerr := e.sessions.LookupIdentifier(ctx, s.Owner, s.Identifier); lerr == nil && now == s.ID {
		return true, nil
	}
	if derr := e.sessions.DeleteSession(ctx, s.ID); derr != nil {
		e.log(ctx, s).Warn("delete unused session", "err", derr)
	}
	return false, nil
}

func (e *Engine) byIdentifier(ctx context.Context, owner, identifier string) (*Session, error) {
	id, err := e.sessions.LookupIdentifier(ctx, owner, identifier)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up identifier: %w", err)
	}
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// The pointer outlived its session; treat it as free but let
		// BindIdentifier replace exactly this pointer.
		return &Session{ID: id, State: StateAborted}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	e.settleExpiry(s)
	return s, nil
}

// reusable reports whether s can take chunks of a file with geometry g.
func reusable(s *Session, g Geometry) bool {
	if s.Size != g.Size || s.ChunkSize != g.ChunkSize || s.Chunks != g.Chunks {
		return false
	}
	return s.State == StateOpen || s.State == StateCompleting || s.State == StateComplete
}
