package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// djangoClient sends a file as django-chunked-upload's demo page does
// (jQuery-File-Upload with upload_id in its form data): chunks in order as
// multipart forms with Content-Range, upload_id from the first answer on,
// then a completion POST with the whole file's md5. When a chunk's answer
// is lost it sends the chunk again; an "Offsets do not match" answer names
// the offset the upload is at, and it goes on from there. A first chunk
// whose answer was lost gives no upload_id: the client starts over.
type djangoClient struct {
	f *file

	mu       sync.Mutex
	id       string
	offset   int
	key      string
	complete bool
}

const djangoRetries = 10

type djangoAnswer struct {
	UploadID string `json:"upload_id"`
	Offset   *int   `json:"offset"`
	Detail   string `json:"detail"`
	Key      string `json:"key"`
}

func (d *djangoClient) where() (string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.key, d.id
}

// chunk is the POST of the piece at offset.
func (d *djangoClient) chunk(offset int) request {
	f := d.f
	piece := f.data[offset:min(offset+f.chunk, len(f.data))]
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrfmiddlewaretoken", "soakSoakSoakSoakSoakSoakSoakSoak")
	if d.id != "" {
		mw.WriteField("upload_id", d.id)
	}
	fw, _ := mw.CreateFormFile("file", f.name)
	fw.Write(piece)
	mw.Close()
	h := map[string]string{
		"Content-Type":        mw.FormDataContentType(),
		"Content-Disposition": `attachment; filename="` + url.PathEscape(f.name) + `"`,
	}
	// The plugin sends no Content-Range for a file that fits one chunk.
	if len(f.data) > f.chunk || offset > 0 {
		h["Content-Range"] = fmt.Sprintf("bytes %d-%d/%d", offset, offset+len(piece)-1, len(f.data))
	}
	return request{method: "POST", path: "/chunked-upload", header: h, body: b.Bytes()}
}

func (d *djangoClient) send(ctx context.Context, c *caller) error {
	if d.complete {
		return nil
	}
	f := d.f
	for d.offset < len(f.data) {
		if c.abandon && f.abandons(d.offset, len(f.data)) {
			return errAbandoned
		}
		req := d.chunk(d.offset)
		c.st.chunks.Add(1)
		r, err := c.persist(ctx, f.rng, req, djangoRetries)
		if err != nil {
			return fmt.Errorf("chunk at %d: %w", d.offset, err)
		}
		var a djangoAnswer
		r.decode(&a)
		switch {
		case r.status == http.StatusOK && a.Offset != nil && a.UploadID != "":
			d.mu.Lock()
			d.id, d.offset = a.UploadID, *a.Offset
			d.mu.Unlock()
			if c.duplicate(f.rng) {
				// The same chunk again, after its answer: refused with the
				// offset the upload is at, which changes nothing.
				c.st.chunks.Add(1)
				c.do(ctx, f.rng, req)
			}
		case r.status == http.StatusBadRequest && a.Offset != nil && d.id != "":
			d.offset = *a.Offset // "Offsets do not match": go on from where it is
		default:
			return fmt.Errorf("chunk at %d: %s", d.offset, r)
		}
	}
	return d.finish(ctx, c)
}

// finish posts upload_id and the md5, as the demo's $.ajax does. A
// completion whose answer was lost is answered "already complete" when
// sent again: the client takes that as done.
func (d *djangoClient) finish(ctx context.Context, c *caller) error {
	sum := md5.Sum(d.f.data)
	form := url.Values{"upload_id": {d.id}, "md5": {hex.EncodeToString(sum[:])}}
	req := request{method: "POST", path: "/chunked-upload/complete",
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, body: []byte(form.Encode())}
	r, err := c.persist(ctx, d.f.rng, req, djangoRetries)
	if err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	var a djangoAnswer
	r.decode(&a)
	switch {
	case r.status == http.StatusOK && a.Key != "":
		d.mu.Lock()
		d.key, d.complete = a.Key, true
		d.mu.Unlock()
	case r.status == http.StatusBadRequest && strings.Contains(a.Detail, "already been marked"):
		d.complete = true // its key follows from the upload id
	default:
		return fmt.Errorf("complete: %s", r)
	}
	return nil
}
