package main

import (
	"fmt"
	"strings"
	"testing"

	"chunkup/internal/local/samtemplate"
)

// TestStageThrottle: the gateway's throttle is the template's
// DefaultRouteSettings at the parameters' defaults, or at the values -param
// gives; a parameter the template lacks is refused, naming it.
func TestStageThrottle(t *testing.T) {
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		t.Fatal(err)
	}
	def, err := stageThrottle(tmpl, params{})
	if err != nil {
		t.Fatal(err)
	}
	if rate, burst := tmpl.Parameters["MaxRequestsPerSecond"].Default, tmpl.Parameters["MaxBurst"].Default; def == nil ||
		fmt.Sprint(def.RatePerSecond) != fmt.Sprint(rate) || fmt.Sprint(def.Burst) != fmt.Sprint(burst) {
		t.Errorf("default throttle %+v, want the parameters' defaults %v and %v", def, rate, burst)
	}
	p := params{}
	for _, s := range []string{"MaxRequestsPerSecond=2.5", "MaxBurst=3"} {
		if err := p.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := stageThrottle(tmpl, p)
	if err != nil || got.RatePerSecond != 2.5 || got.Burst != 3 {
		t.Errorf("with %v: %+v, %v; want 2.5 per second, burst 3", p, got, err)
	}
	if err := p.Set("NoSuchParameter=1"); err != nil {
		t.Fatal(err)
	}
	if err := p.check(tmpl); err == nil || !strings.Contains(err.Error(), "NoSuchParameter") {
		t.Errorf("an unknown parameter: %v, want an error naming it", err)
	}
	if err := p.Set("no-equals-sign"); err == nil {
		t.Error("-param without Name=Value accepted")
	}
}
