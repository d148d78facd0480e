package bus_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"chunkup/internal/local/eventbus"
	"chunkup/internal/store/bus"
	"chunkup/internal/upload"
)

// TestPublish: an event goes out as one PutEvents entry on the named
// bus, source chunkup, its type as detail-type, its detail as JSON with
// the bucket filled in; an entry EventBridge refuses is an error, so the
// engine keeps the event owed.
func TestPublish(t *testing.T) {
	eb := eventbus.New(eventbus.Options{})
	srv := httptest.NewServer(eb)
	defer srv.Close()
	client := eventbridge.New(eventbridge.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	p := bus.New(client, "uploads-bus", "the-bucket")
	at := time.Date(2025, 6, 1, 10, 2, 13, 0, time.UTC)
	ev := upload.Event{Type: upload.EventCompleted, Time: at, Detail: upload.EventDetail{
		ID: "3f0c", Owner: "sub:alice", Key: "uploads/3f0c/a.bin", Name: "a.bin", Size: 5,
		Checksums: map[string]string{"crc64nvme": "AAAAAAAAAAA="}, Metadata: map[string]string{"album": "x"},
	}}
	ctx := context.Background()
	if err := p.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got := eb.Events()
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	var d upload.EventDetail
	if err := json.Unmarshal(got[0].Detail, &d); err != nil {
		t.Fatal(err)
	}
	want := ev.Detail
	want.Bucket = "the-bucket"
	if got[0].Source != "chunkup" || got[0].DetailType != "Upload Completed" || got[0].EventBusName != "uploads-bus" ||
		!got[0].Time.Equal(at) || d.ID != want.ID || d.Bucket != want.Bucket || d.Key != want.Key || d.Size != 5 ||
		d.Checksums["crc64nvme"] != "AAAAAAAAAAA=" || d.Metadata["album"] != "x" {
		t.Fatalf("published %+v with detail %+v; want %+v", got[0], d, want)
	}
	eb.FailNext(1)
	if err := p.Publish(ctx, ev); err == nil || !strings.Contains(err.Error(), "InternalFailure") {
		t.Fatalf("publish of a refused entry: %v; want an error naming InternalFailure", err)
	}
}
