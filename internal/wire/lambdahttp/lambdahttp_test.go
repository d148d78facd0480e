package lambdahttp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// Function must be usable as lambda.Start's handler as it is.
var _ lambda.Handler = (*Function)(nil)

// referenceDecode is what aws-lambda-go and aws-lambda-go-api-proxy do
// with an invoke payload: encoding/json, then a base64 decode of the body.
func referenceDecode(payload []byte) (events.APIGatewayV2HTTPRequest, []byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return ev, nil, err
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return ev, nil, err
		}
	}
	ev.Body = ""
	return ev, body, nil
}

func sampleEvent(body []byte, base64Body bool) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "PUT /v1/uploads/{id}/chunks/{n}",
		RawPath:        "/v1/uploads/u1/chunks/3",
		RawQueryString: "a=1&b=%20x",
		Headers: map[string]string{
			"content-type":     "application/octet-stream",
			"x-chunk-checksum": "crc64nvme=AAAAAAAAAAA=",
			"body":             "a header named body is not the body",
		},
		QueryStringParameters: map[string]string{"a": "1", "b": " x"},
		PathParameters:        map[string]string{"id": "u1", "n": "3"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "PUT /v1/uploads/{id}/chunks/{n}",
			RequestID:  "req-1",
			DomainName: "local.example",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "PUT", Path: "/v1/uploads/u1/chunks/3", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1",
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
					Claims: map[string]string{"sub": `someone "quoted" {with} [brackets]`, "body": "not it either"},
				},
			},
		},
	}
	if base64Body {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		ev.Body = string(body)
	}
	return ev
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDecodeEventMatchesEncodingJSON(t *testing.T) {
	payloads := map[string][]byte{
		"binary chunk":         marshal(t, sampleEvent(randomBytes(1<<20+7, 1), true)),
		"empty body":           marshal(t, sampleEvent(nil, false)),
		"text body":            marshal(t, sampleEvent([]byte(`{"filename":"a.txt","size":12}`), false)),
		"text with escapes":    marshal(t, sampleEvent([]byte("line one\nline \"two\"\t<&>"), false)),
		"text with unicode":    marshal(t, sampleEvent([]byte("naïve café ✓"), false)),
		"body first, spaced":   []byte(" {\n \"body\" : \"aGVsbG8=\" , \"isBase64Encoded\" : true , \"rawPath\" : \"/x\" }\n"),
		"escaped slash":        []byte(`{"body":"a\/b+c\/d==","isBase64Encoded":true}`),
		"escaped line break":   []byte(`{"body":"aGVsbG8gd29y\nbGQhIQ==","isBase64Encoded":true}`),
		"unicode escape":       []byte(`{"body":"\u0068i","isBase64Encoded":false}`),
		"body in other case":   []byte(`{"body":"aGk=","Body":"b2s=","isBase64Encoded":true}`),
		"body twice":           []byte(`{"body":"aGk=","body":"b2s=","isBase64Encoded":true}`),
		"escaped key":          []byte(`{"bod\u0079":"aGk=","isBase64Encoded":true}`),
		"body not a string":    []byte(`{"body":null,"isBase64Encoded":false}`),
		"no body at all":       []byte(`{"rawPath":"/x","headers":{"a":"b"}}`),
		"nested body key":      []byte(`{"requestContext":{"body":"no"},"headers":{"body":"no"},"body":"eWVz","isBase64Encoded":true}`),
		"invalid utf8 in text": []byte("{\"body\":\"a\xffb\",\"isBase64Encoded\":false}"),
	}
	for name, p := range payloads {
		t.Run(name, func(t *testing.T) {
			wantEv, wantBody, wantErr := referenceDecode(p)
			ev, body, err := New(nil).DecodeEvent(p)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json says %v", err, wantErr)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(body, wantBody) {
				t.Errorf("body %q, want %q", trim(body), trim(wantBody))
			}
			if !reflect.DeepEqual(ev, wantEv) {
				t.Errorf("event\n%+v\nwant\n%+v", ev, wantEv)
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestDecodeEventRefusesWhatEncodingJSONRefuses(t *testing.T) {
	for _, p := range []string{
		``,
		`{"body":"aGk=","isBase64Encoded":true`,
		`{"body":"aGk=","isBase64Encoded":tru}`,
		`{"body":"aGk","isBase64Encoded":true}`,   // bad padding
		`{"body":"a!Gk=","isBase64Encoded":true}`, // not base64
		`{"body":"aGVsbG8gd29y` + "\n" + `bGQhIQ==","isBase64Encoded":true}`, // raw line break
		`{"body":"a` + "\x01" + `b","isBase64Encoded":false}`,
		`{"headers":{"a":"b"],"body":"aGk=","isBase64Encoded":true}`,
		`["body","aGk="]`,
	} {
		if _, _, err := New(nil).DecodeEvent([]byte(p)); err == nil {
			t.Errorf("%q decoded without an error", p)
		}
	}
}

// TestDecodeEventCopiesOnce shows the point of DecodeEvent: decoding a
// 4 MiB chunk's event allocates about the chunk once, where encoding/json
// and the adapter's decode allocate it several times over.
func TestDecodeEventCopiesOnce(t *testing.T) {
	chunk := randomBytes(4<<20, 2)
	p := marshal(t, sampleEvent(chunk, true))
	fn := New(nil)
	fast := allocated(func() { _, _, _ = fn.DecodeEvent(p) })
	slow := allocated(func() { _, _, _ = referenceDecode(p) })
	if fast > int64(len(chunk))*11/10 {
		t.Errorf("DecodeEvent allocated %d bytes for a %d-byte chunk; want about one chunk", fast, len(chunk))
	}
	if slow < 2*fast {
		t.Errorf("encoding/json allocated %d bytes, DecodeEvent %d: the fast path should save at least half", slow, fast)
	}
}

func allocated(f func()) int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// echo answers with what it was given, so that two adapters can be
// compared answer for answer.
func echo(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(data)
	_, inMemory := r.Body.(interface{ Bytes() []byte })
	w.Header().Set("X-Echo", "yes")
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "%s %s?%s len=%d cl=%d sha=%s ct=%s sum=%s in-memory=%t\n", r.Method, r.URL.Path, r.URL.RawQuery,
		len(data), r.ContentLength, hex.EncodeToString(sum[:8]), r.Header.Get("Content-Type"),
		r.Header.Get("X-Chunk-Checksum"), inMemory && len(data) > 0)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	fmt.Fprintln(w, len(keys))
}

func TestInvokeAnswersAsHTTPAdapter(t *testing.T) {
	ctx := context.Background()
	h := http.HandlerFunc(echo)
	fn := New(h)
	ref := httpadapter.NewV2(h)
	for name, ev := range map[string]events.APIGatewayV2HTTPRequest{
		"binary": sampleEvent(randomBytes(300_001, 3), true),
		"text":   sampleEvent([]byte("hello, text"), false),
		"empty":  sampleEvent(nil, false),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := fn.Invoke(ctx, marshal(t, ev))
			if err != nil {
				t.Fatal(err)
			}
			var got events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want, err := ref.ProxyWithContext(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			inMemory := len(ev.Body) > 0
			want.Body = strings.Replace(want.Body, "in-memory=false", fmt.Sprintf("in-memory=%t", inMemory), 1)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant (httpadapter)\n%+v", got, want)
			}
		})
	}
}

func TestInvokeRefusesABadEvent(t *testing.T) {
	called := false
	fn := New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	if _, err := fn.Invoke(context.Background(), []byte(`{"body":"%%%","isBase64Encoded":true}`)); err == nil {
		t.Error("a body that is not base64 was served")
	}
	if called {
		t.Error("the handler ran on an event that did not decode")
	}
}

func TestBodyBytesIsTheWholeBody(t *testing.T) {
	data := []byte("0123456789")
	b := NewBody(data)
	head := make([]byte, 4)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(b)
	if err != nil || string(head)+string(rest) != string(data) {
		t.Fatalf("read %q + %q (%v), want %q", head, rest, err, data)
	}
	if got := b.Bytes(); &got[0] != &data[0] || len(got) != len(data) {
		t.Error("Bytes is not the body's own slice")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(marshal(f, sampleEvent(randomBytes(100, 4), true)))
	f.Add(marshal(f, sampleEvent([]byte("text \"body\"\n"), false)))
	f.Add([]byte(`{"body":"aGk=","Body":"b2s=","isBase64Encoded":true}`))
	f.Add([]byte(`{"requestContext":{"body":"no"},"body":"eWVz","isBase64Encoded":true}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		wantEv, wantBody, wantErr := referenceDecode(p)
		ev, body, err := New(nil).DecodeEvent(p)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json says %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(body, wantBody) || !reflect.DeepEqual(ev, wantEv) {
			t.Fatalf("decoded\n%+v %q\nencoding/json\n%+v %q", ev, body, wantEv, wantBody)
		}
	})
}

// BenchmarkDecodeEvent decodes a 4 MiB chunk's event, next to
// encoding/json and a base64 decode of the body (what the adapter does).
func BenchmarkDecodeEvent(b *testing.B) {
	chunk := randomBytes(4<<20, 3)
	p := marshal(b, sampleEvent(chunk, true))
	fn := New(nil)
	b.Run("DecodeEvent", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			if _, _, err := fn.DecodeEvent(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for b.Loop() {
			if _, _, err := referenceDecode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
