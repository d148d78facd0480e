package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// The one tus 1.0 client of the benchmark (core, creation and
// concatenation, as tus-js-client speaks them), for chunkup's /files and
// for tusd alike, so that the two servers get the same requests.

// tusVersion is the protocol version every tus request names.
const tusVersion = "1.0.0"

// tusServer is where a tus client sends its requests and how it learns
// the finished object's key.
type tusServer struct {
	// base is the creation path (/files) on the client's base URL.
	base string
	// key names the finished object from the answer that completed the
	// upload and the upload's path.
	key func(h http.Header, path string) string
}

// chunkupKey reads the key chunkup puts on the answer that finishes an
// upload.
func chunkupKey(h http.Header, _ string) string { return h.Get("Chunkup-Object-Key") }

// uploadTus uploads f with tus: POST base, then PATCHes of chunk bytes one
// at a time at the upload's offset; with par > 1, as tus-js-client's
// parallelUploads does, f is cut into par partial uploads (Upload-Concat:
// partial) sent at once, each one PATCH at a time, and a final upload
// (Upload-Concat: final;…) joins them.
func uploadTus(srv tusServer) func(context.Context, *client, file, int64, int) (uploadResult, error) {
	return func(ctx context.Context, c *client, f file, chunk int64, par int) (uploadResult, error) {
		if par <= 1 {
			path, last, err := tusSend(ctx, c, srv.base, f, 0, f.size(), chunk, "")
			if err != nil {
				return uploadResult{}, err
			}
			return tusResult(c, srv, last, path)
		}
		paths := make([]string, par)
		var wg sync.WaitGroup
		errs := make([]error, par)
		for i := range par {
			lo, hi := f.size()*int64(i)/int64(par), f.size()*int64(i+1)/int64(par)
			wg.Add(1)
			go func() {
				defer wg.Done()
				paths[i], _, errs[i] = tusSend(ctx, c, srv.base, f, lo, hi, chunk, "partial")
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return uploadResult{}, fmt.Errorf("partial upload %d: %w", i, err)
			}
		}
		h := http.Header{
			"Tus-Resumable":   {tusVersion},
			"Upload-Concat":   {"final;" + strings.Join(paths, " ")},
			"Upload-Metadata": {tusMetadata(f)},
		}
		r, err := c.do(ctx, "POST", srv.base, h, nil)
		if err != nil {
			return uploadResult{}, err
		}
		if err := r.expect("final upload", http.StatusCreated); err != nil {
			return uploadResult{}, err
		}
		return tusResult(c, srv, r, locationPath(r.header.Get("Location")))
	}
}

// tusResult is the upload's result from the answer that finished it.
func tusResult(c *client, srv tusServer, last response, path string) (uploadResult, error) {
	key := srv.key(last.header, path)
	if key == "" {
		return uploadResult{}, fmt.Errorf("the answer that finished %s names no object (status %d)", path, last.status)
	}
	return uploadResult{Key: key, Requests: c.requests, Retries: c.retries, Complete: last.took, S3Complete: last.s3done}, nil
}

// tusMetadata is Upload-Metadata naming the file as tus-js-client does.
func tusMetadata(f file) string {
	b64 := base64.StdEncoding.EncodeToString
	return "filename " + b64([]byte(f.name)) + ",filetype " + b64([]byte("application/octet-stream"))
}

// tusSend creates an upload of f's bytes lo..hi (a partial upload when
// concat is "partial") and PATCHes them chunk bytes at a time, each at the
// offset the server last answered. It returns the upload's path and the
// answer to the last PATCH.
func tusSend(ctx context.Context, c *client, base string, f file, lo, hi, chunk int64, concat string) (string, response, error) {
	h := http.Header{
		"Tus-Resumable":   {tusVersion},
		"Upload-Length":   {strconv.FormatInt(hi-lo, 10)},
		"Upload-Metadata": {tusMetadata(f)},
	}
	if concat != "" {
		h.Set("Upload-Concat", concat)
	}
	r, err := c.do(ctx, "POST", base, h, nil)
	if err != nil {
		return "", r, err
	}
	if err := r.expect("create", http.StatusCreated); err != nil {
		return "", r, err
	}
	path := locationPath(r.header.Get("Location"))
	if path == "" {
		return "", r, fmt.Errorf("create: no Location in the answer")
	}
	for offset := int64(0); offset < hi-lo; {
		end := min(offset+chunk, hi-lo)
		ph := http.Header{
			"Tus-Resumable": {tusVersion},
			"Content-Type":  {"application/offset+octet-stream"},
			"Upload-Offset": {strconv.FormatInt(offset, 10)},
		}
		if r, err = c.do(ctx, "PATCH", path, ph, f.data[lo+offset:lo+end]); err != nil {
			return path, r, err
		}
		if err := r.expect(fmt.Sprintf("PATCH at %d", offset), http.StatusNoContent); err != nil {
			return path, r, err
		}
		next, err := strconv.ParseInt(r.header.Get("Upload-Offset"), 10, 64)
		if err != nil || next <= offset {
			return path, r, fmt.Errorf("PATCH at %d: answered Upload-Offset %q", offset, r.header.Get("Upload-Offset"))
		}
		offset = next
	}
	return path, r, nil
}

// locationPath is the path (and query) of a Location header, which the
// client resolves against its own base URL: the servers answer absolute
// URLs whose scheme a local gateway may not know.
func locationPath(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Path == "" {
		return ""
	}
	return u.RequestURI()
}
