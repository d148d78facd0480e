package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The application's hooks: two optional synchronous calls to functions
// the deployer names (Lambda functions in production), the counterparts
// of tusd's pre-create and post-finish hooks and of the seeds'
// on_completion.
//
//   - pre-create is asked before any upload is created, whatever the
//     dialect, and before anything is stored: it may refuse the upload
//     (its status and message reach the client, in its dialect's error
//     shape), set the prefix of the object's key, and add metadata.
//   - on-complete is told once the object is finished in S3, before the
//     upload is recorded complete; its JSON answer is recorded with the
//     completion, in the same write, and reaches the client in the
//     dialect's completion answer (Session.App). A completion sent again
//     after a lost answer finds the upload complete and answers the
//     recorded answer, without a second call. A crash between the call
//     and that write makes the retried completion call the hook again:
//     on-complete is at least once, and the upload id is its idempotency
//     key. A hook that fails or runs past its timeout never un-finishes a
//     file: the upload completes without an answer, the failure is
//     logged, and the event goes out as for any upload.
//
// Entry points (for opening and completion): Engine.vet, Engine.tellComplete.

// PreCreateHook vets an upload before it is created.
type PreCreateHook interface {
	// PreCreate returns the application's verdict on req. An error (the
	// hook failed, timed out or could not be reached) is a fault: no
	// upload is created and the client is told to retry.
	PreCreate(ctx context.Context, req PreCreateRequest) (PreCreateAnswer, error)
}

// CompleteHook is told of an upload whose object is finished.
type CompleteHook interface {
	// OnComplete tells the application of the finished upload req and
	// returns its answer, a JSON value for the client (nil for none).
	OnComplete(ctx context.Context, req CompleteRequest) (json.RawMessage, error)
}

// The hooks' names, as their requests' "hook" field carries them, so
// that one function can serve both.
const (
	HookPreCreate  = "pre-create"
	HookOnComplete = "on-complete"
)

// PreCreateRequest is what the pre-create hook is asked, as its JSON
// reaches the function.
type PreCreateRequest struct {
	// Hook is HookPreCreate.
	Hook string `json:"hook"`
	// Owner is the uploader: "sub:<JWT subject>", or "anonymous".
	Owner string `json:"owner"`
	// Name is the file's name as the client sent it.
	Name string `json:"name"`
	// Size is the file's size in bytes; null when the client has not
	// said yet (tus's Upload-Defer-Length, Uppy's AwsS3 plugin, a POST
	// form).
	Size *int64 `json:"size"`
	// Type is the content type the client declared, if any.
	Type string `json:"type,omitempty"`
	// Metadata is the client's (tus's Upload-Metadata, the native API's
	// metadata).
	Metadata map[string]string `json:"metadata,omitempty"`
	// Dialect is the client family: native, resumable, flow, django,
	// drf, fileupload, multipleupload, tus or companion.
	Dialect string `json:"dialect,omitempty"`
	// Direct says the client sends the bytes straight to S3.
	Direct bool `json:"direct,omitempty"`
	// Concat is "partial" for one piece of a tus concatenation and
	// "final" for the upload that joins them; empty otherwise.
	Concat string `json:"concat,omitempty"`
}

// PreCreateAnswer is the pre-create hook's answer, as JSON. An empty
// object lets the upload go ahead as the client asked.
type PreCreateAnswer struct {
	// Refuse, if set, refuses the upload: nothing is created.
	Refuse *HookRefusal `json:"refuse,omitempty"`
	// KeyPrefix, if set, replaces "uploads/" at the start of the final
	// object's key: the key is KeyPrefix + "<upload id>/<sanitized
	// name>" (a "/" is added to a prefix that does not end in one). At
	// most MaxKeyPrefix bytes of letters, digits and !-_.*'()/, not
	// starting with "/" or "staging/", with no empty, "." or ".."
	// segment.
	KeyPrefix string `json:"keyPrefix,omitempty"`
	// Metadata is added to the client's (replacing an entry of the same
	// name): it goes on the final object and into the upload's events,
	// within MaxMetadataBytes in all.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// HookRefusal is how the pre-create hook refuses an upload.
type HookRefusal struct {
	// Status is the HTTP status the client gets, 400 to 499 (403 if
	// omitted). A dialect whose clients would take it for a passing
	// failure, and retry, answers its own refusal status instead.
	Status int `json:"status,omitempty"`
	// Message is what the client is told (at most MaxHookMessage bytes).
	Message string `json:"message"`
}

// CompleteRequest is what the on-complete hook is told, as JSON: the
// detail of the upload's "Upload Completed" event, and the hook's name.
type CompleteRequest struct {
	// Hook is HookOnComplete.
	Hook string `json:"hook"`
	EventDetail
}

// Bounds on what a hook may answer.
const (
	// MaxKeyPrefix bounds a key prefix, well inside S3's 1,024-byte keys.
	MaxKeyPrefix = 512
	// MaxHookMessage bounds a refusal's message.
	MaxHookMessage = 1024
	// MaxHookAnswer bounds the on-complete hook's answer, as compact
	// JSON: it is kept with the session and sent in every completion
	// answer (in a header, for tus).
	MaxHookAnswer = 4096
)

// DefaultHookTimeout is how long a hook may take unless configured
// otherwise.
const DefaultHookTimeout = 5 * time.Second

// vetted is what the pre-create hook made of an upload: the prefix of
// its key and its metadata.
type vetted struct {
	prefix string
	meta   map[string]string
}

// key is the final object's key of upload id, file name.
func (v vetted) key(id, name string) string { return objectKey(v.prefix, id, name) }

// vet asks the pre-create hook, if there is one, about the upload req
// describes, and returns what the upload is to be made with. A refusal
// is an Error with CodeRefused; a hook that fails, or answers what
// cannot be done, is a fault.
func (e *Engine) vet(ctx context.Context, req PreCreateRequest) (vetted, error) {
	v := vetted{meta: req.Metadata}
	if e.opt.PreCreate == nil {
		return v, nil
	}
	req.Hook, req.Dialect = HookPreCreate, dialectOf(ctx)
	hctx, cancel := context.WithTimeout(ctx, e.opt.HookTimeout)
	defer cancel()
	ans, err := e.opt.PreCreate.PreCreate(hctx, req)
	if err != nil {
		return v, fmt.Errorf("pre-create hook (timeout %s): %w", e.opt.HookTimeout, err)
	}
	if r := ans.Refuse; r != nil {
		return v, refusalOf(r)
	}
	if v.prefix, err = keyPrefix(ans.KeyPrefix); err != nil {
		return v, fmt.Errorf("pre-create hook answered a key prefix chunkup cannot use: %w", err)
	}
	if len(ans.Metadata) > 0 {
		v.meta = make(map[string]string, len(req.Metadata)+len(ans.Metadata))
		for k, val := range req.Metadata {
			v.meta[k] = val
		}
		for k, val := range ans.Metadata {
			for old := range v.meta {
				if strings.EqualFold(old, k) {
					delete(v.meta, old)
				}
			}
			v.meta[k] = val
		}
		if err := CheckMetadata(v.meta); err != nil {
			// Not wrapped: the refusal is the hook's fault, not the
			// client's to be told of as its own.
			return v, fmt.Errorf("pre-create hook answered metadata chunkup cannot keep: %s", err.Error())
		}
	}
	return v, nil
}

// refusalOf is the refusal the pre-create hook asked for; a status
// outside 400-499 or an overlong message is the hook's fault, not the
// client's.
func refusalOf(r *HookRefusal) error {
	status, msg := r.Status, strings.TrimSpace(r.Message)
	if status == 0 {
		status = http.StatusForbidden
	}
	switch {
	case status < 400 || status > 499:
		return fmt.Errorf("pre-create hook refused with status %d: a refusal's status is 400 to 499", r.Status)
	case len(msg) > MaxHookMessage:
		return fmt.Errorf("pre-create hook refused with a message of %d bytes, over the limit of %d bytes", len(msg), MaxHookMessage)
	case !utf8.ValidString(msg):
		return fmt.Errorf("pre-create hook refused with a message that is not UTF-8")
	case msg == "":
		msg = "the upload was refused"
	}
	return &Error{Code: CodeRefused, Message: msg, Status: status}
}

// keyPrefix checks a key prefix the pre-create hook asked for and ends
// it with a "/"; "" stays "" (the default, "uploads/").
func keyPrefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	switch {
	case len(p) > MaxKeyPrefix:
		return "", fmt.Errorf("key prefix of %d bytes is over the limit of %d bytes", len(p), MaxKeyPrefix)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("key prefix %q starts with /", p)
	case strings.HasPrefix(p, "staging/"):
		return "", fmt.Errorf("key prefix %q is under staging/, whose objects the bucket's lifecycle rules delete", p)
	case strings.ContainsFunc(p, func(r rune) bool { return !keyPrefixChar(r) }):
		return "", fmt.Errorf("key prefix %q has characters other than letters, digits and !-_.*'()/", p)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("key prefix %q has an empty, . or .. segment", p)
		}
	}
	return p, nil
}

// keyPrefixChar reports whether r is one of S3's safe key characters.
func keyPrefixChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!-_.*'()/", r)
}

// tellComplete calls the on-complete hook, if there is one, about
// upload s, finished as fin (not yet recorded), and returns its answer
// as compact JSON: nil when there is no hook, it answered nothing
// (null), or it failed, which is logged and otherwise ignored.
func (e *Engine) tellComplete(ctx context.Context, fin *Session) json.RawMessage {
	if e.opt.OnComplete == nil {
		return nil
	}
	req := CompleteRequest{Hook: HookOnComplete, EventDetail: eventOf(fin).Detail}
	hctx, cancel := context.WithTimeout(ctx, e.opt.HookTimeout)
	defer cancel()
	start := e.opt.Now()
	ans, err := e.opt.OnComplete.OnComplete(hctx, req)
	if err == nil {
		ans, err = hookAnswer(ans)
	}
	if err != nil {
		e.log(ctx, fin).Error("on-complete hook failed: the upload completes without its answer",
			"err", err, "timeout", e.opt.HookTimeout.String(), "took", e.opt.Now().Sub(start).String())
		return nil
	}
	return ans
}

// hookAnswer checks the on-complete hook's answer, a JSON value within
// MaxHookAnswer bytes, and compacts it; null is no answer.
func hookAnswer(ans json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(ans)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, fmt.Errorf("the hook's answer is not JSON: %w", err)
	}
	if buf.Len() > MaxHookAnswer {
		return nil, fmt.Errorf("the hook's answer is %d bytes of JSON, over the limit of %d bytes", buf.Len(), MaxHookAnswer)
	}
	return buf.Bytes(), nil
}
