package drf

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
	"chunkup/internal/wire/contentrange"
)

// chunk is the piece of the file a PUT carries and where it goes.
type chunk struct {
	data []byte
	rng  contentrange.Range
}

// create starts an upload of Content-Range's TOTAL bytes and appends the
// first chunk. The original takes any START on this request and records
// the chunk's length as the offset; chunkup requires 0, so that what it
// stores is the start of the file.
func (a *API) create(w http.ResponseWriter, r *http.Request) (*upload.Session, error) {
	f, c, err := a.readChunk(w, r)
	if err != nil {
		return nil, err
	}
	name, err := filename(f)
	if err != nil {
		return nil, err
	}
	if c.rng.Start != 0 {
		return nil, offsetMismatch(0, c.rng.Start)
	}
	ctx := r.Context()
	s, err := a.engine.CreateStream(ctx, upload.NewStream{
		Owner: a.owner(r), Name: name, ContentType: f.fileType, Size: c.rng.Total, Hashes: Algorithms(),
	})
	if err != nil {
		return nil, err
	}
	next, err := a.engine.Append(ctx, s, 0, c.data)
	if err != nil {
		a.drop(ctx, s, err)
		return nil, reply.ForUpload(s.ID, err)
	}
	return next, nil
}

// append adds a chunk at the upload's offset.
func (a *API) append(w http.ResponseWriter, r *http.Request) (*upload.Session, error) {
	_, c, err := a.readChunk(w, r)
	if err != nil {
		return nil, err
	}
	s, err := a.open(r)
	if err != nil {
		return nil, err
	}
	if c.rng.Total != s.Size {
		return nil, refusal(http.StatusBadRequest, fmt.Sprintf(
			"Reported total (%d bytes) does not match the size of the upload (%d bytes)", c.rng.Total, s.Size))
	}
	next, err := a.engine.Append(r.Context(), s, c.rng.Start, c.data)
	if e, ok := upload.AsError(err); ok && e.Code == upload.CodeOffset {
		return nil, offsetMismatch(e.Offset, c.rng.Start)
	}
	return next, err
}

// complete checks the whole file's checksum and finishes the upload.
func (a *API) complete(w http.ResponseWriter, r *http.Request) (*upload.Session, error) {
	f, err := a.readForm(w, r, false)
	if err != nil {
		return nil, err
	}
	want, err := checksums(f)
	if err != nil {
		return nil, err
	}
	s, err := a.open(r)
	if err != nil {
		return nil, err
	}
	return a.engine.CompleteStream(r.Context(), s, want)
}

// open reads the upload the path names, which must take more.
func (a *API) open(r *http.Request) (*upload.Session, error) {
	s, err := a.engine.Get(r.Context(), a.owner(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := usable(s); err != nil {
		return nil, err
	}
	return s, nil
}

// whole stores a file sent in one request as an upload of one chunk and
// finishes it. Nothing is left behind when it is refused.
func (a *API) whole(w http.ResponseWriter, r *http.Request) (*upload.Session, error) {
	f, err := a.readForm(w, r, true)
	if err != nil {
		return nil, err
	}
	if err := a.wholeFile(f); err != nil {
		return nil, err
	}
	name, err := filename(f)
	if err != nil {
		return nil, err
	}
	want, err := checksums(f)
	if err != nil {
		return nil, err
	}
	return a.store(r.Context(), upload.NewStream{
		Owner: a.owner(r), Name: name, ContentType: f.fileType, Size: int64(len(f.file)), Hashes: algorithmsOf(want),
	}, f.file, want)
}

// store creates, fills and completes an upload of data.
func (a *API) store(ctx context.Context, req upload.NewStream, data []byte, want map[string]string) (*upload.Session, error) {
	s, err := a.engine.CreateStream(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		next, err := a.engine.Append(ctx, s, 0, data)
		if err != nil {
			a.drop(ctx, s, err)
			return nil, reply.ForUpload(s.ID, err)
		}
		s = next
	}
	done, err := a.engine.CompleteStream(ctx, s, want)
	if err != nil {
		a.drop(ctx, s, err)
		return nil, reply.ForUpload(s.ID, err)
	}
	return done, nil
}

// drop aborts an upload this request created and could not go on with:
// its client never learnt the id, so nobody could resume it.
func (a *API) drop(ctx context.Context, s *upload.Session, cause error) {
	if err := a.engine.Abort(ctx, s.Owner, s.ID); err != nil {
		a.reply.Logger(ctx, s.ID).WarnContext(ctx, "drop refused upload", "cause", cause, "err", err)
	}
}

// usable refuses an upload that takes nothing more, as the original
// does: expired → 410, complete → 400.
func usable(s *upload.Session) error {
	switch s.State {
	case upload.StateOpen:
		return nil
	case upload.StateExpired, upload.StateAborted:
		return refusal(http.StatusGone, "Upload has expired")
	default:
		return refusal(http.StatusBadRequest, `Upload has already been marked as "complete"`)
	}
}

// filename is the form's file name; it is required and may not be blank,
// as the original's serializer has it.
func filename(f *form) (string, error) {
	v, ok := f.fields["filename"]
	if !ok {
		return "", fieldError("filename", "This field is required.")
	}
	if v = strings.TrimSpace(v); v == "" {
		return "", fieldError("filename", "This field may not be blank.")
	}
	return v, nil
}

// checksums are the whole-file checksums the form carries, by algorithm.
// At least one is required.
func checksums(f *form) (map[string]string, error) {
	want := map[string]string{}
	for _, alg := range Algorithms() {
		if v := strings.TrimSpace(f.fields[alg]); v != "" {
			want[alg] = v
		}
	}
	if len(want) == 0 {
		return nil, refusal(http.StatusBadRequest, fmt.Sprintf("Checksum of type '%s' is required", defaultAlgorithm))
	}
	return want, nil
}

func algorithmsOf(want map[string]string) []string {
	var out []string
	for _, alg := range Algorithms() {
		if _, ok := want[alg]; ok {
			out = append(out, alg)
		}
	}
	return out
}
