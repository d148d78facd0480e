// Package reqbody reads request bodies into memory with as few copies as
// the body allows: none when the body already sits in memory, otherwise
// one, into a buffer sized from the body's declared length. A
// multipart/form-data body is read as a stream, with the one file part
// the caller wants in one allocation, where
// http.Request.ParseMultipartForm grows a buffer for every file part and
// leaves the caller to copy it out once more.
package reqbody

import (
	"io"
	"net/http"
)

// inMemory is implemented by a request body that already holds the whole
// body in memory, such as the one the Lambda adapter makes from an event:
// Bytes returns all of the (decoded) body, however much of it has been
// read. Bodies that implement it are never copied by Read.
type inMemory interface {
	Bytes() []byte
}

// minRead is the first buffer of a body whose length is unknown, as
// io.ReadAll starts with.
const minRead = 512

// Len returns the length of r's body where it is known before the body
// is read: the length of an in-memory body, else a Content-Length. It
// returns -1 for a body of unknown length (a zero Content-Length with a
// body other than http.NoBody says the length is unknown, as it does to
// an http.Client).
func Len(r *http.Request) int64 {
	if b, ok := r.Body.(inMemory); ok {
		return int64(len(b.Bytes()))
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		return 0
	case r.ContentLength > 0:
		return r.ContentLength
	}
	return -1
}

// Read returns the whole body of r, refusing one of more than limit
// bytes with an *http.MaxBytesError, as reading through
// http.MaxBytesReader would. An in-memory body (one with a Bytes method)
// is returned as it is, without a copy: the caller must not change it.
// Any other body is read into one buffer of its Content-Length, or
// through a growing buffer when its length is unknown. On error Read
// returns no bytes.
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if b, ok := r.Body.(inMemory); ok {
		data := b.Bytes()
		if int64(len(data)) > limit {
			// No connection lies behind an in-memory body, so there is
			// nothing for http.MaxBytesReader to close: the error alone
			// is the same.
			return nil, &http.MaxBytesError{Limit: limit}
		}
		return data, nil
	}
	if r.Body == nil {
		return []byte{}, nil
	}
	data, err := readAll(make([]byte, 0, bufferSize(Len(r), limit)), http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// bufferSize is the capacity to read a body of n bytes (-1: unknown) in
// one allocation when at most limit bytes may be kept: one byte more than
// the data, so that the read that finds the end needs no room made.
func bufferSize(n, limit int64) int {
	if n < 0 {
		return minRead
	}
	return int(min(n, limit)) + 1
}

// ReadPart reads src to its end, keeping at most limit bytes. size is
// how long src may be at most, if known (-1 if not), such as the length
// of the body a multipart part comes in: the bytes go into one buffer of
// min(size, limit) bytes and one more, which grows only if src turns out
// longer than size. It
// returns the bytes read and src's whole length n; when n is over limit
// the bytes past limit were counted and dropped, and data is nil. On an
// error, data holds what was read before it.
func ReadPart(src io.Reader, limit, size int64) (data []byte, n int64, err error) {
	return readPart(nil, src, limit, size)
}

// readPart is ReadPart reading into buf when it has room for size bytes,
// so that a form can read a file part where it dropped another.
func readPart(buf []byte, src io.Reader, limit, size int64) ([]byte, int64, error) {
	if want := bufferSize(size, limit); cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	data, err := readAll(buf[:0], io.LimitReader(src, limit))
	n := int64(len(data))
	if err != nil {
		return data, n, err
	}
	rest, err := io.Copy(io.Discard, src)
	if n += rest; n > limit {
		return nil, n, err
	}
	return data, n, err
}

// readAll appends src to buf until src ends, as io.ReadAll does, growing
// buf only when src has more than it has room for.
func readAll(buf []byte, src io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
