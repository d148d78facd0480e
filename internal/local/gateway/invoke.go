package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"chunkup/internal/wire/b64"
	"chunkup/internal/wire/lambdahttp"
)

// errIntegrationTimeout means the function did not answer within the
// integration timeout.
var errIntegrationTimeout = errors.New("integration timed out")

// panicError is a panic recovered from a function, with its stack.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("function panicked: %v", p.value) }

// outcome is what one invocation produced: the response's JSON.
type outcome struct {
	resp []byte
	err  error
}

// encodeEvent is the invoke payload for an event and its body (sent with
// contentType), written into into's array when it is large enough: the JSON API Gateway sends, whose size Lambda checks
// against its 6 MB synchronous request limit. A binary body is
// base64-encoded straight into the payload, as the event's "body" member,
// sparing the copies a string and encoding/json would make of a chunk.
func encodeEvent(ev events.APIGatewayV2HTTPRequest, contentType string, body []byte, into []byte) ([]byte, error) {
	if !base64Body(contentType, body) {
		ev.Body, ev.IsBase64Encoded = string(body), false
		return lambdahttp.EncodeJSON(ev)
	}
	ev.Body, ev.IsBase64Encoded = "", true
	head, err := lambdahttp.EncodeJSON(ev)
	if err != nil {
		return nil, err
	}
	// The event's last member is isBase64Encoded (never omitted); the
	// body, omitted when empty, goes just before it, where encoding/json
	// would have put it.
	tail := []byte(`,"isBase64Encoded":true}`)
	if !bytes.HasSuffix(head, tail) {
		return nil, fmt.Errorf("encode event: unexpected end %q", head[max(0, len(head)-len(tail)):])
	}
	head = head[:len(head)-len(tail)]
	n := b64.EncodedLen(len(body))
	out := into[:0]
	if need := len(head) + len(`,"body":""`) + n + len(tail); cap(out) < need {
		out = make([]byte, 0, need)
	}
	out = append(append(out, head...), `,"body":"`...)
	out = b64.AppendEncode(out, body)
	out = append(append(out, '"'), tail...)
	return out, nil
}

// invoke runs the function on the invoke payload as Lambda would: the
// function decodes the event from the JSON it was sent and answers with
// the response's JSON, a panic or an error is a function error (500), and
// a function slower than the integration timeout gets 503
// {"message":"Service Unavailable"}, the answer HTTP APIs give then
// (https://github.com/anomalyco/sst/issues/2232). A function Lambda
// throttles (its concurrency all in use) never runs, and API Gateway
// answers for it, 500 {"message":"Internal Server Error"}, as for any
// failed integration
// (https://repost.aws/knowledge-center/api-gateway-internal-server-error).
func (g *gateway) invoke(ctx context.Context, payload []byte, x *exchange) reply {
	if g.observe != nil {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			g.logError(ctx, x, fmt.Errorf("decode event: %w", err))
			return internalError()
		}
		g.observe(ev)
	}
	resp, err := g.run(ctx, x, payload)
	switch {
	case errors.Is(err, errIntegrationTimeout):
		g.logError(ctx, x, err)
		return messageReply(http.StatusServiceUnavailable, "Service Unavailable")
	case throttled(err):
		x.throttled = "function"
		g.log.LogAttrs(ctx, slog.LevelWarn, "function throttled", slog.String("function", x.function),
			slog.String("requestId", x.requestID), slog.String("error", err.Error()))
		return internalError()
	case err != nil:
		g.logError(ctx, x, err)
		return internalError()
	}
	return g.toReply(ctx, resp, x)
}

// run calls the function in its own goroutine, so that a timeout can answer
// the client while the function is still working, as API Gateway does.
// The function's context is detached from the client's connection (a
// client going away does not stop a Lambda invocation) and carries the
// Lambda context and the deadline.
func (g *gateway) run(ctx context.Context, x *exchange, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       x.lambdaID,
		InvokedFunctionArn: g.functionARN(x.function),
	})
	done := make(chan outcome, 1)
	go g.call(ctx, x.function, payload, done)
	select {
	case o := <-done:
		return o.resp, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s after %v: %w", x.function, g.timeout, errIntegrationTimeout)
	}
}

func (g *gateway) call(ctx context.Context, function string, payload []byte, done chan<- outcome) {
	defer func() {
		if v := recover(); v != nil {
			done <- outcome{err: &panicError{value: v, stack: debug.Stack()}}
		}
	}()
	resp, err := g.functions[function].Invoke(ctx, payload)
	g.payloads.Put(&payload) // its array is reused for the next event
	if err != nil {
		err = fmt.Errorf("%s: %w", function, err)
	}
	done <- outcome{resp: resp, err: err}
}

// toReply checks the response against Lambda's 6 MB response limit, a
// function error that HTTP APIs answer with 500, then converts it.
func (g *gateway) toReply(ctx context.Context, payload []byte, x *exchange) reply {
	if len(payload) > MaxResponseBytes {
		g.logError(ctx, x, fmt.Errorf("response payload of %d bytes exceeds Lambda's %d", len(payload), MaxResponseBytes))
		return internalError()
	}
	var back events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &back); err != nil {
		g.logError(ctx, x, fmt.Errorf("decode response: %w", err))
		return internalError()
	}
	rp, err := fromLambda(back)
	if err != nil {
		g.logError(ctx, x, err)
	}
	return rp
}

func (g *gateway) functionARN(function string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", g.region, g.accountID, function)
}
