// Package gateway is a local stand-in for an Amazon API Gateway HTTP API
// (payload format 2.0) in front of Lambda functions written as net/http
// handlers.
//
// It routes each request as the HTTP API would, builds the same
// events.APIGatewayV2HTTPRequest that API Gateway sends to Lambda, enforces
// the same size limits and timeout, invokes the function with the event's
// JSON — its handler in this process through lambdahttp (as
// functions/*/main.go do on AWS), or, with NewWithFunctions, its built
// binary under the Lambda Runtime Interface Emulator (package emulator) —
// and turns the function's response back into HTTP, adding CORS headers
// like an HTTP API CorsConfiguration does.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/wire/lambdahttp"
)

// Limits that AWS enforces and the gateway reproduces.
const (
	// MaxBodyBytes is the HTTP API payload quota (10 MB): a larger request
	// body is refused with 413 before any function runs.
	MaxBodyBytes = 10 << 20
	// MaxEventBytes is Lambda's limit on a synchronous invocation's request
	// payload: the whole event JSON, with the body base64-encoded when it is
	// binary. Lambda's error says "Request must be smaller than 6291456
	// bytes for the InvokeFunction operation"; an HTTP API then answers 413
	// {"message":"Request Entity Too Large"} (AWS's own emulator, the .NET
	// Lambda Test Tool, asserts this in its HTTP API v2 integration test:
	// github.com/aws/aws-lambda-dotnet,
	// Tools/LambdaTestTool-v2/tests/Amazon.Lambda.TestTool.IntegrationTests/LargePayloadTests.cs).
	MaxEventBytes = 6 << 20
	// MaxResponseBytes is Lambda's limit on a synchronous response payload
	// (Lambda reports "Exceeded maximum allowed payload size (6291556
	// bytes)"); a larger response is a function error, answered with 500.
	MaxResponseBytes = 6<<20 + 100
	// DefaultIntegrationTimeout is the HTTP API's maximum integration timeout.
	DefaultIntegrationTimeout = 30 * time.Second
)

// Route is one route of the HTTP API, as template.yaml declares it for a
// function's HttpApi event.
type Route struct {
	// Function is the logical id of the function, e.g. ReceiveFunction.
	Function string
	// Method is GET, POST, ... or ANY. It is ignored for $default.
	Method string
	// Path is a route path such as /v1/uploads/{id}/chunks/{n} or
	// /files/{proxy+}, or "$default" for the catch-all route.
	Path string
	// Public exempts the route from Options.Authorizer, as an operation
	// that names no security requirement does (samtemplate.Route.Public).
	Public bool
}

// Options configures the gateway. The CORS fields mirror an HTTP API's
// CorsConfiguration; CORS is off when AllowedOrigins is empty.
type Options struct {
	// AllowedOrigins lists the origins allowed by CORS; "*" allows any.
	AllowedOrigins []string
	// AllowHeaders is sent as Access-Control-Allow-Headers on preflights.
	AllowHeaders []string
	// ExposeHeaders is sent as Access-Control-Expose-Headers on responses.
	ExposeHeaders []string
	// AllowMethods is sent as Access-Control-Allow-Methods on preflights.
	AllowMethods []string
	// MaxAge is sent as Access-Control-Max-Age (seconds) when positive.
	MaxAge int
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool

	// Logger receives one line per request; slog.Default() when nil.
	Logger *slog.Logger
	// AccountID, APIID and Region fill requestContext and the function ARN
	// in the Lambda context; defaults 123456789012, "local", us-east-1.
	AccountID, APIID, Region string
	// IntegrationTimeout bounds a function's run; DefaultIntegrationTimeout
	// when zero.
	IntegrationTimeout time.Duration

	// Throttle, when set, is the stage's default route throttling: a
	// request over its route's rate and burst is answered 429
	// {"message":"Too Many Requests"}. Nil throttles nothing (as a stage
	// far below the account's limits).
	Throttle *Throttle

	// Authorizer, when set, guards every route but the Public ones, as
	// the template's JwtAuthorizer does (see JWTAuthorizer); nil lets every request
	// through unauthenticated, as an API without one does.
	Authorizer *JWTAuthorizer
}

// Function is a Lambda function as the gateway invokes it, Lambda's
// Invoke API in one call: Invoke takes the event's JSON and returns the
// response's JSON; an error is a function error (the gateway answers 500).
// ctx carries the Lambda context (lambdacontext: the request id and the
// function's ARN) and the integration timeout. The payload's array is
// reused once Invoke returns.
type Function interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// gateway is the http.Handler that New returns.
type gateway struct {
	table     routeTable
	functions map[string]Function
	// bodies and payloads recycle the buffers of a request's body and of
	// its event's JSON: megabytes each for a chunk, otherwise allocated
	// and zeroed anew for every request.
	bodies, payloads sync.Pool
	cors             cors
	log              *slog.Logger
	accountID        string
	apiID            string
	region           string
	timeout          time.Duration
	auth             *JWTAuthorizer
	throttle         *throttler
	// observe, when set (by tests), sees each event a function receives.
	observe func(events.APIGatewayV2HTTPRequest)
}

// New returns an http.Handler that serves routes as an HTTP API would,
// invoking handlers[route.Function] for each request. Every function named
// by a route must have a handler. Each handler is wrapped once, here, with
// lambdahttp.New, as a Lambda function's main wraps it, and invoked with
// the event's JSON.
func New(routes []Route, handlers map[string]http.Handler, opts Options) (http.Handler, error) {
	g, err := newGateway(routes, handlers, opts)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// NewWithFunctions is New for functions that are invoked as they are,
// such as the functions' built binaries under the Lambda Runtime Interface
// Emulator (package emulator), instead of handlers run in this process.
// Every function named by a route must be in functions.
func NewWithFunctions(routes []Route, functions map[string]Function, opts Options) (http.Handler, error) {
	for name, f := range functions {
		if f == nil {
			return nil, fmt.Errorf("gateway: function %s: nil", name)
		}
	}
	g, err := newInvoking(routes, functions, opts)
	if err != nil {
		return nil, err
	}
	return g, nil
}

func newGateway(routes []Route, handlers map[string]http.Handler, opts Options) (*gateway, error) {
	functions, err := buildFunctions(handlers)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return newInvoking(routes, functions, opts)
}

func newInvoking(routes []Route, functions map[string]Function, opts Options) (*gateway, error) {
	table, err := compileRoutes(routes)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	c, err := newCORS(opts)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	for _, r := range routes {
		if functions[r.Function] == nil {
			return nil, fmt.Errorf("gateway: route %s %s: %w: %s", r.Method, r.Path, errNoHandler, r.Function)
		}
	}
	if opts.Authorizer != nil {
		if err := opts.Authorizer.check(); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	g := &gateway{table: table, functions: functions, cors: c, log: opts.Logger,
		accountID: opts.AccountID, apiID: opts.APIID, region: opts.Region, timeout: opts.IntegrationTimeout,
		auth: opts.Authorizer}
	if opts.Throttle != nil {
		if err := opts.Throttle.check(); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		g.throttle = newThrottler(*opts.Throttle)
	}
	g.setDefaults()
	return g, nil
}

func buildFunctions(handlers map[string]http.Handler) (map[string]Function, error) {
	functions := make(map[string]Function, len(handlers))
	for name, h := range handlers {
		if h == nil {
			return nil, fmt.Errorf("function %s: nil handler", name)
		}
		functions[name] = lambdahttp.New(h)
	}
	return functions, nil
}

var errNoHandler = errors.New("no handler for function")

func (g *gateway) setDefaults() {
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.accountID == "" {
		g.accountID = "123456789012"
	}
	if g.apiID == "" {
		g.apiID = "local"
	}
	if g.region == "" {
		g.region = "us-east-1"
	}
	if g.timeout <= 0 {
		g.timeout = DefaultIntegrationTimeout
	}
}

// ServeHTTP answers one request as the HTTP API would.
func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{start: time.Now(), requestID: newRequestID(), lambdaID: newInvocationID()}
	var rp reply
	switch {
	case g.cors.isPreflight(r) && !g.routesOptions(r):
		rp = g.cors.preflight(r)
	case g.cors.isPreflight(r):
		// A route that takes OPTIONS (an OPTIONS or ANY route, or
		// $default) gets the preflight, authorizer and all: AWS says the
		// $default route "catches requests for all methods ... including
		// OPTIONS requests" and, to answer preflights without
		// authorization, to add an OPTIONS route that does not require it
		// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html);
		// an ANY route does the same (https://github.com/anomalyco/sst/issues/5493,
		// https://dev.to/aws-builders/fixing-up-cors-errors-in-http-api-5fh4).
		// The CORS configuration then answers for the headers.
		rp = g.handle(r, x)
		g.cors.decoratePreflight(rp.header, r)
	default:
		rp = g.handle(r, x)
		g.cors.decorate(rp.header, r.Header.Get("Origin"))
	}
	rp.header.Set("Apigw-Requestid", x.requestID)
	n := rp.write(w)
	g.logRequest(r, x, rp.status, n)
}

// routesOptions reports whether an OPTIONS request to r's path has a route.
func (g *gateway) routesOptions(r *http.Request) bool {
	_, ok := g.table.find(http.MethodOptions, r.URL)
	return ok
}

// handle takes a request from the front door to the function and back.
func (g *gateway) handle(r *http.Request, x *exchange) reply {
	buf, _ := g.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer g.bodies.Put(buf) // the event holds a copy
	body, err := readBody(r, buf)
	x.reqBytes = len(body)
	if errors.Is(err, errBodyTooLarge) {
		return bodyTooLarge()
	}
	if err != nil {
		g.logError(r.Context(), x, err)
		return messageReply(http.StatusBadRequest, "Bad Request")
	}
	m, ok := g.table.find(r.Method, r.URL)
	if !ok {
		return messageReply(http.StatusNotFound, "Not Found")
	}
	x.function = m.route.function
	if g.throttle != nil && !g.throttle.allow(m.route.key) {
		// The stage's throttle answers before the authorizer and the
		// function: neither runs.
		x.throttled = "route"
		return messageReply(http.StatusTooManyRequests, "Too Many Requests")
	}
	if g.auth != nil && !m.route.public {
		// The authorizer runs before the integration: a refused request
		// never reaches the function.
		jwt, d := g.auth.authorize(r)
		if d != nil {
			x.authError = d.reason
			return d.reply()
		}
		x.jwt = jwt
	}
	var into []byte
	if p, ok := g.payloads.Get().(*[]byte); ok {
		into = *p
	}
	payload, err := encodeEvent(g.buildEvent(r, m, body, x), r.Header.Get("Content-Type"), body, into)
	x.eventBytes = len(payload)
	if err != nil {
		g.logError(r.Context(), x, err)
		return internalError()
	}
	if len(payload) > MaxEventBytes {
		return messageReply(http.StatusRequestEntityTooLarge, "Request Entity Too Large")
	}
	return g.invoke(r.Context(), payload, x)
}

var errBodyTooLarge = errors.New("request body over the payload quota")

// readBody reads the whole body into buf, refusing one over MaxBodyBytes.
func readBody(r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	buf.Reset()
	if r.ContentLength > MaxBodyBytes {
		drain(r.Body)
		return nil, errBodyTooLarge
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // room for ReadFrom to see EOF without growing
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, MaxBodyBytes+1)); err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	body := buf.Bytes()
	if len(body) > MaxBodyBytes {
		drain(r.Body)
		return nil, errBodyTooLarge
	}
	return body, nil
}

// drainBytes bounds how much of an oversized body is read and dropped.
const drainBytes = 64 << 20

// drain reads what remains of an oversized body (up to drainBytes), so that
// a client still sending it gets the 413 rather than a reset connection.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
}

func (g *gateway) logRequest(r *http.Request, x *exchange, status, n int) {
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.String("function", x.function),
		slog.String("requestId", x.requestID),
		slog.Int("requestBytes", x.reqBytes),
		slog.Int("eventBytes", x.eventBytes),
		slog.Int("bytes", n),
		slog.Duration("duration", time.Since(x.start)),
	}
	if x.authError != "" {
		attrs = append(attrs, slog.String("authError", x.authError))
	}
	if x.throttled != "" {
		attrs = append(attrs, slog.String("throttled", x.throttled))
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

func (g *gateway) logError(ctx context.Context, x *exchange, err error) {
	attrs := []slog.Attr{
		slog.String("function", x.function),
		slog.String("requestId", x.requestID),
		slog.String("error", err.Error()),
	}
	var p *panicError
	if errors.As(err, &p) {
		attrs = append(attrs, slog.String("stack", string(p.stack)))
	}
	g.log.LogAttrs(ctx, slog.LevelError, "invocation failed", attrs...)
}
