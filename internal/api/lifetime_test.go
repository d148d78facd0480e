package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"chunkup/internal/upload"
)

// TestUploadLifetime: an upload kept busy is kept open by its chunks only
// until the end of its lifetime (Options.MaxLifetime), after which S3's
// lifecycle rules may have dropped its multipart upload and staged
// chunks. Then a chunk is refused as expired with a message naming the
// limit and its value, and nothing stored changes.
func TestUploadLifetime(t *testing.T) {
	e := newEnv(t, func(o *upload.Options) {
		o.Expiry = 2 * time.Hour
		o.MaxLifetime = 3 * time.Hour
	})
	const chunk = 1 << 20
	data := randomBytes(8<<20, 71)
	start := e.clock.Now()
	up := e.createNative("long.bin", int64(len(data)), chunk)
	send := func(n int) (int, nativeError) {
		var er nativeError
		st := e.call("PUT", fmt.Sprintf("/v1/uploads/%s/chunks/%d", up.ID, n), bytes.NewReader(chunkOf(data, chunk, n)), &er)
		return st, er
	}
	// Chunks an hour apart keep it open past its first expiry (2 h) up to
	// the end of its lifetime (3 h), and no further.
	for n, wait := range []time.Duration{0, time.Hour, time.Hour, 50 * time.Minute} {
		e.clock.Advance(wait)
		if st, er := send(n); st != http.StatusOK {
			t.Fatalf("chunk %d: %d %+v", n, st, er)
		}
	}
	var open nativeUpload
	if st := e.call("GET", "/v1/uploads/"+up.ID, nil, &open); st != 200 || open.State != "open" {
		t.Fatalf("status before the end of the lifetime: %d %+v", st, open)
	}
	end := start.Add(3 * time.Hour)
	if at, err := time.Parse(time.RFC3339, open.ExpiresAt); err != nil || at.Before(end.Add(-time.Second)) || at.After(end.Add(time.Minute)) {
		t.Fatalf("expires at %s (%v), want the end of its lifetime, about %v, not an expiry after the last chunk", open.ExpiresAt, err, end)
	}
	before := e.storage()
	e.clock.Advance(11 * time.Minute)
	st, er := send(4)
	if st != http.StatusGone || er.Error.Code != "upload_expired" || er.Error.Limit != 3*3600 ||
		!strings.Contains(er.Error.Message, "lifetime") || !strings.Contains(er.Error.Message, "3h0m0s") {
		t.Fatalf("chunk after the end of the lifetime: %d %+v; want 410 upload_expired naming the 3h limit", st, er)
	}
	e.unchanged("a chunk after the end of the lifetime", before, e.storage(), false)
}
