package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"

	"chunkup/internal/wire/crc64nvme"
)

// directClient sends a file straight to S3, part by part, with URLs
// chunkup signs: as Uppy's AwsS3 plugin (6.x) does through the Companion
// routes (create, sign each part, PUT it to S3, complete with the parts'
// ETags; resuming, list the parts S3 holds), or as a program does with
// the native API's direct mode (create with the size, sign each part,
// optionally bound to its CRC64NVME, complete; resuming, the status lists
// the parts). The PUTs go through the fault proxy in front of S3 that
// the clients meet, and are retried on a 5xx, a 429 or no answer, as
// Uppy's S3 client does. Some clients lose the first completion's answer
// and send it again, some send it twice at once, some once more after it
// was answered: every answer must name the same object. Some abort part
// way, after which nothing of the upload may be left in S3.
type directClient struct {
	f        *file
	native   bool
	partSize int
	// checksums binds each part's URL to its CRC64NVME (native only).
	checksums bool
	// dupComplete sends the completion twice at once; loseComplete loses
	// the first completion's answer.
	dupComplete, loseComplete bool

	mu      sync.Mutex
	id, key string         // the upload, and the key the Companion routes name it by
	parts   int            // how many parts the file makes
	etags   map[int]string // the parts S3 holds, by number
	sent    int            // parts started, for abandoning part way
	fin     *directDone    // what the completion answered
}

// directDone is what a completion answers of the finished object, in the
// native and Companion shapes alike.
type directDone struct {
	State     string `json:"state"` // native only
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
	CRC64NVME string `json:"crc64nvme"`
}

func (d directDone) String() string {
	return fmt.Sprintf("key %s, size %d, ETag %s, CRC64NVME %s", d.Key, d.Size, d.ETag, d.CRC64NVME)
}

// errComplete says a resuming client found its upload complete.
var errComplete = errors.New("the upload is complete")

// directRetries bounds the attempts at one request.
const directRetries = 10

func newDirectClient(f *file, native bool) *directClient {
	d := &directClient{f: f, native: native, partSize: 5 << 20, etags: map[int]string{}}
	if native && f.rng.IntN(2) == 0 {
		d.partSize = 6 << 20
	}
	d.parts = max(1, (f.size+d.partSize-1)/d.partSize)
	turn := f.turn
	if !native {
		turn++ // so that a short run has an abort and a lost completion
	}
	switch turn % 4 {
	case 1:
		f.abandonAt, f.endAt = 0, 0.1+0.7*f.rng.Float64()
	case 2:
		d.loseComplete, d.dupComplete = true, true
	case 3:
		d.dupComplete = true
	}
	d.checksums = native && f.rng.IntN(2) == 0
	return d
}

func (d *directClient) where() (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fin != nil {
		return d.fin.Key, d.id
	}
	return "", d.id
}

func (d *directClient) told() (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fin == nil {
		return "", ""
	}
	return d.fin.ETag, d.fin.CRC64NVME
}

func (d *directClient) send(ctx context.Context, c *caller) error {
	if k, _ := d.where(); k != "" {
		return nil
	}
	var err error
	if d.id == "" {
		err = d.create(ctx, c)
	} else {
		err = d.listParts(ctx, c)
	}
	if errors.Is(err, errComplete) {
		// A completion whose answer never came finished it: sent again,
		// it answers the finished object.
		return d.complete(ctx, c)
	}
	if err != nil {
		return err
	}
	var todo []int
	for n := 1; n <= d.parts; n++ {
		if d.etags[n] == "" {
			todo = append(todo, n)
		}
	}
	err = eachChunk(ctx, todo, 2, func(ctx context.Context, n int) error {
		d.mu.Lock()
		done := d.sent
		d.sent++
		d.mu.Unlock()
		switch {
		case c.abandon && d.f.abandons(done, d.parts):
			return errAbandoned
		case c.abandon && d.f.ends(done, d.parts):
			return errEnded
		}
		return d.sendPart(ctx, c, n)
	})
	if err == nil && c.abandon && d.f.ends(d.parts, d.parts) {
		err = errEnded // every part sent, and the client cancels before completing
	}
	if errors.Is(err, errEnded) {
		return d.abort(ctx, c)
	}
	if err != nil {
		return err
	}
	return d.complete(ctx, c)
}

// path is a route about the upload: the native API's, or Companion's
// with the key as a query parameter.
func (d *directClient) path(suffix string) string {
	if d.native {
		return "/v1/uploads/" + d.id + suffix
	}
	return "/s3/multipart/" + d.id + suffix + "?key=" + url.QueryEscape(d.key)
}

func jsonRequest(method, path string, v any) request {
	body, _ := json.Marshal(v)
	return request{method: method, path: path, header: map[string]string{"Content-Type": "application/json"}, body: body}
}

// create starts the upload. A creation whose answer was lost is sent
// again: the first upload is the sweep's.
func (d *directClient) create(ctx context.Context, c *caller) error {
	f := d.f
	if d.native {
		body := map[string]any{"name": f.name, "size": f.size, "type": "application/octet-stream", "direct": true}
		if d.partSize != 5<<20 {
			body["partSize"] = d.partSize
		}
		r, err := c.persist(ctx, f.rng, jsonRequest("POST", "/v1/uploads", body), directRetries)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		var v struct {
			ID       string `json:"id"`
			PartSize int    `json:"partSize"`
			Parts    int    `json:"parts"`
		}
		if r.status != http.StatusCreated || !r.decode(&v) || v.ID == "" || v.PartSize != d.partSize || v.Parts != d.parts {
			return fmt.Errorf("create (%d parts of %d bytes): %s", d.parts, d.partSize, r)
		}
		d.mu.Lock()
		d.id = v.ID
		d.mu.Unlock()
		return nil
	}
	body := map[string]any{"filename": f.name, "type": "application/octet-stream", "metadata": map[string]string{"name": f.name, "type": "application/octet-stream"}}
	r, err := c.persist(ctx, f.rng, jsonRequest("POST", "/s3/multipart", body), directRetries)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	var v struct {
		Key      string `json:"key"`
		UploadID string `json:"uploadId"`
	}
	if r.status != http.StatusOK || !r.decode(&v) || v.UploadID == "" || v.Key == "" {
		return fmt.Errorf("create: %s", r)
	}
	d.mu.Lock()
	d.id, d.key = v.UploadID, v.Key
	d.mu.Unlock()
	return nil
}

// listParts learns which parts S3 holds, as a client resuming does.
func (d *directClient) listParts(ctx context.Context, c *caller) error {
	r, err := c.persist(ctx, d.f.rng, request{method: "GET", path: d.path("")}, directRetries)
	if err != nil {
		return fmt.Errorf("list parts: %w", err)
	}
	type part struct {
		Number int    `json:"part"`
		ETag   string `json:"etag"`
		// Companion's names, as S3's ListParts has them.
		PartNumber int    `json:"PartNumber"`
		CETag      string `json:"ETag"`
	}
	var parts []part
	if d.native {
		var v struct {
			State    string `json:"state"`
			Uploaded []part `json:"uploaded"`
		}
		switch {
		case r.status != http.StatusOK || !r.decode(&v):
			return fmt.Errorf("status: %s", r)
		case v.State == "complete":
			return errComplete
		}
		parts = v.Uploaded
	} else if r.status != http.StatusOK || !r.decode(&parts) {
		var e struct {
			Code string `json:"code"`
		}
		if r.status == http.StatusConflict && r.decode(&e) && e.Code == "upload_complete" {
			return errComplete
		}
		return fmt.Errorf("list parts: %s", r)
	}
	etags := map[int]string{}
	for _, p := range parts {
		n, etag := max(p.Number, p.PartNumber), p.ETag+p.CETag
		if n < 1 || n > d.parts || etag == "" {
			return fmt.Errorf("list parts: part %+v of a %d-part upload", p, d.parts)
		}
		etags[n] = etag
	}
	d.mu.Lock()
	d.etags = etags
	d.mu.Unlock()
	return nil
}

// signed is a presigned request for one part.
type signed struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"` // native only
}

// sign asks for part n's URL.
func (d *directClient) sign(ctx context.Context, c *caller, n int, piece []byte) (signed, error) {
	p := d.path("/" + strconv.Itoa(n))
	if d.native {
		p = "/v1/uploads/" + d.id + "/parts/" + strconv.Itoa(n)
		if d.checksums {
			p += "?checksum=" + url.QueryEscape("crc64nvme="+crc64nvme.Encode(crc64nvme.Checksum(piece)))
		}
	}
	r, err := c.persist(ctx, d.f.rng, request{method: "GET", path: p}, directRetries)
	if err != nil {
		return signed{}, fmt.Errorf("sign part %d: %w", n, err)
	}
	var s signed
	if r.status != http.StatusOK || !r.decode(&s) || s.URL == "" {
		return signed{}, fmt.Errorf("sign part %d: %s", n, r)
	}
	return s, nil
}

// sendPart signs part n and PUTs it to S3, retrying the PUT on a 5xx, a
// 429 or no answer; a refused signature (403) is signed again once.
func (d *directClient) sendPart(ctx context.Context, c *caller, n int) error {
	f := d.f
	lo := (n - 1) * d.partSize
	piece := f.data[lo:min(lo+d.partSize, f.size)]
	s, err := d.sign(ctx, c, n, piece)
	if err != nil {
		return err
	}
	failures, resigned := 0, false
	for {
		req := request{method: "PUT", path: s.URL, header: s.Headers, body: piece, toS3: true}
		if c.duplicate(f.rng) {
			c.alongside(ctx, f.rng, req)
		}
		c.st.chunks.Add(1)
		r, err := c.do(ctx, f.rng, req)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && r.status == http.StatusOK && r.header.Get("ETag") != "":
			d.mu.Lock()
			d.etags[n] = r.header.Get("ETag")
			d.mu.Unlock()
			return nil
		case err == nil && r.status == http.StatusForbidden && !resigned:
			resigned = true
			if s, err = d.sign(ctx, c, n, piece); err != nil {
				return err
			}
			continue
		case err == nil && r.status < 500 && r.status != http.StatusTooManyRequests:
			return fmt.Errorf("PUT part %d to S3: %s", n, r)
		case err == nil:
			err = fmt.Errorf("PUT part %d to S3: %s", n, r)
		}
		if err := retryAfter(ctx, c, &failures, directRetries, err); err != nil {
			return err
		}
	}
}

// completion is the request that completes the upload.
func (d *directClient) completion() request {
	if d.native {
		return request{method: "POST", path: d.path("/complete")}
	}
	type part struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
	}
	d.mu.Lock()
	parts := make([]part, 0, len(d.etags))
	for n, etag := range d.etags {
		parts = append(parts, part{n, etag})
	}
	d.mu.Unlock()
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	return jsonRequest("POST", d.path("/complete"), map[string]any{"parts": parts})
}

// complete sends the completion until it is answered, and checks that
// every answer — to a retry after a lost answer, to a second completion
// sent at once, to one sent again later — names the same object.
func (d *directClient) complete(ctx context.Context, c *caller) error {
	f := d.f
	req := d.completion()
	if d.loseComplete {
		d.loseComplete = false
		lost := req
		lost.loseAnswer = true
		c.st.lostCompletions.Add(1)
		c.do(ctx, f.rng, lost)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	var first, second reply
	var ferr, serr error
	if d.dupComplete {
		c.st.dupCompletions.Add(1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			second, serr = c.persist(ctx, f.rng, req, directRetries)
		}()
		first, ferr = c.persist(ctx, f.rng, req, directRetries)
		wg.Wait()
	} else {
		first, ferr = c.persist(ctx, f.rng, req, directRetries)
	}
	if ferr != nil {
		return fmt.Errorf("complete: %w", ferr)
	}
	fin, err := d.finished(first)
	if err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	if !d.dupComplete && c.duplicate(f.rng) {
		c.st.dupCompletions.Add(1)
		second, serr = c.persist(ctx, f.rng, req, directRetries)
		d.same(c, fin, second, serr)
	} else if d.dupComplete {
		d.same(c, fin, second, serr)
	}
	d.mu.Lock()
	d.fin = &fin
	d.mu.Unlock()
	return nil
}

// finished reads a completion's answer.
func (d *directClient) finished(r reply) (directDone, error) {
	var v directDone
	if r.status != http.StatusOK || !r.decode(&v) || v.Key == "" || v.ETag == "" || v.CRC64NVME == "" || (d.native && v.State != "complete") {
		return directDone{}, fmt.Errorf("%s", r)
	}
	if v.Size != int64(d.f.size) {
		return directDone{}, fmt.Errorf("the answer names %d bytes, not the file's %d: %s", v.Size, d.f.size, r)
	}
	return v, nil
}

// same checks a second completion's answer against the first: it must
// name the same object (or be a fault the client would retry).
func (d *directClient) same(c *caller, fin directDone, r reply, err error) {
	if err != nil {
		return // no answer, even after retries: nothing to compare
	}
	again, aerr := d.finished(r)
	switch {
	case aerr != nil:
		c.st.wrong(d.f, fmt.Sprintf("completion %s sent again answered %v; the first answered %s", d.id, aerr, fin))
	case again != fin:
		c.st.wrong(d.f, fmt.Sprintf("completion %s sent again answered %s; the first answered %s", d.id, again, fin))
	}
}

// abort ends the upload, as Uppy's cancel does (DELETE); afterwards no
// URL may be signed for it.
func (d *directClient) abort(ctx context.Context, c *caller) error {
	f := d.f
	r, err := c.persist(ctx, f.rng, request{method: "DELETE", path: d.path("")}, directRetries)
	if err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	if want := map[bool]int{true: http.StatusNoContent, false: http.StatusOK}[d.native]; r.status != want {
		return fmt.Errorf("abort: %s", r)
	}
	c.st.ended.Add(1)
	p := d.path("/1")
	if d.native {
		p = "/v1/uploads/" + d.id + "/parts/1"
	}
	r, err = c.persist(ctx, f.rng, request{method: "GET", path: p}, directRetries)
	if err == nil && r.status != http.StatusGone && r.status != http.StatusNotFound {
		c.st.wrong(f, fmt.Sprintf("signing a part of aborted upload %s answered %s, not 404 or 410", d.id, r))
	}
	return errEnded
}
