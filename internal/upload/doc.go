// Package upload is chunkup's engine: upload sessions, the chunk-to-part
// plan, staging, exactly-once part assembly, completion, abort and
// expiry. It knows no HTTP: dialects translate their clients' requests
// into calls on an Engine, and its results and errors (Error, with a
// Code) back into their answers. It keeps its state in two stores, whose
// ports are in ports.go: Sessions (DynamoDB in production) and Blobs (S3).
//
// # Words
//
//   - upload: one file on its way to S3, from its first request to its
//     final object.
//   - session: the record of an upload in the session store (Session):
//     who owns it, its plan, its state, how far it has come.
//   - chunk: what one client request carries. Indexed chunks carry a
//     number (Resumable.js, Flow.js, MultipleUpload, the native API);
//     sequential chunks carry a byte offset (django, drf,
//     jQuery-File-Upload).
//   - piece: a sequential chunk as staged: an S3 object under the
//     upload's staging prefix, named by its offset.
//   - part: one S3 multipart part, made of a fixed run of chunks (or of
//     the pieces sealed into it); Part is its record in the ledger.
//   - plan: how an indexed upload's chunks map to parts (Plan), fixed at
//     its start so that any request can tell which part a chunk joins.
//   - binding: an owner's client identifier pointing at an upload, so
//     that many first chunks of one file find, or create, one session.
//   - live binding: a binding that also carries what a chunk needs of an
//     open upload (Binding.Live), so that a chunk's request reads one
//     record instead of two. It is withdrawn before the session leaves
//     open, so a binding read live was read while the upload was open.
//   - lease: the right of one request to do one piece of work (assemble
//     a part, complete an upload, start the multipart upload) until it
//     lapses (Lease).
//   - seal: a run of a sequential upload's pending pieces cut off into a
//     part, recorded in the session until the part's record is written
//     (Seal).
//   - whole: an upload that completes by itself (AutoComplete) with every
//     part counted but not yet complete: it owes a completion, which the
//     next request that reaches it makes.
//   - direct upload: one whose client sends its bytes straight to S3,
//     part by part with URLs chunkup presigns (or in one POST form);
//     its parts are S3's own, listed from S3 at completion, and have no
//     records in the ledger.
//   - sweep: the scheduled pass that ends uploads past their expiry and
//     discards what they stored (Engine.Sweep).
//   - tombstone: the session of an ended upload, kept in its end state
//     until DynamoDB's TTL removes it, so that late requests are answered
//     as the upload ended.
//
// States and their transitions are written down with State; leases with
// Lease.
//
// # Stages
//
// One file per stage of an upload's life; each opens with a comment that
// names its entry points. Calls go one way, from a stage to the stages it
// drives, never back:
//
//	open.go        opening: Create, Get, Open, OpenCounted (bindings)
//	status.go      reading where an upload stands: Status, FindChunk
//	list.go        an owner's uploads, newest first, a page at a time: List
//	intake.go      indexed chunk intake: PutChunk, AddChunk          → assembly, completion
//	sequential.go  sequential intake: CreateStream, Append, CompleteStream → assembly, completion
//	complete.go    completion, explicit and automatic: Complete       → assembly, multipart, discard
//	lifecycle.go   abort, expiry and the sweep: Abort, Sweep          → completion, discard
//	direct.go      direct uploads, straight to S3: CreateDirect, SignPart, DirectParts,
//	               CompleteDirect, SignForm, SettleForm               → completion, listed parts
//	assemble.go    part assembly under the part's lease               → multipart, partbody
//	multipart.go   starting the S3 multipart upload under its lease
//	discard.go     deleting what an ended upload stored
//	ledger.go      reading part records; the CRC64NVME fold
//	listed.go      the parts S3 lists of a direct upload, checked as the file
//
// The part bodies that assembly uploads are read by package partbody.
package upload
