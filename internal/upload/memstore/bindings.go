package memstore

import (
	"context"
	"errors"

	"chunkup/internal/upload"
)

type bindingKey struct{ owner, ident string }

// A bindingRec is an identifier's item: the upload it points at, the
// part plan of an indexed upload, and for a live binding the copy of
// what a chunk needs of the upload, open while openUntil is set.
type bindingRec struct {
	owner, ident string
	id           string
	plan         upload.Plan
	hasPlan      bool

	// The copy a live binding keeps (the DynamoDB store's liveAttrs).
	name, ctype, key, verify, mpu string
	auto                          bool
	createdAt                     int64
	live                          bool // the copy was written
	// open says openUntil is set: the upload was open when last written.
	open      bool
	openUntil int64
}

func (b *bindingRec) itemSize() int {
	it := &item{}
	it.str("pk", bindingPK(b.owner, b.ident))
	it.str("sk", "I")
	it.str("id", b.id)
	if b.hasPlan {
		it.num("size", b.plan.Size)
		it.num("chunkSize", b.plan.ChunkSize)
		it.num("chunks", int64(b.plan.Chunks))
		it.num("cpp", int64(b.plan.ChunksPerPart))
		it.num("parts", int64(b.plan.Parts))
	}
	for _, a := range []struct{ name, v string }{{"name", b.name}, {"ctype", b.ctype}, {"key", b.key}, {"verify", b.verify}, {"mpu", b.mpu}} {
		it.str(a.name, a.v)
	}
	if b.live {
		it.boolean("auto")
		it.num("createdAt", b.createdAt)
	}
	if b.open {
		it.num("openUntil", b.openUntil)
	}
	return it.size
}

// binding reads the record as LookupBinding answers it.
func (b *bindingRec) binding() upload.Binding {
	out := upload.Binding{ID: b.id}
	if b.hasPlan {
		out.Plan = b.plan
	}
	if b.open && out.Plan.Chunks > 0 {
		out.Live = &upload.Session{
			ID: b.id, Owner: b.owner, Identifier: b.ident, LiveBinding: true, State: upload.StateOpen,
			Name: b.name, ContentType: b.ctype, Key: b.key, Verify: b.verify, MultipartID: b.mpu,
			AutoComplete: b.auto, CreatedAt: timeOf(b.createdAt), ExpiresAt: timeOf(b.openUntil), Plan: b.plan,
		}
	}
	return out
}

// LookupIdentifier returns the upload an owner's identifier points at.
func (m *Sessions) LookupIdentifier(ctx context.Context, owner, ident string) (string, error) {
	b, err := m.lookup(ctx, "LookupIdentifier", owner, ident)
	return b.ID, err
}

// LookupBinding reads an owner's identifier record; ErrNotFound if none.
func (m *Sessions) LookupBinding(ctx context.Context, owner, ident string) (upload.Binding, error) {
	return m.lookup(ctx, "LookupBinding", owner, ident)
}

func (m *Sessions) lookup(ctx context.Context, op, owner, ident string) (upload.Binding, error) {
	var out upload.Binding
	err := m.run(ctx, &m.mu, request{op: op, main: func() error {
		out = upload.Binding{}
		if err := checkKey(bindingPK(owner, ident)); err != nil {
			return err
		}
		b, ok := m.bindings[bindingKey{owner, ident}]
		if !ok {
			return upload.ErrNotFound
		}
		out = b.binding()
		return nil
	}})
	if errors.Is(err, upload.ErrNotFound) {
		return upload.Binding{}, err
	}
	if err != nil {
		return upload.Binding{}, wrap("get identifier", err)
	}
	return out, nil
}

// BindIdentifier points an identifier at session s, writing the whole
// record afresh, if it points nowhere (replaces == "") or still at
// replaces; otherwise ErrConflict.
func (m *Sessions) BindIdentifier(ctx context.Context, s *upload.Session, replaces string) error {
	return wrap("bind identifier", m.run(ctx, &m.mu, request{op: "BindIdentifier", main: func() error {
		b := newBinding(s)
		if err := checkKey(bindingPK(b.owner, b.ident)); err != nil {
			return err
		}
		if err := tooLarge(b.itemSize(), false); err != nil {
			return err
		}
		old, ok := m.bindings[bindingKey{s.Owner, s.Identifier}]
		if (replaces == "" && ok) || (replaces != "" && (!ok || old.id != replaces)) {
			return upload.ErrConflict
		}
		m.bindings[bindingKey{s.Owner, s.Identifier}] = b
		return nil
	}}))
}

// newBinding is the record BindIdentifier writes for s.
func newBinding(s *upload.Session) *bindingRec {
	b := &bindingRec{owner: s.Owner, ident: s.Identifier, id: s.ID}
	if s.Kind == upload.Indexed && s.Chunks > 0 && s.ChunksPerPart > 0 {
		b.plan, b.hasPlan = s.Plan, true
		if s.State == upload.StateOpen && s.LiveBinding {
			b.name, b.ctype, b.key, b.verify, b.mpu = s.Name, s.ContentType, s.Key, s.Verify, s.MultipartID
			b.auto, b.createdAt, b.live = s.AutoComplete, msOf(s.CreatedAt), true
			b.open, b.openUntil = true, msOf(s.ExpiresAt)
		}
	}
	return b
}

// closeBinding takes back the word of session s's binding that s is
// open, if s keeps a live binding and the binding still points at s. The
// binding is named by the caller's copy of s, as the DynamoDB store
// names it.
func (m *Sessions) closeBinding(s *upload.Session) error {
	if !s.LiveBinding {
		return nil
	}
	if err := checkKey(bindingPK(s.Owner, s.Identifier)); err != nil {
		return err
	}
	if b, ok := m.bindings[bindingKey{s.Owner, s.Identifier}]; ok && b.id == s.ID {
		b.open, b.openUntil = false, 0
	}
	return nil
}

// copyToBinding applies change to the live binding of session id, whose
// record a write has just left as rec, if the binding still points at it
// and cond holds of the binding. It is best effort, as the DynamoDB
// store's is.
func (m *Sessions) copyToBinding(id string, rec *sessionRec, cond func(*bindingRec) bool, change func(*bindingRec)) {
	if rec == nil || !rec.s.LiveBinding {
		return
	}
	b, ok := m.bindings[bindingKey{rec.s.Owner, rec.s.Identifier}]
	if !ok || b.id != id || !cond(b) {
		return
	}
	next := *b
	change(&next)
	if tooLarge(next.itemSize(), true) == nil {
		m.bindings[bindingKey{rec.s.Owner, rec.s.Identifier}] = &next
	}
}
