// Package crc64nvme computes the CRC-64/NVME checksum S3 uses for
// full-object checksums, and combines the checksums of adjacent pieces of
// data so the checksum of a whole file is known without reading it again.
//
// Every byte of every chunk goes through the checksum. hash/crc64 (a
// table lookup per byte) does about 1.1 GB/s; github.com/minio/crc64nvme
// folds the data with carry-less multiplication at over 20 GB/s where the
// CPU has it: PCLMULQDQ on amd64, and on arm64 PMULL with SHA3's
// three-way XOR (Graviton3 and later; on Graviton2 it falls back to
// tables, at hash/crc64's speed). A test holds it to hash/crc64.
package crc64nvme

import (
	"encoding/base64"
	"encoding/binary"
	"hash"

	"github.com/minio/crc64nvme"
)

// reversedPoly is the CRC-64/NVME polynomial 0xAD93D23594C93659,
// bit-reversed (least significant bit first, as the checksum runs): the
// Combiner's operators are built from it.
const reversedPoly = 0x9A6C9329AC4BC9B5

// New returns a hash computing CRC-64/NVME.
func New() hash.Hash64 { return crc64nvme.New() }

// Checksum returns the CRC-64/NVME of data.
func Checksum(data []byte) uint64 { return crc64nvme.Checksum(data) }

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

// maxLengthBits is how many bits a length may have: 2^44 bytes is 16 TiB,
// past S3's largest object (5 TiB).
const maxLengthBits = 44

// Combiner combines the checksums of adjacent pieces of data. It holds,
// for each power of two, the operator that runs that many zero bytes
// through the CRC register, so that a combine costs one matrix-vector
// product per bit of the length (microseconds) instead of the squarings
// that make those operators (half a millisecond for a part of 8 MiB),
// which a completion would otherwise pay once per part.
type Combiner struct {
	zeros [maxLengthBits][64]uint64 // zeros[i] appends 2^i zero bytes
}

// NewCombiner builds the operators, once per caller (about a millisecond).
func NewCombiner() *Combiner {
	c := &Combiner{}
	// The operator for one zero bit, squared three times: one byte.
	var tmp [64]uint64
	bit := zeroBit()
	square(&tmp, &bit)
	square(&bit, &tmp)
	square(&c.zeros[0], &bit)
	for i := 1; i < maxLengthBits; i++ {
		square(&c.zeros[i], &c.zeros[i-1])
	}
	return c
}

// Combine returns the checksum of A followed by B, given the checksum of A,
// the checksum of B and the length of B in bytes (under 16 TiB).
func (c *Combiner) Combine(crcA, crcB uint64, lenB int64) uint64 {
	for i := 0; lenB > 0 && i < maxLengthBits; i, lenB = i+1, lenB>>1 {
		if lenB&1 != 0 {
			crcA = times(&c.zeros[i], crcA)
		}
	}
	return crcA ^ crcB
}

// zeroBit is the operator that runs one zero bit through the CRC register.
func zeroBit() [64]uint64 {
	var op [64]uint64
	op[0] = reversedPoly
	for n := 1; n < 64; n++ {
		op[n] = 1 << (n - 1)
	}
	return op
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
