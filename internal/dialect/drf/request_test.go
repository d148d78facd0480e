package drf

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"chunkup/internal/upload"
)

func testAPI() *API {
	opt := upload.DefaultOptions()
	opt.MaxFileSize = 1000
	return New(upload.New(nil, nil, opt), "/drf/uploads", "drf", nil, "anonymous", slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestParseRange: the original's answers for each kind of bad header.
func TestParseRange(t *testing.T) {
	a := testAPI()
	cases := []struct {
		header, detail string
		start, end     int64
	}{
		{"bytes 0-9/10", "", 0, 9},
		{"bytes 10-19/1000", "", 10, 19},
		{"", "Error in request headers", 0, 0},
		{"bytes nonsense", "Error in request headers", 0, 0},
		{"bytes 0-9", "Error in request headers", 0, 0},
		{"bytes -1-9/10", "Error in request headers", 0, 0},
		{"bytes 0--9/10", "Error in request headers", 0, 0},
		{"bytes 0-9/+10", "Error in request headers", 0, 0},
		{"bytes 9-0/10", "Error in request headers", 0, 0},
		{"Bytes 0-9/10", "Error in request headers", 0, 0},
		{"bytes 0-10/10", "End of chunk exceeds reported total (10 bytes)", 0, 0},
		{"bytes 0-100000/5", "End of chunk exceeds reported total (5 bytes)", 0, 0},
		{"bytes 0-99999999999999999999/5", "End of chunk exceeds reported total (5 bytes)", 0, 0},
		{"bytes 0-9/1001", "Size of file exceeds the limit (1000 bytes)", 0, 0},
		{"bytes 0-9999/999999999999999999999", "Size of file exceeds the limit (1000 bytes)", 0, 0},
	}
	for _, c := range cases {
		rng, err := a.parseRange(c.header)
		if c.detail == "" {
			if err != nil || rng.Start != c.start || rng.End != c.end {
				t.Errorf("%q: %+v %v", c.header, rng, err)
			}
			continue
		}
		p, ok := err.(*problem)
		if !ok || p.status != 400 || p.body["detail"] != c.detail {
			t.Errorf("%q: %v, want %q", c.header, err, c.detail)
		}
	}
}

// TestTimestamp: datetimes as Django REST framework renders them.
func TestTimestamp(t *testing.T) {
	at := time.Date(2026, 11, 21, 23, 55, 40, 0, time.UTC)
	cases := map[time.Time]string{
		at:                             "2026-11-21T23:55:40Z",
		at.Add(556 * time.Millisecond): "2026-11-21T23:55:40.556000Z",
		at.Add(556*time.Millisecond + 789*time.Microsecond): "2026-11-21T23:55:40.556000Z",
		at.In(time.FixedZone("CET", 3600)):                  "2026-11-21T23:55:40Z",
	}
	for in, want := range cases {
		if got := timestamp(in); got != want {
			t.Errorf("timestamp(%v) = %q, want %q", in, got, want)
		}
	}
}
