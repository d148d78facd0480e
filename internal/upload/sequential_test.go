package upload_test

import (
	"testing"

	"chunkup/internal/upload"
)

// TestSequentialPartsAreNotCounted: a sequential upload's parts cost no
// count of parts (two writes each), which only uploads by chunk number
// read; the upload still finishes whole.
//
// Guard: assembleClaimed counts parts for uploads by chunk number only.
func TestSequentialPartsAreNotCounted(t *testing.T) {
	e := newEnv(t)
	f := newFile(3, e.opt.MaxChunkSize, 12)
	s, err := e.engine.CreateStream(e.ctx, upload.NewStream{Owner: owner, Name: "s.bin", Size: f.g.Size})
	if err != nil {
		t.Fatal(err)
	}
	counts := e.sessions.Calls("CountPart")
	for i := range 3 {
		if s, err = e.engine.Append(e.ctx, s, f.g.ChunkOffset(i), f.chunk(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	if s.NextPart == 0 {
		t.Fatal("no part was sealed: the test needs chunks that fill one")
	}
	if n := e.sessions.Calls("CountPart") - counts; n != 0 {
		t.Fatalf("%d CountPart calls for a sequential upload, want none", n)
	}
	if s, err = e.engine.CompleteStream(e.ctx, s, nil); err != nil {
		t.Fatalf("CompleteStream: %v", err)
	}
	e.checkObject(s, f)
}
