package gateway

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// requestTimeLayout is the layout of requestContext.time, e.g.
// "12/Mar/2020:19:03:58 +0000".
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// exchange is what the gateway learns about one request while serving it.
type exchange struct {
	start      time.Time
	requestID  string // requestContext.requestId and the apigw-requestid header
	lambdaID   string // the invocation's AwsRequestID
	function   string
	eventBytes int
	reqBytes   int
	// jwt is what the JWT authorizer passes on about the caller.
	jwt *events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription
	// authError is why the authorizer refused the request.
	authError string
	// throttled says what throttled the request: "route" (the stage's
	// throttle, 429) or "function" (its concurrency, 500).
	throttled string
}

// buildEvent turns an HTTP request into the event API Gateway HTTP APIs
// send with payload format 2.0, all but the body (encodeEvent adds it), as documented in
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
func (g *gateway) buildEvent(r *http.Request, m match, body []byte, x *exchange) events.APIGatewayV2HTTPRequest {
	headers, cookies := eventHeaders(r, len(body))
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              m.route.key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		RequestContext:        g.requestContext(r, m, x),
	}
	if len(m.params) > 0 {
		ev.PathParameters = m.params
	}
	return ev
}

func (g *gateway) requestContext(r *http.Request, m match, x *exchange) events.APIGatewayV2HTTPRequestContext {
	now := x.start.UTC()
	var authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
	if x.jwt != nil {
		authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: x.jwt}
	}
	return events.APIGatewayV2HTTPRequestContext{
		Authorizer:   authorizer,
		RouteKey:     m.route.key,
		AccountID:    g.accountID,
		Stage:        "$default",
		RequestID:    x.requestID,
		APIID:        g.apiID,
		DomainName:   r.Host,
		DomainPrefix: domainPrefix(r.Host),
		Time:         now.Format(requestTimeLayout),
		TimeEpoch:    now.UnixMilli(),
		HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
			Method:    r.Method,
			Path:      r.URL.Path,
			Protocol:  r.Proto,
			SourceIP:  clientIP(r),
			UserAgent: r.UserAgent(),
		},
	}
}

// domainPrefix is the first label of the host name, as API Gateway reports
// "abc123" for "abc123.execute-api.us-east-1.amazonaws.com".
func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// eventHeaders lowercases header names and joins repeated headers with
// commas, as payload format 2.0 does. Cookie headers are taken out and split
// into the cookies field. Headers that Go's server keeps outside r.Header
// (host, content-length) are put back, and the forwarding headers API
// Gateway adds (x-forwarded-for/-port/-proto, x-amzn-trace-id) are added.
func eventHeaders(r *http.Request, bodyLen int) (map[string]string, []string) {
	headers := make(map[string]string, len(r.Header)+6)
	var cookies []string
	for name, values := range r.Header {
		key := strings.ToLower(name)
		if key == "cookie" {
			cookies = append(cookies, splitCookies(values)...)
			continue
		}
		headers[key] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	if bodyLen > 0 || r.ContentLength > 0 {
		headers["content-length"] = strconv.Itoa(bodyLen)
	}
	addForwardingHeaders(headers, r)
	return headers, cookies
}

func splitCookies(values []string) []string {
	var cookies []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ";") {
			if c = strings.TrimSpace(c); c != "" {
				cookies = append(cookies, c)
			}
		}
	}
	return cookies
}

func addForwardingHeaders(headers map[string]string, r *http.Request) {
	ip := clientIP(r)
	if prior := headers["x-forwarded-for"]; prior != "" {
		ip = prior + ", " + ip
	}
	headers["x-forwarded-for"] = ip
	headers["x-forwarded-proto"] = "http"
	if r.TLS != nil {
		headers["x-forwarded-proto"] = "https"
	}
	headers["x-forwarded-port"] = localPort(r)
	if _, ok := headers["x-amzn-trace-id"]; !ok {
		headers["x-amzn-trace-id"] = newTraceID()
	}
}

// localPort is the port the request came in on.
func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	return "80"
}

// queryParameters decodes the query string; repeated keys are joined with
// commas. It is nil when there is no query, so the field is left out.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	values, _ := url.ParseQuery(raw) // keeps what parses, as a lenient gateway would
	if len(values) == 0 {
		return nil
	}
	params := make(map[string]string, len(values))
	for key, vs := range values {
		params[key] = strings.Join(vs, ",")
	}
	return params
}

// base64Body decides how the body travels in the event: base64-encoded or
// as it is.
//
// HTTP APIs have no binaryMediaTypes setting: they pass the body as a
// plain string only for text content types and base64-encode everything
// else, including a request without Content-Type and, notably,
// application/x-www-form-urlencoded and multipart/form-data. AWS's docs
// say only "if the content type is binary, the body is base64-encoded"
// without listing the types; the list below is the one measured against
// real HTTP APIs and reported in
// https://github.com/ministackorg/ministack/pull/766 (text/*,
// application/json, application/xml, application/javascript), consistent
// with events captured from AWS in
// https://github.com/dherault/serverless-offline/pull/1776 (multipart
// arrives base64) and https://github.com/middyjs/middy/pull/603 (a Slack
// form post arrives base64).
func base64Body(contentType string, body []byte) bool {
	return len(body) > 0 && !isTextContentType(contentType)
}

func isTextContentType(contentType string) bool {
	media, _, _ := strings.Cut(contentType, ";")
	media = strings.ToLower(strings.TrimSpace(media))
	if strings.HasPrefix(media, "text/") {
		return true
	}
	switch media {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return false
}
