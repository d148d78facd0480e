package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// defaultRouteKey is the route key of the catch-all route of an HTTP API.
const defaultRouteKey = "$default"

// methodAny is the route method that matches every method not routed
// explicitly for the same path.
const methodAny = "ANY"

// segment is one "/"-separated piece of a route path: a literal, or a path
// variable ({name}), or the greedy variable ({name+}) that ends a path.
type segment struct {
	literal string
	param   string
	greedy  bool
}

func (s segment) isParam() bool { return s.param != "" }

// route is a compiled Route.
type route struct {
	key      string // routeKey as API Gateway reports it, e.g. "PUT /v1/uploads/{id}"
	function string
	method   string
	segments []segment
	// public routes are not guarded by the authorizer.
	public bool
}

func (rt *route) isDefault() bool { return rt.key == defaultRouteKey }

func (rt *route) greedy() bool {
	n := len(rt.segments)
	return n > 0 && rt.segments[n-1].greedy
}

// match is a route chosen for a request, with the path variables it bound.
type match struct {
	route  *route
	params map[string]string
}

// routeTable holds the compiled routes of one API.
type routeTable struct {
	routes []*route
	deflt  *route
}

// compileRoutes validates routes and prepares them for matching.
func compileRoutes(routes []Route) (routeTable, error) {
	var t routeTable
	seen := map[string]bool{}
	for _, r := range routes {
		rt, err := compileRoute(r)
		if err != nil {
			return routeTable{}, fmt.Errorf("route %q of %s: %w", r.Method+" "+r.Path, r.Function, err)
		}
		shape := rt.shape()
		if seen[shape] {
			return routeTable{}, fmt.Errorf("route %q of %s: %w", rt.key, r.Function, errDuplicateRoute)
		}
		seen[shape] = true
		if rt.isDefault() {
			t.deflt = rt
			continue
		}
		t.routes = append(t.routes, rt)
	}
	return t, nil
}

var errDuplicateRoute = errors.New("another route has the same method and path")

func compileRoute(r Route) (*route, error) {
	if r.Function == "" {
		return nil, errors.New("no function")
	}
	if r.Path == defaultRouteKey {
		return &route{key: defaultRouteKey, function: r.Function, public: r.Public}, nil
	}
	method := strings.ToUpper(strings.TrimSpace(r.Method))
	if method == "" {
		return nil, errors.New("no method")
	}
	segs, err := parsePath(r.Path)
	if err != nil {
		return nil, err
	}
	return &route{key: method + " " + r.Path, function: r.Function, method: method, segments: segs, public: r.Public}, nil
}

func parsePath(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, errors.New("path does not start with /")
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		s, err := parseSegment(p)
		if err != nil {
			return nil, err
		}
		if s.greedy && i != len(parts)-1 {
			return nil, errors.New("a greedy path variable must end the path")
		}
		segs[i] = s
	}
	return segs, nil
}

func parseSegment(p string) (segment, error) {
	if !strings.ContainsAny(p, "{}") {
		return segment{literal: p}, nil
	}
	if !strings.HasPrefix(p, "{") || !strings.HasSuffix(p, "}") || len(p) < 3 {
		return segment{}, fmt.Errorf("path variable %q must fill a whole segment", p)
	}
	name := p[1 : len(p)-1]
	greedy := strings.HasSuffix(name, "+")
	name = strings.TrimSuffix(name, "+")
	if name == "" || strings.ContainsAny(name, "{}+") {
		return segment{}, fmt.Errorf("bad path variable %q", p)
	}
	return segment{param: name, greedy: greedy}, nil
}

// shape identifies routes that would match the same requests.
func (rt *route) shape() string {
	if rt.isDefault() {
		return defaultRouteKey
	}
	var b strings.Builder
	b.WriteString(rt.method)
	for _, s := range rt.segments {
		b.WriteByte('/')
		switch {
		case s.greedy:
			b.WriteString("{+}")
		case s.isParam():
			b.WriteString("{}")
		default:
			b.WriteString(s.literal)
		}
	}
	return b.String()
}

// find selects the route for a request as API Gateway does: the most
// specific path wins (literal segments over variables, variables over a
// greedy variable), then an explicit method over ANY; the $default route
// takes what nothing else matches. ok is false when no route matches:
// API Gateway then answers 404 {"message":"Not Found"}.
func (t routeTable) find(method string, u *url.URL) (match, bool) {
	parts := splitPath(u)
	var best match
	for _, rt := range t.routes {
		if rt.method != method && rt.method != methodAny {
			continue
		}
		params, ok := rt.bind(parts)
		if !ok {
			continue
		}
		if best.route == nil || moreSpecific(rt, best.route) {
			best = match{route: rt, params: params}
		}
	}
	if best.route != nil {
		return best, true
	}
	if t.deflt != nil {
		return match{route: t.deflt}, true
	}
	return match{}, false
}

// splitPath splits the escaped request path into segments, so that an
// encoded "/" (%2F) stays inside its segment.
func splitPath(u *url.URL) []string {
	return strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
}

// bind matches the escaped path segments against the route and returns the
// path variables, decoded as API Gateway decodes them.
func (rt *route) bind(parts []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, s := range rt.segments {
		if s.greedy {
			return bindGreedy(params, s.param, parts[min(i, len(parts)):])
		}
		if i >= len(parts) {
			return nil, false
		}
		v, err := url.PathUnescape(parts[i])
		if err != nil {
			return nil, false
		}
		if !s.isParam() {
			if v != s.literal {
				return nil, false
			}
			continue
		}
		if v == "" {
			return nil, false
		}
		params[s.param] = v
	}
	return params, len(parts) == len(rt.segments)
}

func bindGreedy(params map[string]string, name string, rest []string) (map[string]string, bool) {
	v, err := url.PathUnescape(strings.Join(rest, "/"))
	if err != nil || v == "" {
		return nil, false
	}
	params[name] = v
	return params, true
}

// moreSpecific reports whether a should win over b when both match.
func moreSpecific(a, b *route) bool {
	if a.greedy() != b.greedy() {
		return !a.greedy()
	}
	for i := 0; i < len(a.segments) && i < len(b.segments); i++ {
		ra, rb := rank(a.segments[i]), rank(b.segments[i])
		if ra != rb {
			return ra > rb
		}
	}
	if len(a.segments) != len(b.segments) {
		return len(a.segments) > len(b.segments)
	}
	return a.method != methodAny && b.method == methodAny
}

func rank(s segment) int {
	switch {
	case s.greedy:
		return 0
	case s.isParam():
		return 1
	default:
		return 2
	}
}
