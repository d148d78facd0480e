package upload

import (
	"strings"
	"unicode"
)

// maxKeyNameLen bounds the sanitized name in an object key, well inside
// S3's 1,024-byte key limit.
const maxKeyNameLen = 200

// SanitizeName turns a client's file name into a safe last segment of an
// object key: only the base name, only letters, digits and . _ - (others
// become _), no leading dots, at most 200 bytes, never empty.
func SanitizeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	lastUnderscore := false
	for _, r := range name {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_')
		if !ok {
			if lastUnderscore {
				continue
			}
			r = '_'
		}
		lastUnderscore = r == '_'
		b.WriteRune(r)
	}
	out := strings.TrimLeft(b.String(), ".")
	if len(out) > maxKeyNameLen {
		// Keep the extension, which tells a reader what the file is.
		ext := ""
		if i := strings.LastIndexByte(out, '.'); i >= 0 && len(out)-i <= 16 {
			ext = out[i:]
		}
		out = out[:maxKeyNameLen-len(ext)] + ext
	}
	if out == "" || out == "_" {
		return "file"
	}
	return out
}
