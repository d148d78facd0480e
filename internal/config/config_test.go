package config

import (
	"strings"
	"testing"
	"time"
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
