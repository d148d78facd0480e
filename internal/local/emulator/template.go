package emulator

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"chunkup/internal/local/samtemplate"
)

// FromTemplate describes the template's functions for Start: each one's
// bootstrap from bootstraps (by logical id), its Timeout, MemorySize
// (Globals applied) and ReservedConcurrentExecutions (as CloudFormation
// would set it for the parameter values in refs, defaults otherwise), and
// its environment: the template's variables with
// refs resolving their Refs (samtemplate.Template.Environment), then env
// on top, where the local stack's endpoints, credentials, table and bucket
// go.
func FromTemplate(tmpl *samtemplate.Template, bootstraps, refs, env map[string]string) ([]Function, error) {
	var out []Function
	for _, f := range tmpl.Functions {
		bin, ok := bootstraps[f.LogicalID]
		if !ok {
			return nil, fmt.Errorf("emulator: no bootstrap for %s", f.LogicalID)
		}
		vars, err := tmpl.Environment(f, refs)
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		maps.Copy(vars, env)
		timeout, err := wholeNumber(f, "Timeout")
		if err != nil {
			return nil, err
		}
		memory, err := wholeNumber(f, "MemorySize")
		if err != nil {
			return nil, err
		}
		reserved, err := reservedConcurrency(tmpl, f, refs)
		if err != nil {
			return nil, err
		}
		out = append(out, Function{Name: f.LogicalID, Bootstrap: bin, Env: vars,
			Timeout: time.Duration(timeout) * time.Second, MemoryMB: memory, ReservedConcurrency: reserved})
	}
	return out, nil
}

// wholeNumber reads a numeric property; 0 when the function has none.
func wholeNumber(f samtemplate.Function, property string) (int, error) {
	v, ok := f.Properties[property]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("emulator: %s %s %v: want a positive whole number", f.LogicalID, property, v)
	}
	return n, nil
}

// reservedConcurrency reads a function's ReservedConcurrentExecutions: a
// number, a Ref to a parameter, or an Fn::If choosing between such a value
// and AWS::NoValue on one of the template's Conditions. 0 means none.
func reservedConcurrency(tmpl *samtemplate.Template, f samtemplate.Function, refs map[string]string) (int, error) {
	v, ok := f.Properties["ReservedConcurrentExecutions"]
	if !ok {
		return 0, nil
	}
	v, err := chooseIf(tmpl, v, refs)
	if err != nil {
		return 0, fmt.Errorf("emulator: %s ReservedConcurrentExecutions: %w", f.LogicalID, err)
	}
	if v == nil {
		return 0, nil
	}
	v, err = tmpl.Resolve(v, refs)
	if err != nil {
		return 0, fmt.Errorf("emulator: %s ReservedConcurrentExecutions: %w", f.LogicalID, err)
	}
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("emulator: %s ReservedConcurrentExecutions %v: want a whole number, 0 or more", f.LogicalID, v)
	}
	return n, nil
}

// chooseIf returns v, or the branch an Fn::If chooses; nil for
// AWS::NoValue.
func chooseIf(tmpl *samtemplate.Template, v any, refs map[string]string) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	if ref, ok := m["Ref"]; ok && ref == "AWS::NoValue" {
		return nil, nil
	}
	arg, ok := m["Fn::If"]
	if !ok {
		return v, nil
	}
	args, ok := arg.([]any)
	if !ok || len(args) != 3 {
		return nil, fmt.Errorf("Fn::If: want [condition, then, else], got %v", arg)
	}
	name, _ := args[0].(string)
	on, err := condition(tmpl, name, refs)
	if err != nil {
		return nil, err
	}
	if on {
		return chooseIf(tmpl, args[1], refs)
	}
	return chooseIf(tmpl, args[2], refs)
}

// condition evaluates one of the template's Conditions for the parameter
// values in refs: Fn::Equals of resolvable values, Fn::Not, Fn::And,
// Fn::Or and Condition.
func condition(tmpl *samtemplate.Template, name string, refs map[string]string) (bool, error) {
	conds, _ := tmpl.Raw["Conditions"].(map[string]any)
	def, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	on, err := evalCondition(tmpl, def, refs)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return on, nil
}

func evalCondition(tmpl *samtemplate.Template, v any, refs map[string]string) (bool, error) {
	m, _ := v.(map[string]any)
	if len(m) != 1 {
		return false, fmt.Errorf("%v is not a condition function", v)
	}
	for fn, arg := range m {
		if fn == "Condition" {
			name, _ := arg.(string)
			return condition(tmpl, name, refs)
		}
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals: want two values, got %v", arg)
			}
			a, err := tmpl.Resolve(args[0], refs)
			if err != nil {
				return false, err
			}
			b, err := tmpl.Resolve(args[1], refs)
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			all, anyOn := true, false
			for _, c := range args {
				on, err := evalCondition(tmpl, c, refs)
				if err != nil {
					return false, err
				}
				all, anyOn = all && on, anyOn || on
			}
			switch {
			case fn == "Fn::Not" && len(args) == 1:
				return !all, nil
			case fn == "Fn::And":
				return all, nil
			case fn == "Fn::Or":
				return anyOn, nil
			}
			return false, fmt.Errorf("Fn::Not: want one condition, got %v", arg)
		}
		return false, fmt.Errorf("%s is not evaluated locally", fn)
	}
	return false, nil
}

// Names returns the logical ids of the template's functions.
func Names(tmpl *samtemplate.Template) []string {
	var out []string
	for _, f := range tmpl.Functions {
		out = append(out, f.LogicalID)
	}
	return out
}

// StartTemplate builds every function of the template from the repository
// at root into dir (Build) and starts them (Start) with the environment
// FromTemplate gives them, the template's table and bucket being the given
// ones, opts.Parameters overriding the parameters' defaults, and env on
// top.
func StartTemplate(ctx context.Context, root string, tmpl *samtemplate.Template, dir, table, bucket string, env map[string]string, opts Options) (*Emulator, error) {
	refs := map[string]string{}
	for name, v := range opts.Parameters {
		if _, ok := tmpl.Parameters[name]; !ok {
			return nil, fmt.Errorf("emulator: the template has no parameter %s", name)
		}
		refs[name] = v
	}
	refs[samtemplate.TableLogicalID], refs[samtemplate.BucketLogicalID] = table, bucket
	bins, err := Build(ctx, root, dir, Names(tmpl)...)
	if err != nil {
		return nil, err
	}
	fns, err := FromTemplate(tmpl, bins, refs, env)
	if err != nil {
		return nil, err
	}
	return Start(ctx, fns, opts)
}
