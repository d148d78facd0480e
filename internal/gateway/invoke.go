package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
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

// outcome is what one invocation produced.
type outcome struct {
	resp events.APIGatewayV2HTTPResponse
	err  error
}

// encodeJSON encodes v as the Lambda service carries it: without HTML
// escaping (aws-lambda-go's response encoder does not escape HTML either).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeEvent is the invoke payload for an event, whose size Lambda checks
// against its 6 MB synchronous request limit.
func encodeEvent(ev events.APIGatewayV2HTTPRequest) ([]byte, error) {
	b, err := encodeJSON(ev)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

// invoke runs the function on the invoke payload as Lambda would: the
// function gets the event decoded from the JSON it was sent, its response
// is measured as the JSON it returns, a panic or an error is a function
// error (500), and a function slower than the integration timeout gets
// 503 {"message":"Service Unavailable"}, the answer HTTP APIs give then
// (https://github.com/anomalyco/sst/issues/2232).
func (g *gateway) invoke(ctx context.Context, payload []byte, x *exchange) reply {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		g.logError(ctx, x, fmt.Errorf("decode event: %w", err))
		return internalError()
	}
	if g.observe != nil {
		g.observe(ev)
	}
	resp, err := g.run(ctx, x, ev)
	switch {
	case errors.Is(err, errIntegrationTimeout):
		g.logError(ctx, x, err)
		return messageReply(http.StatusServiceUnavailable, "Service Unavailable")
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
func (g *gateway) run(ctx context.Context, x *exchange, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       x.lambdaID,
		InvokedFunctionArn: g.functionARN(x.function),
	})
	done := make(chan outcome, 1)
	go g.call(ctx, x.function, ev, done)
	select {
	case o := <-done:
		return o.resp, o.err
	case <-ctx.Done():
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("%s after %v: %w", x.function, g.timeout, errIntegrationTimeout)
	}
}

func (g *gateway) call(ctx context.Context, function string, ev events.APIGatewayV2HTTPRequest, done chan<- outcome) {
	defer func() {
		if v := recover(); v != nil {
			done <- outcome{err: &panicError{value: v, stack: debug.Stack()}}
		}
	}()
	resp, err := g.adapters[function].ProxyWithContext(ctx, ev)
	if err != nil {
		err = fmt.Errorf("%s: %w", function, err)
	}
	done <- outcome{resp: resp, err: err}
}

// toReply checks the response against Lambda's 6 MB response limit, a
// function error that HTTP APIs answer with 500, then converts it.
func (g *gateway) toReply(ctx context.Context, resp events.APIGatewayV2HTTPResponse, x *exchange) reply {
	payload, err := encodeJSON(resp)
	if err != nil {
		g.logError(ctx, x, err)
		return internalError()
	}
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
