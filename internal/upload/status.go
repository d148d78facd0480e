package upload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reading where an upload stands: its missing chunks, and whether one
// chunk is here. Nothing here writes.
//
// Entry points: Engine.Status, Engine.FindChunk, Engine.DownloadURL,
// Engine.DownloadLink.
// Calls: opening (open.go) to follow a binding; the part ledger; the
// parts S3 lists of a direct upload (listed.go).

// Status is where an upload stands: the session and, while it is open, the
// chunks still missing as ranges (never a list of thousands).
type Status struct {
	*Session
	Missing  []Range
	Received int // chunks received
	// Uploaded lists the parts S3 holds of an open direct upload (its
	// client sent them there itself; Missing and Received say nothing).
	Uploaded []UploadedPart
}

// Status reads the owner's upload and the chunks it still needs.
func (e *Engine) Status(ctx context.Context, owner, id string) (Status, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{Session: s, Received: s.Chunks}
	if s.Kind == Direct {
		if s.State == StateOpen && !s.Direct.Form {
			st.Uploaded, err = e.uploadedParts(ctx, s)
		}
		return st, err
	}
	if s.State.Terminal() {
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
	if s.State.Terminal() {
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
		// Assembled but not yet marked counted: the request that
		// assembled it failed or died before it counted the part (or is
		// counting it now). An upload that finishes by itself is finished
		// only once every part is counted, so the part's chunks count as
		// missing, as those of an unassembled whole part do below: the
		// client sends one again, and that request counts the part (see
		// settleDuplicate). Told they are in, the client would take the
		// file for done.
		return p.Counted
	}
	_, ok := p.Chunks[index]
	first, end := pl.PartChunks(pl.PartOf(index))
	if ok && len(p.Chunks) == end-first && !p.Claim.Held(now) {
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
	e.observe(s)
	if !reusable(s, g) || (index == s.Chunks-1 && owesCompletion(s)) {
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

// DownloadTTL is how long a download link (DownloadURL) works.
const DownloadTTL = 5 * time.Minute

// DownloadURL returns a link that fetches the owner's finished upload id
// for DownloadTTL, as a download named as the client named the file.
// Another owner's upload answers as unknown; one not complete is refused.
func (e *Engine) DownloadURL(ctx context.Context, owner, id string) (string, error) {
	s, err := e.Get(ctx, owner, id)
	if err != nil {
		return "", err
	}
	if s.State != StateComplete {
		if err := e.refuseState(s); err != nil && s.State.Terminal() {
			return "", err
		}
		return "", refuse(CodeIncomplete, "upload %s is not complete: it has nothing to download yet", s.ID)
	}
	return e.DownloadLink(ctx, s)
}

// DownloadLink returns a link that fetches the finished upload s, which
// the caller has read as its owner's and complete, for DownloadTTL, as a
// download named as the client named the file.
func (e *Engine) DownloadLink(ctx context.Context, s *Session) (string, error) {
	link, err := e.blobs.PresignGet(ctx, s.Key, attachment(s.Name), DownloadTTL)
	if err != nil {
		return "", fmt.Errorf("download link of %s: %w", s.ID, err)
	}
	return link, nil
}

// attachment is the Content-Disposition of a download of a file called
// name: an ASCII fallback, and the name itself in RFC 5987 form.
func attachment(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var ext strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			ext.WriteByte(c)
		} else {
			fmt.Fprintf(&ext, "%%%02X", c)
		}
	}
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, SanitizeName(name), ext.String())
}
