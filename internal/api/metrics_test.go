package api_test

// The functions' metrics (issue 14, item 6): the service built as a
// function builds it, on the local stack, writes CloudWatch Embedded
// Metric Format records into its log as its handlers and its sweep run;
// each is read back and held to the format (package emftest), and their
// values to what the requests did.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/api"
	"chunkup/internal/config"
	"chunkup/internal/metrics"
	"chunkup/internal/metrics/emftest"
)

func TestHandlersWriteEMFRecords(t *testing.T) {
	stack := stackFor(t)
	table, bucket := stack.NewTableAndBucket(t, loadTemplate(t))
	env := stack.Environ(table, bucket)
	cfg, err := config.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	svc := api.NewMetered(stack.NewDynamoClient(), stack.NewS3Client(), nil, metrics.New(&log, "stack-under-test"), cfg, slog.New(slog.DiscardHandler))
	do := func(function, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		svc.Handler(function).ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if rec.Code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec
	}
	idOf := func(rec *httptest.ResponseRecorder) string {
		_, rest, _ := strings.Cut(rec.Body.String(), `"id":"`)
		id, _, _ := strings.Cut(rest, `"`)
		return id
	}
	id := idOf(do(api.ReceiveFunction, "POST", "/v1/uploads", `{"name":"a.txt","size":11}`))
	do(api.ReceiveFunction, "PUT", "/v1/uploads/"+id+"/chunks/0", "hello world")
	do(api.CompleteFunction, "POST", "/v1/uploads/"+id+"/complete", "")
	other := idOf(do(api.ReceiveFunction, "POST", "/v1/uploads", `{"name":"b.txt","size":5}`))
	do(api.CompleteFunction, "DELETE", "/v1/uploads/"+other, "")
	if _, err := svc.Sweep(context.Background(), events.EventBridgeEvent{ID: "sweep-1"}); err != nil {
		t.Fatal(err)
	}

	records := emftest.Parse(t, log.Bytes())
	sums := map[string]float64{}
	units := map[string]string{}
	stackWide := 0
	for _, r := range records {
		if r.Namespace != "chunkup" || r.Members["Stack"] != "stack-under-test" {
			t.Errorf("a record in namespace %q of stack %v", r.Namespace, r.Members["Stack"])
		}
		d, _ := r.Members["Dialect"].(string)
		if d == "" {
			stackWide++
		} else if d != "native" {
			t.Errorf("a record of dialect %q", d)
		}
		for name, unit := range r.Units {
			v, _ := r.Value(name)
			sums[name] += v
			units[name] = unit
		}
	}
	for name, want := range map[string]float64{
		"Requests": 5, "UploadsStarted": 2, "BytesReceived": 11, "UploadsCompleted": 1, "UploadsAborted": 1,
		"RetryableFaults": 0, "EventsOwed": 0, "SweepErrors": 0,
	} {
		if got, ok := sums[name]; !ok || got != want {
			t.Errorf("%s: %v in all (recorded: %v), want %v", name, got, ok, want)
		}
	}
	for name, unit := range map[string]string{"ChunkLatency": "Milliseconds", "CompletionLatency": "Milliseconds", "BytesReceived": "Bytes", "UploadsStarted": "Count"} {
		if units[name] != unit {
			t.Errorf("%s in unit %q, want %s", name, units[name], unit)
		}
	}
	if stackWide != 1 {
		t.Errorf("%d records of the stack alone, want the sweep's one", stackWide)
	}
	if t.Failed() {
		t.Logf("the log:\n%s", log.Bytes())
	}
}
