package upload

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
)

// Names: upload ids, the final object's key and metadata, staging keys.

// ObjectKey is the final object's key for an upload: derived from the
// upload id and a sanitized file name, never from raw client input.
func ObjectKey(id, name string) string {
	return "uploads/" + id + "/" + SanitizeName(name)
}

// stagingPrefix is where an upload's chunks wait to become parts.
func stagingPrefix(id string) string { return "staging/" + id + "/" }

func stagingKey(id string, index int) string {
	return fmt.Sprintf("%s%08d-%s", stagingPrefix(id), index, newID()[:12])
}

func objectMeta(s *Session) map[string]string {
	return map[string]string{
		"upload-id":     s.ID,
		"original-name": url.PathEscape(s.Name),
	}
}

// newID returns 32 random hex digits, the shape django-chunked-upload's
// clients expect of an upload id.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// validID reports whether id has the shape newID gives.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}
