package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// reply is the answer the gateway sends to the client, whether it came
// from a function or from the gateway itself.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// messageReply is an answer of API Gateway's own, such as
// 404 {"message":"Not Found"}.
func messageReply(status int, message string) reply {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return reply{status: status, header: h, body: fmt.Appendf(nil, `{"message":%q}`, message)}
}

func internalError() reply {
	return messageReply(http.StatusInternalServerError, "Internal Server Error")
}

// bodyTooLarge is API Gateway's answer to a request body over the 10 MB
// payload quota, a plain-text message (as observed on AWS in
// https://github.com/koki-develop/lgtm-generator/issues/10 and
// https://github.com/chroma-core/chroma/issues/1458).
func bodyTooLarge() reply {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	msg := fmt.Sprintf("HTTP content length exceeded %d bytes.", MaxBodyBytes)
	return reply{status: http.StatusRequestEntityTooLarge, header: h, body: []byte(msg)}
}

// fromLambda converts a function's response (payload format 2.0) to the
// answer the client gets: statusCode, headers, multiValueHeaders, cookies
// (each one a Set-Cookie header) and the body, base64-decoded when
// isBase64Encoded is set. A response API Gateway could not use (no valid
// status code, a body that is not base64 though flagged so) becomes 500
// {"message":"Internal Server Error"}.
func fromLambda(resp events.APIGatewayV2HTTPResponse) (reply, error) {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return internalError(), fmt.Errorf("function returned status code %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return internalError(), fmt.Errorf("function returned a body flagged base64 that is not: %w", err)
		}
		body = decoded
	}
	return reply{status: resp.StatusCode, header: responseHeaders(resp), body: body}, nil
}

// responseHeaders merges headers and multiValueHeaders; for a name in both,
// the multiValueHeaders values win (API Gateway's documented rule for the
// two fields in REST APIs' Lambda proxy responses).
func responseHeaders(resp events.APIGatewayV2HTTPResponse) http.Header {
	h := http.Header{}
	for name, value := range resp.Headers {
		h.Set(name, value)
	}
	for name, values := range resp.MultiValueHeaders {
		h.Del(name)
		for _, v := range values {
			h.Add(name, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	return h
}

// write sends the reply. It sets Content-Length, and keeps net/http from
// guessing a Content-Type the function did not send. It returns the number
// of body bytes written.
func (rp reply) write(w http.ResponseWriter) int {
	h := w.Header()
	for name, values := range rp.header {
		h[name] = values
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil
	}
	if bodyAllowed(rp.status) {
		h.Set("Content-Length", strconv.Itoa(len(rp.body)))
	}
	w.WriteHeader(rp.status)
	n, _ := w.Write(rp.body) // the client went away; nothing left to tell it
	return n
}

// bodyAllowed reports whether a response with this status may carry a body
// (RFC 9110: not 1xx, 204 or 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
