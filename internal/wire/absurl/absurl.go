// Package absurl builds the absolute URL of a path on the API a request
// came to, as a client that follows it must be sent: the request's host,
// and the scheme API Gateway says the client used.
package absurl

import (
	"net/http"
	"strings"
)

// Of returns path on the host r was sent to: https unless the request
// says http (its own URL, or X-Forwarded-Proto, which API Gateway sets).
// With no host known, it returns path alone, which clients resolve
// against the URL they sent to.
func Of(r *http.Request, path string) string {
	host := r.Host
	if host == "" {
		return path
	}
	scheme := "https"
	if r.TLS == nil && r.URL.Scheme == "http" {
		scheme = "http"
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	if p := strings.ToLower(strings.TrimSpace(proto)); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + host + path
}
