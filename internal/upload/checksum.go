package upload

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"

	"chunkup/internal/wire/crc64nvme"
)

// Checksum is a digest a client computed over some bytes, to be checked
// before chunkup keeps them.
type Checksum struct {
	Alg    string // md5, sha1, sha256, crc32c or crc64nvme
	Digest []byte
}

// digestLen is the digest length of each algorithm a chunk checksum may
// use.
func digestLen(alg string) (int, bool) {
	switch alg {
	case "md5":
		return md5.Size, true
	case "sha1":
		return sha1.Size, true
	case "sha256":
		return sha256.Size, true
	case "crc32c":
		return 4, true
	case "crc64nvme":
		return 8, true
	}
	return 0, false
}

// ParseChecksum reads "<alg>=<digest>", the digest in base64 (as S3's
// checksum headers carry it) or hex.
func ParseChecksum(v string) (Checksum, error) {
	alg, digest, ok := strings.Cut(strings.TrimSpace(v), "=")
	alg = strings.ToLower(strings.TrimSpace(alg))
	want, known := digestLen(alg)
	if !ok || !known {
		return Checksum{}, refuse(CodeInvalid, "checksum %q must be <alg>=<digest> with alg one of md5, sha1, sha256, crc32c, crc64nvme", v)
	}
	digest = strings.TrimSpace(digest)
	if b, err := hex.DecodeString(digest); err == nil && len(b) == want {
		return Checksum{Alg: alg, Digest: b}, nil
	}
	if b, err := base64.StdEncoding.DecodeString(digest); err == nil && len(b) == want {
		return Checksum{Alg: alg, Digest: b}, nil
	}
	return Checksum{}, refuse(CodeInvalid, "checksum %q: a %s digest is %d bytes, in base64 or hex", v, alg, want)
}

// String renders the checksum as ParseChecksum reads it, in base64.
func (c Checksum) String() string { return c.Alg + "=" + base64.StdEncoding.EncodeToString(c.Digest) }

// Verify checks data against the checksum: a mismatch is refused with
// CodeChecksum, naming both digests.
func (c Checksum) Verify(data []byte) error {
	h := c.newHash()
	h.Write(data)
	return c.check(h.Sum(nil))
}

// VerifyReader checks everything r yields against the checksum, without
// holding it in memory.
func (c Checksum) VerifyReader(r io.Reader) error {
	h := c.newHash()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("read for %s: %w", c.Alg, err)
	}
	return c.check(h.Sum(nil))
}

func (c Checksum) check(got []byte) error {
	if string(got) != string(c.Digest) {
		return refuse(CodeChecksum, "%s checksum does not match: the data's is %s, the client's %s",
			c.Alg, base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(c.Digest))
	}
	return nil
}

func (c Checksum) newHash() hash.Hash {
	switch c.Alg {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		return crc64nvme.New()
	}
	panic(fmt.Sprintf("checksum algorithm %q passed ParseChecksum", c.Alg))
}
