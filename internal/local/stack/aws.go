package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"chunkup/internal/local/samtemplate"
)

// AWSConfig returns an SDK configuration for the stack: its region and
// static credentials, nothing read from the environment or ~/.aws. Each
// client still needs its endpoint (see NewDynamoClient and NewS3Client).
// Its clients also retry a race of versitygw's (see folderRace).
func (s *Stack) AWSConfig() aws.Config {
	return aws.Config{
		Region:      s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		Retryer: func() aws.Retryer {
			return retry.AddWithErrorCodes(retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxBackoff = localBackoff
			}), folderRace)
		},
	}
}

// localBackoff is the wait before each retry: local servers answer at
// once, and the SDK's backoff (up to seconds, for AWS) would only slow
// the tests and the local service down.
const localBackoff = 50 * time.Millisecond

// folderRace is versitygw's answer to a put whose folder a delete removed
// as it emptied it, between the put making the folder and linking its
// file there (the POSIX backend keeps key prefixes as folders). The put
// changed nothing and may be sent again. S3 has no folders and no such
// answer, so on AWS the SDK's own retry rules stand unchanged.
const folderRace = "ExistingObjectIsDirectory"

// NewDynamoClient returns a DynamoDB client for the stack's dynalite.
func (s *Stack) NewDynamoClient(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.DynamoEndpoint)
	}}, optFns...)
	return dynamodb.NewFromConfig(s.AWSConfig(), opts...)
}

// NewS3Client returns an S3 client for the stack's versitygw (path-style
// addressing: bucket names are not host names here).
func (s *Stack) NewS3Client(optFns ...func(*s3.Options)) *s3.Client {
	opts := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(s.S3Endpoint)
		o.UsePathStyle = true
	}}, optFns...)
	return s3.NewFromConfig(s.AWSConfig(), opts...)
}

// CreateTable creates table from the template's UploadsTable unless it
// exists, then waits until it and its indexes are ACTIVE.
func (s *Stack) CreateTable(ctx context.Context, tmpl *samtemplate.Template, table string) error {
	in, err := tmpl.CreateTableInput(table)
	if err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	db := s.NewDynamoClient()
	if _, err := db.CreateTable(ctx, in); err != nil {
		var inUse *dbtypes.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("localstack: create table %s: %w", table, err)
		}
	}
	if err := waitTableActive(ctx, db, table); err != nil {
		return err
	}
	return checkIndexes(ctx, db, in)
}

// checkIndexes fails, saying what to do, if a table that existed already
// (kept from an earlier run) lacks a global secondary index that the
// template declares: dynalite cannot add one to an existing table.
func checkIndexes(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
	if err != nil {
		return fmt.Errorf("localstack: describe table %s: %w", aws.ToString(in.TableName), err)
	}
	have := map[string]bool{}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if !have[aws.ToString(g.IndexName)] {
			return fmt.Errorf("localstack: table %s, kept from an earlier run, has no index %q, which template.yaml declares, and the local DynamoDB server cannot add one: delete the local data directory (.local/data for make run, .local/stores for make stores) to start afresh",
				aws.ToString(in.TableName), aws.ToString(g.IndexName))
		}
	}
	return nil
}

// waitTableActive polls DescribeTable until the table and all its global
// secondary indexes are ACTIVE (immediately with --createTableMs 0).
func waitTableActive(ctx context.Context, db *dynamodb.Client, table string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("localstack: describe table %s: %w", table, err)
		}
		ready := out.Table.TableStatus == dbtypes.TableStatusActive
		for _, g := range out.Table.GlobalSecondaryIndexes {
			ready = ready && g.IndexStatus == dbtypes.IndexStatusActive
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localstack: table %s not ACTIVE (status %s): %w", table, out.Table.TableStatus, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CreateBucket creates bucket unless this stack already owns it.
func (s *Stack) CreateBucket(ctx context.Context, bucket string) error {
	_, err := s.NewS3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		var owned *s3types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return fmt.Errorf("localstack: create bucket %s: %w", bucket, err)
		}
	}
	return nil
}

// SetBucketCORS gives bucket the CORS rules of the template's bucket, for
// any origin (the local gateway allows any too), so that a page on
// another origin sends a direct upload's parts straight to the local S3
// server and reads their ETags, as it would on AWS.
func (s *Stack) SetBucketCORS(ctx context.Context, tmpl *samtemplate.Template, bucket string) error {
	rules, err := tmpl.BucketCORS([]string{"*"})
	if err != nil || len(rules) == 0 {
		return err
	}
	_, err = s.NewS3Client().PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket:            aws.String(bucket),
		CORSConfiguration: &s3types.CORSConfiguration{CORSRules: rules},
	})
	if err != nil {
		return fmt.Errorf("localstack: set the CORS rules of bucket %s: %w", bucket, err)
	}
	return nil
}

// TB is the part of testing.TB that NewTableAndBucket needs (kept as an
// interface so this package does not import testing).
type TB interface {
	Helper()
	Name() string
	Fatalf(format string, args ...any)
}

// NewTableAndBucket provisions a table and a bucket with fresh names, so
// tests sharing one stack never see each other's data. The names start
// with a form of the test's name, which helps when reading server logs.
func (s *Stack) NewTableAndBucket(tb TB, tmpl *samtemplate.Template) (table, bucket string) {
	tb.Helper()
	table, bucket, err := s.NewNames(tb.Name())
	if err != nil {
		tb.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Provision(ctx, tmpl, table, bucket); err != nil {
		tb.Fatalf("%v", err)
	}
	return table, bucket
}

// NewNames returns a table name and a bucket name not used before by this
// stack, derived from hint (any text; only its letters, digits and dashes
// are kept). Bucket names follow S3's rules: 3 to 63 lower-case letters,
// digits and dashes.
func (s *Stack) NewNames(hint string) (table, bucket string, err error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("localstack: random name: %w", err)
	}
	suffix := fmt.Sprintf("%d-%s", s.names.Add(1), hex.EncodeToString(b[:]))
	var clean strings.Builder
	for _, r := range strings.ToLower(hint) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			clean.WriteRune(r)
		case clean.Len() > 0 && !strings.HasSuffix(clean.String(), "-"):
			clean.WriteByte('-')
		}
	}
	base := strings.Trim(clean.String(), "-")
	if max := 63 - len("t--") - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-")
	}
	if base == "" {
		base = "x"
	}
	return "t-" + base + "-" + suffix, "b-" + base + "-" + suffix, nil
}
