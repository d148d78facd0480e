package gateway

// The JWT authorizer of an HTTP API, as AWS documents it in "Control
// access to HTTP APIs with JWT authorizers in API Gateway"
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html)
// and "Troubleshooting issues with HTTP API JWT authorizers"
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html).
// For every request to a route that uses it, API Gateway:
//
//  1. takes the token from the identity source ($request.header.Authorization
//     here), either the bare token or the token after "Bearer ";
//  2. decodes it;
//  3. checks its algorithm and signature with the issuer's public key,
//     looked up by the token's kid (AWS fetches the keys from the issuer's
//     jwks_uri; here a KeySet stands in for that);
//  4. checks the claims: iss must equal the configured issuer; aud must
//     match one of the configured audiences, and only when there is no
//     aud, client_id must ("When both aud and client_id are present, API
//     Gateway evaluates aud"); exp must be after the current time, nbf and
//     iat before it; and when the route has authorization scopes, scope or
//     scp must hold at least one of them.
//
// Any failure answers 401 {"message":"Unauthorized"} with a www-authenticate
// header naming the reason, e.g. `Bearer scope="" error="invalid_token"
// error_description="the token does not have a valid audience"` (the
// troubleshooting page's example), and the integration is not invoked. A
// valid token's claims reach the function in requestContext.authorizer.jwt.
//
// Where AWS is silent, this emulation chooses as noted:
//   - AWS says "Currently, only RSA-based algorithms are supported". RS256,
//     RS384 and RS512 are verified here, and so is ES256, which the local
//     issuer uses; a real identity provider behind a deployed stack must
//     sign with RSA (Cognito does, RS256).
//   - exp is required; nbf and iat are checked when present. A small
//     leeway (DefaultJWTLeeway) absorbs clock rounding.
//   - Claims are flattened to strings as measured on real HTTP APIs and
//     reported in https://github.com/floci-io/floci/pull/2011 and
//     https://github.com/aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock/pull/803:
//     strings as they are, numbers and booleans as their JSON text, arrays
//     as "[a b c]", null claims left out; objects (not measured) as JSON.
//   - A route with scopes refuses a token that has none of them with 403
//     {"message":"Forbidden"}, and passes the token's scopes on in
//     jwt.scopes, which is absent otherwise (measured, same floci pull
//     request).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for RS384 and RS512
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// DefaultJWTLeeway is how far exp, nbf and iat may be off the gateway's
// clock by default.
const DefaultJWTLeeway = 5 * time.Second

// KeySet gives the issuer's public key for a kid, as the issuer's JWKS
// does for API Gateway.
type KeySet interface {
	PublicKey(kid string) (crypto.PublicKey, bool)
}

// StaticKeys is a KeySet of fixed keys by kid.
type StaticKeys map[string]crypto.PublicKey

// PublicKey implements KeySet.
func (s StaticKeys) PublicKey(kid string) (crypto.PublicKey, bool) {
	k, ok := s[kid]
	return k, ok
}

// JWTAuthorizer is an HTTP API JWT authorizer whose identity source is
// $request.header.Authorization. The gateway applies it to every route
// that is not Public, as the template's security requirements do. CORS
// preflights are answered before it.
type JWTAuthorizer struct {
	// Issuer must equal the token's iss.
	Issuer string
	// Audience lists the accepted aud (or client_id) values.
	Audience []string
	// Keys verifies signatures.
	Keys KeySet
	// Scopes are the routes' authorization scopes; none by default.
	Scopes []string
	// Leeway is the allowed clock difference; DefaultJWTLeeway when zero.
	Leeway time.Duration
	// Now is the gateway's clock; time.Now when nil.
	Now func() time.Time
}

func (a *JWTAuthorizer) check() error {
	if a.Issuer == "" || len(a.Audience) == 0 || a.Keys == nil {
		return errors.New("JWT authorizer: Issuer, Audience and Keys are required")
	}
	return nil
}

// denial is why a request was refused, and how to tell the client.
type denial struct {
	status int
	// challenge is the www-authenticate header.
	challenge string
	// reason is for the gateway's log.
	reason string
}

func (d *denial) reply() reply {
	rp := messageReply(http.StatusUnauthorized, "Unauthorized")
	if d.status == http.StatusForbidden {
		rp = messageReply(http.StatusForbidden, "Forbidden")
	}
	rp.header.Set("Www-Authenticate", d.challenge)
	return rp
}

// authorize checks the request's token and returns what the function is
// told of it, or why it is refused.
func (a *JWTAuthorizer) authorize(r *http.Request) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, *denial) {
	token := bearerToken(strings.Join(r.Header.Values("Authorization"), ","))
	if token == "" {
		// RFC 6750, section 3.1: no error code when no credentials came.
		return nil, &denial{status: http.StatusUnauthorized, challenge: "Bearer", reason: "no token"}
	}
	claims, err := a.verify(token)
	if err != nil {
		return nil, a.invalid(err)
	}
	desc := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: flattenClaims(claims)}
	if len(a.Scopes) > 0 {
		have := tokenScopes(claims)
		if !slices.ContainsFunc(have, func(s string) bool { return slices.Contains(a.Scopes, s) }) {
			return nil, &denial{status: http.StatusForbidden, reason: "no required scope",
				challenge: a.bearer("insufficient_scope", "the token does not have a required scope")}
		}
		desc.Scopes = have
	}
	return desc, nil
}

// bearerToken takes the token out of an Authorization value: after
// "Bearer " (the scheme compared without case, RFC 7235) or all of it;
// "" when there is none.
func bearerToken(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case strings.EqualFold(v, "bearer"):
		return ""
	case len(v) > 7 && strings.EqualFold(v[:7], "bearer "):
		return strings.TrimSpace(v[7:])
	}
	return v
}

func (a *JWTAuthorizer) bearer(code, description string) string {
	return fmt.Sprintf("Bearer scope=%q error=%q error_description=%q", strings.Join(a.Scopes, " "), code, description)
}

func (a *JWTAuthorizer) invalid(err error) *denial {
	var te *tokenError
	description := "the token is not valid"
	if errors.As(err, &te) {
		description = te.description
	}
	return &denial{status: http.StatusUnauthorized, challenge: a.bearer("invalid_token", description), reason: err.Error()}
}

// tokenError is a refused token, with the description the client is given.
type tokenError struct {
	description string
	detail      error
}

func (e *tokenError) Error() string {
	if e.detail == nil {
		return e.description
	}
	return e.description + ": " + e.detail.Error()
}

func (e *tokenError) Unwrap() error { return e.detail }

func refuse(description string, detail error) error {
	return &tokenError{description: description, detail: detail}
}

// jwsHeader is the part of a JOSE header the authorizer reads.
type jwsHeader struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

// verify checks a compact JWS and its claims and returns the claims.
func (a *JWTAuthorizer) verify(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, refuse("the token is not a well-formed JWT", fmt.Errorf("%d dot-separated parts, want 3", len(parts)))
	}
	var hdr jwsHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, refuse("the token is not a well-formed JWT", fmt.Errorf("header: %w", err))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, refuse("the token is not a well-formed JWT", fmt.Errorf("signature: %w", err))
	}
	if len(hdr.Crit) > 0 {
		return nil, refuse("the token has critical header parameters that are not understood", fmt.Errorf("crit %v", hdr.Crit))
	}
	if hdr.Kid == "" {
		return nil, refuse("the token has no key id (kid)", nil)
	}
	key, ok := a.Keys.PublicKey(hdr.Kid)
	if !ok {
		return nil, refuse("the token's key id (kid) names no key of the issuer", fmt.Errorf("kid %q", hdr.Kid))
	}
	if err := verifySignature(hdr.Alg, key, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := decodeSegment(parts[1], &claims); err != nil || claims == nil {
		return nil, refuse("the token's claims are not a JSON object", err)
	}
	if err := a.checkClaims(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// decodeSegment decodes a base64url JSON segment, numbers kept as written.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("base64url: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	if dec.More() {
		return errors.New("JSON: data after the object")
	}
	return nil
}

// verifySignature checks sig over input with key, by an algorithm that
// must agree with the key's type (so that an RSA key is never used as,
// say, an HMAC secret).
func verifySignature(alg string, key crypto.PublicKey, input, sig []byte) error {
	bad := refuse("the token's signature is not valid", nil)
	switch k := key.(type) {
	case *rsa.PublicKey:
		h, ok := rsaHash(alg)
		if !ok {
			return refuse("the token's signing algorithm is not supported", fmt.Errorf("alg %q with an RSA key", alg))
		}
		hh := h.New()
		hh.Write(input)
		if rsa.VerifyPKCS1v15(k, h, hh.Sum(nil), sig) != nil {
			return bad
		}
		return nil
	case *ecdsa.PublicKey:
		if alg != "ES256" || k.Curve != elliptic.P256() {
			return refuse("the token's signing algorithm is not supported", fmt.Errorf("alg %q with an ECDSA key", alg))
		}
		if len(sig) != 64 {
			return bad
		}
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
		if err != nil {
			return bad
		}
		digest := sha256.Sum256(input)
		if !ecdsa.VerifyASN1(k, digest[:], der) {
			return bad
		}
		return nil
	}
	return refuse("the token's signing algorithm is not supported", fmt.Errorf("key type %T", key))
}

// rsaHash is the digest of an RSA PKCS #1 v1.5 algorithm of RFC 7518,
// section 3.3.
func rsaHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case "RS256":
		return crypto.SHA256, true
	case "RS384":
		return crypto.SHA384, true
	case "RS512":
		return crypto.SHA512, true
	}
	return 0, false
}

// checkClaims checks iss, aud (or client_id), exp, nbf and iat.
func (a *JWTAuthorizer) checkClaims(c map[string]any) error {
	if iss, _ := c["iss"].(string); iss != a.Issuer {
		return refuse("the token does not have a valid issuer", fmt.Errorf("iss %v", c["iss"]))
	}
	if !a.audienceMatches(c) {
		return refuse("the token does not have a valid audience", fmt.Errorf("aud %v, client_id %v", c["aud"], c["client_id"]))
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	leeway := a.Leeway
	if leeway == 0 {
		leeway = DefaultJWTLeeway
	}
	t := now()
	exp, ok, err := timeClaim(c, "exp")
	switch {
	case err != nil:
		return refuse("the token's exp is not a number", err)
	case !ok:
		return refuse("the token has no expiry (exp)", nil)
	case !t.Before(exp.Add(leeway)):
		return refuse("the token has expired", fmt.Errorf("exp %v, now %v", exp.UTC(), t.UTC()))
	}
	for _, name := range []string{"nbf", "iat"} {
		v, ok, err := timeClaim(c, name)
		if err != nil {
			return refuse("the token's "+name+" is not a number", err)
		}
		if ok && v.After(t.Add(leeway)) {
			return refuse("the token is not valid yet", fmt.Errorf("%s %v, now %v", name, v.UTC(), t.UTC()))
		}
	}
	return nil
}

// audienceMatches applies AWS's rule: aud when present (a string or a
// list, any entry matching), else client_id.
func (a *JWTAuthorizer) audienceMatches(c map[string]any) bool {
	var have []any
	switch v := c["aud"].(type) {
	case nil:
		have = []any{c["client_id"]}
	case []any:
		have = v
	default:
		have = []any{v}
	}
	for _, h := range have {
		if s, ok := h.(string); ok && slices.Contains(a.Audience, s) {
			return true
		}
	}
	return false
}

// timeClaim reads a NumericDate claim (seconds since the epoch, possibly
// fractional).
func timeClaim(c map[string]any, name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, true, fmt.Errorf("%s is %T, not a number", name, v)
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, true, fmt.Errorf("%s: %w", name, err)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// tokenScopes are the token's scopes: scp (a list or a space-separated
// string) if present, else scope (the same).
func tokenScopes(c map[string]any) []string {
	for _, name := range []string{"scp", "scope"} {
		switch v := c[name].(type) {
		case string:
			return strings.Fields(v)
		case []any:
			var out []string
			for _, e := range v {
				out = append(out, claimString(e))
			}
			return out
		}
	}
	return nil
}

// flattenClaims renders every claim as a string, as API Gateway does for
// requestContext.authorizer.jwt.claims.
func flattenClaims(c map[string]any) map[string]string {
	out := make(map[string]string, len(c))
	for name, v := range c {
		if v == nil {
			continue
		}
		out[name] = claimString(v)
	}
	return out
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, claimString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
