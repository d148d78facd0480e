package upload

import (
	"strings"
	"testing"
)

func TestSanitizeNameStaysInItsSegment(t *testing.T) {
	hostile := []string{
		"../../etc/passwd", "/etc/passwd", `..\..\windows\system32`, "a\x00b", "..", ".", "",
		"./.hidden", "evil/../../x", "\u2215etc\u2215passwd", "name\r\nX-Header: 1", strings.Repeat("a", 5000) + ".tar.gz",
		"%2e%2e%2f", "con:", "file\u202egnp.exe",
	}
	for _, n := range hostile {
		got := SanitizeName(n)
		if got == "" || strings.ContainsAny(got, "/\\\x00\r\n:%") || strings.HasPrefix(got, ".") || len(got) > maxKeyNameLen {
			t.Errorf("SanitizeName(%q) = %q", n, got)
		}
		for _, r := range got {
			if r > 127 {
				t.Errorf("SanitizeName(%q) = %q keeps non-ASCII %q", n, got, r)
			}
		}
	}
	if got := SanitizeName("report 2024.pdf"); got != "report_2024.pdf" {
		t.Errorf("plain name became %q", got)
	}
	if got := SanitizeName(strings.Repeat("b", 300) + ".tar.gz"); !strings.HasSuffix(got, ".gz") {
		t.Errorf("long name lost its extension: %q", got)
	}
}
