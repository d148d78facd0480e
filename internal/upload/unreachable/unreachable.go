// Package unreachable provides stores for an upload engine that can never
// be reached: every call is recorded and fails. Fuzz tests of the dialects
// run on them to prove parsing alone (the integration tests prove the real
// stores): what a parser refuses must never reach a store.
package unreachable

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"chunkup/internal/upload"
)

// Err is what every call on the stores returns.
var Err = errors.New("unreachable: the stores cannot be reached")

// Stores stands in for both of an engine's stores.
type Stores struct {
	Calls   []string          // every method called, in order
	Idents  []string          // identifiers looked up
	IDs     []string          // session ids read
	Created []*upload.Session // sessions asked to be created
	Keys    []string          // object keys of multipart uploads and forms asked to be started
}

// New returns an engine with the given limits on stores that fail every
// call, and the stores.
func New(limits upload.Limits) (*upload.Engine, *Stores) {
	u := &Stores{}
	opt := upload.DefaultOptions()
	opt.Limits = limits
	opt.Logger = slog.New(slog.DiscardHandler)
	return upload.New(u, u, opt), u
}

func (u *Stores) hit(call string) error {
	u.Calls = append(u.Calls, call)
	return Err
}

var (
	_ upload.Sessions = (*Stores)(nil)
	_ upload.Blobs    = (*Stores)(nil)
)

// The methods of upload.Sessions.

func (u *Stores) CreateSession(_ context.Context, s *upload.Session) error {
	u.Created = append(u.Created, s)
	return u.hit("CreateSession")
}
func (u *Stores) GetSession(_ context.Context, id string) (*upload.Session, error) {
	u.IDs = append(u.IDs, id)
	return nil, u.hit("GetSession")
}
func (u *Stores) LookupIdentifier(_ context.Context, _, ident string) (string, error) {
	u.Idents = append(u.Idents, ident)
	return "", u.hit("LookupIdentifier")
}
func (u *Stores) LookupBinding(_ context.Context, _, ident string) (upload.Binding, error) {
	u.Idents = append(u.Idents, ident)
	return upload.Binding{}, u.hit("LookupBinding")
}
func (u *Stores) DeleteSession(context.Context, string) error { return u.hit("DeleteSession") }
func (u *Stores) BindIdentifier(context.Context, *upload.Session, string) error {
	return u.hit("BindIdentifier")
}
func (u *Stores) ClaimMultipart(context.Context, string, upload.Lease, time.Time) error {
	return u.hit("ClaimMultipart")
}
func (u *Stores) ReleaseMultipart(context.Context, string, string) error {
	return u.hit("ReleaseMultipart")
}
func (u *Stores) SetMultipartID(context.Context, string, string, bool) (string, error) {
	return "", u.hit("SetMultipartID")
}
func (u *Stores) Touch(context.Context, string, time.Time, time.Time) error { return u.hit("Touch") }
func (u *Stores) RecordChunk(context.Context, string, int, upload.ChunkRecord, upload.Lease) (*upload.Part, error) {
	return nil, u.hit("RecordChunk")
}
func (u *Stores) GetPart(context.Context, string, int) (*upload.Part, error) {
	return nil, u.hit("GetPart")
}
func (u *Stores) ListParts(context.Context, string) ([]*upload.Part, error) {
	return nil, u.hit("ListParts")
}
func (u *Stores) ReadProgress(_ context.Context, id string, _ int) (*upload.Session, []*upload.Part, error) {
	u.IDs = append(u.IDs, id)
	return nil, nil, u.hit("ReadProgress")
}
func (u *Stores) ClaimPart(context.Context, string, int, upload.Lease, time.Time) (*upload.Part, error) {
	return nil, u.hit("ClaimPart")
}
func (u *Stores) ReleasePart(context.Context, string, int, string) error {
	return u.hit("ReleasePart")
}
func (u *Stores) RecordPart(context.Context, string, int, string, upload.AssembledPart, time.Time) error {
	return u.hit("RecordPart")
}
func (u *Stores) CountPart(context.Context, string, int) (int, error) {
	return 0, u.hit("CountPart")
}
func (u *Stores) DeleteParts(context.Context, string) error { return u.hit("DeleteParts") }
func (u *Stores) CommitAppend(context.Context, string, upload.Commit, time.Time) error {
	return u.hit("CommitAppend")
}
func (u *Stores) PutSealedPart(context.Context, string, int, []upload.ChunkRecord, uint64) error {
	return u.hit("PutSealedPart")
}
func (u *Stores) ClearSeal(context.Context, string, int) error { return u.hit("ClearSeal") }
func (u *Stores) BeginComplete(context.Context, *upload.Session, upload.Lease, time.Time) error {
	return u.hit("BeginComplete")
}
func (u *Stores) RecordComplete(context.Context, *upload.Session) error {
	return u.hit("RecordComplete")
}
func (u *Stores) ReleaseComplete(context.Context, string, string) error {
	return u.hit("ReleaseComplete")
}
func (u *Stores) SettleEvent(context.Context, string, time.Time) error {
	return u.hit("SettleEvent")
}
func (u *Stores) EndSession(context.Context, *upload.Session, []upload.State, upload.State, time.Time) error {
	return u.hit("EndSession")
}
func (u *Stores) Forget(context.Context, *upload.Session, time.Time) error { return u.hit("Forget") }
func (u *Stores) ListExpired(context.Context, time.Time, int) ([]string, error) {
	return nil, u.hit("ListExpired")
}

// The methods of upload.Blobs.

func (u *Stores) PutStaged(context.Context, string, []byte, uint64) error {
	return u.hit("PutStaged")
}
func (u *Stores) OpenStaged(context.Context, string) (io.ReadCloser, error) {
	return nil, u.hit("OpenStaged")
}
func (u *Stores) DeleteStaged(context.Context, []string) error { return u.hit("DeleteStaged") }
func (u *Stores) ListStaged(context.Context, string) ([]string, error) {
	return nil, u.hit("ListStaged")
}
func (u *Stores) CreateMultipart(_ context.Context, key, _ string, _ map[string]string) (string, bool, error) {
	u.Keys = append(u.Keys, key)
	return "", false, u.hit("CreateMultipart")
}
func (u *Stores) UploadPart(context.Context, string, string, int, io.Reader, int64, uint64) (string, error) {
	return "", u.hit("UploadPart")
}
func (u *Stores) CompleteMultipart(context.Context, string, string, []upload.CompletedPart, uint64) (upload.Object, error) {
	return upload.Object{}, u.hit("CompleteMultipart")
}
func (u *Stores) AbortMultipart(context.Context, string, string) error {
	return u.hit("AbortMultipart")
}
func (u *Stores) AbortAllMultipart(context.Context, string) error {
	return u.hit("AbortAllMultipart")
}
func (u *Stores) PutObject(context.Context, string, string, map[string]string, []byte, uint64) (upload.Object, error) {
	return upload.Object{}, u.hit("PutObject")
}
func (u *Stores) HeadObject(context.Context, string) (upload.Object, error) {
	return upload.Object{}, u.hit("HeadObject")
}
func (u *Stores) PresignGet(context.Context, string, string, time.Duration) (string, error) {
	return "", u.hit("PresignGet")
}
func (u *Stores) OpenObject(context.Context, string) (io.ReadCloser, error) {
	return nil, u.hit("OpenObject")
}
func (u *Stores) DeleteObject(context.Context, string) error { return u.hit("DeleteObject") }

func (u *Stores) CopyPart(context.Context, string, string, int, string) (string, error) {
	return "", u.hit("CopyPart")
}
func (u *Stores) ListUploadedParts(context.Context, string, string) ([]upload.UploadedPart, error) {
	return nil, u.hit("ListUploadedParts")
}
func (u *Stores) PresignPart(context.Context, string, string, int, *upload.Checksum, time.Time, time.Duration) (upload.Presigned, error) {
	return upload.Presigned{}, u.hit("PresignPart")
}
func (u *Stores) PresignPost(_ context.Context, key, _ string, _ map[string]string, _ int64, _ time.Duration) (upload.PostForm, error) {
	u.Keys = append(u.Keys, key)
	return upload.PostForm{}, u.hit("PresignPost")
}
func (u *Stores) Locate(context.Context, string) (string, string, error) {
	return "", "", u.hit("Locate")
}
