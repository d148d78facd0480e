// Package crc64nvme computes the CRC-64/NVME checksum S3 uses for
// full-object checksums, and combines the checksums of adjacent pieces of
// data so the checksum of a whole file is known without reading it again.
package crc64nvme

import (
	"encoding/base64"
	"encoding/binary"
	"hash"
	"hash/crc64"
)

// reversedPoly is the CRC-64/NVME polynomial 0xAD93D23594C93659 in the
// bit-reversed form that hash/crc64 expects.
const reversedPoly = 0x9A6C9329AC4BC9B5

// Table is the lookup table for CRC-64/NVME, built once per caller.
type Table = crc64.Table

// MakeTable returns the CRC-64/NVME table.
func MakeTable() *Table { return crc64.MakeTable(reversedPoly) }

// New returns a hash computing CRC-64/NVME with the given table.
func New(t *Table) hash.Hash64 { return crc64.New(t) }

// Checksum returns the CRC-64/NVME of data.
func Checksum(data []byte, t *Table) uint64 { return crc64.Checksum(data, t) }

// Encode renders a checksum the way S3 headers carry it: base64 of the
// big-endian bytes.
func Encode(sum uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sum)
	return base64.StdEncoding.EncodeToString(b[:])
}

// Decode parses a checksum in S3's header form.
func Decode(s string) (uint64, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// Combine returns the checksum of A followed by B, given the checksum of A,
// the checksum of B and the length of B in bytes.
func Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	// odd is the operator that feeds one zero bit through the register.
	var odd, even [64]uint64
	odd[0] = reversedPoly
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	square(&even, &odd) // two zero bits
	square(&odd, &even) // four zero bits
	for {
		// Apply len(B) zero bytes to crcA, one bit of the length at a time.
		square(&even, &odd)
		if lenB&1 != 0 {
			crcA = times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		square(&odd, &even)
		if lenB&1 != 0 {
			crcA = times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func square(dst, mat *[64]uint64) {
	for n := 0; n < 64; n++ {
		dst[n] = times(mat, mat[n])
	}
}
