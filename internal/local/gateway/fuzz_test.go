package gateway

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/local/auth"
	"chunkup/internal/wire/lambdahttp"
)

// fuzzRoutes have every kind of path segment: literals, variables, a
// greedy variable, ANY, and the catch-all route, so that every request
// reaches a function.
var fuzzRoutes = []Route{
	{Function: "F", Method: "POST", Path: "/v1/uploads"},
	{Function: "F", Method: "PUT", Path: "/v1/uploads/{id}/chunks/{n}"},
	{Function: "F", Method: "GET", Path: "/v1/uploads/{id}"},
	{Function: "F", Method: "ANY", Path: "/drf/uploads/{id}"},
	{Function: "F", Method: "GET", Path: "/files/{proxy+}"},
	{Function: "F", Path: "$default"},
}

// viaJSON is v as the function receives it: encoded into the invoke
// payload and decoded again, which turns bytes that are not UTF-8 into
// U+FFFD.
func viaJSON[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := lambdahttp.EncodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// gatewayHeaders are the headers API Gateway sets itself.
var gatewayHeaders = []string{"host", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"}

// FuzzEvent sends any request that Go's HTTP server would accept (method,
// target, header lines, body) through the gateway and checks the event
// the function receives: every header lower-cased with its values joined
// by commas, Cookie split into cookies, the raw path and query kept, each
// query parameter decoded with its values joined by commas, the body
// whole (base64 for a binary type), and nothing else besides the headers
// API Gateway adds, all as the JSON payload carries strings.
func FuzzEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte) {
		if header != "" && !strings.HasSuffix(header, "\n") {
			header += "\n"
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: api.example.com\r\n" + header + "\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // the server would refuse it
		}
		r.Host, r.RemoteAddr = "api.example.com", "203.0.113.24:4711"
		r.Header.Del("Content-Length")
		r.Header.Del("Transfer-Encoding")
		r.TransferEncoding, r.ContentLength = nil, int64(len(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		sent := r.Header.Clone()

		g, err := newGateway(fuzzRoutes, map[string]http.Handler{"F": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})},
			Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		var got []events.APIGatewayV2HTTPRequest
		g.observe = func(ev events.APIGatewayV2HTTPRequest) { got = append(got, ev) }
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		if rec.Code == http.StatusRequestEntityTooLarge {
			return
		}
		if len(got) != 1 {
			t.Fatalf("%q: %d events, answer %d %q", raw, len(got), rec.Code, rec.Body)
		}
		ev := got[0]

		want := map[string]string{}
		var cookies []string
		for name, values := range sent {
			key := strings.ToLower(name)
			if key == "cookie" {
				for _, v := range values {
					for c := range strings.SplitSeq(v, ";") {
						if c = strings.TrimSpace(c); c != "" {
							cookies = append(cookies, c)
						}
					}
				}
				continue
			}
			want[key] = strings.Join(values, ",")
		}
		want["host"] = "api.example.com"
		if len(body) > 0 {
			want["content-length"] = strconv.Itoa(len(body))
		}
		if prior := want["x-forwarded-for"]; prior != "" {
			want["x-forwarded-for"] = prior + ", 203.0.113.24"
		} else {
			want["x-forwarded-for"] = "203.0.113.24"
		}
		want["x-forwarded-proto"], want["x-forwarded-port"] = "http", "80"
		if _, ok := want["x-amzn-trace-id"]; !ok {
			want["x-amzn-trace-id"] = ev.Headers["x-amzn-trace-id"]
		}
		if want = viaJSON(t, want); !maps.Equal(ev.Headers, want) {
			t.Fatalf("%q: event headers %q, want %q", raw, ev.Headers, want)
		}
		for k := range ev.Headers {
			// Not by CanonicalHeaderKey: it leaves a name that is not a
			// token (one with a space, say) as it is, in its case.
			wasSent := slices.ContainsFunc(slices.Collect(maps.Keys(sent)), func(name string) bool { return strings.EqualFold(name, k) })
			if k != strings.ToLower(k) || k == "cookie" || !wasSent && !slices.Contains(gatewayHeaders, k) {
				t.Fatalf("%q: event header %q", raw, k)
			}
		}
		if cookies = viaJSON(t, cookies); !slices.Equal(ev.Cookies, cookies) {
			t.Fatalf("%q: cookies %q, want %q", raw, ev.Cookies, cookies)
		}

		var query map[string]string
		if values, _ := url.ParseQuery(r.URL.RawQuery); len(values) > 0 {
			query = map[string]string{}
			for k, vs := range values {
				query[k] = strings.Join(vs, ",")
			}
		}
		if query = viaJSON(t, query); !reflect.DeepEqual(ev.QueryStringParameters, query) {
			t.Fatalf("%q: query parameters %q, want %q", raw, ev.QueryStringParameters, query)
		}
		if ev.RawQueryString != viaJSON(t, r.URL.RawQuery) || ev.RawPath != viaJSON(t, r.URL.EscapedPath()) ||
			ev.RequestContext.HTTP.Path != viaJSON(t, r.URL.Path) || ev.RequestContext.HTTP.Method != r.Method {
			t.Fatalf("%q: raw query %q, raw path %q, path %q, method %q", raw, ev.RawQueryString, ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method)
		}

		switch {
		case len(body) == 0:
			if ev.Body != "" || ev.IsBase64Encoded {
				t.Fatalf("%q: no body became %q", raw, ev.Body)
			}
		case ev.IsBase64Encoded:
			if b, err := base64.StdEncoding.DecodeString(ev.Body); err != nil || !bytes.Equal(b, body) {
				t.Fatalf("%q: body %q became %q", raw, body, ev.Body)
			}
		case !isTextContentType(sent.Get("Content-Type")):
			t.Fatalf("%q: a %q body went as text", raw, sent.Get("Content-Type"))
		case utf8.Valid(body) && ev.Body != string(body):
			t.Fatalf("%q: text body %q became %q", raw, body, ev.Body)
		}
	})
}

// FuzzRoute: a path variable takes any value a client can put in its
// segment, escaped: the chunk route gives back exactly the id and the
// number, the greedy route exactly the rest of the path, and no path,
// however odd, makes the route table panic or bind an empty variable.
func FuzzRoute(f *testing.F) {
	table, err := compileRoutes(fuzzRoutes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, n, rest, rawPath string) {
		if u, err := url.Parse(rawPath); err == nil {
			for _, method := range []string{"GET", "PUT", "POST", "PATCH"} {
				if m, ok := table.find(method, u); !ok || m.route == nil {
					t.Fatalf("%s %q: no route, not even $default", method, rawPath)
				} else {
					for k, v := range m.params {
						if v == "" {
							t.Fatalf("%s %q: %s bound to nothing (%s)", method, rawPath, k, m.route.key)
						}
					}
				}
			}
		}
		if id != "" && n != "" {
			u := &url.URL{Path: "/v1/uploads/" + id + "/chunks/" + n, RawPath: "/v1/uploads/" + url.PathEscape(id) + "/chunks/" + url.PathEscape(n)}
			m, ok := table.find("PUT", u)
			if !ok || m.route.key != "PUT /v1/uploads/{id}/chunks/{n}" || !maps.Equal(m.params, map[string]string{"id": id, "n": n}) {
				t.Fatalf("PUT %s: route %v params %q", u.EscapedPath(), m.route, m.params)
			}
		}
		if rest != "" {
			segs := strings.Split(rest, "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			u := &url.URL{Path: "/files/" + rest, RawPath: "/files/" + strings.Join(segs, "/")}
			m, ok := table.find("GET", u)
			if !ok || m.route.key != "GET /files/{proxy+}" || !maps.Equal(m.params, map[string]string{"proxy": rest}) {
				t.Fatalf("GET %s: route %v params %q", u.EscapedPath(), m.route, m.params)
			}
		}
	})
}

// FuzzAuthorize: the JWT authorizer reads any Authorization value without
// a panic and either refuses it (401, or 403 for a missing scope, with a
// Bearer challenge) or accepts it; it accepts only a token whose header
// and claims this test signed itself with a key of the issuer, valid at
// the gateway's time, and passes on exactly those claims. A fuzzer that
// changes any byte of what was signed, or the algorithm, key id,
// audience, issuer or times, must be refused.
func FuzzAuthorize(f *testing.F) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	a := &JWTAuthorizer{Issuer: "https://issuer.example", Audience: []string{"chunkup"},
		Keys: StaticKeys{"ec-1": &ec.PublicKey, "rsa-1": &rs.PublicKey}, Now: func() time.Time { return now }}
	signed := map[string]string{} // signing input → the sub it carries, for tokens valid now
	mint := func(key *ecdsa.PrivateKey, rkey *rsa.PrivateKey, kid string, claims map[string]any, valid bool) string {
		var tok string
		var err error
		if rkey != nil {
			tok, err = auth.Sign(rkey, kid, claims)
		} else {
			tok, err = auth.Sign(key, kid, claims)
		}
		if err != nil {
			f.Fatal(err)
		}
		if valid {
			signed[tok[:strings.LastIndexByte(tok, '.')]] = claims["sub"].(string)
		}
		return tok
	}
	exp := now.Add(time.Hour).Unix()
	good := map[string]any{"iss": a.Issuer, "aud": "chunkup", "sub": "alice", "exp": exp, "iat": now.Unix(), "scope": "uploads"}
	for _, tok := range []string{
		mint(ec, nil, "ec-1", good, true),
		mint(nil, rs, "rsa-1", map[string]any{"iss": a.Issuer, "client_id": "chunkup", "sub": "bob", "exp": exp}, true),
		mint(ec, nil, "ec-1", map[string]any{"iss": a.Issuer, "aud": []string{"other", "chunkup"}, "sub": "carol", "exp": exp, "nbf": now.Unix()}, true),
		mint(ec, nil, "ec-1", map[string]any{"iss": a.Issuer, "aud": "chunkup", "sub": "dave", "exp": now.Add(-time.Hour).Unix()}, false),
		mint(ec, nil, "ec-1", map[string]any{"iss": "https://evil.example", "aud": "chunkup", "sub": "eve", "exp": exp}, false),
		mint(ec, nil, "rsa-1", good, false),
	} {
		f.Add("Bearer " + tok)
		f.Add(tok)
	}
	for input := range signed {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+input+".x")
		if _, d := a.authorize(r); d == nil {
			f.Fatalf("a token with a bad signature is accepted")
		}
	}
	for _, tok := range []string{mint(ec, nil, "ec-1", good, true), mint(nil, rs, "rsa-1", good, true)} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if _, d := a.authorize(r); d != nil {
			f.Fatalf("a good token is refused: %s", d.reason)
		}
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		r := httptest.NewRequest("GET", "/v1/uploads/x", nil)
		r.Header["Authorization"] = []string{authorization}
		jwt, d := a.authorize(r)
		if (jwt == nil) == (d == nil) {
			t.Fatalf("Authorization %q: claims %v and denial %v", authorization, jwt, d)
		}
		if d != nil {
			if d.status != http.StatusUnauthorized && d.status != http.StatusForbidden || !strings.HasPrefix(d.challenge, "Bearer") {
				t.Fatalf("Authorization %q refused with %d %q", authorization, d.status, d.challenge)
			}
			return
		}
		tok := bearerToken(authorization)
		dot := strings.LastIndexByte(tok, '.')
		sub, ok := signed[tok[:max(dot, 0)]]
		if dot < 0 || !ok {
			t.Fatalf("Authorization %q accepted, but this test never signed %q", authorization, tok[:max(dot, 0)])
		}
		if jwt.Claims["sub"] != sub || jwt.Claims["iss"] != a.Issuer {
			t.Fatalf("Authorization %q accepted with claims %v", authorization, jwt.Claims)
		}
	})
}
