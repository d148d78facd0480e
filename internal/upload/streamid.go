package upload

import (
	"context"
)

// OpenStream serves clients that send no upload id and name a file only
// by what they know of it (jQuery-File-Upload: its name). It returns the
// owner's sequential upload that req.Identifier points at when keep
// accepts it; otherwise it starts a new upload from req and points the
// identifier at that one. Racing first requests start one upload: the
// losers answer with the winner's. An identifier that pointed at another
// kind of upload, or at one keep refuses, is taken over.
func (e *Engine) OpenStream(ctx context.Context, req NewStream, keep func(*Session) bool) (*Session, error) {
	if req.Identifier == "" {
		return nil, refuse(CodeInvalid, "an identifier is required to open an upload by it")
	}
	for attempt := 0; attempt < 5; attempt++ {
		old, _, err := e.byIdentifier(ctx, req.Owner, req.Identifier, false)
		if err != nil {
			return nil, err
		}
		if old != nil && old.Kind == Sequential && keep(old) {
			return old, nil
		}
		replaces := ""
		if old != nil {
			replaces = old.ID
		}
		s, err := e.CreateStream(ctx, req)
		if err != nil {
			return nil, err
		}
		won, err := e.bind(ctx, s, replaces)
		if err != nil {
			return nil, err
		}
		if won {
			return s, nil
		}
	}
	return nil, refuse(CodeBusy, "identifier %q is changing hands too fast; retry", req.Identifier)
}

// LookupStream returns the owner's sequential upload that identifier
// points at, with its expiry settled, or nil if there is none. It writes
// nothing, so a read-only function can answer "how far has it come?".
func (e *Engine) LookupStream(ctx context.Context, owner, identifier string) (*Session, error) {
	s, _, err := e.byIdentifier(ctx, owner, identifier, false)
	if err != nil || s == nil || s.Kind != Sequential {
		return nil, err
	}
	return s, nil
}
