package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"chunkup/internal/wire/crc64nvme"
)

// The dialects the soak drives, by the name its flags and report use.
const (
	dNative    = "native"
	dResumable = "resumable"
	dFlow      = "flow"
	dMultiple  = "multipleupload"
	dDjango    = "django"
	dDRF       = "drf"
	dFileUp    = "fileupload"
	dTus       = "tus"        // one PATCH at a time
	dTusConcat = "tus-concat" // partial uploads in parallel, then the final one
	dCompanion = "companion"  // Uppy's AwsS3 plugin on the Companion routes, parts straight to S3
	dDirect    = "direct"     // the native API's direct mode, parts straight to S3
)

func allDialects() []string {
	return []string{dNative, dResumable, dFlow, dMultiple, dDjango, dDRF, dFileUp, dTus, dTusConcat, dCompanion, dDirect}
}

// file is one file a client uploads, and what became of it.
type file struct {
	n       int
	dialect string
	name    string
	size    int
	data    []byte // the bytes, while a client may still need them (see load)
	sum     [32]byte
	crc     string // the bytes' CRC64NVME, as S3 writes it
	// turn counts the files of its dialect before it: the clients take
	// turns at the ways of using a protocol, so that a short run has
	// every one of them.
	turn  int
	chunk int // the chunk size its client is configured with
	rng   *lockedRand
	// abandonAt, when above 0, is the share of the file after which the
	// client walks away for good.
	abandonAt float64
	// endAt, when above 0, is the share of the file after which the
	// client ends the upload itself (tus's termination, Companion's
	// abort): the service must discard it at once.
	endAt  float64
	client client

	// Outcome, set by the soak.
	finished bool   // the client took the file for uploaded
	phase    string // when: "soak" or "resume"
	lastErr  error  // why the client stopped, if it did not finish
	soakErr  error  // why it stopped during the soak, if it did
	key      string // the verified object
	etag     string // its ETag when verified
}

// client drives one file through one dialect as that dialect's client
// library does. It keeps what it learnt, so send can be called again to
// resume where it stopped.
type client interface {
	// send runs the upload until the client takes the file for uploaded
	// (nil) or gives up (an error saying why).
	send(ctx context.Context, c *caller) error
	// where names the finished object as the client knows it: the key
	// an answer gave, or the upload id from which the key follows; both
	// empty if it never learnt either.
	where() (key, id string)
}

// teller is a client that is told the finished object's ETag and
// CRC64NVME, which must be the object's.
type teller interface {
	told() (etag, crc string)
}

// sizes for the files: small ones fit one S3 part, medium ones span two
// or three, so both single-part and multi-part assembly are exercised.
func pickSize(rng *lockedRand, maxSize int) int {
	const part = 5 << 20
	if maxSize <= part || rng.IntN(10) < 4 {
		return 1 + rng.IntN(min(512<<10, maxSize))
	}
	return part + 1 + rng.IntN(maxSize-part)
}

// pickChunk is a chunk size a page would configure.
func pickChunk(rng *lockedRand, choices ...int) int { return choices[rng.IntN(len(choices))] }

// newFile makes file n for dialect, the turn-th of its dialect, its bytes
// drawn from its own seeded stream so a run can be repeated.
func newFile(n, turn int, dialect string, seed uint64, maxSize int, abandonRate float64) *file {
	rng := newRand(seed, uint64(n)+1)
	f := &file{n: n, turn: turn, dialect: dialect, rng: rng}
	size := pickSize(rng, maxSize)
	if (dialect == dNative || dialect == dTus) && rng.IntN(40) == 0 {
		size = 0 // the native API and tus take empty files
	}
	f.size = size
	f.load(seed)
	f.sum = sha256.Sum256(f.data)
	f.crc = crc64nvme.Encode(crc64nvme.Checksum(f.data))
	f.name = fmt.Sprintf("soak-%04d-%s %s.bin", n, dialect, []string{"plain", "spaced name", "ünïcødé", "(1);v2"}[rng.IntN(4)])
	if abandonRate > 0 && rng.Float64() < abandonRate {
		f.abandonAt = 0.1 + 0.8*rng.Float64()
	}
	switch dialect {
	case dNative:
		f.chunk = pickChunk(rng, 256<<10, 512<<10, 1<<20)
		f.client = &nativeClient{f: f}
	case dResumable, dFlow:
		f.chunk = pickChunk(rng, 256<<10, 512<<10, 1<<20)
		f.client = newResumableClient(f, dialect == dFlow)
	case dMultiple:
		f.chunk = pickChunk(rng, 256<<10, 512<<10, 1<<20)
		f.client = newMultipleClient(f)
	case dDjango:
		f.chunk = pickChunk(rng, 100_000, 256<<10, 1_000_000)
		f.client = &djangoClient{f: f}
	case dDRF:
		f.chunk = pickChunk(rng, 100_000, 256<<10, 1<<20)
		f.client = newDRFClient(f)
	case dFileUp:
		f.chunk = pickChunk(rng, 100_000, 256<<10, 1_000_000)
		f.client = newFileUploadClient(f)
	case dTus:
		f.chunk = pickChunk(rng, 100_000, 512<<10, 1<<20, 4<<20)
		f.client = newTusClient(f)
	case dTusConcat:
		f.chunk = pickChunk(rng, 512<<10, 1<<20, 4<<20)
		f.client = newConcatClient(f)
	case dCompanion, dDirect:
		f.client = newDirectClient(f, dialect == dDirect)
	}
	return f
}

// load makes the file's bytes again after outcome let go of them: they
// come from their own seeded stream, so they are the same every time.
func (f *file) load(seed uint64) {
	if f.data != nil {
		return
	}
	f.data = make([]byte, f.size)
	newRand(seed^0x5eed5eed5eed5eed, uint64(f.n)+1).fill(f.data)
}

// abandons reports whether the client walks away once done of total
// pieces are sent.
func (f *file) abandons(done, total int) bool {
	return f.abandonAt > 0 && total > 0 && float64(done) >= f.abandonAt*float64(total)
}

// ends reports whether the client ends the upload itself once done of
// total pieces are sent.
func (f *file) ends(done, total int) bool {
	return f.endAt > 0 && total > 0 && float64(done) >= f.endAt*float64(total)
}

// clock is the engine's clock, which the soak moves forward to make
// claims lapse and uploads expire.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
