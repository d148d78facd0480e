package stack

import "testing"

// TestClientHost: servers told to listen everywhere are reached on
// loopback; on any other address, there.
func TestClientHost(t *testing.T) {
	for host, want := range map[string]string{
		"0.0.0.0":    "127.0.0.1",
		"::":         "127.0.0.1",
		"127.0.0.1":  "127.0.0.1",
		"172.17.0.1": "172.17.0.1",
	} {
		if got := clientHost(host); got != want {
			t.Errorf("clientHost(%q) = %q, want %q", host, got, want)
		}
	}
}
