package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newRequestID returns an id shaped like the ones HTTP APIs put in
// requestContext.requestId and the apigw-requestid header ("JKJaXmPLvHcESHA=").
func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	for i := range 15 {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	b[15] = '='
	return string(b)
}

// newInvocationID returns a version 4 UUID, the shape of a Lambda
// invocation's AwsRequestID.
func newInvocationID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header as API Gateway adds it
// ("Root=1-<8 hex digits of epoch seconds>-<24 hex digits>").
func newTraceID() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b[:]))
}
