package lambdahttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/wire/b64"
)

// DecodeEvent decodes an API Gateway HTTP API (payload 2.0) event and its
// body. The result is what encoding/json and a base64 decode of the body
// would give; the body's bytes are new (the payload may be reused once
// the invocation ends).
//
// A chunk's event is almost all body: a base64 string of several
// megabytes. encoding/json would scan it twice, unquote it into a string
// and leave a base64 decode to follow, so DecodeEvent lifts the body's
// string out of the payload first, decodes the small rest with
// encoding/json, and base64-decodes the body once (with package b64), into
// a buffer of its exact size, in the same pass that checks it. Anything
// unusual (a body that needs unquoting, keys that only encoding/json's
// case folding would match) takes the general path.
func (f *Function) DecodeEvent(payload []byte) (events.APIGatewayV2HTTPRequest, []byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	start, end, ok := findBody(payload)
	if !ok {
		return f.decodeEventSlowly(payload)
	}
	raw := payload[start+1 : end-1]
	rest := make([]byte, 0, start+2+len(payload)-end)
	rest = append(append(append(rest, payload[:start]...), `""`...), payload[end:]...)
	if err := json.Unmarshal(rest, &ev); err != nil {
		return ev, nil, fmt.Errorf("decode event: %w", err)
	}
	if !ev.IsBase64Encoded {
		if bytes.IndexByte(raw, '\\') >= 0 || !plainString(raw) || !utf8.Valid(raw) {
			return f.decodeEventSlowly(payload) // escapes: encoding/json unquotes
		}
		return ev, bytes.Clone(raw), nil
	}
	// The strict decode refuses what the string would mean other than its
	// bytes: an escape (a backslash is not base64) or a control character
	// (not valid in a JSON string; the base64 decoder refuses all but line
	// breaks, which the strict decode refuses too). encoding/json then
	// unquotes or refuses it, with no scan of the string beforehand.
	body, err := f.decodeBase64(raw, b64.DecodeStrict)
	if err != nil {
		return f.decodeEventSlowly(payload)
	}
	return ev, body, nil
}

// decodeEventSlowly is DecodeEvent by encoding/json alone.
func (f *Function) decodeEventSlowly(payload []byte) (events.APIGatewayV2HTTPRequest, []byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return ev, nil, fmt.Errorf("decode event: %w", err)
	}
	body := ev.Body
	ev.Body = ""
	if !ev.IsBase64Encoded {
		return ev, []byte(body), nil
	}
	decoded, err := f.decodeBase64([]byte(body), b64.Decode)
	if err != nil {
		return ev, nil, err
	}
	return ev, decoded, nil
}

// errBadBase64 means an event said its body was base64 and it was not.
var errBadBase64 = errors.New("event body is not valid base64")

// decodeBase64 decodes a body with decode, one of package b64's: as
// aws-lambda-go-api-proxy does (standard alphabet, padded; line breaks
// skipped), or strictly. The result has a buffer of its own.
func (f *Function) decodeBase64(raw []byte, decode func(dst, src []byte) (int, error)) ([]byte, error) {
	out := make([]byte, b64.DecodedLen(len(raw)))
	n, err := decode(out, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadBase64, err)
	}
	return out[:n], nil
}

// plainString reports whether raw, the inside of a JSON string without
// escapes, means exactly its bytes: no control characters.
func plainString(raw []byte) bool {
	for _, c := range raw {
		if c < 0x20 {
			return false
		}
	}
	return true
}

// findBody finds the value of the top-level member "body" of a JSON
// object when that value is a string: payload[start:end] is the string,
// quotes included. It reports false when the payload is not an object,
// when the value is not a string, or when some other key could also be
// matched to the body by encoding/json (which folds case): the general
// path then decides.
func findBody(b []byte) (start, end int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	found := false
	for i = skipSpace(b, i+1); i < len(b) && b[i] != '}'; {
		if b[i] != '"' {
			return 0, 0, false
		}
		keyEnd, ok := stringEnd(b, i)
		if !ok {
			return 0, 0, false
		}
		key := b[i+1 : keyEnd-1]
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		i = skipSpace(b, i+1)
		valEnd, ok := valueEnd(b, i)
		if !ok {
			return 0, 0, false
		}
		switch {
		case !asciiPlain(key):
			return 0, 0, false // leave escapes and Unicode folding to encoding/json
		case bytes.EqualFold(key, []byte("body")):
			if found || string(key) != "body" || b[i] != '"' {
				return 0, 0, false
			}
			found, start, end = true, i, valEnd
		}
		i = skipSpace(b, valEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return start, end, found
}

// asciiPlain reports whether a raw key is printable ASCII without escapes.
func asciiPlain(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at
// b[i] (a quote).
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false
		}
		q := j + k
		slashes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			slashes++
		}
		if slashes%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}

// valueEnd returns the index just past the JSON value that starts at b[i].
// It finds the value's extent only; encoding/json validates it.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, ok := stringEnd(b, j)
				if !ok {
					return 0, false
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && bytes.IndexByte([]byte(",}] \t\r\n"), b[j]) < 0 {
		j++
	}
	return j, j > i
}
