package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"

	"chunkup/internal/upload"
)

// TestStreamUploadKeepsRunningChecksums: a 64 MiB sequential upload in
// 1 MiB chunks, with a racing duplicate writer at every tenth offset.
// Completion verifies md5 and sha256 from the running state: it reads
// back none of the file for them.
func TestStreamUploadKeepsRunningChecksums(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	data := randomBytes(64<<20+777, 71)
	s, err := e.svc.Engine.CreateStream(ctx, upload.NewStream{Owner: "o", Name: "s.bin", Size: int64(len(data)), Hashes: []string{"md5", "sha256"}})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 1 << 20
	offset := int64(0)
	for i := 0; offset < int64(len(data)); i++ {
		piece := data[offset:min(offset+chunk, int64(len(data)))]
		if i%10 == 3 {
			// Two writers at the same offset: exactly one commits.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cur, err := e.svc.Engine.Get(ctx, "o", s.ID)
					if err == nil {
						_, err = e.svc.Engine.Append(ctx, cur, offset, piece)
					}
					errs[j] = err
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if e2, ok := upload.AsError(err); !ok || e2.Code != upload.CodeOffset || e2.Offset != offset+int64(len(piece)) {
					t.Fatalf("racing writer at %d: %v", offset, err)
				}
			}
			if won != 1 {
				t.Fatalf("%d racing writers committed at offset %d", won, offset)
			}
			s, _ = e.svc.Engine.Get(ctx, "o", s.ID)
		} else if s, err = e.svc.Engine.Append(ctx, s, offset, piece); err != nil {
			t.Fatalf("append at %d: %v", offset, err)
		}
		offset += int64(len(piece))
	}
	// A stale offset is refused with the current one, changing nothing.
	if _, err := e.svc.Engine.Append(ctx, s, 0, data[:chunk]); upload.CodeOf(err) != upload.CodeOffset {
		t.Fatalf("stale offset: %v", err)
	}
	readBefore := e.blobs.bytesRead.Load()
	md := md5.Sum(data)
	sh := sha256.Sum256(data)
	if _, err := e.svc.Engine.CompleteStream(ctx, s, map[string]string{"md5": hex.EncodeToString(sh[:16])}); upload.CodeOf(err) != upload.CodeChecksum {
		t.Fatalf("wrong md5 accepted: %v", err)
	}
	done, err := e.svc.Engine.CompleteStream(ctx, s, map[string]string{"md5": hex.EncodeToString(md[:]), "sha256": hex.EncodeToString(sh[:])})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	readAtCompletion := e.blobs.bytesRead.Load() - readBefore
	if readAtCompletion > s.PartSize+chunk {
		t.Fatalf("completion read %d bytes; at most the last part (%d) may be read", readAtCompletion, s.PartSize)
	}
	// Each byte is read back at most once, for its part; the piece whose
	// append sealed a part is taken from memory, not read back.
	if total := e.blobs.bytesRead.Load(); total >= int64(len(data)) {
		t.Fatalf("%d bytes read back in all for %d bytes uploaded: at most each byte once, less the pieces that sealed parts", total, len(data))
	}
	got, crc := e.object(done.Key)
	if !bytes.Equal(got, data) || crc == "" || done.CRC64 != crc {
		t.Fatalf("object differs or lacks its CRC64NVME (%d bytes, %q vs %q)", len(got), crc, done.CRC64)
	}
	if d, _ := done.Digest("sha256"); d != hex.EncodeToString(sh[:]) {
		t.Fatalf("recorded sha256 %s", d)
	}
	if _, err := e.svc.Engine.CompleteStream(ctx, done, nil); upload.CodeOf(err) != upload.CodeComplete {
		t.Fatalf("complete twice: %v", err)
	}
	if left := e.stagedKeys(); len(left) != 0 {
		t.Fatalf("staged pieces left: %v", left)
	}
}

func TestStreamLimits(t *testing.T) {
	e := newEnv(t, smallLimits)
	ctx := context.Background()
	if _, err := e.svc.Engine.CreateStream(ctx, upload.NewStream{Owner: "o", Name: "x", Size: 65 << 20}); upload.CodeOf(err) != upload.CodeFileTooLarge {
		t.Fatalf("over the size limit: %v", err)
	}
	s, err := e.svc.Engine.CreateStream(ctx, upload.NewStream{Owner: "o", Name: "x", Size: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[upload.Code][]byte{
		upload.CodeChunkTooLarge: make([]byte, 2<<20+1),
		upload.CodeInvalid:       nil,
	}
	for code, b := range cases {
		if _, err := e.svc.Engine.Append(ctx, s, 0, b); upload.CodeOf(err) != code {
			t.Errorf("%d bytes: %v, want %s", len(b), err, code)
		}
	}
	fresh, _ := e.svc.Engine.Get(ctx, "o", s.ID)
	if fresh.Offset != 0 || len(e.stagedKeys()) != 0 {
		t.Fatalf("refused chunks changed the upload: offset %d, staged %v", fresh.Offset, e.stagedKeys())
	}
	if _, err := e.svc.Engine.CompleteStream(ctx, fresh, nil); upload.CodeOf(err) != upload.CodeIncomplete {
		t.Fatalf("complete with nothing: %v", err)
	}
}
