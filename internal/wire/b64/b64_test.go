package b64

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"testing"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEncodeMatchesEncodingBase64(t *testing.T) {
	for n := 0; n < 200; n++ {
		src := randomBytes(n, uint64(n))
		want := base64.StdEncoding.EncodeToString(src)
		dst := make([]byte, EncodedLen(n))
		Encode(dst, src)
		if string(dst) != want {
			t.Fatalf("%d bytes: %q, want %q", n, dst, want)
		}
		if got := AppendEncode([]byte("x"), src); string(got) != "x"+want {
			t.Fatalf("%d bytes appended: %q", n, got)
		}
	}
}

// check decodes src with both decoders and compares everything they say.
func check(t *testing.T, src []byte) {
	t.Helper()
	want := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	wn, werr := base64.StdEncoding.Decode(want, src)
	got := make([]byte, DecodedLen(len(src)))
	gn, gerr := Decode(got, src)
	var wc, gc base64.CorruptInputError
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("%q: error %v, encoding/base64 says %v", src, gerr, werr)
	case werr != nil && (!errors.As(werr, &wc) || !errors.As(gerr, &gc) || wc != gc):
		t.Fatalf("%q: error %v, encoding/base64 says %v", src, gerr, werr)
	case werr == nil && (gn != wn || !bytes.Equal(got[:gn], want[:wn])):
		t.Fatalf("%q: decoded %d bytes %x, encoding/base64 %d bytes %x", src, gn, got[:gn], wn, want[:wn])
	}
}

// checkStrict holds DecodeStrict to Decode, except that it must refuse a
// line break, at the first one.
func checkStrict(t *testing.T, src []byte) {
	t.Helper()
	want := make([]byte, DecodedLen(len(src)))
	wn, werr := Decode(want, src)
	got := make([]byte, DecodedLen(len(src)))
	gn, gerr := DecodeStrict(got, src)
	if at := bytes.IndexAny(src, "\r\n"); at >= 0 {
		var ce base64.CorruptInputError
		if !errors.As(gerr, &ce) || int(ce) > at {
			t.Fatalf("%q: DecodeStrict says %v, want an error at or before %d", src, gerr, at)
		}
		return
	}
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: DecodeStrict says %v, Decode %v", src, gerr, werr)
	}
	if werr == nil && (gn != wn || !bytes.Equal(got[:gn], want[:wn])) {
		t.Fatalf("%q: DecodeStrict gave %x, Decode %x", src, got[:gn], want[:wn])
	}
}

func TestDecodeMatchesEncodingBase64(t *testing.T) {
	for n := 0; n < 200; n++ {
		enc := []byte(base64.StdEncoding.EncodeToString(randomBytes(n, uint64(n))))
		check(t, enc)
		if len(enc) > 10 {
			for _, bad := range []byte{'!', '=', '\n', '\r', '-', 0} {
				for _, at := range []int{0, 5, 9, len(enc) / 2, len(enc) - 1} {
					mangled := bytes.Clone(enc)
					mangled[at] = bad
					check(t, mangled)
					checkStrict(t, mangled)
				}
			}
			check(t, enc[:len(enc)-1])
			broken := append(bytes.Clone(enc[:8]), append([]byte("\r\n"), enc[8:]...)...)
			check(t, broken)
			checkStrict(t, broken)
			checkStrict(t, enc)
		}
	}
	big := []byte(base64.StdEncoding.EncodeToString(randomBytes(4<<20+1, 9)))
	check(t, big)
}

// TestWritesOnlyItsLength holds the vector code to the contract that
// dst needs only EncodedLen or DecodedLen bytes: bytes past them, in the
// same array, must stay as they were.
func TestWritesOnlyItsLength(t *testing.T) {
	const guard = 64
	for _, n := range []int{0, 1, 15, 16, 17, 47, 48, 49, 100, 1000, 4096 + 7} {
		src := randomBytes(n, uint64(n))
		m := EncodedLen(n)
		buf := bytes.Repeat([]byte{0xA5}, m+guard)
		Encode(buf[:m:m], src)
		if !bytes.Equal(buf[m:], bytes.Repeat([]byte{0xA5}, guard)) {
			t.Fatalf("encoding %d bytes wrote past %d", n, m)
		}
		enc := buf[:m]
		d := DecodedLen(m)
		out := bytes.Repeat([]byte{0xA5}, d+guard)
		got, err := DecodeStrict(out[:d:d], enc)
		if err != nil || !bytes.Equal(out[:got], src) {
			t.Fatalf("decoding %d bytes: %d, %v", n, got, err)
		}
		if !bytes.Equal(out[d:], bytes.Repeat([]byte{0xA5}, guard)) {
			t.Fatalf("decoding %d letters wrote past %d", m, d)
		}
	}
}

// TestDecodeStrictRefusesFewLineBreaks covers one to three line breaks,
// which leave a length that is not a multiple of four, and a line break
// standing where padding would.
func TestDecodeStrictRefusesFewLineBreaks(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString(randomBytes(300, 3))
	for _, src := range []string{
		enc[:40] + "\n" + enc[40:],
		enc[:40] + "\r\n" + enc[40:],
		enc[:40] + "\r\n\n" + enc[40:],
		enc[:40] + "\r\n\r\n" + enc[40:],
		enc + "\n",
		"QQ=\n=",
	} {
		if _, err := DecodeStrict(make([]byte, DecodedLen(len(src))), []byte(src)); err == nil {
			t.Errorf("%q: decoded, want an error at the line break", src)
		}
		checkStrict(t, []byte(src))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQhIQ=="))
	f.Add([]byte("aGVsbG8gd29y\nbGQhIQ=="))
	f.Add([]byte("YWJjZGVmZ2hpamtsbW5vcA"))
	f.Fuzz(func(t *testing.T, src []byte) {
		check(t, src)
		checkStrict(t, src)
	})
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello, world"))
	f.Fuzz(func(t *testing.T, src []byte) {
		dst := make([]byte, EncodedLen(len(src)))
		Encode(dst, src)
		if want := base64.StdEncoding.EncodeToString(src); string(dst) != want {
			t.Fatalf("%x: %q, want %q", src, dst, want)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	src := randomBytes(4<<20, 1)
	enc := make([]byte, EncodedLen(len(src)))
	dst := make([]byte, len(src)+8)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			Encode(enc, src)
		}
	})
	b.Run("encode/encoding-base64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			base64.StdEncoding.Encode(enc, src)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			Decode(dst, enc)
		}
	})
	b.Run("decode/encoding-base64", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for i := 0; i < b.N; i++ {
			base64.StdEncoding.Decode(dst, enc)
		}
	})
}
