package api_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"

	"chunkup/internal/api"
	"chunkup/internal/upload"
)

// Sequential uploads take chunks of any size from 1 byte to MaxChunkSize
// (issue #12 item 2).

// TestDRFSmallChunks: drf-chunked-upload's own test suite's flows, 10
// chunks of 10,000 bytes and 5 of 10 bytes, complete byte-identical.
func TestDRFSmallChunks(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct{ chunks, size int }{{10, 10_000}, {5, 10}} {
		data := randomBytes(c.chunks*c.size, uint64(1600+c.size))
		u := e.drfUploadAll("small.bin", data, c.size)
		done := e.drfComplete(u.URL, url.Values{"md5": {md5Hex(data)}}).upload(t)
		if done.Status != 2 {
			t.Fatalf("%d chunks of %d: %+v", c.chunks, c.size, done)
		}
		if got, _ := e.object(upload.ObjectKey(u.ID, "small.bin")); !bytes.Equal(got, data) {
			t.Fatalf("%d chunks of %d: the object is not the file (%d bytes)", c.chunks, c.size, len(got))
		}
	}
}

// TestTusTenBytePatches: a raw tus exchange sends a 50-byte file in
// 10-byte PATCHes; the last finishes it.
func TestTusTenBytePatches(t *testing.T) {
	e := newEnv(t, nil)
	data := randomBytes(50, 1601)
	path := e.tusCreate(len(data), "filename "+b64("fifty.bin"))
	e.tusFinished(e.tusSend(path, data, 0, 10), data)
}

// TestSequentialFold: 1,200 chunks of 10 bytes, more than one part's
// record may list as pieces: the pending pieces are folded into one as
// the list fills, so it never lists more than MaxPiecesPerPart and the
// staged objects stay as few; the object is the file.
func TestSequentialFold(t *testing.T) {
	e := newEnv(t, nil)
	const chunks, size = 1200, 10
	data := randomBytes(chunks*size, 1602)
	path := e.tusCreate(len(data), "")
	id := path[len("/files/"):]
	most := 0
	for i := range chunks {
		off := i * size
		var a tusAnswer
		if a = e.tusPatch(path, off, data[off:off+size], nil); a.status != 204 {
			t.Fatalf("PATCH at %d: %d %s", off, a.status, a.body)
		}
		if i%97 == 0 || i == chunks-2 {
			s, err := e.svc.Engine.Get(context.Background(), api.Anonymous, id)
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, len(s.Pending))
			if n := len(e.stagedKeys()); n > upload.MaxPiecesPerPart {
				t.Fatalf("after %d chunks, %d staged objects", i+1, n)
			}
		}
		if i == chunks-1 {
			e.tusFinished(a, data)
		}
	}
	if most > upload.MaxPiecesPerPart || most < upload.MaxPiecesPerPart/2 {
		t.Fatalf("the pending list held at most %d pieces; want between %d and %d", most, upload.MaxPiecesPerPart/2, upload.MaxPiecesPerPart)
	}
}
