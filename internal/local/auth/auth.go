// Package auth is the local stack's stand-in for an OpenID Connect
// issuer such as a Cognito user pool: it holds one signing key and mints
// signed JWTs for any subject it is asked for, so that the local gateway's
// JWT authorizer (gateway.JWTAuthorizer) has real tokens to verify.
//
// It is a development tool and nothing more. Whoever can reach an issuer
// can become any user, so chunkup-local serves its token endpoint only in
// auth mode and only to callers on the loopback interface, and nothing in
// the Lambda functions knows this package.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// DefaultTTL is how long a minted token is valid unless asked otherwise:
// an hour, as Cognito's ID and access tokens are by default.
const DefaultTTL = time.Hour

// MaxTTL bounds the lifetime of a minted token.
const MaxTTL = 24 * time.Hour

// Options configures an Issuer.
type Options struct {
	// URL is the issuer identifier, the iss claim of every token; the
	// authorizer must be configured with the same string. Required.
	URL string
	// Audience is the aud claim of every token (an app client id, for
	// Cognito). Required.
	Audience string
	// KeyFile is where the signing key is kept (PKCS #8, PEM). It is read
	// when it exists and created otherwise, so that tokens outlive a
	// restart. When empty, a new key is made and kept in memory only.
	KeyFile string
	// Now is the clock for iat and exp; time.Now when nil.
	Now func() time.Time
}

// Issuer mints tokens signed with its one key: ES256 with the ECDSA P-256
// key it makes, or RS256 when its key file holds an RSA key instead (API
// Gateway's own authorizer accepts only RSA-signed tokens, so an issuer
// that is to stand in for a real one on AWS too would use RSA).
type Issuer struct {
	url      string
	audience string
	key      crypto.Signer
	kid      string
	now      func() time.Time
}

// Token is a minted JWT and what it says.
type Token struct {
	// Value is the compact JWS: header.payload.signature.
	Value     string
	Subject   string
	ExpiresAt time.Time
}

// New returns an issuer with the key that opt names, or a new one.
func New(opt Options) (*Issuer, error) {
	if opt.URL == "" || opt.Audience == "" {
		return nil, errors.New("local issuer: URL and Audience are required")
	}
	key, err := loadOrCreateKey(opt.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("local issuer: %w", err)
	}
	kid, err := Thumbprint(key.Public())
	if err != nil {
		return nil, fmt.Errorf("local issuer: %w", err)
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &Issuer{url: opt.URL, audience: opt.Audience, key: key, kid: kid, now: now}, nil
}

// URL is the issuer identifier, the iss of its tokens.
func (i *Issuer) URL() string { return i.url }

// Audience is the aud of its tokens.
func (i *Issuer) Audience() string { return i.audience }

// KeyID is the kid of its tokens: the key's RFC 7638 thumbprint.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey returns the verification key for kid, as a JWKS would. It
// makes an Issuer usable as the key set of the gateway's JWT authorizer.
func (i *Issuer) PublicKey(kid string) (crypto.PublicKey, bool) {
	if kid != i.kid {
		return nil, false
	}
	return i.key.Public(), true
}

// Mint signs a token for sub valid for ttl (DefaultTTL when zero), with
// the claims an OIDC ID token carries: iss, sub, aud, iat, exp and a
// unique jti.
func (i *Issuer) Mint(sub string, ttl time.Duration) (Token, error) {
	if sub == "" {
		return Token{}, errors.New("mint: empty subject")
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > MaxTTL {
		return Token{}, fmt.Errorf("mint: lifetime %v is not within (0, %v]", ttl, MaxTTL)
	}
	now := i.now().Truncate(time.Second)
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return Token{}, fmt.Errorf("mint: token id: %w", err)
	}
	exp := now.Add(ttl)
	claims := map[string]any{
		"iss": i.url,
		"sub": sub,
		"aud": i.audience,
		"iat": now.Unix(),
		"exp": exp.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	v, err := Sign(i.key, i.kid, claims)
	if err != nil {
		return Token{}, fmt.Errorf("mint: %w", err)
	}
	return Token{Value: v, Subject: sub, ExpiresAt: exp}, nil
}

// Sign makes a compact JWS of claims with key: ES256 for an ECDSA P-256
// key, RS256 for an RSA key. kid goes into the header when not empty.
// Tests use it to make tokens the issuer would never make.
func Sign(key crypto.Signer, kid string, claims any) (string, error) {
	alg := ""
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("sign: an ECDSA key must be on P-256 for ES256")
		}
		alg = "ES256"
	case *rsa.PublicKey:
		alg = "RS256"
	default:
		return "", fmt.Errorf("sign: unsupported key type %T", k)
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("sign: header: %w", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := sha256.Sum256([]byte(input))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	if alg == "ES256" {
		// crypto.Signer gives ECDSA signatures in ASN.1; JWS wants the
		// two 32-byte integers side by side (RFC 7518, section 3.4).
		if sig, err = fixedECDSA(sig, 32); err != nil {
			return "", fmt.Errorf("sign: %w", err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// fixedECDSA turns an ASN.1 ECDSA signature into r||s, each size bytes.
func fixedECDSA(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ECDSA signature is not ASN.1: %w", errors.Join(err, errTrailing(rest)))
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

func errTrailing(rest []byte) error {
	if len(rest) == 0 {
		return nil
	}
	return fmt.Errorf("%d trailing bytes", len(rest))
}

// Thumbprint is the RFC 7638 JWK thumbprint of a public key (SHA-256,
// base64url), which makes a stable key id.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	var members string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("thumbprint: only P-256 ECDSA keys are supported")
		}
		b, err := k.Bytes() // uncompressed point: 0x04 || X || Y
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		x, y := b[1:33], b[33:]
		members = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, b64(x), b64(y))
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		members = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(e), b64(k.N.Bytes()))
	default:
		return "", fmt.Errorf("thumbprint: unsupported key type %T", pub)
	}
	sum := sha256.Sum256([]byte(members))
	return b64(sum[:]), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// loadOrCreateKey reads the key in path, or makes a P-256 key and, when
// path is not empty, writes it there (readable by its owner only).
func loadOrCreateKey(path string) (crypto.Signer, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			return parseKey(path, data)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read signing key: %w", err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	if path == "" {
		return key, nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("signing key directory: %w", err)
	}
	// O_EXCL: two runners starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("write signing key: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("write signing key: %w", werr)
	}
	return key, nil
}

func parseKey(path string, data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: no PKCS #8 PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("signing key %s: ECDSA key not on P-256", path)
		}
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("signing key %s: unsupported key type %T", path, k)
}
