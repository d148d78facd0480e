// Package lambdahttp serves an http.Handler as a Lambda function behind an
// API Gateway HTTP API (payload format 2.0): it is what each function's
// main hands to lambda.Start, and what the local gateway invokes.
//
// It does what aws-lambda-go-api-proxy's httpadapter does — and uses its
// request conversion and response writer — but takes the invoke payload
// itself rather than an event aws-lambda-go has already decoded, so that
// a chunk's bytes are decoded once, straight from the payload, instead of
// being scanned, unquoted into a string and base64-decoded into a third
// copy (see Function.DecodeEvent).
package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// Function is an http.Handler as a Lambda function. It implements
// aws-lambda-go's lambda.Handler.
type Function struct {
	handler  http.Handler
	accessor core.RequestAccessorV2
}

// New returns the function that serves h.
func New(h http.Handler) *Function { return &Function{handler: h} }

// Invoke answers one invocation: payload is the event as the Lambda
// service sends it, the result the response as it expects it back.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, body, err := f.DecodeEvent(payload)
	if err != nil {
		return nil, err
	}
	resp, err := f.Serve(ctx, ev, body)
	if err != nil {
		return nil, err
	}
	return EncodeJSON(resp)
}

// Serve runs the handler on an event whose body has been decoded already
// (ev.Body and ev.IsBase64Encoded are ignored).
func (f *Function) Serve(ctx context.Context, ev events.APIGatewayV2HTTPRequest, body []byte) (events.APIGatewayV2HTTPResponse, error) {
	ev.Body, ev.IsBase64Encoded = "", false
	req, err := f.accessor.EventToRequestWithContext(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("convert event to request: %w", err)
	}
	if len(body) > 0 {
		req.Body = NewBody(body)
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return NewBody(body), nil }
	}
	w := core.NewProxyResponseWriterV2()
	f.handler.ServeHTTP(w, req)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("build response: %w", err)
	}
	return resp, nil
}

// EncodeJSON encodes v as the Lambda service carries events and
// responses: no HTML escaping (aws-lambda-go's encoder does none), no
// trailing newline.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Body is a request body that is in memory already. Besides reading it,
// a handler can take its bytes with Bytes and so spare itself a copy of a
// chunk.
type Body struct {
	r    *bytes.Reader
	data []byte
}

// NewBody returns a body over data, which its reader must not change.
func NewBody(data []byte) *Body { return &Body{r: bytes.NewReader(data), data: data} }

// Read reads the body.
func (b *Body) Read(p []byte) (int, error) { return b.r.Read(p) }

// WriteTo writes the rest of the body to w; io.Copy uses it.
func (b *Body) WriteTo(w io.Writer) (int64, error) { return b.r.WriteTo(w) }

// Close does nothing: there is nothing to release.
func (b *Body) Close() error { return nil }

// Bytes returns the whole body, however much has been read. The caller
// must not change it.
func (b *Body) Bytes() []byte { return b.data }
