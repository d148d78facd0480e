// Package hook calls the application's hooks (upload.PreCreateHook,
// upload.CompleteHook): Lambda functions the deployer names, invoked
// synchronously (RequestResponse) through the Lambda Invoke API, with the
// hook's request as the event and its answer as the function's result.
//
// A function that fails (its result marked with a function error), an
// invocation that Lambda refuses, and one that outlasts the engine's
// hook timeout are errors: the engine refuses no upload and un-finishes
// no file for them (see upload's hooks.go).
package hook

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"chunkup/internal/upload"
)

// API is the part of the Lambda client that a Function calls.
// *lambda.Client provides it.
type API interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Function is one hook function, for the objects of one bucket: it
// serves as the pre-create hook, the on-complete hook, or both (each
// request names its hook).
type Function struct {
	api    API
	name   string
	bucket string
}

// New returns the function name (an ARN, as the template's parameters
// take it) for uploads into bucket.
func New(api API, name, bucket string) *Function {
	return &Function{api: api, name: name, bucket: bucket}
}

var (
	_ upload.PreCreateHook = (*Function)(nil)
	_ upload.CompleteHook  = (*Function)(nil)
)

// PreCreate invokes the function with req and reads its verdict.
func (f *Function) PreCreate(ctx context.Context, req upload.PreCreateRequest) (upload.PreCreateAnswer, error) {
	out, err := f.invoke(ctx, req)
	if err != nil {
		return upload.PreCreateAnswer{}, err
	}
	var ans upload.PreCreateAnswer
	if len(out) == 0 || string(out) == "null" {
		return ans, nil
	}
	if err := json.Unmarshal(out, &ans); err != nil {
		return upload.PreCreateAnswer{}, fmt.Errorf("hook %s answered what is not a pre-create answer: %w", f.name, err)
	}
	return ans, nil
}

// OnComplete invokes the function with req, its bucket filled in, and
// returns its result.
func (f *Function) OnComplete(ctx context.Context, req upload.CompleteRequest) (json.RawMessage, error) {
	req.Bucket = f.bucket
	return f.invoke(ctx, req)
}

// invoke calls the function with the JSON of event and returns its
// result.
func (f *Function) invoke(ctx context.Context, event any) (json.RawMessage, error) {
	payload, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("encode the event of hook %s: %w", f.name, err)
	}
	out, err := f.api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(f.name),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("invoke hook %s: %w", f.name, err)
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		return nil, fmt.Errorf("hook %s failed (%s): %s", f.name, fe, failure(out.Payload))
	}
	return out.Payload, nil
}

// failure is what a failed function's result says: its errorMessage
// (and errorType), as Lambda's runtimes write it, or the result itself.
func failure(result []byte) string {
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(result, &e) != nil || e.Message == "" {
		const most = 512
		if len(result) > most {
			result = result[:most]
		}
		return string(result)
	}
	if e.Type != "" {
		return e.Type + ": " + e.Message
	}
	return e.Message
}
