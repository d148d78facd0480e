package upload

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Names: upload ids, the final object's key and metadata, staging keys.

// ObjectKey is the final object's key for an upload: derived from the
// upload id and a sanitized file name, never from raw client input.
func ObjectKey(id, name string) string { return objectKey("", id, name) }

// DefaultKeyPrefix starts every final object's key unless the pre-create
// hook names another prefix.
const DefaultKeyPrefix = "uploads/"

// objectKey is ObjectKey under prefix ("" for DefaultKeyPrefix), which
// keyPrefix has checked.
func objectKey(prefix, id, name string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + id + "/" + SanitizeName(name)
}

// IDOfKey is the upload id in a final object's key (ObjectKey, under any
// prefix), if key is one: the segment before the name.
func IDOfKey(key string) (string, bool) {
	dir, name, ok := cutLast(key)
	if !ok || name == "" {
		return "", false
	}
	_, id, _ := cutLast(dir)
	if !validID(id) {
		return "", false
	}
	return id, true
}

// cutLast cuts s around its last "/": the whole of s is after it when
// there is none (ok false).
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// stagingPrefix is where an upload's chunks wait to become parts.
func stagingPrefix(id string) string { return "staging/" + id + "/" }

func stagingKey(id string, index int) string {
	return fmt.Sprintf("%s%08d-%s", stagingPrefix(id), index, newID()[:12])
}

// metaPrefix starts the names of the client's metadata on the final
// object, apart from chunkup's own.
const metaPrefix = "meta-"

// MaxMetadataBytes bounds the client's metadata (names and values
// together): S3 takes at most 2 KB of user metadata on an object, and
// chunkup's own entries need some of it.
const MaxMetadataBytes = 1024

// objectMeta is the S3 metadata of the final object: chunkup's own
// (upload id, owner, original name and dialect, percent-encoded where they
// need it) and the client's, each name under metaPrefix.
func objectMeta(s *Session) map[string]string {
	m := map[string]string{
		"upload-id":     s.ID,
		"original-name": url.PathEscape(s.Name),
	}
	if s.Owner != "" {
		m["owner"] = url.PathEscape(s.Owner)
	}
	if s.Dialect != "" {
		m["dialect"] = s.Dialect
	}
	for k, v := range s.Metadata {
		m[metaPrefix+strings.ToLower(k)] = url.PathEscape(v)
	}
	return m
}

// CheckMetadata refuses client metadata that cannot go on the final
// object: a name that is not an HTTP token (S3 sends metadata as headers),
// two names that differ only in case (S3 folds them), or more than
// MaxMetadataBytes in all.
func CheckMetadata(meta map[string]string) error {
	total := 0
	seen := map[string]bool{}
	for k, v := range meta {
		if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r > unicode.MaxASCII || !isTokenChar(byte(r)) }) {
			return refuse(CodeInvalid, "metadata name %q is not a token of letters, digits and !#$%%&'*+-.^_`|~", k)
		}
		if low := strings.ToLower(k); seen[low] {
			return refuse(CodeInvalid, "metadata names %q differ only in case from another", k)
		} else {
			seen[low] = true
		}
		total += len(k) + len(url.PathEscape(v))
	}
	if total > MaxMetadataBytes {
		return overLimit(CodeInvalid, MaxMetadataBytes, "metadata is %d bytes (names and escaped values), over the limit of %d bytes", total, MaxMetadataBytes)
	}
	return nil
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
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
