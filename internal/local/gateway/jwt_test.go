package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"chunkup/internal/api"
	"chunkup/internal/local/auth"
)

const (
	testIssuer   = "https://issuer.example/pool"
	testAudience = "chunkup-client"
)

// authKeys are the issuer's keys, an ES256 key (what the local issuer
// signs with) and an RS256 key (what Cognito signs with), and a
// stranger's key of each kind.
type authKeys struct {
	ec, strangerEC   *ecdsa.PrivateKey
	rsa, strangerRSA *rsa.PrivateKey
	clock            time.Time
}

func newAuthKeys(t *testing.T) *authKeys {
	t.Helper()
	k := &authKeys{clock: time.Now().Truncate(time.Second)}
	var err error
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.strangerEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.strangerRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	return k
}

// authorizer trusts the issuer's two keys, on the keys' own clock.
func (k *authKeys) authorizer() *JWTAuthorizer {
	return &JWTAuthorizer{
		Issuer:   testIssuer,
		Audience: []string{"other-client", testAudience},
		Keys:     StaticKeys{"ec-1": &k.ec.PublicKey, "rsa-1": &k.rsa.PublicKey},
		Now:      func() time.Time { return k.clock },
	}
}

// claims are a valid token's claims for sub with extra merged in (a nil
// value deletes a claim).
func (k *authKeys) claims(sub string, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": testIssuer, "sub": sub, "aud": testAudience,
		"iat": k.clock.Unix(), "exp": k.clock.Add(time.Hour).Unix(),
	}
	for name, v := range extra {
		if v == nil {
			delete(c, name)
			continue
		}
		c[name] = v
	}
	return c
}

func sign(t *testing.T, key crypto.Signer, kid string, claims any) string {
	t.Helper()
	tok, err := auth.Sign(key, kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (k *authKeys) es256(t *testing.T, claims any) string { return sign(t, k.ec, "ec-1", claims) }
func (k *authKeys) rs256(t *testing.T, claims any) string { return sign(t, k.rsa, "rsa-1", claims) }

// ownerHandler answers with what api.Owner makes of the request.
func ownerHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, api.Owner(r))
}

var authRoutes = []Route{
	{Function: "CheckFunction", Method: "GET", Path: "/v1/uploads/{id}"},
	{Function: "ReceiveFunction", Method: "PUT", Path: "/v1/uploads/{id}/chunks/{n}"},
	{Function: "OwnerFunction", Method: "GET", Path: "/whoami"},
}

// newAuthFixture is a gateway with CORS on and every route behind auth.
func newAuthFixture(t *testing.T, auth *JWTAuthorizer) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &lockedBuffer{}}
	handlers := testHandlers()
	handlers["OwnerFunction"] = http.HandlerFunc(ownerHandler)
	opts := templateCORS
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	opts.Authorizer = auth
	g, err := newGateway(authRoutes, handlers, opts)
	if err != nil {
		t.Fatalf("newGateway: %v", err)
	}
	g.observe = f.record
	f.srv = httptest.NewServer(g)
	t.Cleanup(f.srv.Close)
	return f
}

func bearer(tok string) http.Header { return hdr("Authorization", "Bearer "+tok) }

// jwtPart is a base64url JSON part of a hand-made token.
func jwtPart(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tamper replaces a token's payload with claims, keeping its signature.
func tamper(tok string, claims any) string {
	parts := strings.Split(tok, ".")
	return parts[0] + "." + jwtPart(claims) + "." + parts[2]
}

// TestAuthorizerRefusesBadTokens: every way a token can be wrong is
// answered 401 {"message":"Unauthorized"} with a www-authenticate header
// saying why, and the function is never invoked.
func TestAuthorizerRefusesBadTokens(t *testing.T) {
	k := newAuthKeys(t)
	f := newAuthFixture(t, k.authorizer())
	good := k.es256(t, k.claims("alice", nil))
	cases := []struct {
		name        string
		header      http.Header
		description string // in www-authenticate; "" for none
	}{
		{"no Authorization header", nil, ""},
		{"an empty Authorization header", hdr("Authorization", ""), ""},
		{"Bearer and nothing", hdr("Authorization", "Bearer "), ""},
		{"not a JWT", bearer("not-a-token"), "the token is not a well-formed JWT"},
		{"two parts", bearer("a.b"), "the token is not a well-formed JWT"},
		{"four parts", bearer(good + ".x"), "the token is not a well-formed JWT"},
		{"header not base64url", bearer("%%%." + strings.SplitN(good, ".", 2)[1]), "the token is not a well-formed JWT"},
		{"header not JSON", bearer(base64.RawURLEncoding.EncodeToString([]byte("{alg")) + "." + strings.SplitN(good, ".", 2)[1]), "the token is not a well-formed JWT"},
		{"padded signature", bearer(good + "=="), "the token is not a well-formed JWT"},
		{"alg none", bearer(jwtPart(map[string]string{"alg": "none", "kid": "ec-1"}) + "." + jwtPart(k.claims("alice", nil)) + "."), "the token's signing algorithm is not supported"},
		{"HS256 with the RSA key's kid", bearer(jwtPart(map[string]string{"alg": "HS256", "kid": "rsa-1"}) + "." + jwtPart(k.claims("alice", nil)) + ".c2ln"), "the token's signing algorithm is not supported"},
		{"RS256 header on the EC key", bearer(jwtPart(map[string]string{"alg": "RS256", "kid": "ec-1"}) + "." + strings.SplitN(good, ".", 2)[1]), "the token's signing algorithm is not supported"},
		{"no kid", bearer(sign(t, k.ec, "", k.claims("alice", nil))), "the token has no key id (kid)"},
		{"unknown kid", bearer(sign(t, k.ec, "ec-2", k.claims("alice", nil))), "the token's key id (kid) names no key of the issuer"},
		{"critical header", bearer(jwtPart(map[string]any{"alg": "ES256", "kid": "ec-1", "crit": []string{"exp"}}) + "." + strings.SplitN(good, ".", 2)[1]), "the token has critical header parameters that are not understood"},
		{"signed by a stranger's EC key", bearer(sign(t, k.strangerEC, "ec-1", k.claims("alice", nil))), "the token's signature is not valid"},
		{"signed by a stranger's RSA key", bearer(sign(t, k.strangerRSA, "rsa-1", k.claims("alice", nil))), "the token's signature is not valid"},
		{"payload changed after signing", bearer(tamper(good, k.claims("mallory", nil))), "the token's signature is not valid"},
		{"RS256 payload changed after signing", bearer(tamper(k.rs256(t, k.claims("alice", nil)), k.claims("mallory", nil))), "the token's signature is not valid"},
		{"short ES256 signature", bearer(good[:len(good)-8]), "the token's signature is not valid"},
		{"claims not an object", bearer(k.es256(t, "alice")), "the token's claims are not a JSON object"},
		{"wrong issuer", bearer(k.es256(t, k.claims("alice", map[string]any{"iss": "https://evil.example/pool"}))), "the token does not have a valid issuer"},
		{"issuer with a trailing slash", bearer(k.es256(t, k.claims("alice", map[string]any{"iss": testIssuer + "/"}))), "the token does not have a valid issuer"},
		{"no issuer", bearer(k.es256(t, k.claims("alice", map[string]any{"iss": nil}))), "the token does not have a valid issuer"},
		{"wrong audience", bearer(k.es256(t, k.claims("alice", map[string]any{"aud": "someone-else"}))), "the token does not have a valid audience"},
		{"wrong audience list", bearer(k.es256(t, k.claims("alice", map[string]any{"aud": []string{"x", "y"}}))), "the token does not have a valid audience"},
		{"wrong aud, right client_id", bearer(k.es256(t, k.claims("alice", map[string]any{"aud": "x", "client_id": testAudience}))), "the token does not have a valid audience"},
		{"no aud, wrong client_id", bearer(k.es256(t, k.claims("alice", map[string]any{"aud": nil, "client_id": "x"}))), "the token does not have a valid audience"},
		{"no aud, no client_id", bearer(k.es256(t, k.claims("alice", map[string]any{"aud": nil}))), "the token does not have a valid audience"},
		{"expired", bearer(k.es256(t, k.claims("alice", map[string]any{"exp": k.clock.Add(-time.Minute).Unix()}))), "the token has expired"},
		{"expired RS256", bearer(k.rs256(t, k.claims("alice", map[string]any{"exp": k.clock.Add(-time.Minute).Unix()}))), "the token has expired"},
		{"no exp", bearer(k.es256(t, k.claims("alice", map[string]any{"exp": nil}))), "the token has no expiry (exp)"},
		{"exp a string", bearer(k.es256(t, k.claims("alice", map[string]any{"exp": "tomorrow"}))), "the token's exp is not a number"},
		{"not valid before a minute from now", bearer(k.es256(t, k.claims("alice", map[string]any{"nbf": k.clock.Add(time.Minute).Unix()}))), "the token is not valid yet"},
		{"issued a minute from now", bearer(k.es256(t, k.claims("alice", map[string]any{"iat": k.clock.Add(time.Minute).Unix()}))), "the token is not valid yet"},
		{"Basic credentials", hdr("Authorization", "Basic YWxpY2U6c2VjcmV0"), "the token is not a well-formed JWT"},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}, "the token is not a well-formed JWT"},
	}
	for _, c := range cases {
		for _, path := range []string{"/v1/uploads/u1", "/whoami"} {
			before := f.invocations()
			resp, body := f.do("GET", path, nil, c.header)
			if resp.StatusCode != http.StatusUnauthorized || string(body) != `{"message":"Unauthorized"}` {
				t.Errorf("%s, %s: %d %s, want 401 {\"message\":\"Unauthorized\"}", c.name, path, resp.StatusCode, body)
				continue
			}
			if f.invocations() != before {
				t.Errorf("%s, %s: the function was invoked", c.name, path)
			}
			want := "Bearer"
			if c.description != "" {
				want = `Bearer scope="" error="invalid_token" error_description="` + c.description + `"`
			}
			if got := resp.Header.Get("Www-Authenticate"); got != want {
				t.Errorf("%s: www-authenticate %q, want %q", c.name, got, want)
			}
			if line := f.logLine(resp.Header.Get("Apigw-Requestid")); line["status"] != float64(401) || line["authError"] == nil {
				t.Errorf("%s: log line %v has no status 401 and authError", c.name, line)
			}
		}
	}
	if n := f.invocations(); n != 0 {
		t.Fatalf("%d functions invoked for refused requests", n)
	}
	// The same request with the good token goes through: the refusals
	// above were the token's doing.
	if resp, body := f.do("GET", "/whoami", nil, bearer(good)); resp.StatusCode != 200 || string(body) != "sub:alice" {
		t.Fatalf("good token: %d %s", resp.StatusCode, body)
	}
}

// TestAuthorizerPassesClaims: a valid token's claims reach the function
// in requestContext.authorizer.jwt, flattened to strings as AWS does, and
// api.Owner names the caller by its sub.
func TestAuthorizerPassesClaims(t *testing.T) {
	k := newAuthKeys(t)
	f := newAuthFixture(t, k.authorizer())
	claims := k.claims("alice", map[string]any{
		"email":          "alice@example.com",
		"email_verified": true,
		"cognito:groups": []string{"admin", "editors"},
		"auth_time":      1700000000,
		"ratio":          1.5,
		"nothing":        nil, // deleted by claims(): added below as a JSON null
		"address":        map[string]string{"country": "NL"},
	})
	raw, _ := json.Marshal(claims)
	var withNull map[string]any
	json.Unmarshal(raw, &withNull)
	withNull["nothing"] = nil
	tok := k.es256(t, withNull)

	e := f.echo("GET", "/v1/uploads/u1", nil, bearer(tok))
	if e.Context.Authorizer == nil || e.Context.Authorizer.JWT == nil {
		t.Fatalf("no JWT authorizer context: %+v", e.Context)
	}
	got := e.Context.Authorizer.JWT.Claims
	want := map[string]string{
		"iss": testIssuer, "sub": "alice", "aud": testAudience,
		"iat":            jsonInt(k.clock.Unix()),
		"exp":            jsonInt(k.clock.Add(time.Hour).Unix()),
		"email":          "alice@example.com",
		"email_verified": "true",
		"cognito:groups": "[admin editors]",
		"auth_time":      "1700000000",
		"ratio":          "1.5",
		"address":        `{"country":"NL"}`,
	}
	if len(got) != len(want) {
		t.Errorf("claims %v, want %v", got, want)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("claim %s = %q, want %q", name, got[name], v)
		}
	}
	if _, ok := got["nothing"]; ok {
		t.Error("a null claim was passed on")
	}
	if e.Context.Authorizer.JWT.Scopes != nil {
		t.Errorf("scopes %v on a route without authorization scopes", e.Context.Authorizer.JWT.Scopes)
	}

	// The identity source may hold the bare token, and the scheme's case
	// does not matter.
	for _, h := range []http.Header{bearer(tok), hdr("Authorization", tok), hdr("Authorization", "bearer "+tok)} {
		resp, body := f.do("GET", "/whoami", nil, h)
		if resp.StatusCode != 200 || string(body) != "sub:alice" {
			t.Errorf("Authorization %.20q…: %d %s, want 200 sub:alice", h.Get("Authorization"), resp.StatusCode, body)
		}
	}
	// RS256, and a token that has client_id but no aud (a Cognito access
	// token), pass too.
	if resp, body := f.do("GET", "/whoami", nil, bearer(k.rs256(t, k.claims("bob", nil)))); resp.StatusCode != 200 || string(body) != "sub:bob" {
		t.Errorf("RS256: %d %s", resp.StatusCode, body)
	}
	access := k.rs256(t, k.claims("carol", map[string]any{"aud": nil, "client_id": testAudience, "token_use": "access"}))
	if resp, body := f.do("GET", "/whoami", nil, bearer(access)); resp.StatusCode != 200 || string(body) != "sub:carol" {
		t.Errorf("client_id without aud: %d %s", resp.StatusCode, body)
	}
	// One of several audiences matching is enough.
	multi := k.es256(t, k.claims("dave", map[string]any{"aud": []string{"x", testAudience}}))
	if resp, body := f.do("GET", "/whoami", nil, bearer(multi)); resp.StatusCode != 200 || string(body) != "sub:dave" {
		t.Errorf("aud list: %d %s", resp.StatusCode, body)
	}
	// Within the leeway of the clocks is still valid.
	edge := k.es256(t, k.claims("erin", map[string]any{"exp": k.clock.Add(-2 * time.Second).Unix(), "nbf": k.clock.Add(2 * time.Second).Unix()}))
	if resp, body := f.do("GET", "/whoami", nil, bearer(edge)); resp.StatusCode != 200 || string(body) != "sub:erin" {
		t.Errorf("within the leeway: %d %s", resp.StatusCode, body)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestAuthorizerLeavesPreflightsAndUnknownRoutes: a CORS preflight is
// answered without a token (HTTP APIs answer preflights before any
// authorizer), and a request that matches no route is 404 whatever its
// token, as a route without an authorizer is.
func TestAuthorizerLeavesPreflightsAndUnknownRoutes(t *testing.T) {
	k := newAuthKeys(t)
	f := newAuthFixture(t, k.authorizer())
	resp, _ := f.do("OPTIONS", "/v1/uploads/u1/chunks/0", nil, preflightHeader("https://app.example.com", "PUT"))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := f.do("GET", "/no/such/route", nil, nil)
	wantMessage(t, resp, body, http.StatusNotFound, "Not Found")
	// A refusal carries the CORS headers, so the page can read the 401.
	resp, _ = f.do("GET", "/v1/uploads/u1", nil, hdr("Origin", "https://app.example.com"))
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("refusal from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if f.invocations() != 0 {
		t.Fatal("a function was invoked")
	}
}

// TestAuthorizerScopes: a route with authorization scopes refuses a token
// with none of them (403) and passes the token's scopes on.
func TestAuthorizerScopes(t *testing.T) {
	k := newAuthKeys(t)
	auth := k.authorizer()
	auth.Scopes = []string{"uploads/write", "admin"}
	f := newAuthFixture(t, auth)
	for _, extra := range []map[string]any{nil, {"scope": "uploads/read profile"}, {"scp": []string{"uploads/read"}}} {
		resp, body := f.do("GET", "/v1/uploads/u1", nil, bearer(k.es256(t, k.claims("alice", extra))))
		if resp.StatusCode != http.StatusForbidden || string(body) != `{"message":"Forbidden"}` {
			t.Errorf("scopes %v: %d %s, want 403", extra, resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("Www-Authenticate"), `Bearer scope="uploads/write admin" error="insufficient_scope" error_description="the token does not have a required scope"`; got != want {
			t.Errorf("www-authenticate %q, want %q", got, want)
		}
	}
	if f.invocations() != 0 {
		t.Fatal("a function was invoked without a required scope")
	}
	for _, c := range []struct {
		extra map[string]any
		want  []string
	}{
		{map[string]any{"scope": "openid uploads/write"}, []string{"openid", "uploads/write"}},
		{map[string]any{"scp": []string{"admin"}}, []string{"admin"}},
		{map[string]any{"scp": "admin profile", "scope": "ignored"}, []string{"admin", "profile"}},
	} {
		e := f.echo("GET", "/v1/uploads/u1", nil, bearer(k.es256(t, k.claims("alice", c.extra))))
		if got := e.Context.Authorizer.JWT.Scopes; !slices.Equal(got, c.want) {
			t.Errorf("%v: scopes %v, want %v", c.extra, got, c.want)
		}
	}
}

// TestAuthorizerWithTheLocalIssuer: tokens minted by the local issuer
// pass the authorizer that trusts it; its expired tokens do not.
func TestAuthorizerWithTheLocalIssuer(t *testing.T) {
	clock := time.Now()
	iss, err := auth.New(auth.Options{URL: testIssuer, Audience: testAudience, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	auth := &JWTAuthorizer{Issuer: iss.URL(), Audience: []string{iss.Audience()}, Keys: iss}
	f := newAuthFixture(t, auth)
	tok, err := iss.Mint("alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := f.do("GET", "/whoami", nil, bearer(tok.Value)); resp.StatusCode != 200 || string(body) != "sub:alice" {
		t.Fatalf("minted token: %d %s", resp.StatusCode, body)
	}
	clock = clock.Add(-2 * time.Minute)
	old, err := iss.Mint("alice", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.do("GET", "/whoami", nil, bearer(old.Value)); resp.StatusCode != 401 {
		t.Fatalf("expired minted token: %d", resp.StatusCode)
	}
}

func TestAuthorizerNeedsIssuerAudienceAndKeys(t *testing.T) {
	for _, a := range []*JWTAuthorizer{
		{Audience: []string{"a"}, Keys: StaticKeys{}},
		{Issuer: "i", Keys: StaticKeys{}},
		{Issuer: "i", Audience: []string{"a"}},
	} {
		if _, err := New(authRoutes, map[string]http.Handler{"CheckFunction": http.NotFoundHandler(), "ReceiveFunction": http.NotFoundHandler(), "OwnerFunction": http.NotFoundHandler()}, Options{Authorizer: a}); err == nil {
			t.Errorf("authorizer %+v accepted", a)
		}
	}
}

// TestPreflightToRoutesThatTakeOptions: a preflight to a path with no route
// for OPTIONS is answered by the gateway (CORS configuration), with or
// without auth; one to an ANY route goes to that route, through its
// authorizer, so without a public OPTIONS route it is refused; a public
// OPTIONS route answers it without a token, and the gateway puts the
// preflight headers on the function's answer.
func TestPreflightToRoutesThatTakeOptions(t *testing.T) {
	k := newAuthKeys(t)
	routes := []Route{
		{Function: "ReceiveFunction", Method: "PUT", Path: "/put"},
		{Function: "ReceiveFunction", Method: "ANY", Path: "/any"},
		{Function: "ReceiveFunction", Method: "ANY", Path: "/open"},
		{Function: "CheckFunction", Method: "OPTIONS", Path: "/open", Public: true},
	}
	for _, withAuth := range []bool{true, false} {
		f := &fixture{t: t, logs: &lockedBuffer{}}
		opts := templateCORS
		opts.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
		if withAuth {
			opts.Authorizer = k.authorizer()
		}
		g, err := newGateway(routes, testHandlers(), opts)
		if err != nil {
			t.Fatal(err)
		}
		g.observe = f.record
		f.srv = httptest.NewServer(g)
		pre := preflightHeader("https://app.example.com", "POST")
		wantPreflightHeaders := func(what string, resp *http.Response) {
			t.Helper()
			for name, want := range map[string]string{
				"Access-Control-Allow-Origin":   "https://app.example.com",
				"Access-Control-Allow-Methods":  "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS",
				"Access-Control-Allow-Headers":  "content-type,content-range,x-chunk-checksum",
				"Access-Control-Max-Age":        "600",
				"Access-Control-Expose-Headers": "",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("auth %v, %s: %s = %q, want %q", withAuth, what, name, got, want)
				}
			}
		}

		resp, _ := f.do("OPTIONS", "/put", nil, pre)
		if resp.StatusCode != http.StatusNoContent || f.invocations() != 0 {
			t.Fatalf("auth %v, preflight to a PUT route: %d, %d invocations; want 204 from the gateway", withAuth, resp.StatusCode, f.invocations())
		}
		wantPreflightHeaders("PUT route", resp)

		resp, body := f.do("OPTIONS", "/any", nil, pre)
		if withAuth {
			if resp.StatusCode != http.StatusUnauthorized || f.invocations() != 0 {
				t.Fatalf("preflight to an ANY route behind the authorizer: %d %s, want 401 and no invocation", resp.StatusCode, body)
			}
		} else {
			var e echoed
			if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil || e.Method != "OPTIONS" || e.Context.RouteKey != "ANY /any" {
				t.Fatalf("preflight to an open ANY route: %d %s, want the function's answer", resp.StatusCode, body)
			}
			wantPreflightHeaders("ANY route", resp)
		}

		before := f.invocations()
		resp, body = f.do("OPTIONS", "/open", nil, pre)
		var e echoed
		if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil || e.Context.RouteKey != "OPTIONS /open" || f.invocations() != before+1 {
			t.Fatalf("auth %v, preflight to a public OPTIONS route: %d %s", withAuth, resp.StatusCode, body)
		}
		if e.Context.Authorizer != nil {
			t.Errorf("a public route got authorizer context %+v", e.Context.Authorizer)
		}
		wantPreflightHeaders("public OPTIONS route", resp)
		// The public route is public for OPTIONS only: the ANY route beside
		// it still needs a token for everything else.
		if resp, _ := f.do("POST", "/open", nil, nil); withAuth && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST beside a public OPTIONS route: %d, want 401", resp.StatusCode)
		}
		f.srv.Close()
	}
}
