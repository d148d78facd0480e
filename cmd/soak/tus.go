package main

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// The tus clients, as tus-js-client (4.x) sends a file: a creation POST
// (with the first bytes, for uploadDataDuringCreation), then one PATCH at
// a time from the offset the last answer gave. After a failure — no
// answer, a 5xx, a 409 or a 423 — it waits and resumes with a HEAD,
// going on from the server's Upload-Offset; a failed creation is sent
// again, which makes another upload (the first is the sweep's). Every
// other 4xx fails the upload. The finished object's key and CRC64NVME
// come in chunkup's headers on the answer that finished it, or on a HEAD.

const tusVersion = "1.0.0"

// tusRetries bounds the failures in a row one upload takes before it
// gives up (tus-js-client's retryDelays, with more of them).
const tusRetries = 10

// tusUpload is one tus upload of the bytes lo to hi of a file: the whole
// file, or one partial upload of a concatenation.
type tusUpload struct {
	f        *file
	lo, hi   int
	partial  bool // Upload-Concat: partial
	withData bool // creation-with-upload
	checksum bool // every PATCH carries Upload-Checksum (sha1)
	// loseLast loses the answer to the PATCH that brings the last byte,
	// once: the client learns that it is done from a HEAD.
	loseLast bool

	mu       sync.Mutex
	url      string // the upload's URL, from Location
	offset   int64
	key, crc string // the finished object, as the answers named it
	lost     bool   // the last PATCH's answer was lost once already
}

// tusClient sends a file as one tus upload; some of them it ends with a
// DELETE part way (termination), after which the upload's URL must
// answer 404 or 410.
type tusClient struct {
	u *tusUpload
}

func newTusClient(f *file) *tusClient {
	u := &tusUpload{f: f, hi: f.size, checksum: f.rng.IntN(3) == 0}
	switch f.turn % 4 {
	case 1:
		if f.size > 1 {
			f.abandonAt, f.endAt = 0, 0.2+0.6*f.rng.Float64()
			// Some PATCHes go before the DELETE, however small the file.
			f.chunk = min(f.chunk, (f.size+3)/4)
		}
	case 2:
		u.withData, u.loseLast = true, true
	case 3:
		u.withData = true
	}
	return &tusClient{u: u}
}

func (t *tusClient) where() (string, string) { return t.u.where() }

func (t *tusClient) told() (string, string) {
	t.u.mu.Lock()
	defer t.u.mu.Unlock()
	return "", t.u.crc
}

func (t *tusClient) send(ctx context.Context, c *caller) error {
	f := t.u.f
	return t.u.run(ctx, c, func(done, total int) error {
		switch {
		case c.abandon && f.abandons(done, total):
			return errAbandoned
		case c.abandon && f.ends(done, total):
			return t.u.terminate(ctx, c)
		}
		return nil
	})
}

// where is the finished object's key, as an answer named it, and the
// upload's id, the last segment of its URL.
func (u *tusUpload) where() (string, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	id := ""
	if i := strings.LastIndex(u.url, "/files/"); i >= 0 {
		id = u.url[i+len("/files/"):]
	}
	return u.key, id
}

func (u *tusUpload) data() []byte { return u.f.data[u.lo:u.hi] }

func (u *tusUpload) size() int64 { return int64(u.hi - u.lo) }

// done reports whether the upload is finished as far as its client knows.
func (u *tusUpload) done() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.key != "" || (u.partial && u.url != "" && u.offset == u.size())
}

// run sends the upload until it is finished, or fails, or stop (called
// before each PATCH with the bytes sent and the total) says to end.
func (u *tusUpload) run(ctx context.Context, c *caller, stop func(done, total int) error) error {
	if u.done() {
		return nil
	}
	if u.url == "" {
		if err := u.create(ctx, c); err != nil {
			return err
		}
	} else if err := u.head(ctx, c); err != nil {
		return err
	}
	failures := 0
	for u.offset < u.size() {
		if stop != nil {
			if err := stop(int(u.offset), int(u.size())); err != nil {
				return err
			}
		}
		progressed, err := u.patch(ctx, c)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case progressed:
			failures = 0
			continue
		case err != nil:
			return err
		}
		// A failure tus-js-client retries: wait, then ask where the
		// upload stands.
		if err := retryAfter(ctx, c, &failures, tusRetries, fmt.Errorf("PATCH at %d of %s failed", u.offset, u.url)); err != nil {
			return err
		}
		if err := u.head(ctx, c); err != nil {
			return err
		}
	}
	if !u.done() {
		// Every byte is in, but no answer named the object: a HEAD
		// finishes the upload and names it.
		return u.head(ctx, c)
	}
	return nil
}

func (u *tusUpload) metadata() string {
	b64 := base64.StdEncoding.EncodeToString
	return "filename " + b64([]byte(u.f.name)) + ",filetype " + b64([]byte("application/octet-stream"))
}

// create sends the creation POST until it is answered. Each retry makes
// a new upload, as tus-js-client's does.
func (u *tusUpload) create(ctx context.Context, c *caller) error {
	h := map[string]string{"Tus-Resumable": tusVersion, "Upload-Length": strconv.FormatInt(u.size(), 10), "Upload-Metadata": u.metadata()}
	if u.partial {
		h["Upload-Concat"] = "partial"
	}
	req := request{method: "POST", path: "/files", header: h}
	if u.withData && u.size() > 0 {
		h["Content-Type"] = "application/offset+octet-stream"
		req.body = u.data()[:min(u.f.chunk, len(u.data()))]
		c.st.chunks.Add(1)
	}
	r, err := c.persist(ctx, u.f.rng, req, tusRetries)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	loc := r.header.Get("Location")
	if r.status != http.StatusCreated || loc == "" {
		return fmt.Errorf("create: %s", r)
	}
	u.mu.Lock()
	u.url = loc
	u.mu.Unlock()
	if req.body != nil {
		if err := u.learn(r, true); err != nil {
			return fmt.Errorf("create with data: %w", err)
		}
	}
	return nil
}

// learn keeps what an answer says of the upload: its offset and, once it
// is finished, the object. needOffset says the answer must carry one.
func (u *tusUpload) learn(r reply, needOffset bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if v := r.header.Get("Upload-Offset"); v != "" {
		off, err := strconv.ParseInt(v, 10, 64)
		if err != nil || off < 0 || off > u.size() {
			return fmt.Errorf("Upload-Offset %q of a %d-byte upload", v, u.size())
		}
		u.offset = off
	} else if needOffset {
		return fmt.Errorf("no Upload-Offset: %s", r)
	}
	if k := r.header.Get("Chunkup-Object-Key"); k != "" {
		u.key, u.crc = k, r.header.Get("Chunkup-Object-Crc64nvme")
	}
	return nil
}

// head asks where the upload stands, as tus-js-client resuming does.
func (u *tusUpload) head(ctx context.Context, c *caller) error {
	r, err := c.persist(ctx, u.f.rng, request{method: "HEAD", path: u.url, header: map[string]string{"Tus-Resumable": tusVersion}}, tusRetries)
	if err != nil {
		return fmt.Errorf("HEAD: %w", err)
	}
	if r.status != http.StatusOK {
		// tus-js-client would forget the URL and start a new upload; in
		// the soak nothing may make an upload under way vanish.
		return fmt.Errorf("HEAD %s of an upload under way: %d", u.url, r.status)
	}
	if err := u.learn(r, true); err != nil {
		return fmt.Errorf("HEAD: %w", err)
	}
	return nil
}

// patch sends the next chunk once. It reports whether the upload moved
// on; a failure the client retries is (false, nil), one that fails the
// upload is an error.
func (u *tusUpload) patch(ctx context.Context, c *caller) (bool, error) {
	u.mu.Lock()
	off := u.offset
	u.mu.Unlock()
	piece := u.data()[off:min(off+int64(u.f.chunk), u.size())]
	h := map[string]string{"Tus-Resumable": tusVersion, "Upload-Offset": strconv.FormatInt(off, 10), "Content-Type": "application/offset+octet-stream"}
	if u.checksum {
		sum := sha1.Sum(piece)
		h["Upload-Checksum"] = "sha1 " + base64.StdEncoding.EncodeToString(sum[:])
	}
	req := request{method: "PATCH", path: u.url, header: h, body: piece}
	if c.duplicate(u.f.rng) {
		c.alongside(ctx, u.f.rng, req) // one of the two is answered 409
	}
	if last := off+int64(len(piece)) == u.size(); last && u.loseLast && !u.lost {
		u.lost, req.loseAnswer = true, true
	}
	c.st.chunks.Add(1)
	r, err := c.do(ctx, u.f.rng, req)
	switch {
	case err != nil:
		return false, nil
	case r.status == http.StatusNoContent:
		if err := u.learn(r, true); err != nil {
			return false, fmt.Errorf("PATCH at %d: %w", off, err)
		}
		return u.offset > off, nil
	case r.status == http.StatusConflict || r.status == http.StatusLocked || r.status >= 500:
		return false, nil
	}
	return false, fmt.Errorf("PATCH at %d: %s", off, r)
}

// terminate ends the upload with a DELETE, as tus-js-client's
// abort(true) does; afterwards its URL must answer 404 or 410.
func (u *tusUpload) terminate(ctx context.Context, c *caller) error {
	tus := map[string]string{"Tus-Resumable": tusVersion}
	r, err := c.persist(ctx, u.f.rng, request{method: "DELETE", path: u.url, header: tus}, tusRetries)
	if err != nil {
		return fmt.Errorf("DELETE: %w", err)
	}
	if r.status != http.StatusNoContent {
		return fmt.Errorf("DELETE: %s", r)
	}
	c.st.ended.Add(1)
	r, err = c.persist(ctx, u.f.rng, request{method: "HEAD", path: u.url, header: tus}, tusRetries)
	if err != nil {
		return fmt.Errorf("HEAD after DELETE: %w", err)
	}
	if r.status != http.StatusNotFound && r.status != http.StatusGone {
		c.st.wrong(u.f, fmt.Sprintf("HEAD of terminated upload %s answered %d, not 404 or 410", u.url, r.status))
	}
	return errEnded
}

// concatClient sends a file as tus-js-client does with parallelUploads:
// cut into partial uploads sent at once, each as a tus upload of its own,
// then a final upload that names them in order.
type concatClient struct {
	f        *file
	partials []*tusUpload
	// loseFinal loses the answer to the first creation of the final
	// upload: the client sends it again.
	loseFinal bool

	mu       sync.Mutex
	url      string // the final upload's
	key, crc string
}

func newConcatClient(f *file) *concatClient {
	n := 2 + f.turn%3
	if f.size > 16<<20 {
		// Partials under S3's part minimum are joined by reading them,
		// at most 16 MiB of them (MaxBufferedPart).
		n = min(n, f.size/(5<<20))
	}
	n = max(1, min(n, f.size))
	cc := &concatClient{f: f, loseFinal: f.turn%4 == 1}
	each := f.size / n
	for i := range n {
		hi := (i + 1) * each
		if i == n-1 {
			hi = f.size
		}
		cc.partials = append(cc.partials, &tusUpload{f: f, lo: i * each, hi: hi, partial: true, withData: f.turn%4 >= 2, checksum: f.rng.IntN(3) == 0})
	}
	return cc
}

func (cc *concatClient) where() (string, string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	u := &tusUpload{url: cc.url}
	_, id := u.where()
	return cc.key, id
}

func (cc *concatClient) told() (string, string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return "", cc.crc
}

func (cc *concatClient) send(ctx context.Context, c *caller) error {
	if k, _ := cc.where(); k != "" {
		return nil
	}
	f := cc.f
	order := make([]int, len(cc.partials))
	for i := range order {
		order[i] = i
	}
	err := eachChunk(ctx, order, len(order), func(ctx context.Context, i int) error {
		return cc.partials[i].run(ctx, c, func(done, total int) error {
			if c.abandon && f.abandons(done, total) {
				return errAbandoned
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if cc.url == "" {
		if err := cc.createFinal(ctx, c); err != nil {
			return err
		}
	}
	if k, _ := cc.where(); k != "" {
		return nil
	}
	// The final upload was made but not finished: a HEAD finishes it.
	fin := &tusUpload{f: f, hi: f.size, url: cc.url}
	if err := fin.head(ctx, c); err != nil {
		return fmt.Errorf("final upload: %w", err)
	}
	if fin.key == "" {
		return fmt.Errorf("HEAD of the final upload %s named no object", cc.url)
	}
	cc.mu.Lock()
	cc.key, cc.crc = fin.key, fin.crc
	cc.mu.Unlock()
	return nil
}

// createFinal makes the final upload of the partials, retrying as
// tus-js-client does a failed creation.
func (cc *concatClient) createFinal(ctx context.Context, c *caller) error {
	urls := make([]string, len(cc.partials))
	for i, p := range cc.partials {
		urls[i] = p.url
	}
	req := request{method: "POST", path: "/files", header: map[string]string{
		"Tus-Resumable": tusVersion, "Upload-Concat": "final;" + strings.Join(urls, " "), "Upload-Metadata": cc.partials[0].metadata(),
	}}
	if cc.loseFinal {
		cc.loseFinal = false
		lost := req
		lost.loseAnswer = true
		c.do(ctx, cc.f.rng, lost)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r, err := c.persist(ctx, cc.f.rng, req, tusRetries)
	if err != nil {
		return fmt.Errorf("create final: %w", err)
	}
	loc := r.header.Get("Location")
	if r.status != http.StatusCreated || loc == "" {
		return fmt.Errorf("create final: %s", r)
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.url = loc
	if k := r.header.Get("Chunkup-Object-Key"); k != "" {
		cc.key, cc.crc = k, r.header.Get("Chunkup-Object-Crc64nvme")
	}
	return nil
}
