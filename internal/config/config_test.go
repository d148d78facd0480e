package config

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
