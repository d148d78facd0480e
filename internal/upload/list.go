package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Listing an owner's uploads, newest first, a page at a time, through
// the session store's index by owner (Listings): every page costs at
// most a fixed number of index entries and sessions read, however many
// uploads the owner has.
//
// Entry points: Engine.List.
// Calls: the session store's listing.

// The limits of a listing.
const (
	// DefaultListLimit is how many uploads a page holds when the client
	// names no limit.
	DefaultListLimit = 20
	// MaxListLimit is the most uploads a page may hold.
	MaxListLimit = 100
	// listBudget is how many index entries a page may read for each
	// upload it may hold: a filtered listing skips the uploads the filter
	// drops, up to this many.
	listBudget = 10
	// maxCursorLength is the longest cursor List gives, and so takes.
	maxCursorLength = 64
)

// The states a listing may be filtered by (ListQuery.State).
const (
	// ListOpen lists the uploads not yet finished: open, or being
	// completed, and not past their expiry.
	ListOpen = "open"
	// ListComplete lists the finished uploads.
	ListComplete = "complete"
)

// ListQuery asks for one page of an owner's uploads.
type ListQuery struct {
	Owner string
	// State is "" (every upload, whatever its state), ListOpen or
	// ListComplete.
	State string
	// Dialect, if set, lists only the uploads that client family started.
	Dialect string
	// Limit is the most uploads the page holds: from 1 to MaxListLimit,
	// or 0 for DefaultListLimit.
	Limit int
	// Cursor is the previous page's Next; "" starts from the newest.
	Cursor string
}

// ListPage is one page of an owner's uploads, newest first.
type ListPage struct {
	Uploads []*Session
	// Next is the cursor of the following page: "" when there is none. A
	// page may hold fewer uploads than asked for, even none, and still
	// have a Next (a filtered listing reads a bounded number of entries).
	Next string
}

// List returns a page of q.Owner's uploads, newest first, filtered by
// state and dialect as q says. Only q.Owner's uploads are ever listed: a
// cursor says where a page starts, never whose uploads it lists, and a
// cursor given for another owner, filter or dialect is refused.
func (e *Engine) List(ctx context.Context, q ListQuery) (ListPage, error) {
	limit, states, err := checkList(q)
	if err != nil {
		return ListPage{}, err
	}
	after, err := decodeCursor(q)
	if err != nil {
		return ListPage{}, err
	}
	found, err := e.sessions.ListOwned(ctx, q.Owner, OwnedQuery{
		States: states, Dialect: q.Dialect, After: after, Limit: limit, Budget: limit * listBudget,
	})
	if err != nil {
		return ListPage{}, fmt.Errorf("list uploads: %w", err)
	}
	var page ListPage
	for _, s := range found.Sessions {
		if s.Owner != q.Owner {
			continue // never shown, whatever a store returns
		}
		e.observe(s)
		if q.State == ListOpen && s.State != StateOpen && s.State != StateCompleting {
			continue // past its expiry since the index last saw it
		}
		page.Uploads = append(page.Uploads, s)
	}
	if found.Next != nil {
		page.Next = encodeCursor(q, *found.Next)
	}
	return page, nil
}

// checkList checks a listing's limit and state filter, and returns the
// limit and the states the filter admits (none: any).
func checkList(q ListQuery) (int, []State, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	if limit < 1 || limit > MaxListLimit {
		return 0, nil, overLimit(CodeInvalid, MaxListLimit, "limit %d is out of range: a page holds from 1 to %d uploads", q.Limit, MaxListLimit)
	}
	switch q.State {
	case "":
		return limit, nil, nil
	case ListOpen:
		return limit, []State{StateOpen, StateCompleting}, nil
	case ListComplete:
		return limit, []State{StateComplete}, nil
	}
	return 0, nil, refuse(CodeInvalid, "state %q is not one of %q, %q", q.State, ListOpen, ListComplete)
}

// A cursor is, in URL-safe base64, a version byte, the position's
// creation time in Unix milliseconds (8 bytes) and upload id (16 bytes),
// and a tag that binds them to the listing: the owner, the state filter
// and the dialect. The owner is never read from a cursor (the store lists
// the caller's uploads only), so a cursor made up or taken from another
// owner can at worst start the caller's own listing elsewhere; the tag
// makes the service refuse it rather than do that.
const (
	cursorVersion = 1
	cursorTagLen  = 12
	cursorLen     = 1 + 8 + 16 + cursorTagLen
)

func encodeCursor(q ListQuery, p ListPosition) string {
	id, err := hex.DecodeString(p.ID)
	if err != nil || len(id) != 16 {
		return "" // not an id the engine gives; cannot be a position
	}
	raw := []byte{cursorVersion}
	raw = binary.BigEndian.AppendUint64(raw, uint64(p.CreatedAt.UnixMilli()))
	raw = append(raw, id...)
	raw = append(raw, cursorTag(q, raw)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor reads q.Cursor: nil for none, or the position it names if
// it was given for this listing.
func decodeCursor(q ListQuery) (*ListPosition, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	if len(q.Cursor) > maxCursorLength {
		return nil, overLimit(CodeInvalid, maxCursorLength, "cursor is %d characters, over the limit of %d: pass the next value of the previous page as it came", len(q.Cursor), maxCursorLength)
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil || len(raw) != cursorLen || raw[0] != cursorVersion {
		return nil, refuse(CodeInvalid, "cursor %q is not one this listing gave: pass the next value of the previous page as it came", q.Cursor)
	}
	body, tag := raw[:cursorLen-cursorTagLen], raw[cursorLen-cursorTagLen:]
	if !bytes.Equal(tag, cursorTag(q, body)) {
		return nil, refuse(CodeInvalid, "cursor %q was not given for this listing (another caller's, state or dialect): start again without a cursor", q.Cursor)
	}
	ms := int64(binary.BigEndian.Uint64(body[1:9]))
	return &ListPosition{CreatedAt: time.UnixMilli(ms).UTC(), ID: hex.EncodeToString(body[9:])}, nil
}

// cursorTag binds a cursor's position to its listing.
func cursorTag(q ListQuery, body []byte) []byte {
	h := sha256.New()
	for _, part := range []string{"chunkup list cursor", q.Owner, q.State, q.Dialect} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)[:cursorTagLen]
}
