package main

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// multipleClient sends a file as the README's MultipleUpload page does:
// a file that fits one chunk whole as a form (sometimes), others as raw
// chunks with X-Upload-Id, X-Chunk-Index, X-Chunk-Count, X-File-Name and
// X-File-Size, here in any order and three at once, each retried on a
// network error or a 503. The library has no completion request: the
// answer that completes the file is the whole-file answer, and so is the
// answer to any chunk sent after it, so a page that saw every chunk
// acknowledged without one sends a chunk again to learn where the file
// is.
type multipleClient struct {
	f        *file
	uploadID string
	count    int
	whole    bool

	mu   sync.Mutex
	done map[int]bool
	key  string
	id   string
}

const multipleRetries = 8

func newMultipleClient(f *file) *multipleClient {
	var b [16]byte
	f.rng.fill(b[:])
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	count := max((len(f.data)+f.chunk-1)/f.chunk, 1)
	return &multipleClient{f: f, uploadID: id, count: count, whole: count == 1 && f.rng.IntN(2) == 0, done: map[int]bool{}}
}

func (m *multipleClient) where() (string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.key, m.id
}

// learn keeps where the file is from a whole-file answer.
func (m *multipleClient) learn(r reply) bool {
	var a struct {
		FileGUID string `json:"fileGuid"`
		Key      string `json:"key"`
	}
	if !r.decode(&a) || a.FileGUID == "" {
		return false
	}
	m.mu.Lock()
	m.key, m.id = a.Key, strings.ReplaceAll(a.FileGUID, "-", "")
	m.mu.Unlock()
	return true
}

func (m *multipleClient) send(ctx context.Context, c *caller) error {
	if key, _ := m.where(); key != "" {
		return nil
	}
	if m.whole {
		return m.sendWhole(ctx, c)
	}
	var order []int
	m.mu.Lock()
	for _, i := range m.f.rng.Perm(m.count) {
		if !m.done[i] {
			order = append(order, i)
		}
	}
	m.mu.Unlock()
	sent := 0
	err := eachChunk(ctx, order, 3, func(ctx context.Context, i int) error {
		m.mu.Lock()
		quit := c.abandon && m.f.abandons(sent, len(order))
		sent++
		m.mu.Unlock()
		if quit {
			return errAbandoned
		}
		req := m.chunk(i)
		if c.duplicate(m.f.rng) {
			c.alongside(ctx, m.f.rng, req)
		}
		c.st.chunks.Add(1)
		r, err := c.persist(ctx, m.f.rng, req, multipleRetries)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("chunk %d: %s", i, r)
		}
		m.learn(r)
		m.mu.Lock()
		m.done[i] = true
		m.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if key, _ := m.where(); key == "" {
		// Every chunk is acknowledged; ask where the file is.
		c.st.chunks.Add(1)
		if r, err := c.persist(ctx, m.f.rng, m.chunk(m.count-1), multipleRetries); err == nil && r.status == http.StatusOK {
			m.learn(r)
		}
	}
	return nil
}

// chunk is the POST of chunk i (from 0).
func (m *multipleClient) chunk(i int) request {
	f := m.f
	lo := i * f.chunk
	hi := min(lo+f.chunk, len(f.data))
	name := f.name
	if strings.ContainsFunc(name, func(r rune) bool { return r > 0x7e }) {
		name = url.PathEscape(name) // a browser sends only Latin-1 in a header
	}
	return request{method: "POST", path: "/multipleupload/upload-chunk", body: f.data[lo:hi], header: map[string]string{
		"Content-Type":  "application/octet-stream",
		"X-Upload-Id":   m.uploadID,
		"X-Chunk-Index": strconv.Itoa(i),
		"X-Chunk-Count": strconv.Itoa(m.count),
		"X-File-Name":   name,
		"X-File-Size":   strconv.Itoa(len(f.data)),
	}}
}

// sendWhole posts the file whole. Each attempt is a new upload: one whose
// answer was lost leaves a finished object nobody knows of.
func (m *multipleClient) sendWhole(ctx context.Context, c *caller) error {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, m.f.name))
	h.Set("Content-Type", "application/octet-stream")
	pw, _ := mw.CreatePart(h)
	pw.Write(m.f.data)
	mw.Close()
	c.st.chunks.Add(1)
	r, err := c.persist(ctx, m.f.rng, request{method: "POST", path: "/multipleupload/upload",
		header: map[string]string{"Content-Type": mw.FormDataContentType()}, body: b.Bytes()}, multipleRetries)
	if err != nil {
		return fmt.Errorf("whole file: %w", err)
	}
	if r.status != http.StatusOK || !m.learn(r) {
		return fmt.Errorf("whole file: %s", r)
	}
	return nil
}
