package memstore

import (
	"context"
	"slices"
	"strings"

	"chunkup/internal/upload"
)

// ListOwned finds owner's sessions as the DynamoDB store does through its
// index by owner: newest first, sessions of one millisecond by id,
// highest first, each entry of the index that is read counted against
// q.Budget whether or not the filter keeps it.
func (m *Sessions) ListOwned(ctx context.Context, owner string, q upload.OwnedQuery) (upload.OwnedPage, error) {
	var page upload.OwnedPage
	err := m.run(ctx, &m.mu, request{op: "ListOwned", main: func() error {
		page = upload.OwnedPage{}
		var owned []*sessionRec
		for _, rec := range m.sessions {
			if rec.s.Owner == owner {
				owned = append(owned, rec)
			}
		}
		slices.SortFunc(owned, func(a, b *sessionRec) int { return comparePosition(position(b), position(a)) })
		start := 0
		if q.After != nil {
			after := upload.ListPosition{CreatedAt: q.After.CreatedAt, ID: q.After.ID}
			start, _ = slices.BinarySearchFunc(owned, after, func(rec *sessionRec, p upload.ListPosition) int {
				return comparePosition(p, position(rec))
			})
			if start < len(owned) && comparePosition(position(owned[start]), after) == 0 {
				start++
			}
		}
		budget := max(q.Budget, q.Limit, 1)
		for i := start; i < len(owned); i++ {
			if i-start >= budget || len(page.Sessions) >= max(q.Limit, 1) {
				p := position(owned[i-1])
				page.Next = &p
				break
			}
			s := &owned[i].s
			if q.Admits(s) {
				page.Sessions = append(page.Sessions, owned[i].session())
			}
		}
		return nil
	}})
	return page, wrap("list owned sessions", err)
}

// position is where a session stands in its owner's listing.
func position(rec *sessionRec) upload.ListPosition {
	return upload.ListPosition{CreatedAt: timeOf(msOf(rec.s.CreatedAt)), ID: rec.s.ID}
}

// comparePosition orders positions oldest first: by creation, then id.
func comparePosition(a, b upload.ListPosition) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}
