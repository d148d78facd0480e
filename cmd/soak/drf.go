package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
)

// drfClient sends a file as drf-chunked-upload's README client does
// (python-requests): the first chunk by PUT to /drf/uploads, the next by
// PUT to the url each answer gives, with Content-Range, then a POST of
// the whole file's checksum to that url. A chunk whose answer is lost is
// sent again; "Offsets do not match" names the expected offset, from which
// it goes on. Resuming, it asks the upload's url where it stands. A file
// that fits one chunk sometimes goes whole in one POST.
type drfClient struct {
	f     *file
	whole bool
	alg   string // the checksum the deployment is configured with

	mu       sync.Mutex
	id       string
	url      string
	offset   int64
	complete bool
}

const drfRetries = 10

type drfAnswer struct {
	ID             string `json:"id"`
	URL            string `json:"url"`
	Offset         *int64 `json:"offset"`
	Status         int    `json:"status"`
	Detail         any    `json:"detail"`
	ExpectedOffset *int64 `json:"expected_offset"`
}

func newDRFClient(f *file) *drfClient {
	return &drfClient{f: f, whole: len(f.data) <= f.chunk && f.rng.IntN(2) == 0, alg: []string{"md5", "sha256"}[f.rng.IntN(2)]}
}

func (d *drfClient) where() (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return "", d.id
}

func (d *drfClient) checksum() string {
	if d.alg == "sha256" {
		return hex.EncodeToString(d.f.sum[:])
	}
	sum := md5.Sum(d.f.data)
	return hex.EncodeToString(sum[:])
}

// form is a multipart body as python-requests builds it for data={…},
// files={"file": chunk}: the fields, then the file with no type of its own.
func (d *drfClient) form(fields [][2]string, file []byte) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, kv := range fields {
		mw.WriteField(kv[0], kv[1])
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="file"`)
	pw, _ := mw.CreatePart(h)
	pw.Write(file)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// learn keeps the upload an answer shows.
func (d *drfClient) learn(a drfAnswer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.id, d.url = a.ID, a.URL
	if a.Offset != nil {
		d.offset = *a.Offset
	}
	if a.Status == 2 {
		d.complete = true
	}
}

func (d *drfClient) send(ctx context.Context, c *caller) error {
	if d.complete {
		return nil
	}
	if d.whole {
		return d.sendWhole(ctx, c)
	}
	f := d.f
	if d.id != "" {
		if err := d.refresh(ctx, c); err != nil {
			return err
		}
	}
	for d.offset < int64(len(f.data)) {
		if c.abandon && f.abandons(int(d.offset), len(f.data)) {
			return errAbandoned
		}
		start := d.offset
		piece := f.data[start:min(start+int64(f.chunk), int64(len(f.data)))]
		body, ct := d.form([][2]string{{"filename", f.name}}, piece)
		target := d.url
		if target == "" {
			target = "/drf/uploads"
		}
		req := request{method: "PUT", path: target, body: body, header: map[string]string{
			"Content-Type": ct, "Content-Range": fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(piece))-1, len(f.data)),
		}}
		c.st.chunks.Add(1)
		r, err := c.persist(ctx, f.rng, req, drfRetries)
		if err != nil {
			return fmt.Errorf("chunk at %d: %w", start, err)
		}
		var a drfAnswer
		r.decode(&a)
		switch {
		case r.status == http.StatusOK && a.ID != "" && a.URL != "":
			d.learn(a)
			if c.duplicate(f.rng) {
				c.st.chunks.Add(1)
				c.do(ctx, f.rng, req) // refused: its offset is no longer the upload's
			}
		case r.status == http.StatusBadRequest && a.ExpectedOffset != nil && d.id != "":
			d.mu.Lock()
			d.offset = *a.ExpectedOffset
			d.mu.Unlock()
		default:
			return fmt.Errorf("chunk at %d: %s", start, r)
		}
	}
	return d.finish(ctx, c)
}

// refresh asks where the upload stands, as a client resuming does.
func (d *drfClient) refresh(ctx context.Context, c *caller) error {
	r, err := c.persist(ctx, d.f.rng, request{method: "GET", path: d.url}, drfRetries)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	var a drfAnswer
	if r.status != http.StatusOK || !r.decode(&a) || a.ID == "" {
		return fmt.Errorf("status: %s", r)
	}
	d.learn(a)
	return nil
}

// finish posts the checksum. A completion whose answer was lost is
// answered "already complete" when sent again: that is done too.
func (d *drfClient) finish(ctx context.Context, c *caller) error {
	if d.complete {
		return nil
	}
	form := url.Values{d.alg: {d.checksum()}}
	req := request{method: "POST", path: d.url, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: []byte(form.Encode())}
	r, err := c.persist(ctx, d.f.rng, req, drfRetries)
	if err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	var a drfAnswer
	r.decode(&a)
	detail, _ := a.Detail.(string)
	switch {
	case r.status == http.StatusOK && a.Status == 2:
		d.learn(a)
	case r.status == http.StatusBadRequest && strings.Contains(detail, "already been marked"):
		d.mu.Lock()
		d.complete = true
		d.mu.Unlock()
	default:
		return fmt.Errorf("complete: %s", r)
	}
	return nil
}

// sendWhole posts the file in one request. Each attempt is a new upload.
func (d *drfClient) sendWhole(ctx context.Context, c *caller) error {
	body, ct := d.form([][2]string{{"filename", d.f.name}, {d.alg, d.checksum()}}, d.f.data)
	c.st.chunks.Add(1)
	r, err := c.persist(ctx, d.f.rng, request{method: "POST", path: "/drf/uploads", header: map[string]string{"Content-Type": ct}, body: body}, drfRetries)
	if err != nil {
		return fmt.Errorf("whole file: %w", err)
	}
	var a drfAnswer
	if r.status != http.StatusOK || !r.decode(&a) || a.Status != 2 {
		return fmt.Errorf("whole file: %s", r)
	}
	d.learn(a)
	return nil
}
