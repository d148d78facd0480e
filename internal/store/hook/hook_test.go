package hook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"chunkup/internal/local/hookfunc"
	"chunkup/internal/store/hook"
	"chunkup/internal/upload"
)

const arn = "arn:aws:lambda:us-east-1:000000000000:function:app-hooks"

// client is the SDK's Lambda client, pointed at the local stand-in that
// forwards arn's invocations to url.
func client(t *testing.T, url string) *lambda.Client {
	t.Helper()
	fns := httptest.NewServer(hookfunc.New(hookfunc.Options{Functions: map[string]string{arn: url}}))
	t.Cleanup(fns.Close)
	return lambda.New(lambda.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(fns.URL), RetryMaxAttempts: 1,
	})
}

// app is a hook served as a plain HTTP handler, as a developer runs one
// locally: it records each event and answers with answer(event).
func app(t *testing.T, answer func(map[string]any) (int, string)) (string, *[]map[string]any) {
	t.Helper()
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("the event is not JSON: %v", err)
		}
		got = append(got, ev)
		status, body := answer(ev)
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &got
}

// TestPreCreate: the event reaches the function as the hook's request,
// and its result is read as the verdict.
func TestPreCreate(t *testing.T) {
	url, got := app(t, func(map[string]any) (int, string) {
		return 200, `{"refuse":{"status":402,"message":"quota exceeded"},"keyPrefix":"users/alice","metadata":{"album":"x"}}`
	})
	fn := hook.New(client(t, url), arn, "the-bucket")
	size := int64(5)
	ans, err := fn.PreCreate(context.Background(), upload.PreCreateRequest{Hook: upload.HookPreCreate, Owner: "sub:alice", Name: "a.bin", Size: &size, Dialect: "tus"})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Refuse == nil || ans.Refuse.Status != 402 || ans.Refuse.Message != "quota exceeded" || ans.KeyPrefix != "users/alice" || ans.Metadata["album"] != "x" {
		t.Fatalf("answer %+v", ans)
	}
	if len(*got) != 1 || (*got)[0]["hook"] != "pre-create" || (*got)[0]["owner"] != "sub:alice" || (*got)[0]["size"] != 5.0 || (*got)[0]["dialect"] != "tus" {
		t.Fatalf("events %v", *got)
	}
}

// TestOnComplete: the function is told of the upload with the bucket
// filled in, and its result is the answer, as it is.
func TestOnComplete(t *testing.T) {
	url, got := app(t, func(map[string]any) (int, string) { return 200, `{"photoId": 42}` })
	fn := hook.New(client(t, url), arn, "the-bucket")
	ans, err := fn.OnComplete(context.Background(), upload.CompleteRequest{Hook: upload.HookOnComplete,
		EventDetail: upload.EventDetail{ID: "3f0c", Key: "uploads/3f0c/a.bin", Size: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if string(ans) != `{"photoId": 42}` {
		t.Fatalf("answer %s", ans)
	}
	ev := (*got)[0]
	if ev["hook"] != "on-complete" || ev["id"] != "3f0c" || ev["bucket"] != "the-bucket" || ev["key"] != "uploads/3f0c/a.bin" {
		t.Fatalf("event %v", ev)
	}
}

// TestFailures: a URL that fails is a function that failed, an unknown
// function a refused invocation, and one that outlasts the caller's
// deadline an error; each is an error, named for the hook.
func TestFailures(t *testing.T) {
	broken, _ := app(t, func(map[string]any) (int, string) { return 500, "database down" })
	_, err := hook.New(client(t, broken), arn, "b").OnComplete(context.Background(), upload.CompleteRequest{})
	if err == nil || !strings.Contains(err.Error(), "Unhandled") || !strings.Contains(err.Error(), "database down") {
		t.Errorf("a failing URL: %v; want the function's failure with the URL's answer", err)
	}
	_, err = hook.New(client(t, broken), arn+"-other", "b").OnComplete(context.Background(), upload.CompleteRequest{})
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("an unknown function: %v; want ResourceNotFoundException", err)
	}
	release := make(chan struct{})
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slowSrv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = hook.New(client(t, slowSrv.URL), arn, "b").PreCreate(ctx, upload.PreCreateRequest{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hook past its deadline: %v; want the deadline's error", err)
	}
}
