package upload

import "time"

// Session is one upload: who owns it, what file it builds, how that file
// is cut into chunks and parts, and how far it has come.
type Session struct {
	ID          string
	Owner       string
	Identifier  string // the client's own name for the upload (Resumable.js), if any
	Name        string // the file name as the client sent it
	ContentType string
	Key         string // the final object's key
	Dialect     string // the client family that started it ("native", "resumable", …)
	Plan

	AutoComplete bool   // finish as soon as the last chunk is in
	Verify       string // whole-file checksum to check at completion, "<alg>=<base64>"
	Kind         Kind
	// Metadata is what the client said of the file beyond its name and
	// type (tus's Upload-Metadata, the native API's metadata): kept with
	// the upload, put on the final object and into its events (see
	// CheckMetadata).
	Metadata map[string]string
	// Partial marks a sequential upload that is a piece of a file, for a
	// final upload to join (tus's concatenation); Sources lists, in
	// order, the partial uploads a final upload joins.
	Partial bool
	Sources []string

	// LiveBinding says that the identifier's record keeps, while the
	// upload is open, what a chunk needs of it (Binding.Live), for
	// requests that take the upload from there rather than read the
	// session: those of the uploads Open finds. The stores keep that
	// copy up with the session, and withdraw it before the session
	// leaves the open state, only when this is set.
	LiveBinding bool

	// Sequential uploads only: bytes arrive at the current offset.
	Stream

	// Direct uploads only: the parts the client sends to S3 itself.
	Direct DirectPlan

	State       State
	MultipartID string // S3 multipart upload, created with the first part
	// Starting the multipart upload: how many requests have claimed it
	// (ClaimMultipart), and whether the one recorded was started by a
	// request that S3 may have received more than once.
	MultipartClaims  int
	MultipartRetried bool
	PartsDone        int // parts assembled so far (may briefly overcount after a crash)

	CreatedAt   time.Time
	UpdatedAt   time.Time
	ExpiresAt   time.Time
	CompletedAt time.Time

	// Completion is the lease of the request completing the upload,
	// taken as it moves to completing.
	Completion Lease

	// EventOwed says that the upload has ended (complete, aborted or
	// expired) and the event that tells the application so is not yet
	// known to be published (see events.go).
	EventOwed bool

	// The finished object, once complete.
	ETag   string
	CRC64  string // base64 CRC64NVME of the whole object, as S3 reports it
	Result string // what the finished object is called, for status answers
	// App is the on-complete hook's answer, compact JSON, recorded with
	// the completion (nil if there is no hook, or it answered nothing or
	// failed); dialects return it to the client (see hooks.go).
	App []byte
}

// MayHaveStrayMultipart reports whether S3 may hold a multipart upload of
// the session that it has not recorded: one started by a request whose
// answer was lost (a retried CreateMultipartUpload, a claim that lapsed or
// was never followed by a recorded id). Only then does cleaning up need to
// list the multipart uploads in progress.
func (s *Session) MayHaveStrayMultipart() bool {
	return s.MultipartRetried || s.MultipartClaims > 1 || (s.MultipartClaims > 0 && s.MultipartID == "")
}

// Kind is how an upload's chunks arrive.
type Kind string

// The kinds of upload.
const (
	// Indexed chunks carry a number and arrive in any order.
	Indexed Kind = ""
	// Sequential chunks carry a byte offset that must be the upload's
	// current one.
	Sequential Kind = "sequential"
	// Direct uploads send their bytes straight to S3, with URLs that
	// chunkup presigns; chunkup lists, checks and completes what S3 holds.
	Direct Kind = "direct"
)

// SizeDeferred is the Size of a sequential upload whose client will say
// how long the file is later (tus's creation-defer-length).
const SizeDeferred = -1

// DirectPlan is what a direct upload's client was told at its start.
type DirectPlan struct {
	// Declared says the client stated the file's size (Session.Size) at
	// the start. Uppy does not: the size is then what S3 holds at
	// completion, and Session.Size is 0 until then.
	Declared bool
	// PartSize is the size of every part but the last, when Declared;
	// otherwise the client's own (0: not stated).
	PartSize int64
	// MaxPart is the highest part number a URL is signed for: what the
	// declared size needs, or S3's limit.
	MaxPart int
	// Form says the file goes to S3 in one POST form (a POST policy),
	// not as a multipart upload: the upload has no parts, and is complete
	// once S3 holds its object.
	Form bool
}

// Stream is the state of a sequential upload: how far it has come, the
// staged pieces not yet in a part, and the running whole-file hashes.
type Stream struct {
	PartSize  int64             // bytes that make a part (the last may be fewer)
	Offset    int64             // bytes received
	PartStart int64             // offset where the pending pieces begin
	NextPart  int               // the part the pending pieces will become
	Pending   []string          // staged keys of the pieces since PartStart, in order
	PartCRC   uint64            // CRC64NVME of the pending pieces together
	Hashes    map[string][]byte // running hash states by algorithm (md5, sha1, sha256)
	Digests   map[string]string // hex digests of the whole file, once complete
	Seal      *Seal             // pieces cut off into a part whose record is not yet written
}

// Seal is a run of staged pieces cut off into part number Part (from 0).
type Seal struct {
	Part  int
	Start int64 // offset of the first piece
	End   int64 // offset after the last piece
	Keys  []string
	CRC   uint64
}

// ChunkRecord is a chunk that has been staged and recorded in its part.
type ChunkRecord struct {
	Index int
	Key   string // staging object
	Size  int64
	CRC   uint64 // CRC64NVME of the chunk's bytes
}

// Part is the record of one S3 part: the chunks staged for it until it is
// assembled, then the ETag and checksum S3 gave it.
type Part struct {
	Index  int
	Chunks map[int]ChunkRecord
	// Claim is the lease of the request assembling the part.
	Claim      Lease
	ETag       string
	CRC        uint64
	Size       int64
	Counted    bool
	FinishedAt time.Time
}

// Assembled reports whether the part has been uploaded to S3.
func (p *Part) Assembled() bool { return p.ETag != "" }

// Range is a run of chunk indexes [First, Last], both included.
type Range struct {
	First int `json:"first"`
	Last  int `json:"last"`
}
