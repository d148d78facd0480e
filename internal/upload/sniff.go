package upload

import (
	"mime"
	"net/http"
	"strings"
)

// typeAllowed reports whether a media type matches an allow-list entry:
// an exact type ("application/pdf") or a family ("image/*").
func typeAllowed(allowed []string, mediaType string) bool {
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == mediaType || (strings.HasSuffix(a, "/*") && strings.HasPrefix(mediaType, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// checkType holds the start of a file to the allow-list of content types,
// when one is configured: the type is read from the bytes themselves
// (their magic numbers), not taken from the client's word.
func (e *Engine) checkType(first []byte) error {
	if len(e.opt.AllowedTypes) == 0 {
		return nil
	}
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(first))
	if !typeAllowed(e.opt.AllowedTypes, sniffed) {
		return refuse(CodeTypeNotAllowed, "the file's content is %s, which is not among the allowed types (%s)", sniffed, strings.Join(e.opt.AllowedTypes, ", "))
	}
	return nil
}

// checkDeclaredType holds the client's declared content type to the
// allow-list, so that an upload that can never be accepted is refused at
// once.
func (e *Engine) checkDeclaredType(declared string) error {
	if len(e.opt.AllowedTypes) == 0 || declared == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil || !typeAllowed(e.opt.AllowedTypes, strings.ToLower(mt)) {
		return refuse(CodeTypeNotAllowed, "content type %q is not among the allowed types (%s)", declared, strings.Join(e.opt.AllowedTypes, ", "))
	}
	return nil
}
