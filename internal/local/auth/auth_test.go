package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// decode splits a compact JWS and decodes its header and claims.
func decode(t *testing.T, tok string) (map[string]any, map[string]any, []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	var hdr, claims map[string]any
	for i, v := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	return hdr, claims, sig
}

// verifyES256 checks a token's signature with the plain ECDSA primitive,
// independently of the gateway's verifier.
func verifyES256(t *testing.T, tok string, pub crypto.PublicKey) bool {
	t.Helper()
	_, _, sig := decode(t, tok)
	if len(sig) != 64 {
		t.Fatalf("ES256 signature of %d bytes, want 64", len(sig))
	}
	input := tok[:strings.LastIndex(tok, ".")]
	digest := sha256.Sum256([]byte(input))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, s)
}

func TestMintedTokens(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	iss, err := New(Options{URL: "http://127.0.0.1:3000/_local", Audience: "chunkup-local", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, claims, _ := decode(t, tok.Value)
	if hdr["alg"] != "ES256" || hdr["typ"] != "JWT" || hdr["kid"] != iss.KeyID() {
		t.Fatalf("header %v", hdr)
	}
	want := map[string]any{"iss": "http://127.0.0.1:3000/_local", "aud": "chunkup-local", "sub": "alice",
		"iat": float64(now.Unix()), "exp": float64(now.Add(DefaultTTL).Unix())}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti %q", claims["jti"])
	}
	if !tok.ExpiresAt.Equal(now.Add(DefaultTTL)) || tok.Subject != "alice" {
		t.Errorf("token %+v", tok)
	}
	pub, ok := iss.PublicKey(iss.KeyID())
	if !ok || !verifyES256(t, tok.Value, pub) {
		t.Fatal("the token does not verify with the issuer's public key")
	}
	if _, ok := iss.PublicKey("other"); ok {
		t.Fatal("a key for an unknown kid")
	}
	// Tampering breaks the signature.
	parts := strings.Split(tok.Value, ".")
	evil, _ := json.Marshal(map[string]any{"sub": "mallory"})
	if verifyES256(t, parts[0]+"."+base64.RawURLEncoding.EncodeToString(evil)+"."+parts[2], pub) {
		t.Fatal("a changed payload verifies")
	}
	// Two tokens are never the same.
	again, _ := iss.Mint("alice", 0)
	if again.Value == tok.Value {
		t.Fatal("two mints gave the same token")
	}
	for _, ttl := range []time.Duration{-time.Second, MaxTTL + time.Second} {
		if _, err := iss.Mint("alice", ttl); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
	if _, err := iss.Mint("", 0); err == nil {
		t.Error("empty subject accepted")
	}
}

func TestKeyIsKeptInTheKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "issuer.pem")
	a, err := New(Options{URL: "u", Audience: "a", KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := New(Options{URL: "u", Audience: "a", KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() {
		t.Fatal("a restarted issuer has another key")
	}
	tok, _ := a.Mint("alice", time.Minute)
	pub, _ := b.PublicKey(b.KeyID())
	if !verifyES256(t, tok.Value, pub) {
		t.Fatal("a token from before the restart does not verify after it")
	}
	other, _ := New(Options{URL: "u", Audience: "a"})
	if other.KeyID() == a.KeyID() {
		t.Fatal("an issuer without a key file reuses a key")
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{URL: "u", Audience: "a", KeyFile: path}); err == nil {
		t.Fatal("a broken key file was accepted")
	}
}

func TestRSAKeyFileSignsRS256(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	path := filepath.Join(t.TempDir(), "rsa.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	iss, err := New(Options{URL: "u", Audience: "a", KeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint("bob", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, sig := decode(t, tok.Value)
	if hdr["alg"] != "RS256" {
		t.Fatalf("alg %v", hdr["alg"])
	}
	digest := sha256.Sum256([]byte(tok.Value[:strings.LastIndex(tok.Value, ".")]))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RS256 signature: %v", err)
	}
}

func TestThumbprintOfRFC7638Example(t *testing.T) {
	// The RSA key of RFC 7638, section 3.1, whose thumbprint it gives.
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
}

func TestTokenHandler(t *testing.T) {
	iss, err := New(Options{URL: "u", Audience: "a"})
	if err != nil {
		t.Fatal(err)
	}
	h := iss.TokenHandler()
	serve := func(method, target, remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := serve("GET", "/_local/token?sub=alice&ttl=30m", "127.0.0.1:5555")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("token: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	var a tokenAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	_, claims, _ := decode(t, a.Token)
	exp, _ := time.Parse(time.RFC3339, a.ExpiresAt)
	if a.TokenType != "Bearer" || a.Sub != "alice" || claims["sub"] != "alice" || float64(exp.Unix()) != claims["exp"] {
		t.Fatalf("answer %+v, claims %v", a, claims)
	}
	if d := time.Until(exp); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("expires in %v, want 30m", d)
	}
	if rec := serve("GET", "/_local/token?sub=alice", "[::1]:5555"); rec.Code != 200 {
		t.Fatalf("IPv6 loopback: %d", rec.Code)
	}
	for _, c := range []struct {
		method, target, remote string
		status                 int
	}{
		{"GET", "/_local/token?sub=alice", "192.168.1.20:5555", http.StatusForbidden},
		{"GET", "/_local/token?sub=alice", "10.0.0.1:1", http.StatusForbidden},
		{"POST", "/_local/token?sub=alice", "127.0.0.1:1", http.StatusMethodNotAllowed},
		{"GET", "/_local/token", "127.0.0.1:1", http.StatusBadRequest},
		{"GET", "/_local/token?sub=" + strings.Repeat("x", 257), "127.0.0.1:1", http.StatusBadRequest},
		{"GET", "/_local/token?sub=a%00b", "127.0.0.1:1", http.StatusBadRequest},
		{"GET", "/_local/token?sub=alice&ttl=forever", "127.0.0.1:1", http.StatusBadRequest},
		{"GET", "/_local/token?sub=alice&ttl=48h", "127.0.0.1:1", http.StatusBadRequest},
		{"GET", "/_local/token?sub=alice&ttl=-1m", "127.0.0.1:1", http.StatusBadRequest},
	} {
		if rec := serve(c.method, c.target, c.remote); rec.Code != c.status {
			t.Errorf("%s %s from %s: %d, want %d", c.method, c.target, c.remote, rec.Code, c.status)
		}
	}
}
