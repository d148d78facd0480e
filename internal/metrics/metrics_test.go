package metrics_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"chunkup/internal/metrics"
	"chunkup/internal/metrics/emftest"
	"chunkup/internal/upload"
)

// TestHandlerRecordsARequest: a request's counts, by dialect, come out as
// one EMF record per dialect when it ends, with Requests, the 503 that
// asks for a retry as a retryable fault, and its time as chunk or
// completion latency after it stored a chunk or completed an upload.
func TestHandlerRecordsARequest(t *testing.T) {
	var log bytes.Buffer
	rec := metrics.New(&log, "stack-1")
	h := rec.Handler("native", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.Count(r.Context(), upload.MetricBytesReceived, "native", 1000)
		rec.Count(r.Context(), upload.MetricBytesReceived, "native", 24)
		rec.Count(r.Context(), upload.MetricCompleted, "native", 1)
		rec.Count(r.Context(), upload.MetricExpired, "drf", 1) // another upload it came across
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/v1/uploads/x/chunks/0", nil))
	records := emftest.Parse(t, log.Bytes())
	if len(records) != 2 {
		t.Fatalf("%d records, want one per dialect:\n%s", len(records), log.Bytes())
	}
	byDialect := map[string]emftest.Record{}
	for _, r := range records {
		if r.Namespace != metrics.Namespace || r.Members["Stack"] != "stack-1" {
			t.Errorf("record in %q of stack %v", r.Namespace, r.Members["Stack"])
		}
		byDialect[r.Members["Dialect"].(string)] = r
	}
	n := byDialect["native"]
	for name, want := range map[string]float64{"BytesReceived": 1024, "UploadsCompleted": 1, "Requests": 1, "RetryableFaults": 1} {
		if got, ok := n.Value(name); !ok || got != want {
			t.Errorf("native %s = %v (%v), want %v", name, got, ok, want)
		}
	}
	for name, unit := range map[string]string{"BytesReceived": "Bytes", "ChunkLatency": "Milliseconds", "CompletionLatency": "Milliseconds", "Requests": "Count"} {
		if n.Units[name] != unit {
			t.Errorf("native %s in %q, want %s", name, n.Units[name], unit)
		}
	}
	if v, ok := byDialect["drf"].Value("UploadsExpired"); !ok || v != 1 {
		t.Errorf("drf UploadsExpired = %v (%v), want 1", v, ok)
	}
	if _, ok := byDialect["drf"].Value("Requests"); ok {
		t.Error("the request is counted for a dialect it was not of")
	}
}

// TestCountOutsideARequest: a count with nothing gathering is a record
// of its own at once; a dialect of "" is recorded by stack alone.
func TestCountOutsideARequest(t *testing.T) {
	var log bytes.Buffer
	rec := metrics.New(&log, "s")
	rec.Count(t.Context(), upload.MetricAborted, "tus", 1)
	rec.Count(t.Context(), metrics.EventsOwed, "", 2)
	records := emftest.Parse(t, log.Bytes())
	if len(records) != 2 {
		t.Fatalf("%d records, want 2", len(records))
	}
	if v, _ := records[0].Value("UploadsAborted"); v != 1 || records[0].Members["Dialect"] != "tus" || len(records[0].Dimensions) != 2 {
		t.Errorf("first record %+v", records[0])
	}
	if v, _ := records[1].Value("EventsOwed"); v != 2 || len(records[1].Dimensions) != 1 || records[1].Dimensions[0][0] != "Stack" {
		t.Errorf("second record %+v", records[1])
	}
	if _, ok := records[1].Members["Dialect"]; ok {
		t.Error("a stack-wide record names a dialect")
	}
}
