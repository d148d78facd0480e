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

// objectMeta is the S3 metadata of the final object: the client's
// metadata and chunkup's own (upload id, owner, original name and
// dialect, the last three percent-encoded where they need it).
func objectMeta(s *Session) map[string]string {
	meta := make(map[string]string, len(s.Metadata)+4)
	for k, v := range s.Metadata {
		meta[k] = v
	}
	meta["upload-id"] = s.ID
	meta["original-name"] = url.PathEscape(s.Name)
	if s.Owner != "" {
		meta["owner"] = url.PathEscape(s.Owner)
	}
	if s.Dialect != "" {
		meta["dialect"] = s.Dialect
	}
	return meta
}

// ownMetaKeys are the metadata keys chunkup sets itself; a client's
// metadata may not use them.
var ownMetaKeys = []string{"upload-id", "original-name", "owner", "dialect"}

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
