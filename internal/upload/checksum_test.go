package upload

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"chunkup/internal/wire/crc64nvme"
)

func TestChecksumVerify(t *testing.T) {
	data := []byte("the quick brown fox")
	sum := sha256.Sum256(data)
	for _, header := range []string{
		"sha256=" + base64.StdEncoding.EncodeToString(sum[:]),
		"SHA256=" + hex.EncodeToString(sum[:]),
		"crc64nvme=" + crc64nvme.Encode(crc64nvme.Checksum(data)),
		"md5=" + "ee0f1a1b2a7e77a5a2d7e9b5d1e3b2c7",
	} {
		c, err := ParseChecksum(header)
		if err != nil {
			t.Fatalf("%s: %v", header, err)
		}
		err = c.Verify(data)
		if c.Alg == "md5" {
			if CodeOf(err) != CodeChecksum {
				t.Errorf("%s: wrong md5 accepted: %v", header, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", header, err)
		}
		if CodeOf(c.Verify(append([]byte("x"), data...))) != CodeChecksum {
			t.Errorf("%s: other data accepted", header)
		}
	}
	for _, bad := range []string{"", "sha256", "sha512=abcd", "sha256=abcd", "md5=!!!!"} {
		if _, err := ParseChecksum(bad); CodeOf(err) != CodeInvalid {
			t.Errorf("ParseChecksum(%q) = %v", bad, err)
		}
	}
}
