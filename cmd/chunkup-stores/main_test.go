package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/config"
	"chunkup/internal/local/eventbus"
	"chunkup/internal/upload"
)

// TestStoresServeEnvFile: the stores start, and a function configured
// from nothing but its env.json entry and the template's own values (as
// sam local configures it in its container, here with the loopback
// address for host.docker.internal) reaches the table and the bucket, and
// publishes its events to the local EventBridge, with the real
// configuration code, even though the environment's own region and keys
// (SAM passes the host's) would be refused by versitygw. Started again on the same data, as a
// second `make stores` does, they serve the same table and bucket.
func TestStoresServeEnvFile(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "defaultkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "defaultsecret")
	dir := t.TempDir()
	o := options{
		listen: "127.0.0.1", containerHost: "127.0.0.1",
		dir: filepath.Join(dir, "data"), envFile: filepath.Join(dir, "env.json"),
		table: "chunkup-uploads", bucket: "chunkup-uploads",
	}
	ctx := context.Background()
	for round := 1; round <= 2; round++ {
		r, err := start(ctx, o)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		data, err := os.ReadFile(o.envFile)
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]map[string]string
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		if len(env) == 0 {
			t.Fatal("env.json has no functions")
		}
		for id, vars := range env {
			cfg, err := config.FromEnv(func(k string) string {
				if v, ok := vars[k]; ok || k != "EVENT_BUS_NAME" {
					return v
				}
				return "default" // the template's EventBusName, which env.json leaves as it is
			})
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			awsCfg, err := cfg.AWS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pub := cfg.Publisher(awsCfg)
			if pub == nil {
				t.Fatalf("%s publishes no events", id)
			}
			ev := upload.Event{Type: upload.EventCompleted, Time: time.Now(), Detail: upload.EventDetail{ID: fmt.Sprintf("%s-%d", id, round), Owner: "anonymous", Key: "uploads/x/y", Name: "y", CreatedAt: "2030-01-01T00:00:00.000Z"}}
			if err := pub.Publish(ctx, ev); err != nil {
				t.Errorf("round %d: %s cannot publish to the local EventBridge: %v", round, id, err)
			} else if !slices.ContainsFunc(r.bus.Events(), func(got eventbus.Event) bool { return strings.Contains(string(got.Detail), ev.Detail.ID) }) {
				t.Errorf("round %d: %s's event is not at the local EventBridge", round, id)
			}
			db, s3c, err := cfg.Clients(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.Table)}); err != nil {
				t.Errorf("round %d: %s reaches no table %s: %v", round, id, cfg.Table, err)
			}
			if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
				t.Errorf("round %d: %s reaches no bucket %s: %v", round, id, cfg.Bucket, err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInContainer(t *testing.T) {
	got, err := inContainer("http://127.0.0.1:4567", "host.docker.internal")
	if err != nil || got != "http://host.docker.internal:4567" {
		t.Errorf("inContainer = %q, %v; want http://host.docker.internal:4567", got, err)
	}
	if _, err := inContainer("http://no-port", "h"); err == nil {
		t.Error("an endpoint without a port: no error")
	}
}
