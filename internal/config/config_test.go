package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestUploadLifetime: UPLOAD_LIFETIME_DAYS, the days after which the
// bucket's lifecycle rules drop an upload's S3 data, becomes the engine's
// MaxLifetime, an hour less; without it, the template's default (3).
func TestUploadLifetime(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "BUCKET_NAME": "b"}
	for _, c := range []struct {
		days string
		want time.Duration
	}{
		{"", 71 * time.Hour},
		{"1", 23 * time.Hour},
		{"7", 7*24*time.Hour - time.Hour},
	} {
		vars := map[string]string{"UPLOAD_LIFETIME_DAYS": c.days}
		for k, v := range base {
			vars[k] = v
		}
		conf, err := FromEnv(env(vars))
		if err != nil {
			t.Fatalf("UPLOAD_LIFETIME_DAYS=%q: %v", c.days, err)
		}
		if got := conf.EngineOptions(nil).MaxLifetime; got != c.want {
			t.Errorf("UPLOAD_LIFETIME_DAYS=%q: MaxLifetime %v, want %v", c.days, got, c.want)
		}
	}
	for _, bad := range []string{"0", "-2", "three"} {
		vars := map[string]string{"UPLOAD_LIFETIME_DAYS": bad}
		for k, v := range base {
			vars[k] = v
		}
		if _, err := FromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "UPLOAD_LIFETIME_DAYS") {
			t.Errorf("UPLOAD_LIFETIME_DAYS=%q: %v, want an error naming it", bad, err)
		}
	}
}

// TestEventBus: EVENT_BUS_NAME, which the template sets from
// EventBusName on every function, gives a publisher; without it, none.
func TestEventBus(t *testing.T) {
	vars := map[string]string{"TABLE_NAME": "t", "BUCKET_NAME": "b"}
	conf, err := FromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if p := conf.Publisher(aws.Config{Region: "us-east-1"}); p != nil {
		t.Fatalf("no EVENT_BUS_NAME: publisher %v, want none", p)
	}
	vars["EVENT_BUS_NAME"] = "default"
	if conf, err = FromEnv(env(vars)); err != nil {
		t.Fatal(err)
	}
	if conf.EventBus != "default" || conf.Publisher(aws.Config{Region: "us-east-1"}) == nil {
		t.Fatalf("EVENT_BUS_NAME=default: bus %q and no publisher", conf.EventBus)
	}
}

// TestEndpointAuth: ENDPOINT_REGION and the ENDPOINT_ keys sign the
// requests of a client whose endpoint is set, and only those; keys without
// an endpoint, or half a key pair, are refused.
func TestEndpointAuth(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "BUCKET_NAME": "b"}
	with := func(extra map[string]string) map[string]string {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range extra {
			vars[k] = v
		}
		return vars
	}
	local := map[string]string{
		"ENDPOINT_REGION": "us-east-1", "ENDPOINT_ACCESS_KEY_ID": "localkey", "ENDPOINT_SECRET_ACCESS_KEY": "localsecret",
	}
	role := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("ROLEKEY", "rolesecret", "token")}
	for _, c := range []struct {
		name             string
		endpoints        map[string]string
		dbLocal, s3Local bool
	}{
		{"both local", map[string]string{"DYNAMODB_ENDPOINT": "http://127.0.0.1:4567", "S3_ENDPOINT": "http://127.0.0.1:7070"}, true, true},
		{"S3 local only", map[string]string{"S3_ENDPOINT": "http://127.0.0.1:7070"}, false, true},
	} {
		vars := with(c.endpoints)
		for k, v := range local {
			vars[k] = v
		}
		conf, err := FromEnv(env(vars))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		db, s3c, err := conf.ClientsFrom(role)
		if err != nil {
			t.Fatal(err)
		}
		check := func(client string, local bool, region string, creds aws.CredentialsProvider) {
			t.Helper()
			got, err := creds.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantRegion, wantKey := "eu-west-1", "ROLEKEY"
			if local {
				wantRegion, wantKey = "us-east-1", "localkey"
			}
			if region != wantRegion || got.AccessKeyID != wantKey {
				t.Errorf("%s: %s client signs in %s with %s, want %s with %s", c.name, client, region, got.AccessKeyID, wantRegion, wantKey)
			}
		}
		check("DynamoDB", c.dbLocal, db.Options().Region, db.Options().Credentials)
		check("S3", c.s3Local, s3c.Options().Region, s3c.Options().Credentials)
	}

	for name, vars := range map[string]map[string]string{
		"keys without an endpoint": with(local),
		"a key without its secret": with(map[string]string{"S3_ENDPOINT": "http://127.0.0.1:7070", "ENDPOINT_ACCESS_KEY_ID": "localkey"}),
		"a secret without its key": with(map[string]string{"S3_ENDPOINT": "http://127.0.0.1:7070", "ENDPOINT_SECRET_ACCESS_KEY": "localsecret"}),
	} {
		if _, err := FromEnv(env(vars)); err == nil || !strings.Contains(err.Error(), "ENDPOINT_") {
			t.Errorf("%s: %v, want an error naming the ENDPOINT_ variables", name, err)
		}
	}
}

// TestHooks: PRE_CREATE_FUNCTION and ON_COMPLETE_FUNCTION, which the
// template sets from its parameters, each give a hook, and nothing gives
// none; HOOK_TIMEOUT_SECONDS becomes the engine's HookTimeout (5 s
// without it) and is refused past MaxHookTimeout, naming the limit.
func TestHooks(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		vars := map[string]string{"TABLE_NAME": "t", "BUCKET_NAME": "b"}
		for k, v := range extra {
			vars[k] = v
		}
		return vars
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
	off, err := FromEnv(env(base(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if off.PreCreateHook(awsCfg) != nil || off.CompleteHook(awsCfg) != nil || off.EngineOptions(nil).HookTimeout != 5*time.Second {
		t.Errorf("no hook configured: %v %v timeout %v, want none and 5s", off.PreCreateHook(awsCfg), off.CompleteHook(awsCfg), off.EngineOptions(nil).HookTimeout)
	}
	on, err := FromEnv(env(base(map[string]string{
		"ON_COMPLETE_FUNCTION": "arn:aws:lambda:us-east-1:123456789012:function:done", "HOOK_TIMEOUT_SECONDS": "9",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if on.PreCreateHook(awsCfg) != nil || on.CompleteHook(awsCfg) == nil || on.EngineOptions(nil).HookTimeout != 9*time.Second {
		t.Errorf("on-complete configured: %v %v timeout %v", on.PreCreateHook(awsCfg), on.CompleteHook(awsCfg), on.EngineOptions(nil).HookTimeout)
	}
	for _, bad := range []string{"0", "21", "five"} {
		if _, err := FromEnv(env(base(map[string]string{"HOOK_TIMEOUT_SECONDS": bad}))); err == nil || !strings.Contains(err.Error(), "HOOK_TIMEOUT_SECONDS") {
			t.Errorf("HOOK_TIMEOUT_SECONDS=%q: %v, want an error naming it", bad, err)
		}
	}
	if _, err := FromEnv(env(base(map[string]string{"HOOK_TIMEOUT_SECONDS": "21"}))); err == nil || !strings.Contains(err.Error(), "20 seconds") {
		t.Errorf("HOOK_TIMEOUT_SECONDS=21: %v, want the limit named", err)
	}
}
