package reqbody

import "testing"

// TestFileType: a file's type is kept as sent, parameters and all; a
// framing type or a malformed one names no file's type.
func TestFileType(t *testing.T) {
	for ct, want := range map[string]string{
		"image/png":                         "image/png",
		"text/plain; charset=utf-8":         "text/plain; charset=utf-8",
		"application/octet-stream":          "application/octet-stream",
		"multipart/form-data; boundary=x":   "",
		"multipart/mixed":                   "",
		"application/x-www-form-urlencoded": "",
		"":                                  "",
		"image/":                            "",
		"text/plain; charset":               "",
	} {
		if got := FileType(ct); got != want {
			t.Errorf("FileType(%q) = %q, want %q", ct, got, want)
		}
	}
}
