package upload

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Opening an upload: a new session, an upload found by its id, and an
// upload found by the client's own identifier (created once however many
// first chunks race for it).
//
// Entry points: Engine.Create, Engine.Get, Engine.Open, Engine.OpenCounted.
// Calls: the session store and its bindings; the part ledger (ledger.go)
// for OpenCounted's count.

// NewUpload describes an upload a client wants to start.
type NewUpload struct {
	Owner       string
	Identifier  string // the client's own id for the file; uploads with one are found by it
	Name        string
	ContentType string
	Geometry
	// AutoComplete finishes the upload as soon as its last chunk is in,
	// as clients without a completion request (Resumable.js) need.
	AutoComplete bool
	// Verify, if set, is the whole file's checksum, checked at completion.
	Verify *Checksum
	// Metadata is the client's, for the final object (within
	// MaxMetadataBytes) and the events.
	Metadata map[string]string
}

// MaxReadBackVerify is the largest indexed upload whose md5, sha1 or
// sha256 may be verified: its chunks arrive in any order, so the finished
// file is read back once to hash it. CRC64NVME has no such limit: it is
// combined from the chunks' and S3 verifies it.
const MaxReadBackVerify = 1 << 30

// Create starts a new upload session, once the pre-create hook (if any)
// lets it. Nothing is written to S3 until the first part is assembled.
func (e *Engine) Create(ctx context.Context, req NewUpload) (*Session, error) {
	mk, err := e.newSession(ctx, req)
	if err != nil {
		return nil, err
	}
	s := mk()
	if err := e.sessions.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	e.started(ctx, s, "upload created", "size", s.Size, "chunks", s.Chunks, "parts", s.Parts)
	return s, nil
}

// newSession checks req and asks the pre-create hook (once) whether and
// how it may be made; mk returns a new session of it, with an id of its
// own, each time it is called (Open's attempts make one each).
func (e *Engine) newSession(ctx context.Context, req NewUpload) (mk func() *Session, err error) {
	if err := e.checkRequest(req); err != nil {
		return nil, err
	}
	if v := req.Verify; v != nil && v.Alg != "crc64nvme" && req.Size > MaxReadBackVerify {
		return nil, overLimit(CodeFileTooLarge, MaxReadBackVerify,
			"a whole-file %s is verified by reading the file back, for files of at most %d bytes; this one is %d bytes (use crc64nvme, which has no limit)", v.Alg, int64(MaxReadBackVerify), req.Size)
	}
	plan, err := NewPlan(req.Geometry)
	if err != nil {
		return nil, refuse(CodeInvalid, "%s", err.Error())
	}
	size := req.Size
	v, err := e.vet(ctx, PreCreateRequest{Owner: req.Owner, Name: req.Name, Size: &size, Type: req.ContentType, Metadata: req.Metadata})
	if err != nil {
		return nil, err
	}
	verify := ""
	if req.Verify != nil {
		verify = req.Verify.String()
	}
	return func() *Session {
		now := e.opt.Now().UTC()
		id := newID()
		return &Session{
			Verify:       verify,
			ID:           id,
			Owner:        req.Owner,
			Identifier:   req.Identifier,
			Name:         req.Name,
			ContentType:  req.ContentType,
			Key:          v.key(id, req.Name),
			Dialect:      dialectOf(ctx),
			Metadata:     v.meta,
			Plan:         plan,
			State:        StateOpen,
			CreatedAt:    now,
			UpdatedAt:    now,
			ExpiresAt:    now.Add(min(e.opt.Expiry, e.opt.MaxLifetime)),
			AutoComplete: req.AutoComplete,
		}
	}, nil
}

func (e *Engine) checkRequest(req NewUpload) error {
	if err := e.checkFile(req.Name, req.Size); err != nil {
		return err
	}
	if err := e.checkDeclaredType(req.ContentType); err != nil {
		return err
	}
	if err := CheckMetadata(req.Metadata); err != nil {
		return err
	}
	l := e.opt.Limits
	switch {
	case req.ChunkSize <= 0:
		return refuse(CodeInvalid, "chunk size %d must be positive", req.ChunkSize)
	case req.ChunkSize > l.MaxChunkSize:
		return overLimit(CodeChunkTooLarge, l.MaxChunkSize, "chunk size %d bytes is over the limit of %d bytes", req.ChunkSize, l.MaxChunkSize)
	case req.Chunks > l.MaxChunks:
		return overLimit(CodeTooManyChunks, int64(l.MaxChunks), "%d chunks is over the limit of %d chunks per upload", req.Chunks, l.MaxChunks)
	case req.Chunks > 0 && req.Geometry.check() == nil && req.ChunkLen(req.Chunks-1) > l.MaxChunkSize:
		return overLimit(CodeChunkTooLarge, l.MaxChunkSize, "the last chunk would be %d bytes, over the limit of %d bytes", req.ChunkLen(req.Chunks-1), l.MaxChunkSize)
	}
	return nil
}

// checkFile checks what every upload must satisfy: a name within the
// length limit and a size within the file size limit.
func (e *Engine) checkFile(name string, size int64) error {
	l := e.opt.Limits
	switch {
	case name == "":
		return refuse(CodeInvalid, "a file name is required")
	case len(name) > l.MaxNameLength:
		return overLimit(CodeNameTooLong, int64(l.MaxNameLength), "file name is %d bytes; the limit is %d bytes", len(name), l.MaxNameLength)
	case !utf8.ValidString(name):
		return refuse(CodeInvalid, "file name is not valid UTF-8")
	case size < 0:
		return refuse(CodeInvalid, "file size %d is negative", size)
	case size > l.MaxFileSize:
		return overLimit(CodeFileTooLarge, l.MaxFileSize, "file size %d bytes is over the limit of %d bytes", size, l.MaxFileSize)
	}
	return nil
}

// Get returns the owner's upload id. Another owner's upload answers as
// unknown.
func (e *Engine) Get(ctx context.Context, owner, id string) (*Session, error) {
	if !validID(id) {
		return nil, refuse(CodeNotFound, "no upload %q", id)
	}
	s, err := e.sessions.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && s.Owner != owner) {
		return nil, refuse(CodeNotFound, "no upload %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	e.observe(s)
	return s, nil
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
	var mk func() *Session // made when a new session is first needed
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
		if mk == nil {
			// The hook is asked once, however many attempts the race
			// for the identifier takes.
			if mk, err = e.newSession(ctx, req); err != nil {
				return nil, 0, err
			}
		}
		s := mk()
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
			e.started(ctx, s, "upload created", "identifier", req.Identifier, "size", s.Size, "chunks", s.Chunks, "replaces", replaces)
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
	e.observe(s)
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
	return s.State.Live()
}
