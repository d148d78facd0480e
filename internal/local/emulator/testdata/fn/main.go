// Command fn is a Lambda function for the emulator's tests: what it does
// is named by the event, {"do": "..."}, or, in an API Gateway event, by the
// query parameter do (it then answers as an HTTP API integration).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Do      string `json:"do"`
	Barrier string `json:"barrier"` // for do=barrier: a URL to GET before answering
	// In an API Gateway event:
	RawPath string            `json:"rawPath"`
	Query   map[string]string `json:"queryStringParameters"`
}

type answer struct {
	Pid       int               `json:"pid"`
	RequestID string            `json:"requestId"`
	Function  string            `json:"function"`
	Env       map[string]string `json:"env"`
}

func handle(ctx context.Context, ev event) (any, error) {
	do := ev.Do
	if ev.RawPath != "" {
		do = ev.Query["do"]
	}
	lc, _ := lambdacontext.FromContext(ctx)
	switch do {
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("kaboom")
	case "exit":
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Hour)
	case "errorlike":
		// An answer with an errorMessage that is not an error response.
		return map[string]any{"errorMessage": "not an error", "statusCode": 200}, nil
	case "barrier":
		resp, err := http.Get(ev.Barrier)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("barrier: %s", resp.Status)
		}
	}
	a := answer{Pid: os.Getpid(), RequestID: lc.AwsRequestID, Function: lambdacontext.FunctionName, Env: map[string]string{}}
	for _, k := range []string{"GREETING", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_TIMEOUT", "CHUNKUP_TEST_OUTSIDE", "LAMBDA_TASK_ROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			a.Env[k] = v
		}
	}
	if ev.RawPath == "" {
		return a, nil
	}
	body, _ := json.Marshal(a)
	return map[string]any{"statusCode": 200, "headers": map[string]string{"content-type": "application/json"}, "body": string(body)}, nil
}

func main() { lambda.Start(handle) }
