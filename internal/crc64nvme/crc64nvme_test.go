package crc64nvme

import (
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
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, cut := range []int{0, 1, 7, 8, 1000, 1 << 15, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		got := Combine(Checksum(a, tab), Checksum(b, tab), int64(len(b)))
		if want := Checksum(data, tab); got != want {
			t.Errorf("cut %d: combined %#x, whole %#x", cut, got, want)
		}
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
