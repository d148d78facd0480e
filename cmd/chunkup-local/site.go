package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"chunkup/internal/local/auth"
)

// vendored maps each client library the demo page and the browser tests
// may load, as /vendor/<name>/<file>, to its directory in node_modules
// (installed and pinned by package-lock.json), or, for Uppy, whose
// packages are modules that import others, to the one module `make
// tools` bundles from them (web/uppy.entry.mjs). Nothing else under
// node_modules is served.
var vendored = map[string]string{
	"resumablejs":         "node_modules/resumablejs",
	"flow.js":             "node_modules/@flowjs/flow.js/dist",
	"jquery":              "node_modules/jquery/dist",
	"blueimp-file-upload": "node_modules/blueimp-file-upload/js",
	"uppy":                ".local/vendor/uppy",
}

// newSite puts the local-only pages in front of the gateway:
//
//	GET /                      the demo page (web/index.html)
//	GET /web/<file>            its script and style sheet
//	GET /vendor/<lib>/<file>   a client library from node_modules (see vendored)
//	GET /_local/objects/<key>  a finished object, read back from the local S3
//	GET /_local/token?sub=NAME a JWT for NAME from the local issuer (-auth only;
//	                           loopback callers only, see auth.TokenHandler)
//	GET /_local/events         the last events the local EventBridge took (JSON;
//	                           live, as server-sent events, with Accept: text/event-stream)
//
// Every other request goes to the gateway unchanged, so the API's routes,
// CORS, limits and (with -auth) authorizer are exactly those of the HTTP API.
func newSite(root string, api http.Handler, s3c *s3.Client, bucket string, issuer *auth.Issuer, events http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	web := filepath.Join(root, "web")
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFile(w, r, filepath.Join(web, "index.html"))
	})
	mux.Handle("GET /web/", http.StripPrefix("/web", files(web)))
	for name, dir := range vendored {
		prefix := "/vendor/" + name
		mux.Handle("GET "+prefix+"/", http.StripPrefix(prefix, files(filepath.Join(root, dir))))
	}
	mux.Handle("GET /_local/objects/{key...}", objectReader(s3c, bucket, log))
	mux.Handle("GET /_local/events", events)
	if issuer != nil {
		mux.Handle("/_local/token", issuer.TokenHandler())
	}
	mux.Handle("/", api)
	return mux
}

// files serves the files (not the directory listings) below dir, and
// nothing outside it: os.Root refuses paths and symbolic links that leave
// it. A missing dir is reported when a file is asked for, so that
// `go run ./cmd/chunkup-local` still serves the API before `make tools`.
func files(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			http.Error(w, fmt.Sprintf("%s is missing: run `make tools`", dir), http.StatusNotFound)
			return
		}
		defer root.Close()
		w.Header().Set("Cache-Control", "no-cache")
		http.FileServerFS(root.FS()).ServeHTTP(w, r)
	})
}

// objectReader streams a finished object from the local S3 server, with
// the headers that let a test check it: its size, ETag and the
// full-object CRC64NVME that S3 stored (the SDK also verifies the body
// against that checksum as it reads). It exists only in the local runner,
// bound to loopback, and sends no CORS headers, so other origins cannot
// read it.
func objectReader(s3c *s3.Client, bucket string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("key")
		if slices.Contains(strings.Split(key, "/"), "..") {
			http.Error(w, "no such object: a key has no .. segments", http.StatusBadRequest)
			return
		}
		out, err := s3c.GetObject(r.Context(), &s3.GetObjectInput{
			Bucket:       aws.String(bucket),
			Key:          aws.String(key),
			ChecksumMode: s3types.ChecksumModeEnabled,
		})
		if err != nil {
			var missing *s3types.NoSuchKey
			if errors.As(err, &missing) {
				http.Error(w, "no such object: "+key, http.StatusNotFound)
				return
			}
			log.ErrorContext(r.Context(), "read object", "key", key, "err", err)
			http.Error(w, "could not read the object from S3: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer out.Body.Close()
		h := w.Header()
		h.Set("Content-Type", aws.ToString(out.ContentType))
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+pathEscape(filepath.Base(key)))
		h.Set("Cache-Control", "no-store")
		if out.ContentLength != nil {
			h.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
		}
		if out.ETag != nil {
			h.Set("ETag", *out.ETag)
		}
		if out.ChecksumCRC64NVME != nil {
			h.Set("X-Amz-Checksum-Crc64nvme", *out.ChecksumCRC64NVME)
		}
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, out.Body); err != nil {
			// The status is sent: a short body is how the reader learns.
			log.ErrorContext(r.Context(), "stream object", "key", key, "err", err)
		}
	})
}

// pathEscape percent-encodes a file name for RFC 5987's filename*.
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
