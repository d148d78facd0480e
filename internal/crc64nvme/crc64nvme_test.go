package crc64nvme

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestCheckValue(t *testing.T) {
	// The catalogued check value of CRC-64/NVME for "123456789".
	if got := Checksum([]byte("123456789"), MakeTable()); got != 0xAE8B14860A799888 {
		t.Fatalf("check value = %#x, want 0xae8b14860a799888", got)
	}
}

func TestCombineMatchesWholeChecksum(t *testing.T) {
	tab := MakeTable()
	c := NewCombiner()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 9<<20+3)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := Checksum(data, tab)
	for _, cut := range []int{0, 1, 7, 8, 1000, 1 << 15, 1<<20 + 5, 3 << 20, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		if got := c.Combine(Checksum(a, tab), Checksum(b, tab), int64(len(b))); got != want {
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
	var odd, even [64]uint64
	odd[0] = reversedPoly
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
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
