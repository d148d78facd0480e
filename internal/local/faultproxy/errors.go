package faultproxy

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"strings"
)

// serviceError is one error a backend answers when it is busy or broken.
type serviceError struct {
	status  int
	code    string // S3's <Code>, or the short name of DynamoDB's __type
	typ     string // DynamoDB's full __type
	message string
}

// The errors S3 answers when it is overloaded or failing, as its
// documentation lists them (Error Responses, "List of error codes").
func s3Errors() []serviceError {
	return []serviceError{
		{status: http.StatusServiceUnavailable, code: "SlowDown", message: "Please reduce your request rate."},
		{status: http.StatusInternalServerError, code: "InternalError", message: "We encountered an internal error. Please try again."},
		{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: "Service is unable to handle request."},
	}
}

// The errors DynamoDB answers when it throttles or fails. Throttling is a
// 400 in DynamoDB (the SDK retries it by its type, not its status).
func dynamoErrors() []serviceError {
	return []serviceError{
		{status: http.StatusBadRequest, code: "ProvisionedThroughputExceededException",
			typ:     "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			message: "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."},
		{status: http.StatusBadRequest, code: "ThrottlingException",
			typ:     "com.amazon.coral.availability#ThrottlingException",
			message: "Rate of requests exceeds the allowed throughput."},
		{status: http.StatusInternalServerError, code: "InternalServerError",
			typ:     "com.amazonaws.dynamodb.v20120810#InternalServerError",
			message: "Internal server error"},
	}
}

// answerError answers r in the backend's place with one of its errors.
func (p *Proxy) answerError(w http.ResponseWriter, r *http.Request) {
	id := requestID()
	if p.backend == DynamoDB {
		errs := dynamoErrors()
		e := errs[p.pick(len(errs))]
		p.countCode(e.code)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(e.status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, e.typ, e.message)
		return
	}
	errs := s3Errors()
	e := errs[p.pick(len(errs))]
	p.countCode(e.code)
	w.Header().Set("X-Amz-Request-Id", id)
	w.Header().Set("X-Amz-Id-2", id)
	if r.Method == http.MethodHead {
		// A HEAD answer has no body: the SDK reads the status alone.
		w.WriteHeader(e.status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId><HostId>%s</HostId></Error>`,
		e.code, e.message, html.EscapeString(r.URL.Path), id, id)
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// discardLog silences the server's and reverse proxy's own logging: a cut
// connection is the point, not news.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
