package upload

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable name for why a request was refused.
// Dialects map codes to their clients' status codes and bodies.
type Code string

// The codes the engine gives.
const (
	CodeInvalid        Code = "invalid_request"
	CodeFileTooLarge   Code = "file_too_large"
	CodeChunkTooLarge  Code = "chunk_too_large"
	CodeTooManyChunks  Code = "too_many_chunks"
	CodeNameTooLong    Code = "name_too_long"
	CodeNotFound       Code = "upload_not_found"
	CodeExpired        Code = "upload_expired"
	CodeAborted        Code = "upload_aborted"
	CodeComplete       Code = "upload_complete"
	CodeChunkRange     Code = "chunk_out_of_range"
	CodeChunkLength    Code = "chunk_length_mismatch"
	CodeChecksum       Code = "checksum_mismatch"
	CodeIncomplete     Code = "upload_incomplete"
	CodeBusy           Code = "upload_busy"
	CodeGeometry       Code = "geometry_mismatch"
	CodeOffset         Code = "offset_mismatch"
	CodeChunkTooSmall  Code = "chunk_too_small"
	CodeTypeNotAllowed Code = "content_type_not_allowed"
	// CodeRefused is the application's refusal, by its pre-create hook;
	// Error.Status is the HTTP status it asked for.
	CodeRefused        Code = "upload_refused"
	CodeInternal       Code = "internal_error"
	CodeServiceTimeout Code = "service_unavailable"
)

// Error is a refusal the client can act on: a code, a message that says
// what was wrong (and, for a limit, which limit and its value), and for
// incomplete uploads the chunks still missing.
type Error struct {
	Code    Code
	Message string
	Limit   int64   // the limit's value, for limit errors
	Missing []Range // for CodeIncomplete
	Offset  int64   // the upload's current offset, for CodeOffset
	Status  int     // the HTTP status (4xx) the application asked for, for CodeRefused
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func overLimit(code Code, limit int64, format string, args ...any) *Error {
	e := refuse(code, format, args...)
	e.Limit = limit
	return e
}

// CodeOf returns the code of err, or CodeInternal for a fault that is not
// a refusal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as a refusal, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
