package crc64nvme

import (
	"fmt"
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

// reference is hash/crc64 with the CRC-64/NVME polynomial: the table
// implementation Checksum must agree with.
func reference(data []byte) uint64 {
	return crc64.Checksum(data, crc64.MakeTable(reversedPoly))
}

// TestChecksumMatchesHashCRC64 holds the carry-less multiplication code to
// the table code, over every length around its 128-byte threshold and its
// folding widths, at every alignment, and in pieces through New.
func TestChecksumMatchesHashCRC64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20+77)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for n := 0; n <= 700; n++ {
		for off := 0; off < 8; off++ {
			p := data[off : off+n]
			if got, want := Checksum(p), reference(p); got != want {
				t.Fatalf("%d bytes at offset %d: %#x, hash/crc64 says %#x", n, off, got, want)
			}
		}
	}
	if got, want := Checksum(data), reference(data); got != want {
		t.Fatalf("%d bytes: %#x, hash/crc64 says %#x", len(data), got, want)
	}
	h := New()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), rng.IntN(5000))
		h.Write(rest[:n])
		rest = rest[n:]
	}
	if got, want := h.Sum64(), reference(data); got != want {
		t.Fatalf("written in pieces: %#x, hash/crc64 says %#x", got, want)
	}
}

func FuzzChecksum(f *testing.F) {
	f.Add([]byte("123456789"))
	f.Add(make([]byte, 300))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Checksum(data), reference(data); got != want {
			t.Fatalf("%x: %#x, hash/crc64 says %#x", data, got, want)
		}
	})
}

// BenchmarkChecksum checksums a 4 MiB chunk, next to hash/crc64.
func BenchmarkChecksum(b *testing.B) {
	data := make([]byte, 4<<20)
	tab := crc64.MakeTable(reversedPoly)
	b.Run("crc64nvme", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			Checksum(data)
		}
	})
	b.Run("hash-crc64", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			crc64.Checksum(data, tab)
		}
	})
}

func TestCheckValue(t *testing.T) {
	// The catalogued check value of CRC-64/NVME for "123456789".
	if got := Checksum([]byte("123456789")); got != 0xAE8B14860A799888 {
		t.Fatalf("check value = %#x, want 0xae8b14860a799888", got)
	}
}

func TestCombineMatchesWholeChecksum(t *testing.T) {
	c := NewCombiner()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 9<<20+3)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := Checksum(data)
	for _, cut := range []int{0, 1, 7, 8, 1000, 1 << 15, 1<<20 + 5, 3 << 20, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		if got := c.Combine(Checksum(a), Checksum(b), int64(len(b))); got != want {
			t.Errorf("cut %d: combined %#x, whole %#x", cut, got, want)
		}
	}
}

// slowCombine is the textbook combine (zlib's crc32_combine, for this
// polynomial): it builds the operators by squaring on every call.
func slowCombine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even [64]uint64
	odd := zeroBit()
	square(&even, &odd)
	square(&odd, &even)
	for {
		square(&even, &odd)
		if lenB&1 != 0 {
			crcA = times(&even, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
		square(&odd, &even)
		if lenB&1 != 0 {
			crcA = times(&odd, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

// TestCombineLargeLengths holds Combine to the textbook combine for
// lengths up to S3's largest object, where whole checksums are too slow
// to compute in a test.
func TestCombineLargeLengths(t *testing.T) {
	c := NewCombiner()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int64{1, 255, 1 << 23, 5<<20 + 17, 1<<30 + 12345, 5 << 40, 1<<43 + 1} {
		a, b := rng.Uint64(), rng.Uint64()
		if got, want := c.Combine(a, b, n), slowCombine(a, b, n); got != want {
			t.Errorf("length %d: %#x, textbook %#x", n, got, want)
		}
	}
}

func BenchmarkCombine(b *testing.B) {
	c := NewCombiner()
	for _, n := range []int64{8 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("combiner/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c.Combine(uint64(i), 7, n)
			}
		})
		b.Run(fmt.Sprintf("textbook/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				slowCombine(uint64(i), 7, n)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 0xAE8B14860A799888, ^uint64(0)} {
		got, ok := Decode(Encode(v))
		if !ok || got != v {
			t.Errorf("Decode(Encode(%#x)) = %#x, %v", v, got, ok)
		}
	}
	if _, ok := Decode("not base64!"); ok {
		t.Error("Decode accepted garbage")
	}
}
