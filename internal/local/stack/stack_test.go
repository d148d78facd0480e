package stack_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/local/stack"
	"chunkup/internal/local/stack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestMissingBinaryNamesMakeTools(t *testing.T) {
	_, err := stack.Start(context.Background(), stack.Options{
		Dynalite: filepath.Join(t.TempDir(), "no-such-dynalite"),
	})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("Start with a missing binary: err = %v, want one naming `make tools`", err)
	}
}

func TestServerThatDiesReportsItsOutput(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "fake-server")
	script := "#!/bin/sh\necho 'fake server: cannot start, disk on fire' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := stack.Start(context.Background(), stack.Options{
		Dynalite: fake, VersityGW: fake, StartTimeout: 10 * time.Second,
	})
	if err == nil {
		t.Fatal("Start succeeded with a server that exits at once")
	}
	if !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("error does not explain the failure: %v", err)
	}
}

// answers reports whether an HTTP server answers at url.
func answers(url string) bool {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get(url + "/")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// TestPersistAcrossRestart starts a stack of its own on a data directory,
// stores an item and an object, stops it, and finds both after a restart.
func TestPersistAcrossRestart(t *testing.T) {
	ctx := ctxFor(t)
	dir := t.TempDir()
	tmpl := stacktest.Template(t)
	start := func() *stack.Stack {
		t.Helper()
		s, err := stack.Start(ctx, stack.Options{Dir: dir, Persist: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Provision(ctx, tmpl, "uploads", "uploads"); err != nil {
			_ = s.Close()
			t.Fatal(err)
		}
		return s
	}

	s := start()
	key := map[string]dbtypes.AttributeValue{
		"pk": &dbtypes.AttributeValueMemberS{Value: "u#1"},
		"sk": &dbtypes.AttributeValueMemberS{Value: "meta"},
	}
	if _, err := s.NewDynamoClient().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("uploads"), Item: key}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewS3Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("uploads"), Key: aws.String("kept/object"), Body: strings.NewReader("still here"),
	}); err != nil {
		t.Fatal(err)
	}
	dynURL, s3URL := s.DynamoEndpoint, s.S3Endpoint
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if answers(dynURL) || answers(s3URL) {
		t.Fatal("a server still answers after Close")
	}

	s = start() // Provision again: the table and bucket exist, which is fine
	defer s.Close()
	got, err := s.NewDynamoClient().GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("uploads"), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if got.Item == nil {
		t.Error("DynamoDB item lost across a restart with Persist")
	}
	obj, err := s.NewS3Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String("kept/object")})
	if err != nil {
		t.Fatalf("S3 object lost across a restart: %v", err)
	}
	defer obj.Body.Close()
	if b, _ := io.ReadAll(obj.Body); string(b) != "still here" {
		t.Errorf("object body = %q", b)
	}
}

func TestNewNames(t *testing.T) {
	stack := stacktest.ForTest(t)
	seen := map[string]bool{}
	for _, hint := range []string{"", "TestX/sub_test#01", strings.Repeat("LongName", 20), "---"} {
		table, bucket, err := stack.NewNames(hint)
		if err != nil {
			t.Fatal(err)
		}
		if seen[table] || seen[bucket] {
			t.Errorf("name reused: %s %s", table, bucket)
		}
		seen[table], seen[bucket] = true, true
		if len(bucket) < 3 || len(bucket) > 63 || strings.Trim(bucket, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("bucket name %q breaks S3's rules", bucket)
		}
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	ctx := ctxFor(t)
	stack := stacktest.ForTest(t)
	tmpl := stacktest.Template(t)
	table, bucket := stack.NewTableAndBucket(t, tmpl)
	if err := stack.Provision(ctx, tmpl, table, bucket); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	out, err := stack.NewDynamoClient().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.BillingModeSummary == nil || out.Table.BillingModeSummary.BillingMode != dbtypes.BillingModePayPerRequest {
		t.Errorf("billing mode summary = %+v, want PAY_PER_REQUEST", out.Table.BillingModeSummary)
	}
	var indexes []string
	for _, g := range out.Table.GlobalSecondaryIndexes {
		indexes = append(indexes, aws.ToString(g.IndexName))
	}
	if slices.Sort(indexes); !slices.Equal(indexes, []string{"owner", "sweep"}) {
		t.Errorf("indexes = %q, want the owner and sweep indexes", indexes)
	}
	if _, err := stack.NewS3Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("HeadBucket: %v", err)
	}
}

func TestEnviron(t *testing.T) {
	stack := stacktest.ForTest(t)
	env := stack.Environ("tbl", "bkt")
	for k, want := range map[string]string{
		"TABLE_NAME": "tbl", "BUCKET_NAME": "bkt",
		"DYNAMODB_ENDPOINT": stack.DynamoEndpoint, "S3_ENDPOINT": stack.S3Endpoint,
		"AWS_REGION": "us-east-1",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
}

// isConditionFailed reports whether err is DynamoDB's
// ConditionalCheckFailedException, and returns it.
func isConditionFailed(err error) (*dbtypes.ConditionalCheckFailedException, bool) {
	var ccf *dbtypes.ConditionalCheckFailedException
	return ccf, errors.As(err, &ccf)
}
