package samtemplate

// The application's hooks in template.yaml: the PreCreateFunction,
// OnCompleteFunction and HookTimeoutSeconds parameters, their conditions,
// the functions' environment, and lambda:InvokeFunction granted on the
// named functions only, to the functions that call them only, and only
// when they are named.

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	preCreateARN  = "arn:aws:lambda:eu-west-1:123456789012:function:app-vet"
	onCompleteARN = "arn:aws:lambda:eu-west-1:123456789012:function:app-attach:live"
)

// hookSettings are the ways to deploy the hooks, and the functions each
// function may then invoke, by parameter.
var hookSettings = []struct {
	name   string
	params map[string]string
	grants map[string][]string
}{
	{"hooks off", nil, map[string][]string{}},
	{"on-complete only", map[string]string{"OnCompleteFunction": onCompleteARN}, map[string][]string{
		"ReceiveFunction": {"OnCompleteFunction"}, "CompleteFunction": {"OnCompleteFunction"}, "CleanupFunction": {"OnCompleteFunction"},
	}},
	{"both hooks", map[string]string{"PreCreateFunction": preCreateARN, "OnCompleteFunction": onCompleteARN, "HookTimeoutSeconds": "9"}, map[string][]string{
		"ReceiveFunction": {"OnCompleteFunction", "PreCreateFunction"}, "CompleteFunction": {"OnCompleteFunction"}, "CleanupFunction": {"OnCompleteFunction"},
	}},
}

// TestHookParameters: the parameters are off by default, take only
// function ARNs (what the grants name exactly), and bound the timeout
// within API Gateway's 30 s; each hook has its condition.
func TestHookParameters(t *testing.T) {
	tmpl, _ := loadProject(t)
	for _, name := range hookFunctions {
		p, ok := tmpl.Parameters[name]
		if !ok || p.Type != "String" || p.Default != "" {
			t.Fatalf("parameter %s = %+v, want a String defaulting to empty (off)", name, p)
		}
		pattern, _ := p.Raw["AllowedPattern"].(string)
		re, err := regexp.Compile(pattern)
		if err != nil {
			t.Fatalf("%s's AllowedPattern %q: %v", name, pattern, err)
		}
		for v, want := range map[string]bool{
			"": true, preCreateARN: true, onCompleteARN: true,
			"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:vet": true,
			"app-vet": false, "*": false, "arn:aws:lambda:eu-west-1:123456789012:function:*": false,
			"arn:aws:lambda:eu-west-1:123456789012:layer:x": false, "arn:aws:iam::123456789012:role/x": false,
		} {
			if re.MatchString(v) != want {
				t.Errorf("%s's AllowedPattern takes %q: %v, want %v", name, v, !want, want)
			}
		}
	}
	to := tmpl.Parameters["HookTimeoutSeconds"]
	if to.Type != "Number" || fmt.Sprint(to.Default) != "5" || fmt.Sprint(to.Raw["MinValue"]) != "1" || fmt.Sprint(to.Raw["MaxValue"]) != "20" {
		t.Errorf("HookTimeoutSeconds = %+v, want a Number, 5 by default, 1 to 20", to)
	}
	conds := asMap(tmpl.Raw["Conditions"])
	for cond, param := range map[string]string{"PreCreateEnabled": "PreCreateFunction", "OnCompleteEnabled": "OnCompleteFunction"} {
		want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": param}, ""}}}}
		if !reflect.DeepEqual(conds[cond], want) {
			t.Errorf("condition %s = %v, want %v", cond, conds[cond], want)
		}
	}
}

// TestTranslatedHooks translates template.yaml for each hook setting:
// every function gets the hooks' environment; lambda:InvokeFunction is
// granted on exactly the named functions, each in a statement of its
// own, to the functions that call them (receive: both; complete and
// cleanup: on-complete; check: none), and to nobody when the hooks are
// off; and the roles pass the least-privilege checks.
func TestTranslatedHooks(t *testing.T) {
	var settings []templateSetting
	for _, s := range hookSettings {
		settings = append(settings, templateSetting{params: s.params})
	}
	ds := deployProject(t, settings)
	for i, s := range hookSettings {
		t.Run(s.name, func(t *testing.T) {
			d := ds[i]
			var f findings
			checkDeployedRoles(&f, d)
			for _, msg := range f {
				t.Errorf("least privilege: %s", msg)
			}
			for _, fn := range d.ofType("AWS::Lambda::Function") {
				_, props := d.resource(fn)
				env := asMap(asMap(props["Environment"])["Variables"])
				for v, param := range map[string]string{"PRE_CREATE_FUNCTION": "PreCreateFunction", "ON_COMPLETE_FUNCTION": "OnCompleteFunction", "HOOK_TIMEOUT_SECONDS": "HookTimeoutSeconds"} {
					if !refersTo(env[v], param) {
						t.Errorf("%s: %s = %v, want !Ref %s", fn, v, env[v], param)
					}
				}
				if got, want := invokeGrants(t, d, fn), s.grants[fn]; !slices.Equal(got, want) {
					t.Errorf("%s may invoke %v, want %v", fn, got, want)
				}
			}
		})
	}
}

// invokeGrants lists, sorted, the hook parameters whose functions fn's
// role may invoke, failing the test on any grant of a Lambda action that
// is not one statement's lambda:InvokeFunction on one hook function.
func invokeGrants(t *testing.T, d deployment, fn string) []string {
	t.Helper()
	var out []string
	_, rp := d.resource(fn + "Role")
	for _, pol := range asSlice(rp["Policies"]) {
		for _, s := range policyStatements(asMap(pol)["PolicyDocument"]) {
			actions := stringsOf(s["Action"])
			if !slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "lambda:") }) {
				continue
			}
			res := asSlice(s["Resource"])
			ref, _ := asMap(res[0])["Ref"].(string)
			if !slices.Equal(actions, []string{"lambda:InvokeFunction"}) || len(res) != 1 || !slices.Contains(hookFunctions, ref) {
				t.Errorf("%s: Lambda grant %v, want lambda:InvokeFunction on one hook function", fn, s)
				continue
			}
			out = append(out, ref)
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// TestHookGrantFlawsFound: a hook grant on every function, or with a
// wildcard action, is a finding of the least-privilege check.
func TestHookGrantFlawsFound(t *testing.T) {
	const grant = "                Action: lambda:InvokeFunction\n                Resource: !Ref PreCreateFunction\n"
	cases := []struct{ name, new, finding string }{
		{"every function", "                Action: lambda:InvokeFunction\n                Resource: \"*\"\n", `Resource "*"`},
		{"a wildcard action", "                Action: lambda:*\n                Resource: !Ref PreCreateFunction\n", `wildcard Action "lambda:*"`},
	}
	params := map[string]string{"PreCreateFunction": preCreateARN}
	var settings []templateSetting
	for _, c := range cases {
		settings = append(settings, templateSetting{params: params, old: grant, new: c.new})
	}
	for i, d := range deployProject(t, settings) {
		c := cases[i]
		var f findings
		if checkDeployedRoles(&f, d); !hasFinding(f, c.finding) {
			t.Errorf("%s: no finding mentions %q; findings: %q", c.name, c.finding, f)
		}
		if rf := review(d.tmpl); !hasFinding(rf, c.finding) {
			t.Errorf("%s: the security review finds no %q; findings: %q", c.name, c.finding, rf)
		}
	}
}
