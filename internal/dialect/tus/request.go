package tus

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The header parsers. Each takes the header's value as the client sent it
// and answers a refusal (a *problem) for one the protocol does not allow,
// before anything is read from or written to a store.

// Algorithms lists the Upload-Checksum algorithms chunkup checks, as
// OPTIONS names them: sha1, which the protocol requires, and others
// clients send.
func Algorithms() []string { return []string{"sha1", "md5", "sha256", "crc32c"} }

func newDigest(alg string) (hash.Hash, bool) {
	switch alg {
	case "sha1":
		return sha1.New(), true
	case "md5":
		return md5.New(), true
	case "sha256":
		return sha256.New(), true
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	}
	return nil, false
}

// checksum is an Upload-Checksum: an algorithm and the digest it names.
type checksum struct {
	alg    string
	digest []byte
}

// parseChecksum reads "<alg> <base64 digest>"; "" is no checksum. An
// algorithm chunkup does not check, or a digest that is not base64 of the
// algorithm's length, is a 400.
func parseChecksum(v string) (*checksum, error) {
	if v == "" {
		return nil, nil
	}
	alg, enc, ok := strings.Cut(v, " ")
	if !ok || alg == "" {
		return nil, badRequest("Upload-Checksum must be \"<algorithm> <base64 digest>\"")
	}
	h, known := newDigest(alg)
	if !known {
		return nil, badRequest("Upload-Checksum algorithm %q is not supported (%s are)", alg, strings.Join(Algorithms(), ", "))
	}
	digest, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil || len(digest) != h.Size() {
		return nil, badRequest("Upload-Checksum digest %q is not the base64 of a %d-byte %s digest", enc, h.Size(), alg)
	}
	return &checksum{alg: alg, digest: digest}, nil
}

// matches reports whether data has the checksum's digest.
func (c *checksum) matches(data []byte) bool {
	h, _ := newDigest(c.alg)
	h.Write(data)
	return slices.Equal(h.Sum(nil), c.digest)
}

// parseSize reads an Upload-Offset or Upload-Length: a non-negative
// decimal integer of digits alone.
func parseSize(name, v string) (int64, error) {
	if v == "" || len(v) > 19 || strings.Trim(v, "0123456789") != "" {
		return 0, badRequest("%s must be a non-negative whole number of bytes, not %q", name, v)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("%s must be a non-negative whole number of bytes, not %q", name, v)
	}
	return n, nil
}

// parseMetadata reads Upload-Metadata: comma-separated "key" or
// "key base64value" pairs, keys unique and without spaces or commas.
// Values must be UTF-8 once decoded, since they go on the final object
// as text.
func parseMetadata(v string) (map[string]string, error) {
	meta := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return meta, nil
	}
	for pair := range strings.SplitSeq(v, ",") {
		key, enc, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if key == "" {
			return nil, badRequest("Upload-Metadata has an empty key")
		}
		if _, dup := meta[key]; dup {
			return nil, badRequest("Upload-Metadata key %q appears twice", key)
		}
		val, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, badRequest("Upload-Metadata value of %q is not base64", key)
		}
		if !utf8.Valid(val) {
			return nil, badRequest("Upload-Metadata value of %q is not UTF-8 text", key)
		}
		meta[key] = string(val)
	}
	return meta, nil
}

// formatMetadata writes metadata as Upload-Metadata, keys in order.
func formatMetadata(meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		if meta[k] != "" {
			b.WriteByte(' ')
			b.WriteString(base64.StdEncoding.EncodeToString([]byte(meta[k])))
		}
	}
	return b.String()
}

// nameAndType are the file's name and type as metadata gives them:
// filename or name, filetype or type.
func nameAndType(meta map[string]string) (name, ctype string) {
	name = cmpOr(meta["filename"], meta["name"])
	ctype = cmpOr(meta["filetype"], meta["type"])
	return strings.TrimSpace(name), strings.TrimSpace(ctype)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// concat is an Upload-Concat: a partial upload, or a final one made of
// the uploads named.
type concat struct {
	partial bool
	final   []string // upload ids, in order
}

// parseConcat reads "partial" or "final;<url> <url> …" (absolute or
// relative URLs of base + "/" + id); "" is neither.
func parseConcat(v, base string) (*concat, error) {
	switch {
	case v == "":
		return nil, nil
	case v == "partial":
		return &concat{partial: true}, nil
	}
	list, ok := strings.CutPrefix(v, "final;")
	if !ok {
		return nil, badRequest("Upload-Concat must be \"partial\" or \"final;<upload URLs>\"")
	}
	c := &concat{}
	for u := range strings.FieldsSeq(list) {
		id, ok := idOf(u, base)
		if !ok {
			return nil, badRequest("Upload-Concat names %q, which is not an upload of %s", u, base)
		}
		c.final = append(c.final, id)
	}
	if len(c.final) == 0 {
		return nil, badRequest("Upload-Concat final names no uploads")
	}
	return c, nil
}

// idOf returns the upload id of an upload URL: base + "/" + id, alone or
// after a scheme and host.
func idOf(u, base string) (string, bool) {
	path := u
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		path = rest[strings.IndexByte(rest+"/", '/'):]
	} else if rest, ok := strings.CutPrefix(u, "http://"); ok {
		path = rest[strings.IndexByte(rest+"/", '/'):]
	}
	id, ok := strings.CutPrefix(path, base+"/")
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return "", false
	}
	return id, true
}

// methodOverride is the method a POST stands for (X-HTTP-Method-Override):
// PATCH, DELETE or HEAD; POST itself when the header is absent.
func methodOverride(r *http.Request) (string, error) {
	v := r.Header.Get("X-HTTP-Method-Override")
	switch m := strings.ToUpper(strings.TrimSpace(v)); m {
	case "":
		return http.MethodPost, nil
	case http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodPost:
		return m, nil
	}
	return "", &problem{status: http.StatusMethodNotAllowed,
		msg: "X-HTTP-Method-Override must name PATCH, DELETE or HEAD, not " + strconv.Quote(v)}
}
