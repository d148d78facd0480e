package upload

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"
)

// Errors the stores return, in the engine's terms.
var (
	// ErrNotFound means the record asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a conditional write lost: someone else got there first.
	ErrConflict = errors.New("conditional write lost")
)

// Sessions is everything the engine keeps in the session store, as the
// roles below; the DynamoDB store provides them all, with single-item
// conditional writes, so that of two racing requests never both win.
// Each method's contract is its doc comment; the contract suite
// (package storetest) holds every implementation to them.
type Sessions interface {
	SessionRecords
	Bindings
	MultipartStart
	PartLedger
	SequentialLog
	Completions
	SweepIndex
	Announcements
	Listings
}

// SessionRecords keeps the session records themselves.
type SessionRecords interface {
	// CreateSession stores a new session; ErrConflict if its id exists.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession reads a session (strongly consistent); ErrNotFound if none.
	GetSession(ctx context.Context, id string) (*Session, error)
	// DeleteSession removes a session that never received anything.
	DeleteSession(ctx context.Context, id string) error
	// Touch moves an open session's expiry (and the copy its binding
	// keeps, after it).
	Touch(ctx context.Context, id string, expires, now time.Time) error
}

// Bindings keeps owners' client identifiers and the uploads they point at
// (see Binding; "binding" and "live binding" in the package doc).
type Bindings interface {
	// LookupIdentifier returns the upload an owner's identifier points at.
	LookupIdentifier(ctx context.Context, owner, identifier string) (string, error)
	// LookupBinding returns what an owner's identifier points at: the
	// upload's id and part plan, and the upload itself while it is open
	// (Binding.Live); ErrNotFound if it points nowhere.
	LookupBinding(ctx context.Context, owner, identifier string) (Binding, error)
	// BindIdentifier points the identifier of s's owner at s, with what
	// a Binding carries of s, if it points nowhere (replaces == "") or
	// still at replaces; otherwise ErrConflict.
	BindIdentifier(ctx context.Context, s *Session, replaces string) error
}

// MultipartStart records an upload's S3 multipart upload, started under
// a lease (Lease) so that parts racing to be first start one.
type MultipartStart interface {
	// ClaimMultipart grants claim, the lease to start the session's
	// multipart upload, if none is recorded and the lease is grantable
	// to claim.Token at now (Lease.GrantableTo); otherwise ErrConflict.
	// It counts the claims taken (Session.MultipartClaims).
	ClaimMultipart(ctx context.Context, id string, claim Lease, now time.Time) error
	// ReleaseMultipart gives up a claim that token holds, after a failed
	// start, so that the next request may try at once.
	ReleaseMultipart(ctx context.Context, id, token string) error
	// SetMultipartID records the session's multipart upload unless one is
	// recorded already; it returns the one that is recorded afterwards.
	// retried says S3 may have received the request that started it more
	// than once (Session.MultipartRetried).
	SetMultipartID(ctx context.Context, id, multipartID string, retried bool) (string, error)
}

// PartLedger keeps one record per S3 part: the chunks staged for it, the
// lease of its assembler, then what S3 gave it.
type PartLedger interface {
	// RecordChunk adds a staged chunk to part k unless that chunk is
	// recorded already or the part is assembled (then ErrConflict), and
	// returns the part as the write left it. The same write stamps the
	// part with claim (Part.Claim): whichever chunk completes the part,
	// the request that recorded it holds the lease to assemble it
	// without a write of its own to take it.
	RecordChunk(ctx context.Context, id string, k int, c ChunkRecord, claim Lease) (*Part, error)
	// GetPart reads part k; a part nothing was recorded for comes back empty.
	GetPart(ctx context.Context, id string, k int) (*Part, error)
	// ListParts reads every part record of a session, in order.
	ListParts(ctx context.Context, id string) ([]*Part, error)
	// ReadProgress reads a session (strongly consistent; ErrNotFound if
	// none) and, in the same request, just after it, the records of its
	// highest-numbered parts, at most parts of them, highest first.
	ReadProgress(ctx context.Context, id string, parts int) (*Session, []*Part, error)
	// ClaimPart grants claim, the lease to assemble part k, if the part
	// is not assembled and the lease is grantable to claim.Token at now;
	// otherwise ErrConflict.
	// Callers claim only a part they have read as complete: the request
	// that completes an indexed part holds the claim from RecordChunk, and
	// this is how another takes over once that claim lapses, and how a
	// sealed part of a sequential upload is claimed.
	// It returns the part as the claim left it: the chunks to assemble, read
	// in the same write, so the claimant need not read the part again.
	ClaimPart(ctx context.Context, id string, k int, claim Lease, now time.Time) (*Part, error)
	// ReleasePart gives up a claim that token holds, after a failed
	// assembly, so that the next request may retry at once.
	ReleasePart(ctx context.Context, id string, k int, token string) error
	// RecordPart records the assembled part, if token still holds the
	// claim, and drops the records of the chunks it was made of.
	RecordPart(ctx context.Context, id string, k int, token string, done AssembledPart, now time.Time) error
	// CountPart adds one to the session's count of assembled parts
	// (Session.PartsDone), then marks part k counted (Part.Counted), and
	// returns the count. Every call counts, a retried one too: a crash
	// between the count and the mark leaves the count ahead, which the
	// engine tolerates (it checks every part before it completes).
	// Only uploads by chunk number are counted: a sequential upload's
	// offset says how far it is.
	CountPart(ctx context.Context, id string, k int) (int, error)
	// DeleteParts removes every part record of a session.
	DeleteParts(ctx context.Context, id string) error
}

// SequentialLog applies the steps of a sequential upload, each a
// conditional write on the upload's offset.
type SequentialLog interface {
	// CommitAppend applies one step of a sequential upload if the session
	// is open, at offset c.Old and partStart c.PartStart, with no seal
	// pending; otherwise ErrConflict.
	CommitAppend(ctx context.Context, id string, c Commit, now time.Time) error
	// PutSealedPart writes the record of a sealed part: its pieces and
	// CRC64NVME; ErrConflict if it exists.
	PutSealedPart(ctx context.Context, id string, k int, chunks []ChunkRecord, crc uint64) error
	// ClearSeal removes the session's seal of part k; ErrConflict if the
	// seal is not there.
	ClearSeal(ctx context.Context, id string, k int) error
}

// Completions moves an upload through completing to complete, under the
// completion lease (Session.Completion).
type Completions interface {
	// BeginComplete moves open session s (or a completing one whose
	// completion lease is grantable to claim.Token at now) to completing
	// under claim (Session.Completion); otherwise ErrConflict. Its
	// binding, which s's owner and identifier name, stops saying it is
	// open first.
	BeginComplete(ctx context.Context, s *Session, claim Lease, now time.Time) error
	// RecordComplete records the finished object, if token holds the
	// claim, and, in the same write, s.EventOwed, s.ExpiresAt (when
	// the sweep is to visit it) and s.App (the on-complete hook's answer).
	RecordComplete(ctx context.Context, s *Session) error
	// ReleaseComplete lets the completion claim that token holds lapse
	// at once, after a failed completion, so that the next request
	// takes the completion over without waiting out the claim; the
	// session stays completing. ErrConflict if token does not hold it.
	ReleaseComplete(ctx context.Context, id, token string) error
}

// SweepIndex ends uploads that are not completed and keeps the index of
// sessions the sweep must visit.
type SweepIndex interface {
	// EndSession moves session s, if it is in one of states from, to state
	// to (aborted or expired), keeping it as a tombstone; ErrConflict if
	// its state is no longer one of from. Its binding, which s's owner and
	// identifier name, stops saying it is open first. If s.EventOwed, the
	// same write marks the session as owing its event.
	EndSession(ctx context.Context, s *Session, from []State, to State, now time.Time) error
	// Forget drops a finished or ended session from the sweep's index, lets
	// DynamoDB's TTL remove it after ttl, and frees its client identifier.
	// The identifier is freed first, so that a Forget that fails leaves the
	// session in the index, for the next sweep to forget again, or nothing
	// bound to it.
	Forget(ctx context.Context, s *Session, ttl time.Time) error
	// ListExpired returns up to limit ids of sessions still in the sweep's
	// index (every session until Forget drops it: open, completing,
	// complete, or ended but not yet released) whose expiry is before now.
	ListExpired(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// Announcements keeps the mark of an upload whose end's event is owed
// (Session.EventOwed), set by the write that ends it (RecordComplete,
// EndSession).
type Announcements interface {
	// SettleEvent records that the event session id owed is published:
	// it drops the mark and, unless due is zero, makes the session due
	// for the sweep at due (as its ExpiresAt). ErrConflict if no event is
	// owed.
	SettleEvent(ctx context.Context, id string, due time.Time) error
}

// Listings finds an owner's uploads, newest first, through an index by
// owner (never a scan of the store), a bounded number of entries at a
// time.
type Listings interface {
	// ListOwned returns owner's sessions, newest first (by CreatedAt; those
	// created in the same millisecond in an order of the store's own, the
	// same on every call), in one of q.States (any, if empty) and of
	// q.Dialect (any, if empty), from just after q.After (from the newest,
	// if nil). It returns at most q.Limit sessions and reads at most
	// q.Budget entries of the index (at least q.Limit), so a page may hold
	// fewer than q.Limit sessions, or none, and still have a Next. Next is
	// where the following page starts; nil when the index holds nothing
	// further. A session is shown as the store holds it, in the state the
	// filter admitted it in. No other owner's session is ever returned,
	// whatever q.After says.
	ListOwned(ctx context.Context, owner string, q OwnedQuery) (OwnedPage, error)
}

// OwnedQuery is one page's worth of an owner's uploads to find
// (Listings.ListOwned).
type OwnedQuery struct {
	States  []State
	Dialect string
	After   *ListPosition
	Limit   int
	Budget  int
}

// Admits reports whether the query's filter keeps s: one of its States
// (any, when it names none) and its Dialect (any, when empty). A store
// that cannot filter all of it where it reads applies it to what it read.
func (q OwnedQuery) Admits(s *Session) bool {
	return (len(q.States) == 0 || slices.Contains(q.States, s.State)) && (q.Dialect == "" || q.Dialect == s.Dialect)
}

// OwnedPage is what one page of a listing found.
type OwnedPage struct {
	Sessions []*Session
	Next     *ListPosition
}

// ListPosition is a place in an owner's listing: just after the session
// ID, created at CreatedAt (in milliseconds).
type ListPosition struct {
	CreatedAt time.Time
	ID        string
}

// Binding is what an owner's identifier points at: the upload's id and,
// for an indexed upload, its part plan, which never changes, so that a
// request can judge a chunk against the upload before it reads the
// session. The binding of a sequential upload, and one written before
// bindings carried the plan, has a zero Plan.
type Binding struct {
	ID   string
	Plan Plan
	// Live, if not nil, is the indexed upload as its binding describes it
	// while it is open: what never changes, its multipart upload if
	// recorded there, and an expiry no later than the session's. Only the
	// binding of a session with LiveBinding set has it, and loses it
	// before the session leaves the open state (Completions.BeginComplete
	// and EndSession see to it), so a binding read with Live was read
	// while the upload was open.
	Live *Session
}

// AssembledPart is what S3 gave a part, and the chunks it was made of.
type AssembledPart struct {
	ETag   string
	CRC    uint64
	Size   int64
	Chunks []ChunkRecord
}

// CompletedPart is a part as CompleteMultipartUpload lists it.
type CompletedPart struct {
	Number int // S3 part number, from 1
	ETag   string
	CRC    uint64
}

// UploadedPart is a part of a multipart upload as S3 lists it.
type UploadedPart struct {
	Number int // S3 part number, from 1
	ETag   string
	Size   int64
	CRC64  string // its CRC64NVME in base64, as S3 reports it; empty if S3 has none
}

// Object is a finished object in S3.
type Object struct {
	Key   string
	Size  int64
	ETag  string
	CRC64 string
}

// Blobs is everything the engine keeps in the bucket, as the roles
// below; the S3 store provides them.
type Blobs interface {
	Staging
	Objects
	Presigner
	Downloads
}

// Downloads hands out links to finished objects.
type Downloads interface {
	// PresignGet returns a URL that GETs the object at key, answered with
	// the given Content-Disposition, until ttl has passed.
	PresignGet(ctx context.Context, key, disposition string, ttl time.Duration) (string, error)
}

// Staging keeps the chunks (and pieces) of uploads until they are
// assembled into parts.
type Staging interface {
	// PutStaged stores one chunk's bytes under key.
	PutStaged(ctx context.Context, key string, data []byte, crc uint64) error
	// OpenStaged reads a staged chunk.
	OpenStaged(ctx context.Context, key string) (io.ReadCloser, error)
	// DeleteStaged removes staged chunks; missing keys are not an error.
	DeleteStaged(ctx context.Context, keys []string) error
	// ListStaged returns the staged keys under prefix.
	ListStaged(ctx context.Context, prefix string) ([]string, error)
}

// Objects builds the final objects: multipart uploads and their parts,
// and the finished objects themselves.
type Objects interface {
	// CreateMultipart starts the final object's multipart upload. retried
	// reports that the request was sent more than once, so an earlier
	// attempt may have started another upload whose answer was lost.
	CreateMultipart(ctx context.Context, key, contentType string, meta map[string]string) (id string, retried bool, err error)
	// UploadPart uploads part number (from 1) of size bytes from body,
	// whose CRC64NVME is crc.
	UploadPart(ctx context.Context, key, multipartID string, number int, body io.Reader, size int64, crc uint64) (string, error)
	// CopyPart has S3 copy the whole object srcKey into part number
	// (from 1) of a multipart upload, and returns the part's ETag.
	CopyPart(ctx context.Context, key, multipartID string, number int, srcKey string) (string, error)
	// CompleteMultipart assembles the parts into the final object and has
	// S3 verify its full-object CRC64NVME against crc.
	CompleteMultipart(ctx context.Context, key, multipartID string, parts []CompletedPart, crc uint64) (Object, error)
	// AbortMultipart discards a multipart upload; one already gone is not
	// an error.
	AbortMultipart(ctx context.Context, key, multipartID string) error
	// AbortAllMultipart discards every multipart upload still open for
	// key, including one whose CreateMultipartUpload answer was lost. It
	// lists them (a billed request), so it is for sessions that
	// MayHaveStrayMultipart.
	AbortAllMultipart(ctx context.Context, key string) error
	// ListUploadedParts lists, by number, the parts S3 holds of multipart
	// upload multipartID of key: those a client sent to S3 itself (a
	// direct upload). ErrNotFound if the multipart upload is gone.
	ListUploadedParts(ctx context.Context, key, multipartID string) ([]UploadedPart, error)
	// PutObject writes a small final object whole (used for empty files).
	PutObject(ctx context.Context, key, contentType string, meta map[string]string, data []byte, crc uint64) (Object, error)
	// HeadObject describes a finished object; ErrNotFound if absent.
	HeadObject(ctx context.Context, key string) (Object, error)
	// OpenObject reads a finished object.
	OpenObject(ctx context.Context, key string) (io.ReadCloser, error)
	// DeleteObject removes a finished object; one already gone is not an
	// error.
	DeleteObject(ctx context.Context, key string) error
}

// Presigner signs requests that a client sends to the bucket itself, so
// that a file's bytes go straight to S3 (direct uploads). Each signature
// is valid for ttl; it covers one key and, for a part, one multipart
// upload and one part number, and nothing else.
type Presigner interface {
	// PresignPart signs a PUT of part number (from 1) of multipart upload
	// multipartID of key, as of at. With sum (a CRC64NVME, the multipart
	// upload's algorithm), the signature also covers the part's checksum
	// header, which the client must send (Presigned.Header), so that S3
	// refuses a part with other bytes.
	PresignPart(ctx context.Context, key, multipartID string, number int, sum *Checksum, at time.Time, ttl time.Duration) (Presigned, error)
	// PresignPost signs an S3 POST policy, as of the time of day: a form
	// upload to key of at most maxSize bytes, with Content-Type
	// contentType (any if empty) and the object metadata meta (names
	// without x-amz-meta-), each a field the form must carry as it is.
	PresignPost(ctx context.Context, key, contentType string, meta map[string]string, maxSize int64, ttl time.Duration) (PostForm, error)
	// Locate names the bucket and the URL of the object key there
	// (unsigned), as a client that sent it straight to S3 is told.
	Locate(ctx context.Context, key string) (bucket, url string, err error)
}

// Presigned is a signed request a client sends to S3 as it is.
type Presigned struct {
	Method   string
	URL      string
	Header   map[string]string // headers the client must send, as signed
	Expires  time.Time
	ValidFor time.Duration // from its signing to Expires
}

// PostForm is a signed S3 POST policy: the client posts a multipart form
// of Fields, then the file as the field "file", to URL.
type PostForm struct {
	URL      string
	Fields   map[string]string
	Expires  time.Time
	ValidFor time.Duration // from its signing to Expires
}
