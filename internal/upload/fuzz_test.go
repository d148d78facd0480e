package upload

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"path"
	"strings"
	"testing"

	"chunkup/internal/wire/crc64nvme"
)

// safeNameByte is what a sanitized name may hold: ASCII letters, digits
// and . _ -.
func safeNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// FuzzSanitizeName: whatever a client calls its file, the name in the
// object key is one safe segment (letters, digits and . _ - only, so no /
// \ NUL or control characters; ASCII; no leading dot; 1 to 200 bytes),
// sanitizing it again changes nothing, only the base name counts, a name
// that is safe already is kept as it is, and the key stays
// uploads/<id>/<name> with no segment path.Clean would move.
func FuzzSanitizeName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeName(name)
		if got == "" || len(got) > maxKeyNameLen || got[0] == '.' {
			t.Fatalf("SanitizeName(%q) = %q: empty, over %d bytes or a dot file", name, got, maxKeyNameLen)
		}
		for i := 0; i < len(got); i++ {
			if !safeNameByte(got[i]) {
				t.Fatalf("SanitizeName(%q) = %q keeps byte %q", name, got, got[i])
			}
		}
		if again := SanitizeName(got); again != got {
			t.Fatalf("SanitizeName is not idempotent: %q → %q → %q", name, got, again)
		}
		if other := SanitizeName(`../x\` + name); other != got {
			t.Fatalf("SanitizeName(%q) = %q depends on more than the base name (%q)", name, got, other)
		}
		if name != "" && len(name) <= maxKeyNameLen && name != "_" && name[0] != '.' && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == "" && got != name {
			t.Fatalf("SanitizeName(%q) = %q changed a name that was safe already", name, got)
		}
		id := newID()
		key := ObjectKey(id, name)
		if path.Clean(key) != key || key != "uploads/"+id+"/"+got || strings.Count(key, "/") != 2 {
			t.Fatalf("ObjectKey(%q, %q) = %q leaves uploads/%s/", id, name, key, id)
		}
	})
}

// FuzzNewPlan: a geometry a client describes becomes a plan only if S3
// can take it (parts of 5 MiB to 5 GiB but the last, at most 10,000
// parts, at most MaxChunksPerPart chunks a part, chunks that cover the
// file exactly); and it is refused, without a panic, exactly when no such
// plan exists. The oracle below does the arithmetic in big integers, so
// overflow cannot hide on either side.
func FuzzNewPlan(f *testing.F) {
	f.Fuzz(func(t *testing.T, size, chunkSize int64, chunks int) {
		g := Geometry{Size: size, ChunkSize: chunkSize, Chunks: chunks}
		p, err := NewPlan(g)
		want := planOracle(g)
		if (err == nil) != want {
			t.Fatalf("NewPlan(%+v) = %+v, %v; the oracle says accept=%v", g, p, err, want)
		}
		if err != nil {
			return
		}
		if p.Geometry != g || p.ChunksPerPart < 1 || p.ChunksPerPart > MaxChunksPerPart || p.Parts < 1 || p.Parts > MaxParts {
			t.Fatalf("NewPlan(%+v) = %+v", g, p)
		}
		if first, end := p.PartChunks(p.Parts - 1); first >= end || end != g.Chunks {
			t.Fatalf("NewPlan(%+v): last part holds chunks [%d, %d)", g, first, end)
		}
		full, last := p.PartLen(0), p.PartLen(p.Parts-1)
		if full > MaxPartSize || p.Parts > 1 && full < MinPartSize || last > MaxPartSize {
			t.Fatalf("NewPlan(%+v): parts of %d and %d bytes", g, full, last)
		}
		if p.Parts > 1 && full != int64(p.ChunksPerPart)*g.ChunkSize {
			t.Fatalf("NewPlan(%+v): first part %d bytes", g, full)
		}
		if int64(p.Parts-1)*full+last != g.Size {
			t.Fatalf("NewPlan(%+v): parts cover %d bytes", g, int64(p.Parts-1)*full+last)
		}
		lastChunk := g.ChunkLen(g.Chunks - 1)
		if lastChunk < 0 || g.Size > 0 && lastChunk == 0 || g.ChunkOffset(g.Chunks-1)+lastChunk != g.Size {
			t.Fatalf("NewPlan(%+v): last chunk of %d bytes at %d", g, lastChunk, g.ChunkOffset(g.Chunks-1))
		}
	})
}

// planOracle says whether a plan for g exists, in big integers.
func planOracle(g Geometry) bool {
	if g.Size < 0 || g.ChunkSize <= 0 || g.Chunks <= 0 {
		return false
	}
	size, cs, n := big.NewInt(g.Size), big.NewInt(g.ChunkSize), big.NewInt(int64(g.Chunks))
	before := new(big.Int).Mul(new(big.Int).Sub(n, big.NewInt(1)), cs) // bytes before the last chunk
	if g.Size == 0 && g.Chunks != 1 || g.Size > 0 && before.Cmp(size) >= 0 {
		return false
	}
	ceil := func(a, b *big.Int) *big.Int {
		q, m := new(big.Int).QuoRem(a, b, new(big.Int))
		if m.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		return q
	}
	partBytes := ceil(size, big.NewInt(MaxParts))
	if partBytes.Cmp(big.NewInt(MinPartSize)) < 0 {
		partBytes = big.NewInt(MinPartSize)
	}
	cpp := ceil(partBytes, cs)
	if cpp.Cmp(n) > 0 {
		cpp = n
	}
	if cpp.Cmp(big.NewInt(MaxChunksPerPart)) > 0 || ceil(n, cpp).Cmp(big.NewInt(MaxParts)) > 0 {
		return false
	}
	first := new(big.Int).Mul(cpp, cs) // the first part, unless it is also the last
	if cpp.Cmp(n) == 0 {
		first = size
	}
	return first.Cmp(big.NewInt(MaxPartSize)) <= 0
}

// referenceDigest computes alg over data with the standard library (and
// the package's CRC64NVME, which has tests of its own against S3's).
func referenceDigest(alg string, data []byte) []byte {
	switch alg {
	case "md5":
		d := md5.Sum(data)
		return d[:]
	case "sha1":
		d := sha1.Sum(data)
		return d[:]
	case "sha256":
		d := sha256.Sum256(data)
		return d[:]
	case "crc32c":
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	case "crc64nvme":
		return binary.BigEndian.AppendUint64(nil, crc64nvme.Checksum(data))
	}
	return nil
}

// FuzzParseChecksum: a checksum header (X-Chunk-Checksum, Content-MD5,
// the create request's checksum) is read or refused as invalid, never
// half-read: what is read names a known algorithm with a digest of its
// length, renders (String, or hex) to text that reads back the same, and
// verifies exactly the data whose digest it is.
func FuzzParseChecksum(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string, data []byte) {
		c, err := ParseChecksum(v)
		if err != nil {
			if e, ok := AsError(err); !ok || e.Code != CodeInvalid || e.Message == "" {
				t.Fatalf("ParseChecksum(%q) refused with %v", v, err)
			}
			return
		}
		want := referenceDigest(c.Alg, data)
		if want == nil || len(c.Digest) != len(want) {
			t.Fatalf("ParseChecksum(%q) = %s with a %d-byte digest", v, c.Alg, len(c.Digest))
		}
		for _, text := range []string{c.String(), strings.ToUpper(c.Alg) + "=" + hex.EncodeToString(c.Digest)} {
			if again, err := ParseChecksum(text); err != nil || again.Alg != c.Alg || !bytes.Equal(again.Digest, c.Digest) {
				t.Fatalf("ParseChecksum(%q) = %s, written %q reads %v, %v", v, c, text, again, err)
			}
		}
		if err := c.Verify(data); (err == nil) != bytes.Equal(c.Digest, want) || err != nil && CodeOf(err) != CodeChecksum {
			t.Fatalf("%s verifies %q (digest %x): %v", c, data, want, err)
		}
		if err := (Checksum{Alg: c.Alg, Digest: want}).Verify(data); err != nil {
			t.Fatalf("the right %s digest of %q is refused: %v", c.Alg, data, err)
		}
	})
}
