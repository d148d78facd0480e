package hookfunc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"chunkup/internal/local/hookfunc"
)

const arn = "arn:aws:lambda:us-east-1:000000000000:function:hook"

// TestInvoke: through the SDK's own client, an invocation's event reaches
// the URL as it was sent and the URL's answer is the result (null for an
// empty one); a URL that fails is a function error, as Lambda reports
// one; a dry run reaches no URL; another operation is refused.
func TestInvoke(t *testing.T) {
	var got []string
	answer := `{"ok":true}`
	status := 200
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.Header.Get("Content-Type")+" "+string(b))
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer app.Close()
	fns := httptest.NewServer(hookfunc.New(hookfunc.Options{Functions: map[string]string{arn: app.URL}}))
	defer fns.Close()
	client := lambda.New(lambda.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint: aws.String(fns.URL), RetryMaxAttempts: 1})
	ctx := context.Background()
	invoke := func(kind types.InvocationType) *lambda.InvokeOutput {
		t.Helper()
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(arn), InvocationType: kind, Payload: []byte(`{"hook":"pre-create"}`)})
		if err != nil {
			t.Fatalf("Invoke %s: %v", kind, err)
		}
		return out
	}

	if out := invoke(types.InvocationTypeRequestResponse); string(out.Payload) != answer || out.FunctionError != nil || out.StatusCode != 200 {
		t.Errorf("invoke: %d %s %v", out.StatusCode, out.Payload, out.FunctionError)
	}
	if len(got) != 1 || got[0] != `POST application/json {"hook":"pre-create"}` {
		t.Errorf("the URL got %q", got)
	}
	answer = ""
	if out := invoke(types.InvocationTypeRequestResponse); string(out.Payload) != "null" {
		t.Errorf("an empty answer: %s, want null", out.Payload)
	}
	status, answer = 500, "database down"
	if out := invoke(types.InvocationTypeRequestResponse); aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "database down") {
		t.Errorf("a failing URL: %v %s, want an Unhandled function error naming its answer", aws.ToString(out.FunctionError), out.Payload)
	}
	calls := len(got)
	if out := invoke(types.InvocationTypeDryRun); out.StatusCode != 204 || len(got) != calls {
		t.Errorf("a dry run: %d, %d calls to the URL; want 204 and none", out.StatusCode, len(got)-calls)
	}
	resp, err := http.Get(fns.URL + "/2015-03-31/functions/" + arn)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("GetFunction: %d %s, want 404 UnknownOperationException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
