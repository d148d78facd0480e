// Package config reads chunkup's settings from the environment, as
// template.yaml sets them on every function and the local runner sets them
// for the local stack.
package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/store/bus"
	"chunkup/internal/store/hook"
	"chunkup/internal/upload"
)

// Config is everything a function needs to know about its surroundings.
type Config struct {
	Table            string
	Bucket           string
	DynamoDBEndpoint string // empty on AWS; the local server's URL locally
	S3Endpoint       string
	// EndpointAuth signs the requests to DynamoDBEndpoint, S3Endpoint and EventsEndpoint
	// when the local servers they name need their own region and keys
	// (sam local start-api with the env.json of make stores). It is zero
	// on AWS, where the function's role signs.
	EndpointAuth EndpointAuth
	Limits       upload.Limits
	Expiry       time.Duration
	// LifetimeDays is how many days after an upload's start its S3 data
	// may be removed by the bucket's lifecycle rules; the upload must be
	// finished before then (upload.LifetimeOf).
	LifetimeDays int
	// PresignExpiry is how long a direct upload's presigned URLs live.
	PresignExpiry  time.Duration
	AllowedOrigins []string
	LogLevel       slog.Level
	// EventBus is the EventBridge bus that uploads' events go to
	// ("default", a name or an ARN); empty publishes none.
	EventBus       string
	EventsEndpoint string // empty on AWS; the local stand-in's URL locally
	// Stack names the deployment (its CloudFormation stack): a dimension
	// of every metric, so that stacks in one account keep theirs apart.
	Stack string
	// PreCreateFunction and OnCompleteFunction are the ARNs of the Lambda
	// functions that serve the application's hooks (see upload's
	// hooks.go); empty turns a hook off. Each call may take HookTimeout.
	PreCreateFunction  string
	OnCompleteFunction string
	HookTimeout        time.Duration
	HooksEndpoint      string // empty on AWS; the local stand-in's URL locally
}

// MaxHookTimeout bounds HOOK_TIMEOUT_SECONDS: a hook's call runs inside a
// request that API Gateway stops waiting for at 30 s, with the upload's
// own work around it.
const MaxHookTimeout = 20 * time.Second

// EndpointAuth is the region and static credentials of the local servers
// named by DYNAMODB_ENDPOINT and S3_ENDPOINT: ENDPOINT_REGION,
// ENDPOINT_ACCESS_KEY_ID and ENDPOINT_SECRET_ACCESS_KEY. Each applies only
// to a client whose endpoint is set.
type EndpointAuth struct {
	Region, AccessKeyID, SecretAccessKey string
}

// set reports whether any of the three is given.
func (e EndpointAuth) set() bool {
	return e.Region != "" || e.AccessKeyID != "" || e.SecretAccessKey != ""
}

// FromEnv reads the configuration, using getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	def := upload.DefaultOptions()
	c := Config{
		Table:            getenv("TABLE_NAME"),
		Bucket:           getenv("BUCKET_NAME"),
		DynamoDBEndpoint: getenv("DYNAMODB_ENDPOINT"),
		S3Endpoint:       getenv("S3_ENDPOINT"),
		EventBus:         getenv("EVENT_BUS_NAME"),
		EventsEndpoint:   getenv("EVENTS_ENDPOINT"),
		Stack:            orDefault(getenv("STACK_NAME"), "chunkup"),

		PreCreateFunction:  getenv("PRE_CREATE_FUNCTION"),
		OnCompleteFunction: getenv("ON_COMPLETE_FUNCTION"),
		HooksEndpoint:      getenv("HOOKS_ENDPOINT"),
		EndpointAuth: EndpointAuth{
			Region:          getenv("ENDPOINT_REGION"),
			AccessKeyID:     getenv("ENDPOINT_ACCESS_KEY_ID"),
			SecretAccessKey: getenv("ENDPOINT_SECRET_ACCESS_KEY"),
		},
		Limits:        def.Limits,
		Expiry:        def.Expiry,
		LifetimeDays:  3,
		PresignExpiry: def.PresignExpiry,
		HookTimeout:   def.HookTimeout,
	}
	if c.Table == "" || c.Bucket == "" {
		return Config{}, fmt.Errorf("TABLE_NAME and BUCKET_NAME must be set")
	}
	if (c.EndpointAuth.AccessKeyID == "") != (c.EndpointAuth.SecretAccessKey == "") {
		return Config{}, fmt.Errorf("ENDPOINT_ACCESS_KEY_ID and ENDPOINT_SECRET_ACCESS_KEY go together: set both or neither")
	}
	if c.EndpointAuth.set() && c.DynamoDBEndpoint == "" && c.S3Endpoint == "" {
		return Config{}, fmt.Errorf("ENDPOINT_REGION, ENDPOINT_ACCESS_KEY_ID and ENDPOINT_SECRET_ACCESS_KEY are for the servers of DYNAMODB_ENDPOINT and S3_ENDPOINT, and neither is set")
	}
	var err error
	if c.Limits.MaxFileSize, err = intVar(getenv, "MAX_FILE_SIZE", c.Limits.MaxFileSize); err != nil {
		return Config{}, err
	}
	if c.Limits.MaxChunkSize, err = intVar(getenv, "MAX_CHUNK_SIZE", c.Limits.MaxChunkSize); err != nil {
		return Config{}, err
	}
	n, err := intVar(getenv, "MAX_CHUNKS", int64(c.Limits.MaxChunks))
	if err != nil {
		return Config{}, err
	}
	c.Limits.MaxChunks = int(n)
	if n, err = intVar(getenv, "MAX_NAME_LENGTH", int64(c.Limits.MaxNameLength)); err != nil {
		return Config{}, err
	}
	c.Limits.MaxNameLength = int(n)
	hours, err := intVar(getenv, "EXPIRY_HOURS", int64(c.Expiry/time.Hour))
	if err != nil {
		return Config{}, err
	}
	c.Expiry = time.Duration(hours) * time.Hour
	days, err := intVar(getenv, "UPLOAD_LIFETIME_DAYS", int64(c.LifetimeDays))
	if err != nil {
		return Config{}, err
	}
	c.LifetimeDays = int(days)
	secs, err := intVar(getenv, "PRESIGN_EXPIRY_SECONDS", int64(c.PresignExpiry/time.Second))
	if err != nil {
		return Config{}, err
	}
	c.PresignExpiry = time.Duration(secs) * time.Second
	if secs, err = intVar(getenv, "HOOK_TIMEOUT_SECONDS", int64(c.HookTimeout/time.Second)); err != nil {
		return Config{}, err
	}
	if c.HookTimeout = time.Duration(secs) * time.Second; c.HookTimeout > MaxHookTimeout {
		return Config{}, fmt.Errorf("HOOK_TIMEOUT_SECONDS=%d is over the limit of %d seconds: a hook runs inside a request API Gateway waits 30 s for", secs, int64(MaxHookTimeout/time.Second))
	}
	for _, t := range strings.Split(getenv("ALLOWED_CONTENT_TYPES"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Limits.AllowedTypes = append(c.Limits.AllowedTypes, t)
		}
	}
	for _, o := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "INFO"))); err != nil {
		return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return c, nil
}

func intVar(getenv func(string) string, name string, def int64) (int64, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", name, v)
	}
	return n, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// AWS loads the AWS configuration (credentials, region) of the
// environment, once per container.
func (c Config) AWS(ctx context.Context) (aws.Config, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	return awsCfg, nil
}

// Clients builds the DynamoDB and S3 clients once per container, with the
// endpoints overridden when the configuration names local servers.
func (c Config) Clients(ctx context.Context) (*dynamodb.Client, *s3.Client, error) {
	awsCfg, err := c.AWS(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.ClientsFrom(awsCfg)
}

// Publisher is the publisher of uploads' events on EventBus, through an
// EventBridge client built from awsCfg (at EventsEndpoint if set, signed
// with EndpointAuth's region and keys where given); nil when no bus is
// configured.
func (c Config) Publisher(awsCfg aws.Config) upload.Publisher {
	if c.EventBus == "" {
		return nil
	}
	client := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) {
		c.EndpointAuth.point(c.EventsEndpoint, &o.BaseEndpoint, &o.Region, &o.Credentials)
	})
	return bus.New(client, c.EventBus, c.Bucket)
}

// PreCreateHook is the pre-create hook, the function PreCreateFunction
// through a Lambda client built from awsCfg (at HooksEndpoint if set, as
// Publisher's is at EventsEndpoint); nil when none is configured.
func (c Config) PreCreateHook(awsCfg aws.Config) upload.PreCreateHook {
	if c.PreCreateFunction == "" {
		return nil
	}
	return hook.New(c.lambdaClient(awsCfg), c.PreCreateFunction, c.Bucket)
}

// CompleteHook is the on-complete hook, the function OnCompleteFunction,
// as PreCreateHook is; nil when none is configured.
func (c Config) CompleteHook(awsCfg aws.Config) upload.CompleteHook {
	if c.OnCompleteFunction == "" {
		return nil
	}
	return hook.New(c.lambdaClient(awsCfg), c.OnCompleteFunction, c.Bucket)
}

// lambdaClient is the Lambda client that invokes the hooks. The engine's
// hook timeout bounds each call, retries included.
func (c Config) lambdaClient(awsCfg aws.Config) *lambda.Client {
	return lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		c.EndpointAuth.point(c.HooksEndpoint, &o.BaseEndpoint, &o.Region, &o.Credentials)
	})
}

// ClientsFrom builds the clients from an AWS configuration; a client with
// an endpoint set signs with EndpointAuth's region and keys, where given.
func (c Config) ClientsFrom(awsCfg aws.Config) (*dynamodb.Client, *s3.Client, error) {
	db := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		c.EndpointAuth.point(c.DynamoDBEndpoint, &o.BaseEndpoint, &o.Region, &o.Credentials)
	})
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		c.EndpointAuth.point(c.S3Endpoint, &o.BaseEndpoint, &o.Region, &o.Credentials)
		o.UsePathStyle = o.UsePathStyle || c.S3Endpoint != ""
	})
	return db, s3c, nil
}

// point sets a client's options (its endpoint, region and credentials)
// to a local server's endpoint, signed with e's region and keys where
// given; with no endpoint (on AWS) it changes nothing.
func (e EndpointAuth) point(endpoint string, base **string, region *string, creds *aws.CredentialsProvider) {
	if endpoint == "" {
		return
	}
	*base = aws.String(endpoint)
	if e.Region != "" {
		*region = e.Region
	}
	if e.AccessKeyID != "" {
		*creds = credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, "")
	}
}

// EngineOptions turns the configuration into the engine's options.
func (c Config) EngineOptions(log *slog.Logger) upload.Options {
	opt := upload.DefaultOptions()
	opt.Limits = c.Limits
	opt.Expiry = c.Expiry
	opt.MaxLifetime = upload.LifetimeOf(c.LifetimeDays)
	opt.PresignExpiry = c.PresignExpiry
	opt.HookTimeout = c.HookTimeout
	opt.Logger = log
	return opt
}

// Logger returns the structured logger functions write with: JSON, at the
// configured level.
func (c Config) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel}))
}
