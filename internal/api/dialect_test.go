package api_test

import (
	"testing"

	"chunkup/internal/api"
)

// TestDialectOf names the client family of each route family as the
// events and the object's metadata report it: by the family, never by a
// path segment that happens to lead its routes.
func TestDialectOf(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/uploads/abc/chunks/3":     "native",
		"/resumable":                   "resumable",
		"/flow":                        "flow",
		"/chunked-upload/complete":     "django",
		"/drf/chunked_upload/abc":      "drf",
		"/fileupload":                  "fileupload",
		"/multipleupload/upload-chunk": "multipleupload",
		"/files/abc":                   "tus",
		"/s3/multipart/abc/complete":   "companion",
	} {
		if got := api.DialectOf(path); got != want {
			t.Errorf("DialectOf(%q) = %q, want %q", path, got, want)
		}
	}
}
