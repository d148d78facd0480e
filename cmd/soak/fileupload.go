package main

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fileUploadClient sends a file as blueimp's jQuery-File-Upload does with
// maxChunkSize set: chunks in order by POST, PUT or PATCH, as a form or a
// raw body, with Content-Disposition and (for a file that is cut)
// Content-Range; each answer's Range header says where the next chunk
// starts. On a failure it follows the plugin's documented retry recipe
// (maxRetries, retryTimeout growing with each retry): ask the server how
// much of the file it has (GET ?file=name&size=N) and go on from there,
// from byte 0 when the answer is null. The file is done when an answer
// names its finished object.
type fileUploadClient struct {
	f      *file
	method string
	raw    bool
	param  string

	mu       sync.Mutex
	uploaded int  // bytes the answers so far say are stored
	started  bool // something was sent: a resume asks the server first
	key      string
}

const (
	fileUploadRetries = 20
	fileUploadTimeout = 100 * time.Millisecond
)

func newFileUploadClient(f *file) *fileUploadClient {
	return &fileUploadClient{
		f:      f,
		method: []string{"POST", "PUT", "PATCH"}[f.rng.IntN(3)],
		raw:    f.rng.IntN(3) == 0,
		param:  []string{"files[]", "upload"}[f.rng.IntN(2)],
	}
}

func (u *fileUploadClient) where() (string, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.key, ""
}

type fileUploadAnswer struct {
	Files []struct {
		Size int64  `json:"size"`
		Key  string `json:"key"`
	} `json:"files"`
	File *struct {
		Size int64 `json:"size"`
	} `json:"file"`
}

// encodeURI is JavaScript's encodeURI, which the plugin applies to the
// name it puts in Content-Disposition.
func encodeURI(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(";,/?:@&=+$-_.!~*'()#", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// chunk is the request for the piece from byte ub.
func (u *fileUploadClient) chunk(ub int) request {
	f := u.f
	piece := f.data[ub:min(ub+f.chunk, len(f.data))]
	h := map[string]string{"Content-Disposition": `attachment; filename="` + encodeURI(f.name) + `"`}
	if len(f.data) > f.chunk || ub > 0 {
		h["Content-Range"] = fmt.Sprintf("bytes %d-%d/%d", ub, ub+len(piece)-1, len(f.data))
	}
	if u.raw {
		h["Content-Type"] = "application/octet-stream"
		return request{method: u.method, path: "/fileupload", header: h, body: piece}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile(u.param, f.name)
	fw.Write(piece)
	mw.Close()
	h["Content-Type"] = mw.FormDataContentType()
	return request{method: u.method, path: "/fileupload", header: h, body: b.Bytes()}
}

// stored reads the Range header as the plugin does: the number after the
// dash, plus one; 0 without one.
func stored(h http.Header) int {
	_, upper, ok := strings.Cut(h.Get("Range"), "-")
	n, err := strconv.Atoi(upper)
	if !ok || err != nil {
		return 0
	}
	return n + 1
}

func (u *fileUploadClient) send(ctx context.Context, c *caller) error {
	if key, _ := u.where(); key != "" {
		return nil
	}
	f := u.f
	retries := 0
	ub := u.uploaded
	resume := u.started
	for {
		if resume {
			// The recipe: ask how far the file came, go on from there.
			next, err := u.resume(ctx, c)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				if retries >= fileUploadRetries {
					return fmt.Errorf("resume: %w", err)
				}
				retries++
				c.st.retries.Add(1)
				pause(ctx, time.Duration(retries)*fileUploadTimeout)
				continue
			}
			ub, resume = next, false
		}
		if c.abandon && f.abandons(ub, len(f.data)) {
			return errAbandoned
		}
		req := u.chunk(ub)
		u.started = true
		c.st.chunks.Add(1)
		r, err := c.do(ctx, f.rng, req)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var a fileUploadAnswer
		if err == nil && r.status == http.StatusOK && r.decode(&a) && len(a.Files) == 1 {
			if a.Files[0].Key != "" {
				u.mu.Lock()
				u.key = a.Files[0].Key
				u.mu.Unlock()
				return nil
			}
			ub = stored(r.header)
			u.uploaded = ub
			if c.duplicate(f.rng) {
				c.st.chunks.Add(1)
				c.do(ctx, f.rng, req) // its answer's Range puts the client back where the upload is
			}
			if ub < len(f.data) {
				continue
			}
			err = fmt.Errorf("every byte acknowledged, but no answer named the object")
		} else if err == nil {
			err = fmt.Errorf("chunk at %d: %s", ub, r)
		}
		if retries >= fileUploadRetries {
			return fmt.Errorf("gave up after %d retries: %w", retries, err)
		}
		retries++
		c.st.retries.Add(1)
		if !pause(ctx, time.Duration(retries)*fileUploadTimeout) {
			return ctx.Err()
		}
		resume = true
	}
}

// resume is the recipe's GET: the bytes stored, 0 when the server has
// nothing to resume (null).
func (u *fileUploadClient) resume(ctx context.Context, c *caller) (int, error) {
	q := url.Values{"file": {u.f.name}, "size": {strconv.Itoa(len(u.f.data))}}
	r, err := c.do(ctx, u.f.rng, request{method: "GET", path: "/fileupload?" + q.Encode()})
	if err != nil {
		return 0, err
	}
	var a fileUploadAnswer
	if r.status != http.StatusOK || !r.decode(&a) {
		return 0, fmt.Errorf("resume GET: %s", r)
	}
	if a.File == nil {
		return 0, nil
	}
	return int(a.File.Size), nil
}
