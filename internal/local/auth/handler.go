package auth

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// maxSubject bounds the length of a subject the token endpoint mints for.
const maxSubject = 256

// tokenAnswer is the token endpoint's JSON answer.
type tokenAnswer struct {
	Token     string `json:"token"`
	TokenType string `json:"tokenType"`
	Sub       string `json:"sub"`
	ExpiresAt string `json:"expiresAt"`
}

// TokenHandler serves GET ?sub=NAME[&ttl=DURATION]: a token for NAME,
// valid for ttl (a Go duration such as 30m; DefaultTTL when absent), as
// {"token", "tokenType": "Bearer", "sub", "expiresAt"}.
//
// It answers only requests from a loopback address (403 otherwise) and
// sends no CORS headers, so no web page from another origin can read a
// token from it. It never caches.
func (i *Issuer) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !fromLoopback(r) {
			http.Error(w, "the local token endpoint answers loopback callers only", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		sub := q.Get("sub")
		if err := checkSubject(sub); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ttl := time.Duration(0)
		if s := q.Get("ttl"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 || d > MaxTTL {
				http.Error(w, fmt.Sprintf("ttl %q: want a duration such as 30m or 2h, at most %v", s, MaxTTL), http.StatusBadRequest)
				return
			}
			ttl = d
		}
		tok, err := i.Mint(sub, ttl)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tokenAnswer{
			Token: tok.Value, TokenType: "Bearer", Sub: tok.Subject,
			ExpiresAt: tok.ExpiresAt.UTC().Format(time.RFC3339),
		})
	})
}

// checkSubject accepts a non-empty, bounded subject of printable
// characters.
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return fmt.Errorf("sub is required: ?sub=alice")
	case len(sub) > maxSubject:
		return fmt.Errorf("sub is longer than %d bytes", maxSubject)
	case strings.ContainsFunc(sub, func(r rune) bool { return !unicode.IsPrint(r) }):
		return fmt.Errorf("sub has a character that is not printable")
	}
	return nil
}

// fromLoopback reports whether the request came from this machine.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
