package multipleupload

import (
	"net/http"
	"testing"

	"chunkup/internal/upload"
)

// TestGeometryFromAnyChunk: whichever chunk arrives first, the file is cut
// the same way; a chunk that cannot belong to the file is refused.
func TestGeometryFromAnyChunk(t *testing.T) {
	cases := []struct {
		size       int64
		count      int
		index      int
		n          int64
		chunkSize  int64
		refusedFor upload.Code
	}{
		{size: 10, count: 3, index: 0, n: 4, chunkSize: 4},                        // 4+4+2
		{size: 10, count: 3, index: 2, n: 2, chunkSize: 4},                        // the last first
		{size: 11, count: 3, index: 2, n: 5, chunkSize: 3},                        // a longer last: 3+3+5
		{size: 11, count: 3, index: 1, n: 3, chunkSize: 3},                        // the same file from a middle chunk
		{size: 7, count: 1, index: 0, n: 7, chunkSize: 7},                         // one chunk
		{size: 0, count: 1, index: 0, n: 0, chunkSize: 1},                         // an empty file
		{size: 10, count: 3, index: 2, n: 3, refusedFor: upload.CodeChunkLength},  // 7 does not split in two
		{size: 10, count: 3, index: 2, n: 10, refusedFor: upload.CodeChunkLength}, // nothing left for the others
		{size: 10, count: 3, index: 0, n: 0, refusedFor: upload.CodeChunkLength},  // an empty middle chunk
		{size: 7, count: 1, index: 0, n: 6, refusedFor: upload.CodeChunkLength},   // one chunk, short
	}
	for _, c := range cases {
		hd := headers{uploadID: "u", index: c.index, count: c.count, name: "f", size: c.size}
		g, err := hd.geometry(c.n)
		if c.refusedFor != "" {
			if upload.CodeOf(err) != c.refusedFor {
				t.Errorf("%+v: %v, want %s", c, err, c.refusedFor)
			}
			continue
		}
		if err != nil || g.ChunkSize != c.chunkSize || g.Size != c.size || g.Chunks != c.count {
			t.Errorf("%+v: %+v %v, want chunk size %d", c, g, err, c.chunkSize)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	l := upload.Limits{MaxFileSize: 1000, MaxChunkSize: 100, MaxChunks: 10, MaxNameLength: 50}
	h := http.Header{}
	h.Set("X-Upload-Id", " id-1 ")
	h.Set("X-Chunk-Index", "2")
	h.Set("X-Chunk-Count", "3")
	h.Set("X-File-Name", "caf%C3%A9%20menu.pdf")
	h.Set("X-File-Size", "250")
	hd, err := parseHeaders(h, l)
	if err != nil || hd != (headers{uploadID: "id-1", index: 2, count: 3, name: "café menu.pdf", size: 250}) {
		t.Fatalf("%+v %v", hd, err)
	}
	h.Set("X-File-Name", "100% cotton.txt")
	if hd, _ := parseHeaders(h, l); hd.name != "100% cotton.txt" {
		t.Errorf("a name that is not percent-encoding was changed to %q", hd.name)
	}
	for header, v := range map[string]string{"X-Chunk-Count": "11", "X-Chunk-Index": "3", "X-File-Size": "1001"} {
		bad := h.Clone()
		bad.Set(header, v)
		if _, err := parseHeaders(bad, l); err == nil {
			t.Errorf("%s: %s accepted", header, v)
		}
	}
}

func TestGUID(t *testing.T) {
	if g := guid("0123456789abcdef0123456789abcdef"); g != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatal(g)
	}
}
