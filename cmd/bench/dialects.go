package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"sync"
	"time"

	"chunkup/internal/upload"
)

// file is a file a client uploads: its name and bytes.
type file struct {
	name string
	data []byte
	md5  string // hex MD5 of data, if known
}

func (f file) size() int64 { return int64(len(f.data)) }

// uploadResult is what a client saw of one upload.
type uploadResult struct {
	Key      string
	Requests int
	Retries  int
	// Complete is the duration of the request that finished the file (the
	// completion request, or the chunk that completed it).
	Complete time.Duration
	// S3Complete is the part of Complete spent in CompleteMultipartUpload.
	S3Complete time.Duration
}

// dialect is a client family the benchmark drives, through the routes it
// needs; the benchmark runs those whose routes the service serves.
type dialect struct {
	Name string
	// Routes are the route keys ("METHOD /path") the client uses; all must
	// be in the service's route table and template.yaml.
	Routes []string
	// Sequential clients send one chunk at a time, at the upload's offset.
	Sequential bool
	// Concat clients (tus) send a file in par partial uploads at once,
	// each one chunk at a time, and join them in a final upload; they run
	// side by side with another server of their protocol (versus.go).
	Concat bool
	upload func(ctx context.Context, c *client, f file, chunk int64, par int) (uploadResult, error)
}

// dialects are the clients the benchmark knows, in the table's order.
func dialects() []*dialect {
	return []*dialect{
		{Name: "native", Routes: []string{"POST /v1/uploads", "PUT /v1/uploads/{id}/chunks/{n}", "POST /v1/uploads/{id}/complete"}, upload: uploadNative},
		{Name: "resumable", Routes: []string{"GET /resumable", "POST /resumable"}, upload: uploadResumable("resumable", "/resumable", true)},
		{Name: "flow", Routes: []string{"GET /flow", "POST /flow"}, upload: uploadResumable("flow", "/flow", false)},
		{Name: "multipleupload", Routes: []string{"ANY /multipleupload/upload-chunk"}, upload: uploadMultipleUpload},
		{Name: "django", Routes: []string{"POST /chunked-upload", "POST /chunked-upload/complete"}, Sequential: true, upload: uploadDjango},
		{Name: "drf", Routes: []string{"PUT /drf/uploads", "PUT /drf/uploads/{id}", "POST /drf/uploads/{id}"}, Sequential: true, upload: uploadDRF},
		{Name: "fileupload", Routes: []string{"POST /fileupload"}, Sequential: true, upload: uploadFileUpload},
		{Name: "tus", Routes: []string{"POST /files", "PATCH /files/{id}"}, Sequential: true, Concat: true,
			upload: uploadTus(tusServer{base: "/files", key: chunkupKey})},
	}
}

// client sends requests to the local gateway and keeps the time of the
// request that finished the upload.
type client struct {
	http *http.Client
	base string
	// s3CompleteTotal reads the time spent so far in S3's
	// CompleteMultipartUpload, to split the completing request's time.
	s3CompleteTotal func() float64

	mu       sync.Mutex
	requests int
	retries  int // answers 503 that were retried
}

type response struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	s3done time.Duration // S3 CompleteMultipartUpload time during the request
}

// do sends a request and reads the answer. A 503 (the service's "retry
// it") is retried after its Retry-After, as the clients do, up to 8 times;
// took covers every attempt.
func (c *client) do(ctx context.Context, method, path string, header http.Header, body []byte) (response, error) {
	before := c.s3CompleteTotal()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
		if err != nil {
			return response{}, err
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return response{}, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.mu.Lock()
		c.requests++
		if resp.StatusCode == http.StatusServiceUnavailable {
			c.retries++
		}
		c.mu.Unlock()
		if err != nil {
			return response{}, err
		}
		if resp.StatusCode == http.StatusServiceUnavailable && attempt < 8 {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return response{}, ctx.Err()
			}
		}
		s3done := time.Duration((c.s3CompleteTotal() - before) * float64(time.Second))
		return response{status: resp.StatusCode, header: resp.Header, body: data, took: time.Since(start), s3done: s3done}, nil
	}
}

// call sends a request, fails unless the answer has status want, and
// decodes the answer's JSON into v.
func (c *client) call(ctx context.Context, what, method, path string, header http.Header, body []byte, want int, v any) (response, error) {
	r, err := c.do(ctx, method, path, header, body)
	if err != nil {
		return r, err
	}
	if err := r.expect(what, want); err != nil {
		return r, err
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return r, fmt.Errorf("%s: %w", what, err)
	}
	return r, nil
}

// expect fails unless the response has one of the statuses.
func (r response) expect(what string, statuses ...int) error {
	for _, s := range statuses {
		if r.status == s {
			return nil
		}
	}
	return fmt.Errorf("%s: status %d: %.300s", what, r.status, r.body)
}

// chunkCount is how a client cuts a file: ceil(size/chunk), at least one.
func chunkCount(size, chunk int64) int {
	return max(1, int((size+chunk-1)/chunk))
}

// sendAll sends chunks 0..n-1 with par requests at a time, in order of
// index (as the browser clients do). It stops at the first error.
func sendAll(ctx context.Context, n, par int, send func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, par) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := send(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// finisher keeps the answer of the request that completed the file, for
// the clients whose last chunk completes it.
type finisher struct {
	mu   sync.Mutex
	res  uploadResult
	done bool
}

func (f *finisher) finish(key string, r response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		f.done = true
		f.res.Key, f.res.Complete, f.res.S3Complete = key, r.took, r.s3done
	}
}

func (f *finisher) result(c *client) (uploadResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		return uploadResult{}, errors.New("no request answered that the file was complete")
	}
	f.res.Requests, f.res.Retries = c.requests, c.retries
	return f.res, nil
}

// uploadNative: POST /v1/uploads, PUT each chunk, POST …/complete.
func uploadNative(ctx context.Context, c *client, f file, chunk int64, par int) (uploadResult, error) {
	body, _ := json.Marshal(map[string]any{"name": f.name, "size": f.size(), "type": "application/octet-stream", "chunkSize": chunk})
	var up struct {
		ID string `json:"id"`
	}
	r, err := c.call(ctx, "create", "POST", "/v1/uploads", http.Header{"Content-Type": {"application/json"}}, body, http.StatusCreated, &up)
	if err != nil {
		return uploadResult{}, err
	}
	n := chunkCount(f.size(), chunk)
	octet := http.Header{"Content-Type": {"application/octet-stream"}}
	err = sendAll(ctx, n, par, func(ctx context.Context, i int) error {
		lo, hi := int64(i)*chunk, min(int64(i+1)*chunk, f.size())
		r, err := c.do(ctx, "PUT", fmt.Sprintf("/v1/uploads/%s/chunks/%d", up.ID, i), octet, f.data[lo:hi])
		if err != nil {
			return err
		}
		return r.expect(fmt.Sprintf("chunk %d", i), http.StatusOK)
	})
	if err != nil {
		return uploadResult{}, err
	}
	var done struct {
		Key string `json:"key"`
	}
	r, err = c.call(ctx, "complete", "POST", "/v1/uploads/"+up.ID+"/complete", nil, nil, http.StatusOK, &done)
	if err != nil {
		return uploadResult{}, err
	}
	return uploadResult{Key: done.Key, Requests: c.requests, Retries: c.retries, Complete: r.took, S3Complete: r.s3done}, nil
}

// uploadResumable drives Resumable.js (prefix "resumable") and Flow.js
// (prefix "flow") with their defaults: before each chunk a test GET
// (testChunks), then a multipart POST of the chunk with the parameters as
// form fields (and, for Resumable.js, in the query string as well). The
// last chunk is cut as those clients cut it: floor(size/chunk) chunks, the
// last one taking the rest.
func uploadResumable(prefix, path string, queryToo bool) func(context.Context, *client, file, int64, int) (uploadResult, error) {
	return func(ctx context.Context, c *client, f file, chunk int64, par int) (uploadResult, error) {
		n := max(1, int(f.size()/chunk))
		ident := fmt.Sprintf("%d-%s", f.size(), f.name)
		var fin finisher
		err := sendAll(ctx, n, par, func(ctx context.Context, i int) error {
			lo, hi := int64(i)*chunk, int64(i+1)*chunk
			if i == n-1 {
				hi = f.size()
			}
			q := url.Values{}
			set := func(k, v string) { q.Set(prefix+k, v) }
			set("ChunkNumber", strconv.Itoa(i+1))
			set("ChunkSize", strconv.FormatInt(chunk, 10))
			set("CurrentChunkSize", strconv.FormatInt(hi-lo, 10))
			set("TotalSize", strconv.FormatInt(f.size(), 10))
			if prefix == "resumable" {
				set("Type", "application/octet-stream")
			}
			set("Identifier", ident)
			set("Filename", f.name)
			set("RelativePath", f.name)
			set("TotalChunks", strconv.Itoa(n))
			r, err := c.do(ctx, "GET", path+"?"+q.Encode(), nil, nil)
			if err != nil {
				return err
			}
			if err := r.expect(fmt.Sprintf("test chunk %d", i+1), http.StatusNoContent); err != nil {
				return err
			}
			var form bytes.Buffer
			mw := multipart.NewWriter(&form)
			for k, vs := range q {
				mw.WriteField(k, vs[0])
			}
			fw, err := mw.CreateFormFile("file", f.name)
			if err != nil {
				return err
			}
			fw.Write(f.data[lo:hi])
			mw.Close()
			target := path
			if queryToo {
				target += "?" + q.Encode()
			}
			var a struct {
				State string `json:"state"`
				Key   string `json:"key"`
			}
			r, err = c.call(ctx, fmt.Sprintf("chunk %d", i+1), "POST", target, http.Header{"Content-Type": {mw.FormDataContentType()}}, form.Bytes(), http.StatusOK, &a)
			if err != nil {
				return err
			}
			if a.State == "complete" {
				fin.finish(a.Key, r)
			}
			return nil
		})
		if err != nil {
			return uploadResult{}, err
		}
		return fin.result(c)
	}
}

// uploadMultipleUpload: raw chunk POSTs described by X- headers; the last
// missing chunk completes the file.
func uploadMultipleUpload(ctx context.Context, c *client, f file, chunk int64, par int) (uploadResult, error) {
	n := chunkCount(f.size(), chunk)
	id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), f.size())
	var fin finisher
	err := sendAll(ctx, n, par, func(ctx context.Context, i int) error {
		lo, hi := int64(i)*chunk, min(int64(i+1)*chunk, f.size())
		h := http.Header{
			"Content-Type":  {"application/octet-stream"},
			"X-Upload-Id":   {id},
			"X-Chunk-Index": {strconv.Itoa(i)},
			"X-Chunk-Count": {strconv.Itoa(n)},
			"X-File-Name":   {url.PathEscape(f.name)},
			"X-File-Size":   {strconv.FormatInt(f.size(), 10)},
		}
		var a struct {
			FileGUID string `json:"fileGuid"`
			Key      string `json:"key"`
		}
		r, err := c.call(ctx, fmt.Sprintf("chunk %d", i), "POST", "/multipleupload/upload-chunk", h, f.data[lo:hi], http.StatusOK, &a)
		if err != nil {
			return err
		}
		if a.FileGUID != "" {
			fin.finish(a.Key, r)
		}
		return nil
	})
	if err != nil {
		return uploadResult{}, err
	}
	return fin.result(c)
}

// form is a multipart body: fields, then the chunk as a file field.
func form(fields [][2]string, fileField, fileName string, data []byte) (body []byte, contentType string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, fileField, fileName))
	h.Set("Content-Type", "application/octet-stream")
	fw, _ := mw.CreatePart(h)
	fw.Write(data)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func contentRange(lo, hi, total int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, total)
}

// md5Hex is the whole file's MD5, which the django and drf clients send
// on completion. A client works it out while it reads the file; here it
// is computed once per file, before the timed upload (see dataset).
func md5Hex(f file) string {
	if f.md5 != "" {
		return f.md5
	}
	sum := md5.Sum(f.data)
	return hex.EncodeToString(sum[:])
}

// uploadDjango: chunks in order as multipart POSTs with Content-Range (the
// upload_id from the first answer on), then a completion POST with md5.
func uploadDjango(ctx context.Context, c *client, f file, chunk int64, _ int) (uploadResult, error) {
	sum := md5Hex(f)
	var id string
	for i, n := 0, chunkCount(f.size(), chunk); i < n; i++ {
		lo, hi := int64(i)*chunk, min(int64(i+1)*chunk, f.size())
		var fields [][2]string
		if id != "" {
			fields = append(fields, [2]string{"upload_id", id})
		}
		body, ct := form(fields, "file", f.name, f.data[lo:hi])
		var a struct {
			UploadID string `json:"upload_id"`
		}
		_, err := c.call(ctx, fmt.Sprintf("chunk %d", i), "POST", "/chunked-upload", http.Header{"Content-Type": {ct}, "Content-Range": {contentRange(lo, hi, f.size())}}, body, http.StatusOK, &a)
		if err != nil {
			return uploadResult{}, err
		}
		id = a.UploadID
	}
	q := url.Values{"upload_id": {id}, "md5": {sum}}
	var done struct {
		Key string `json:"key"`
	}
	r, err := c.call(ctx, "complete", "POST", "/chunked-upload/complete", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(q.Encode()), http.StatusOK, &done)
	if err != nil {
		return uploadResult{}, err
	}
	return uploadResult{Key: done.Key, Requests: c.requests, Retries: c.retries, Complete: r.took, S3Complete: r.s3done}, nil
}

// uploadDRF: a PUT creates the upload with the first chunk, PUTs to its
// url append the rest, a POST with md5 completes it.
func uploadDRF(ctx context.Context, c *client, f file, chunk int64, _ int) (uploadResult, error) {
	sum := md5Hex(f)
	var id string
	for i, n := 0, chunkCount(f.size(), chunk); i < n; i++ {
		lo, hi := int64(i)*chunk, min(int64(i+1)*chunk, f.size())
		body, ct := form([][2]string{{"filename", f.name}}, "file", "file", f.data[lo:hi])
		path := "/drf/uploads"
		if id != "" {
			path += "/" + id
		}
		var a struct {
			ID string `json:"id"`
		}
		_, err := c.call(ctx, fmt.Sprintf("chunk %d", i), "PUT", path, http.Header{"Content-Type": {ct}, "Content-Range": {contentRange(lo, hi, f.size())}}, body, http.StatusOK, &a)
		if err != nil {
			return uploadResult{}, err
		}
		id = a.ID
	}
	q := url.Values{"md5": {sum}}
	var done struct {
		Status int `json:"status"`
	}
	r, err := c.call(ctx, "complete", "POST", "/drf/uploads/"+id, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(q.Encode()), http.StatusOK, &done)
	if err != nil {
		return uploadResult{}, err
	}
	if done.Status != 2 {
		return uploadResult{}, fmt.Errorf("complete: status %d, not 2 (complete): %.200s", done.Status, r.body)
	}
	// The answer does not name the object; its key is the engine's.
	return uploadResult{Key: upload.ObjectKey(id, f.name), Requests: c.requests, Retries: c.retries, Complete: r.took, S3Complete: r.s3done}, nil
}

// uploadFileUpload: jQuery-File-Upload with maxChunkSize: chunks in order
// as multipart POSTs (field files[]) with Content-Range and
// Content-Disposition; the request with the last byte finishes the file.
func uploadFileUpload(ctx context.Context, c *client, f file, chunk int64, _ int) (uploadResult, error) {
	var fin finisher
	for i, n := 0, chunkCount(f.size(), chunk); i < n; i++ {
		lo, hi := int64(i)*chunk, min(int64(i+1)*chunk, f.size())
		body, ct := form(nil, "files[]", f.name, f.data[lo:hi])
		h := http.Header{
			"Content-Type":        {ct},
			"Content-Range":       {contentRange(lo, hi, f.size())},
			"Content-Disposition": {fmt.Sprintf(`attachment; filename=%q`, f.name)},
		}
		var a struct {
			Files []struct {
				Key   string `json:"key"`
				Error string `json:"error"`
			} `json:"files"`
		}
		r, err := c.call(ctx, fmt.Sprintf("chunk %d", i), "POST", "/fileupload", h, body, http.StatusOK, &a)
		if err != nil {
			return uploadResult{}, err
		}
		if len(a.Files) == 1 && a.Files[0].Key != "" {
			fin.finish(a.Files[0].Key, r)
		}
	}
	return fin.result(c)
}
