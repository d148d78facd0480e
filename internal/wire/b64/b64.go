// Package b64 encodes and decodes standard, padded base64 (RFC 4648, the
// form API Gateway gives a binary body in its Lambda event) with the same
// results as encoding/base64's StdEncoding, several times faster on
// megabyte inputs.
//
// Every chunk crosses API Gateway as base64: the gateway encodes it and
// the function decodes it, and those two passes were the largest part of
// the CPU chunkup itself spends on a chunk. The work is done by
// github.com/emmansun/base64, which keeps encoding/base64's API and
// answers and decodes with SIMD instructions (AVX2 or AVX-512 on amd64,
// NEON on arm64, where Lambda runs), falling back to Go elsewhere. This
// package adds the strict decoding a JSON string needs and is the one
// place the choice is made.
package b64

import (
	"bytes"
	"encoding/base64"

	simd "github.com/emmansun/base64"
)

// EncodedLen is the length of the encoding of n bytes.
func EncodedLen(n int) int { return simd.StdEncoding.EncodedLen(n) }

// DecodedLen is the most bytes the encoding of n letters decodes to.
func DecodedLen(n int) int { return simd.StdEncoding.DecodedLen(n) }

// Encode writes the encoding of src to dst, which must hold
// EncodedLen(len(src)) bytes.
func Encode(dst, src []byte) { simd.StdEncoding.Encode(dst, src) }

// AppendEncode appends the encoding of src to dst.
func AppendEncode(dst, src []byte) []byte { return simd.StdEncoding.AppendEncode(dst, src) }

// Decode decodes src into dst, which must hold DecodedLen(len(src))
// bytes, and returns the bytes written. It answers exactly as
// base64.StdEncoding.Decode does, errors included.
func Decode(dst, src []byte) (int, error) {
	n, err := simd.StdEncoding.Decode(dst, src)
	return n, standard(err)
}

// DecodeStrict is Decode for a body that must be one unbroken string (as
// inside a JSON string, where a raw line break is not allowed): it
// refuses the line breaks that encoding/base64 skips. When the input has
// a line break, the error is at the first one, even if an invalid letter
// comes earlier; whether the input decodes is all a caller may rely on.
//
// It costs nothing over Decode on input without line breaks: skipped
// line breaks show in the length decoded. Input whose length is a
// multiple of four decodes to exactly three bytes per quantum less its
// padding, and at least four skipped line breaks (fewer break the
// multiple) take a whole quantum's bytes away.
func DecodeStrict(dst, src []byte) (int, error) {
	n, err := Decode(dst, src)
	if err == nil && len(src)%4 == 0 && n == len(src)/4*3-padding(src) {
		return n, nil
	}
	if k := bytes.IndexAny(src, "\r\n"); k >= 0 {
		return 0, base64.CorruptInputError(k)
	}
	return n, err
}

// padding counts the padding letters that end src.
func padding(src []byte) int {
	switch {
	case bytes.HasSuffix(src, []byte("==")):
		return 2
	case bytes.HasSuffix(src, []byte("=")):
		return 1
	}
	return 0
}

// standard turns the library's decode error into encoding/base64's, so
// that callers match on one type.
func standard(err error) error {
	if cerr, ok := err.(simd.CorruptInputError); ok {
		return base64.CorruptInputError(cerr)
	}
	return err
}
