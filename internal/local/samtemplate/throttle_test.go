package samtemplate

// The scale settings of issue 16, as the SAM translator deploys them: the
// HTTP API stage's default route throttle from MaxRequestsPerSecond and
// MaxBurst, the reserved concurrency of the functions that finish uploads
// and answer status from their parameters (none when 0), the cleanup
// function one at a time, and the receive function sharing the account's
// unreserved concurrency.

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// scaleSetting is one set of scale parameters; nil params means the
// template's defaults.
type scaleSetting struct {
	name   string
	params map[string]string
}

var scaleSettings = []scaleSetting{
	{"defaults", nil},
	{"small account", map[string]string{"MaxRequestsPerSecond": "25", "MaxBurst": "5",
		"CompleteReservedConcurrency": "0", "CheckReservedConcurrency": "0"}},
	{"raised", map[string]string{"MaxRequestsPerSecond": "2500", "MaxBurst": "300",
		"CompleteReservedConcurrency": "250", "CheckReservedConcurrency": "150"}},
}

// paramValue is the value a parameter takes: given, else its default.
func paramValue(tmpl *Template, params map[string]string, name string) (string, error) {
	if v, ok := params[name]; ok {
		return v, nil
	}
	p, ok := tmpl.Parameters[name]
	if !ok || p.Default == nil {
		return "", fmt.Errorf("no parameter %s with a default", name)
	}
	return fmt.Sprint(p.Default), nil
}

// deployedNumber is a deployed property's value as CloudFormation sets it:
// a number, or a Ref to a parameter; "" when the property is absent.
func deployedNumber(v any, tmpl *Template, params map[string]string) (string, error) {
	if v == nil {
		return "", nil
	}
	if ref, ok := asMap(v)["Ref"].(string); ok {
		return paramValue(tmpl, params, ref)
	}
	if _, isMap := v.(map[string]any); isMap {
		return "", fmt.Errorf("%v is not a number or a Ref", v)
	}
	return fmt.Sprint(v), nil
}

// checkDeployedScale checks the stage throttle and the reserved
// concurrency of a deployment made with params.
func checkDeployedScale(f *findings, d deployment, params map[string]string) {
	want := func(name string) string {
		v, err := paramValue(d.tmpl, params, name)
		if err != nil {
			f.add("%v", err)
		}
		return v
	}
	stages := d.ofType("AWS::ApiGatewayV2::Stage")
	if len(stages) == 0 {
		f.add("no AWS::ApiGatewayV2::Stage")
	}
	for _, id := range stages {
		_, props := d.resource(id)
		rs := asMap(props["DefaultRouteSettings"])
		for prop, param := range map[string]string{"ThrottlingRateLimit": "MaxRequestsPerSecond", "ThrottlingBurstLimit": "MaxBurst"} {
			got, err := deployedNumber(rs[prop], d.tmpl, params)
			if err != nil {
				f.add("stage %s %s: %v", id, prop, err)
			} else if w := want(param); got != w {
				f.add("stage %s DefaultRouteSettings.%s = %q, want %s's %s", id, prop, got, param, w)
			}
		}
	}
	reserved := map[string]string{
		"CompleteFunction": want("CompleteReservedConcurrency"),
		"CheckFunction":    want("CheckReservedConcurrency"),
		"CleanupFunction":  "1",
		"ReceiveFunction":  "0",
	}
	for _, fn := range slices.Sorted(maps.Keys(reserved)) {
		typ, props := d.resource(fn)
		if typ != "AWS::Lambda::Function" {
			f.add("%s: deployed as %q, want AWS::Lambda::Function", fn, typ)
			continue
		}
		got, err := deployedNumber(props["ReservedConcurrentExecutions"], d.tmpl, params)
		if err != nil {
			f.add("%s ReservedConcurrentExecutions: %v", fn, err)
			continue
		}
		w := reserved[fn]
		if w == "0" {
			// 0 reserves none: the property must be absent, since a
			// reservation of 0 would throttle every invocation.
			w = ""
		}
		if got != w {
			f.add("%s ReservedConcurrentExecutions = %q, want %q", fn, got, w)
		}
	}
}

// TestTranslatedScaleSettings translates template.yaml for each scale
// setting and checks the stage throttle and the reserved concurrency that
// CloudFormation would create.
func TestTranslatedScaleSettings(t *testing.T) {
	var settings []templateSetting
	for _, s := range scaleSettings {
		settings = append(settings, templateSetting{params: s.params})
	}
	ds := deployProject(t, settings)
	for i, s := range scaleSettings {
		t.Run(s.name, func(t *testing.T) {
			d := ds[i]
			var f findings
			checkDeployedScale(&f, d, s.params)
			for _, msg := range f {
				t.Error(msg)
			}
		})
	}
}

// TestTranslatedScaleChecksFindFlaws: the template with one scale setting
// broken still translates, and the check names what is wrong.
func TestTranslatedScaleChecksFindFlaws(t *testing.T) {
	cases := []struct{ name, old, new, finding string }{
		{"no stage throttle",
			"        ThrottlingRateLimit: !Ref MaxRequestsPerSecond\n        ThrottlingBurstLimit: !Ref MaxBurst\n",
			"        ThrottlingRateLimit: !Ref MaxRequestsPerSecond\n",
			`DefaultRouteSettings.ThrottlingBurstLimit = ""`},
		{"the rate from the wrong parameter",
			"ThrottlingRateLimit: !Ref MaxRequestsPerSecond",
			"ThrottlingRateLimit: !Ref MaxBurst",
			`DefaultRouteSettings.ThrottlingRateLimit = "50"`},
		{"completion without its reservation",
			"      ReservedConcurrentExecutions: !If [CompleteReserved, !Ref CompleteReservedConcurrency, !Ref AWS::NoValue]\n",
			"",
			`CompleteFunction ReservedConcurrentExecutions = "", want "100"`},
		{"cleanup unlimited",
			"      ReservedConcurrentExecutions: 1\n",
			"",
			`CleanupFunction ReservedConcurrentExecutions = "", want "1"`},
	}
	var settings []templateSetting
	for _, c := range cases {
		settings = append(settings, templateSetting{old: c.old, new: c.new})
	}
	for i, d := range deployProject(t, settings) {
		var f findings
		if checkDeployedScale(&f, d, nil); !hasFinding(f, cases[i].finding) {
			t.Errorf("%s: no finding mentions %q; findings: %q", cases[i].name, cases[i].finding, f)
		}
	}
}
