package upload

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"

	"chunkup/internal/wire/crc64nvme"
)

// MaxPiecesPerPart bounds how many staged pieces a sequential upload's
// pending part lists, which bounds the session record that lists them.
// A chunk that would make more folds the pending pieces and itself into
// one piece (see fold), so chunks of any size are taken.
const MaxPiecesPerPart = 1024

// hashers are the whole-file checksums a sequential upload can keep.
func newHash(alg string) (hash.Hash, bool) {
	switch alg {
	case "md5":
		return md5.New(), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	}
	return nil, false
}

// NewStream describes a sequential upload a client starts.
type NewStream struct {
	Owner       string
	Identifier  string // the client's own name for an upload it gives no id (see OpenStream)
	Name        string
	ContentType string
	// Size is the file's length, or SizeDeferred when the client will
	// say it later (DeclareSize).
	Size int64
	// Metadata is kept with the upload and put on the final object
	// (CheckMetadata says what it may hold).
	Metadata map[string]string
	// Partial makes it a piece of a file for a final upload to join
	// (CreateFinal).
	Partial bool
	// Hashes are the whole-file checksums to keep running (md5, sha1,
	// sha256), so completion can verify them without reading the file.
	Hashes []string
}

// Commit is one conditional step of a sequential upload: the bytes from
// Old to New were staged as Piece (empty for a step that only seals).
type Commit struct {
	Old, New  int64
	PartStart int64 // the partStart the step expects
	Piece     string
	PartCRC   uint64
	Hashes    map[string][]byte
	Seal      *Seal // set when the step cuts the pending pieces into a part
	// Fold says Piece holds the pending pieces and the step's bytes
	// together: it replaces the pending list rather than joining it.
	Fold bool
	// SetsSize says the step fixes the file's length, Size, of an upload
	// created with SizeDeferred.
	SetsSize bool
	Size     int64
}

// CreateStream starts a sequential upload, once the pre-create hook (if
// any) lets it.
func (e *Engine) CreateStream(ctx context.Context, req NewStream) (*Session, error) {
	if err := e.checkFile(req.Name, max(req.Size, 0)); err != nil {
		return nil, err
	}
	if req.Size < 0 && req.Size != SizeDeferred {
		return nil, refuse(CodeInvalid, "file size %d is negative", req.Size)
	}
	if err := e.checkDeclaredType(req.ContentType); err != nil {
		return nil, err
	}
	if err := CheckMetadata(req.Metadata); err != nil {
		return nil, err
	}
	hashes := map[string][]byte{}
	for _, alg := range req.Hashes {
		h, ok := newHash(alg)
		if !ok {
			return nil, refuse(CodeInvalid, "checksum algorithm %q is not supported (md5, sha1, sha256 are)", alg)
		}
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("save %s state: %w", alg, err)
		}
		hashes[alg] = state
	}
	ask := PreCreateRequest{Owner: req.Owner, Name: req.Name, Type: req.ContentType, Metadata: req.Metadata}
	if req.Size != SizeDeferred {
		size := req.Size
		ask.Size = &size
	}
	if req.Partial {
		ask.Concat = "partial"
	}
	v, err := e.vet(ctx, ask)
	if err != nil {
		return nil, err
	}
	now := e.opt.Now().UTC()
	id := newID()
	s := &Session{
		ID: id, Owner: req.Owner, Identifier: req.Identifier, Name: req.Name, ContentType: req.ContentType, Key: v.key(id, req.Name), Dialect: dialectOf(ctx),
		Kind: Sequential, State: StateOpen, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(min(e.opt.Expiry, e.opt.MaxLifetime)),
		Metadata: v.meta, Partial: req.Partial,
	}
	s.Size = req.Size
	planned := req.Size
	if planned == SizeDeferred {
		planned = e.opt.MaxFileSize // a file of unknown length may grow to the limit
	}
	s.PartSize = max(int64(MinPartSize), ceilDiv(planned, MaxParts))
	s.Hashes = hashes
	if err := e.sessions.CreateSession(ctx, s); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	e.started(ctx, s, "stream created", "size", s.Size, "part_size", s.PartSize)
	return s, nil
}

// Append adds data at offset to the sequential upload s. offset must be
// the upload's current offset; otherwise nothing changes and the error
// (CodeOffset) carries the current one. A step that fills a part has this
// request assemble it.
func (e *Engine) Append(ctx context.Context, s *Session, offset int64, data []byte) (*Session, error) {
	if s.Kind != Sequential {
		return nil, refuse(CodeInvalid, "upload %s takes chunks by number, not by offset", s.ID)
	}
	if err := e.refuseState(s); err != nil {
		return nil, err
	}
	if len(s.Sources) > 0 {
		return nil, refuse(CodeInvalid, "upload %s is joined from partial uploads and takes no bytes of its own", s.ID)
	}
	if s.Seal != nil {
		if err := e.settleSeal(ctx, s, nil); err != nil {
			return nil, err
		}
	}
	if err := e.checkAppend(s, offset, data); err != nil {
		return nil, err
	}
	crc := crc64nvme.Checksum(data)
	hashes, err := advanceHashes(s.Hashes, data)
	if err != nil {
		return nil, err
	}
	c := e.nextCommit(s, int64(len(data)), pieceSuffix(offset), crc, hashes)
	staged, folded := data, []string(nil)
	if c.Seal == nil && len(s.Pending)+1 >= MaxPiecesPerPart {
		if staged, err = e.fold(ctx, s, data); err != nil {
			return nil, err
		}
		folded = s.Pending
		c.Piece, c.Fold = pieceSuffix(s.PartStart), true
	}
	suffix := c.Piece
	key := stagingPrefix(s.ID) + suffix
	pieceCRC := crc
	if c.Fold {
		pieceCRC = c.PartCRC // the folded piece is the whole pending run
	}
	if err := e.blobs.PutStaged(ctx, key, staged, pieceCRC); err != nil {
		return nil, fmt.Errorf("stage bytes %d- of %s: %w", offset, s.ID, err)
	}
	if err := e.commit(ctx, s, c); err != nil {
		// Drop the piece only when the step surely did not take effect (a
		// refusal): after a store error it may have, and then the piece is
		// part of the file. A piece left behind is deleted with the upload.
		var refused *Error
		if errors.As(err, &refused) {
			if derr := e.blobs.DeleteStaged(ctx, []string{key}); derr != nil {
				e.log(ctx, s).Warn("drop refused piece", "err", derr)
			}
		}
		return nil, err
	}
	e.count(ctx, MetricBytesReceived, s, float64(len(data)))
	if len(folded) > 0 {
		keys := make([]string, len(folded))
		for i, p := range folded {
			keys[i] = stagingPrefix(s.ID) + p
		}
		if err := e.blobs.DeleteStaged(ctx, keys); err != nil {
			// The completion, or the bucket's lifecycle rule, removes them.
			e.log(ctx, s).Warn("delete folded pieces", "err", err)
		}
	}
	e.keepAlive(ctx, s)
	if s.Seal != nil {
		if err := e.settleSeal(ctx, s, &heldChunk{key: key, data: data}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DeclareSize fixes the length of a sequential upload created with
// SizeDeferred. Declaring the length it has is no change; another length,
// one under the bytes received, or one over the size limit is refused.
func (e *Engine) DeclareSize(ctx context.Context, s *Session, size int64) (*Session, error) {
	if err := e.refuseState(s); err != nil {
		return nil, err
	}
	switch {
	case s.Kind != Sequential:
		return nil, refuse(CodeInvalid, "upload %s takes chunks by number, not by offset", s.ID)
	case s.Size == size:
		return s, nil
	case s.Size != SizeDeferred:
		return nil, refuse(CodeInvalid, "upload %s is %d bytes long; its length cannot change", s.ID, s.Size)
	case size < s.Offset:
		return nil, refuse(CodeInvalid, "length %d is under the %d bytes upload %s has", size, s.Offset, s.ID)
	case size > e.opt.MaxFileSize:
		return nil, overLimit(CodeFileTooLarge, e.opt.MaxFileSize, "file size %d bytes is over the limit of %d bytes", size, e.opt.MaxFileSize)
	}
	if s.Seal != nil {
		if err := e.settleSeal(ctx, s, nil); err != nil {
			return nil, err
		}
	}
	c := Commit{Old: s.Offset, New: s.Offset, PartStart: s.PartStart, PartCRC: s.PartCRC, Hashes: s.Hashes, SetsSize: true, Size: size}
	if err := e.commit(ctx, s, c); err != nil {
		return nil, err
	}
	return s, nil
}

func (e *Engine) checkAppend(s *Session, offset int64, data []byte) error {
	n := int64(len(data))
	end := offset + n
	switch {
	case offset != s.Offset:
		return &Error{Code: CodeOffset, Offset: s.Offset,
			Message: fmt.Sprintf("chunk starts at byte %d but the upload has %d bytes", offset, s.Offset)}
	case n > e.opt.MaxChunkSize:
		return overLimit(CodeChunkTooLarge, e.opt.MaxChunkSize, "chunk is %d bytes, over the limit of %d bytes", n, e.opt.MaxChunkSize)
	case n == 0:
		return refuse(CodeInvalid, "chunk is empty")
	case s.Size == SizeDeferred && end > e.opt.MaxFileSize:
		return overLimit(CodeFileTooLarge, e.opt.MaxFileSize, "chunk ends at byte %d, over the file size limit of %d bytes", end, e.opt.MaxFileSize)
	case s.Size != SizeDeferred && end > s.Size:
		return refuse(CodeInvalid, "chunk ends at byte %d, past the file's size of %d bytes", end, s.Size)
	}
	if offset == 0 {
		if err := e.checkType(data); err != nil {
			return err
		}
	}
	return nil
}

// fold reads the pending pieces of s (fewer bytes than one part) and
// returns them with data after them: the bytes of the one piece that
// replaces them, so that the pending list stays within MaxPiecesPerPart
// however small the chunks. It reads at most one part's bytes, once every
// MaxPiecesPerPart chunks.
func (e *Engine) fold(ctx context.Context, s *Session, data []byte) ([]byte, error) {
	buf := make([]byte, 0, s.Offset-s.PartStart+int64(len(data)))
	for _, p := range s.Pending {
		r, err := e.blobs.OpenStaged(ctx, stagingPrefix(s.ID)+p)
		if err != nil {
			return nil, fmt.Errorf("read piece %s of %s to fold: %w", p, s.ID, err)
		}
		buf, err = appendAll(buf, r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("read piece %s of %s to fold: %w", p, s.ID, err)
		}
	}
	if int64(len(buf)) != s.Offset-s.PartStart {
		return nil, fmt.Errorf("the pending pieces of %s hold %d bytes, not the %d from %d to %d", s.ID, len(buf), s.Offset-s.PartStart, s.PartStart, s.Offset)
	}
	return append(buf, data...), nil
}

// appendAll appends what r holds to buf.
func appendAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 512)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// nextCommit describes the step that appends a staged piece, sealing the
// pending pieces into a part when they reach the part size or the end.
func (e *Engine) nextCommit(s *Session, n int64, suffix string, crc uint64, hashes map[string][]byte) Commit {
	c := Commit{Old: s.Offset, New: s.Offset + n, PartStart: s.PartStart, Piece: suffix, Hashes: hashes, PartCRC: crc}
	if len(s.Pending) > 0 {
		c.PartCRC = e.crcJoin.Combine(s.PartCRC, crc, n)
	}
	if c.New-s.PartStart >= s.PartSize || c.New == s.Size {
		c.Seal = &Seal{Part: s.NextPart, Start: s.PartStart, End: c.New, Keys: append(slices.Clone(s.Pending), suffix), CRC: c.PartCRC}
	}
	return c
}

// commit writes a step and applies it to s; a lost race answers with the
// upload's current offset or state.
func (e *Engine) commit(ctx context.Context, s *Session, c Commit) error {
	err := e.sessions.CommitAppend(ctx, s.ID, c, e.opt.Now().UTC())
	if errors.Is(err, ErrConflict) {
		fresh, gerr := e.sessions.GetSession(ctx, s.ID)
		if gerr != nil {
			return fmt.Errorf("read session %s: %w", s.ID, gerr)
		}
		if mine, merr := e.committedByMe(ctx, fresh, c); merr != nil {
			return merr
		} else if mine {
			s.Stream = fresh.Stream
			return nil
		}
		e.observe(fresh)
		if serr := e.refuseState(fresh); serr != nil {
			return serr
		}
		return &Error{Code: CodeOffset, Offset: fresh.Offset,
			Message: fmt.Sprintf("chunk starts at byte %d but the upload has %d bytes", c.Old, fresh.Offset)}
	}
	if err != nil {
		return fmt.Errorf("commit bytes %d-%d of %s: %w", c.Old, c.New, s.ID, err)
	}
	s.Offset, s.Hashes = c.New, c.Hashes
	if c.SetsSize {
		s.Size = c.Size
	}
	switch {
	case c.Fold:
		s.Pending, s.PartCRC = []string{c.Piece}, c.PartCRC
	case c.Piece != "":
		s.Pending = append(s.Pending, c.Piece)
		s.PartCRC = c.PartCRC
	}
	if c.Seal != nil {
		s.Seal, s.Pending, s.PartStart, s.PartCRC = c.Seal, nil, c.New, 0
		s.NextPart++
	}
	return nil
}

// committedByMe reports whether a step whose conditional write lost in
// fact took effect: its first attempt succeeded but the answer was lost,
// and the SDK's retry found its own work. A step is known by its piece's
// name (unique to the request) or, for a step that only seals, by the
// seal it left.
func (e *Engine) committedByMe(ctx context.Context, fresh *Session, c Commit) (bool, error) {
	if c.Piece == "" && c.Seal == nil {
		return fresh.Size == c.Size, nil
	}
	if c.Piece == "" {
		return fresh.Offset == c.New && fresh.PartStart == c.New &&
			((fresh.Seal != nil && fresh.Seal.Part == c.Seal.Part) || fresh.NextPart > c.Seal.Part), nil
	}
	if slices.Contains(fresh.Pending, c.Piece) || (fresh.Seal != nil && slices.Contains(fresh.Seal.Keys, c.Piece)) {
		return true, nil
	}
	if fresh.Offset < c.New || fresh.NextPart == 0 {
		return false, nil
	}
	// Sealed into a part, and the seal already settled.
	key := stagingPrefix(fresh.ID) + c.Piece
	for k := fresh.NextPart - 1; k >= 0 && k >= fresh.NextPart-2; k-- {
		p, err := e.sessions.GetPart(ctx, fresh.ID, k)
		if err != nil {
			return false, fmt.Errorf("read part %d of %s: %w", k, fresh.ID, err)
		}
		for _, ch := range p.Chunks {
			if ch.Key == key {
				return true, nil
			}
		}
	}
	return false, nil
}

// settleSeal writes the part record of a sealed run of pieces, clears the
// seal so that the upload takes bytes again, and assembles the part. Each
// step is idempotent, so a request that finds a seal a crashed one left
// finishes it.
// held, if not nil, is a piece the request has in memory.
func (e *Engine) settleSeal(ctx context.Context, s *Session, held *heldChunk) error {
	seal := s.Seal
	chunks, err := sealChunks(s.ID, seal)
	if err != nil {
		return err
	}
	if err := e.sessions.PutSealedPart(ctx, s.ID, seal.Part, chunks, seal.CRC); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("record part %d of %s: %w", seal.Part, s.ID, err)
	}
	if err := e.sessions.ClearSeal(ctx, s.ID, seal.Part); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("clear seal of %s: %w", s.ID, err)
	}
	s.Seal = nil
	if _, err := e.assemble(ctx, s, seal.Part, held); err != nil {
		return err
	}
	return nil
}

// sealChunks lists a seal's pieces as chunk records, with their sizes
// taken from where each starts.
func sealChunks(id string, seal *Seal) ([]ChunkRecord, error) {
	out := make([]ChunkRecord, len(seal.Keys))
	for i, suffix := range seal.Keys {
		start, err := pieceOffset(suffix)
		if err != nil {
			return nil, fmt.Errorf("seal of %s: %w", id, err)
		}
		out[i] = ChunkRecord{Index: i, Key: stagingPrefix(id) + suffix}
		out[i].Size = -start
		if i > 0 {
			out[i-1].Size += start
		}
	}
	if n := len(out); n > 0 {
		out[n-1].Size += seal.End
	}
	return out, nil
}

// pieceSuffix names a staged piece by its offset and a nonce, so a piece
// that loses the race to the same offset never overwrites the winner's.
func pieceSuffix(offset int64) string { return fmt.Sprintf("o%016d-%s", offset, newID()[:12]) }

func pieceOffset(suffix string) (int64, error) {
	num, _, ok := strings.Cut(strings.TrimPrefix(suffix, "o"), "-")
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("malformed piece name %q", suffix)
	}
	return n, nil
}

func advanceHashes(states map[string][]byte, data []byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(states))
	for alg, state := range states {
		h, ok := newHash(alg)
		if !ok {
			return nil, fmt.Errorf("unknown hash %q in session", alg)
		}
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return nil, fmt.Errorf("restore %s state: %w", alg, err)
		}
		h.Write(data)
		next, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("save %s state: %w", alg, err)
		}
		out[alg] = next
	}
	return out, nil
}

// Digest returns the hex digest of everything a sequential upload has
// received, from its running state: no byte is read back.
func (s *Session) Digest(alg string) (string, bool) {
	if d, ok := s.Digests[alg]; ok {
		return d, true
	}
	state, ok := s.Hashes[alg]
	h, known := newHash(alg)
	if !ok || !known {
		return "", false
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// fillDigests records the whole-file digests from the running hashes.
func (s *Session) fillDigests() {
	s.Digests = map[string]string{}
	for alg := range s.Hashes {
		s.Digests[alg], _ = s.Digest(alg)
	}
}

// CompleteStream finishes a sequential upload whose bytes are all in,
// after checking the whole-file checksums the client sent (algorithm →
// hex digest) against the running ones. A complete upload is refused:
// completing twice is a client error.
func (e *Engine) CompleteStream(ctx context.Context, s *Session, want map[string]string) (*Session, error) {
	switch {
	case s.State == StateComplete:
		return nil, refuse(CodeComplete, "upload %s is already complete", s.ID)
	case s.State == StateCompleting && s.Completion.Held(e.opt.Now()):
		return nil, refuse(CodeBusy, "upload %s is being completed by another request; retry shortly", s.ID)
	case s.State == StateCompleting:
		// A completion that died (or whose claim's answer was lost) had
		// checked the checksums before it claimed: finish it.
		s.fillDigests()
		return e.complete(ctx, s)
	}
	if err := e.refuseState(s); err != nil {
		return nil, err
	}
	if s.Offset != s.Size {
		return nil, refuse(CodeIncomplete, "upload %s has %d of %d bytes", s.ID, s.Offset, s.Size)
	}
	for alg, hexWant := range want {
		got, ok := s.Digest(alg)
		if !ok {
			return nil, refuse(CodeInvalid, "upload %s keeps no %s checksum", s.ID, alg)
		}
		if !strings.EqualFold(got, strings.TrimSpace(hexWant)) {
			return nil, refuse(CodeChecksum, "%s checksum does not match", alg)
		}
	}
	if s.Seal != nil {
		if err := e.settleSeal(ctx, s, nil); err != nil {
			return nil, err
		}
	}
	if len(s.Pending) > 0 || (s.Size > 0 && s.NextPart == 0) {
		c := Commit{Old: s.Offset, New: s.Offset, PartStart: s.PartStart, Hashes: s.Hashes,
			Seal: &Seal{Part: s.NextPart, Start: s.PartStart, End: s.Offset, Keys: slices.Clone(s.Pending), CRC: s.PartCRC}}
		if err := e.commit(ctx, s, c); err != nil {
			return nil, err
		}
		if err := e.settleSeal(ctx, s, nil); err != nil {
			return nil, err
		}
	}
	s.fillDigests()
	return e.complete(ctx, s)
}
