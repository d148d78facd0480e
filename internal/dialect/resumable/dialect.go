package resumable

import (
	"net/http"
	"slices"

	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// Dialect is what sets one client of the Resumable.js protocol family
// apart from another: how its parameters are named, where a chunk POST
// carries them, where the file's type comes from, and which status each
// refusal must get for the client to act on it correctly.
type Dialect struct {
	// Prefix starts every parameter name: "resumable" gives
	// resumableChunkNumber, resumableIdentifier and so on.
	Prefix string
	// FormOnly says a multipart chunk POST carries its parameters in its
	// form fields only (Flow.js). Otherwise the form fields are read first
	// and the query string after them (Resumable.js sends both).
	FormOnly bool
	// TypeParam says the file's type arrives as the <Prefix>Type
	// parameter. Otherwise it is the Content-Type of the chunk itself:
	// the form part's, or the body's when the chunk is sent raw.
	TypeParam bool
	// Status is the HTTP status a refusal with this code is answered with.
	Status func(upload.Code) int
	// Refuses says which of the application's own refusal statuses the
	// client takes as permanent (reply.Family.Refuses).
	Refuses func(int) bool
	// Scope is put before the client's identifier, so that two dialects'
	// uploads never meet even where their clients name files alike.
	Scope string
}

// ResumableJS is the dialect of Resumable.js. prefix is its parameter
// namespace, "resumable" unless the page configured another.
func ResumableJS(prefix string) Dialect {
	return Dialect{Prefix: prefix, TypeParam: true, Status: resumableStatus, Refuses: oneOf(400, 404, 415)}
}

// FlowJS is the dialect of Flow.js (@flowjs/flow.js): parameters named
// flow…, in the form of a multipart POST and in the query string of a GET
// or an octet POST, and no type parameter.
func FlowJS() Dialect {
	return Dialect{Prefix: "flow", FormOnly: true, Status: flowStatus, Refuses: oneOf(404, 413, 415), Scope: "flow:"}
}

// resumableStatus chooses, for refusals, statuses in Resumable.js's
// permanentErrors, which fail the file at once: the release on npm
// (1.1.0) lists 400, 404, 415, 500 and 501 (newer repository code adds
// 401, 403 and 409, which 1.1.0 retries a hundred times), so only 400 and
// 404 are used. Faults that may pass get 503, which it retries.
func resumableStatus(c upload.Code) int {
	switch {
	case c == upload.CodeNotFound:
		return http.StatusNotFound
	case reply.Retryable(c):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// flowStatus chooses statuses for Flow.js, whose permanentErrors are only
// 404, 413, 415, 500 and 501. A refusal must be one of those, or a page
// that raised maxChunkRetries would send the same bad chunk again: limits
// get 413, an upload that is gone 404, and any other refusal (a request
// that does not describe a chunk of a file chunkup can take) 415. A fault
// that may pass gets 503, outside the list, so that Flow.js retries it
// when maxChunkRetries allows (with its default of 0 it fails the file).
// 500 is never used: Flow.js would not retry it.
func flowStatus(c upload.Code) int {
	switch c {
	case upload.CodeFileTooLarge, upload.CodeChunkTooLarge, upload.CodeTooManyChunks, upload.CodeNameTooLong:
		return http.StatusRequestEntityTooLarge
	case upload.CodeNotFound, upload.CodeExpired, upload.CodeAborted:
		return http.StatusNotFound
	}
	if reply.Retryable(c) {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnsupportedMediaType
}

// oneOf is a Refuses that allows the 4xx statuses of a client's
// permanentErrors.
func oneOf(statuses ...int) func(int) bool {
	return func(status int) bool { return slices.Contains(statuses, status) }
}
