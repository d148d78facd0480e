package resumable

import (
	"net/http"
	"slices"
	"testing"

	"chunkup/internal/upload"
)

// retryable are the codes of faults that may pass if the chunk is sent
// again; every other code is a refusal that no retry can change.
var retryable = []upload.Code{upload.CodeBusy, upload.CodeServiceTimeout}

var allCodes = []upload.Code{
	upload.CodeInvalid, upload.CodeFileTooLarge, upload.CodeChunkTooLarge, upload.CodeTooManyChunks,
	upload.CodeNameTooLong, upload.CodeNotFound, upload.CodeExpired, upload.CodeAborted,
	upload.CodeComplete, upload.CodeChunkRange, upload.CodeChunkLength, upload.CodeChecksum,
	upload.CodeIncomplete, upload.CodeBusy, upload.CodeGeometry, upload.CodeOffset,
	upload.CodeChunkTooSmall, upload.CodeInternal, upload.CodeServiceTimeout,
}

// TestStatusesFitTheClients: each client must fail the file on a refusal
// (a status in its permanentErrors) and may retry a fault (a status
// outside that list and outside its successes, never 500).
func TestStatusesFitTheClients(t *testing.T) {
	clients := map[string]struct {
		d         Dialect
		permanent []int
	}{
		"Resumable.js": {ResumableJS("resumable"), []int{400, 404, 415, 500, 501}}, // resumablejs 1.1.0
		"Flow.js":      {FlowJS(), []int{404, 413, 415, 500, 501}},
	}
	success := []int{200, 201, 202}
	for name, c := range clients {
		for _, code := range allCodes {
			st := c.d.Status(code)
			switch {
			case slices.Contains(retryable, code):
				if st != http.StatusServiceUnavailable {
					t.Errorf("%s: %s answers %d, want 503 (retried)", name, code, st)
				}
			case !slices.Contains(c.permanent, st) || st == 500:
				t.Errorf("%s: refusal %s answers %d, which the client does not treat as permanent", name, code, st)
			case slices.Contains(success, st):
				t.Errorf("%s: refusal %s answers a success status %d", name, code, st)
			}
		}
	}
}

// TestFlowStatuses pins the status of each kind of refusal for Flow.js.
func TestFlowStatuses(t *testing.T) {
	want := map[upload.Code]int{
		upload.CodeInvalid: 415, upload.CodeChunkRange: 415, upload.CodeChunkLength: 415, upload.CodeGeometry: 415,
		upload.CodeFileTooLarge: 413, upload.CodeChunkTooLarge: 413, upload.CodeTooManyChunks: 413, upload.CodeNameTooLong: 413,
		upload.CodeNotFound: 404, upload.CodeExpired: 404, upload.CodeAborted: 404,
		upload.CodeBusy: 503, upload.CodeServiceTimeout: 503,
	}
	for code, st := range want {
		if got := FlowJS().Status(code); got != st {
			t.Errorf("%s: %d, want %d", code, got, st)
		}
	}
}
