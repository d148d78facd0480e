package reqbody

import (
	"mime"
	"strings"
)

// FileType is the type of the file that a body, or a form's file part,
// carries, given the Content-Type it came with: ct as it is when it names
// a file's type, "" when it is malformed or only says how the request was
// framed (multipart/*, application/x-www-form-urlencoded).
func FileType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || strings.HasPrefix(mt, "multipart/") || mt == "application/x-www-form-urlencoded" {
		return ""
	}
	return ct
}
