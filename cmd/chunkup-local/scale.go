package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"chunkup/internal/local/gateway"
	"chunkup/internal/local/samtemplate"
)

// params is the -param flag: template parameter values, Name=Value, as
// `sam deploy --parameter-overrides` takes them.
type params map[string]string

func (p params) String() string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		out = append(out, k+"="+p[k])
	}
	return strings.Join(out, " ")
}

func (p params) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: want Name=Value, a parameter of template.yaml", s)
	}
	p[name] = value
	return nil
}

// check refuses a parameter the template does not have.
func (p params) check(tmpl *samtemplate.Template) error {
	for _, name := range slices.Sorted(maps.Keys(p)) {
		if _, ok := tmpl.Parameters[name]; !ok {
			return fmt.Errorf("-param %s: template.yaml has no parameter %s", name, name)
		}
	}
	return nil
}

// stageThrottle is the HTTP API's default route throttling as the
// template sets it (DefaultRouteSettings of the API, with the parameter
// values p, defaults otherwise); nil when the template sets none.
func stageThrottle(tmpl *samtemplate.Template, p params) (*gateway.Throttle, error) {
	apis := tmpl.ResourcesOfType(samtemplate.TypeHTTPAPI)
	if len(apis) != 1 {
		return nil, fmt.Errorf("template.yaml: %d HTTP APIs, want one", len(apis))
	}
	settings, ok := apis[0].Properties["DefaultRouteSettings"]
	if !ok {
		return nil, nil
	}
	v, err := tmpl.Resolve(settings, p)
	if err != nil {
		return nil, fmt.Errorf("template.yaml: %s DefaultRouteSettings: %w", apis[0].LogicalID, err)
	}
	m, _ := v.(map[string]any)
	rate, err := strconv.ParseFloat(fmt.Sprint(m["ThrottlingRateLimit"]), 64)
	if err != nil {
		return nil, fmt.Errorf("template.yaml: ThrottlingRateLimit %v: %w", m["ThrottlingRateLimit"], err)
	}
	burst, err := strconv.Atoi(fmt.Sprint(m["ThrottlingBurstLimit"]))
	if err != nil {
		return nil, fmt.Errorf("template.yaml: ThrottlingBurstLimit %v: %w", m["ThrottlingBurstLimit"], err)
	}
	return &gateway.Throttle{RatePerSecond: rate, Burst: burst}, nil
}
