package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// cors applies a CORS configuration the way an HTTP API's
// CorsConfiguration does (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html):
//   - API Gateway answers preflight OPTIONS requests itself, even when no
//     OPTIONS route exists, without invoking a function; but a route that
//     takes OPTIONS (OPTIONS, ANY, $default) gets the preflight, through
//     its authorizer, and the configured preflight headers are put on its
//     answer (see gateway.ServeHTTP);
//   - it adds the configured headers to the responses of integrations, and
//     ignores (drops) CORS headers returned by the integration;
//   - only requests with an Origin header get CORS headers, and a preflight
//     must also carry Access-Control-Request-Method.
type cors struct {
	origins       []string
	anyOrigin     bool
	allowHeaders  string
	exposeHeaders string
	allowMethods  string
	maxAge        int
	credentials   bool
}

func newCORS(o Options) (cors, error) {
	c := cors{
		allowHeaders:  strings.Join(o.AllowHeaders, ","),
		exposeHeaders: strings.Join(o.ExposeHeaders, ","),
		allowMethods:  strings.Join(o.AllowMethods, ","),
		maxAge:        o.MaxAge,
		credentials:   o.AllowCredentials,
	}
	for _, origin := range o.AllowedOrigins {
		origin = strings.TrimSpace(origin)
		if origin == "*" {
			c.anyOrigin = true
			continue
		}
		if origin != "" {
			c.origins = append(c.origins, origin)
		}
	}
	if c.anyOrigin && c.credentials {
		return cors{}, errors.New("CORS: AllowCredentials cannot be combined with the * origin")
	}
	if c.maxAge < 0 {
		return cors{}, errors.New("CORS: MaxAge is negative")
	}
	return c, nil
}

func (c cors) enabled() bool { return c.anyOrigin || len(c.origins) > 0 }

// allowOrigin returns the Access-Control-Allow-Origin value for origin, or
// "" when the origin is not allowed.
func (c cors) allowOrigin(origin string) string {
	if origin == "" || !c.enabled() {
		return ""
	}
	if c.anyOrigin {
		return "*"
	}
	for _, o := range c.origins {
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

func (c cors) isPreflight(r *http.Request) bool {
	return c.enabled() && r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a preflight request: 204, with the Access-Control-Allow-*
// headers when the origin is allowed and none otherwise (the browser then
// refuses the actual request).
func (c cors) preflight(r *http.Request) reply {
	h := http.Header{}
	rp := reply{status: http.StatusNoContent, header: h}
	allowed := c.allowOrigin(r.Header.Get("Origin"))
	if allowed == "" {
		return rp
	}
	h.Set("Access-Control-Allow-Origin", allowed)
	setIf(h, "Access-Control-Allow-Methods", c.allowMethods)
	setIf(h, "Access-Control-Allow-Headers", c.allowHeaders)
	if c.maxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(c.maxAge))
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	return rp
}

// decoratePreflight puts the configured preflight headers on the answer
// of a route that took the preflight, in place of any the function set.
func (c cors) decoratePreflight(h http.Header, r *http.Request) {
	c.decorate(h, r.Header.Get("Origin"))
	if c.allowOrigin(r.Header.Get("Origin")) == "" {
		return
	}
	h.Del("Access-Control-Expose-Headers")
	for name, values := range c.preflight(r).header {
		h[name] = values
	}
}

// decorate puts the configured CORS headers on an actual response, in
// place of any the function set.
func (c cors) decorate(h http.Header, origin string) {
	if !c.enabled() {
		return
	}
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "access-control-") {
			delete(h, name)
		}
	}
	allowed := c.allowOrigin(origin)
	if allowed == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", allowed)
	setIf(h, "Access-Control-Expose-Headers", c.exposeHeaders)
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func setIf(h http.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}
