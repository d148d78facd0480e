package samtemplate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Environment returns a function's environment variables with the simple
// intrinsic functions evaluated, the way the local stack needs them:
// Ref (to a name in refs, else to a parameter's default), Fn::Join and
// Fn::Sub. refs maps logical ids, parameter names and pseudo parameters
// (AWS::Region, ...) to values; a parameter in refs overrides its default.
// Pseudo parameters not in refs read as partition aws, region us-east-1.
// Anything else (Fn::If, Fn::GetAtt of an unknown name, ...) is an error.
func (t *Template) Environment(f Function, refs map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(f.Environment))
	for _, k := range slices.Sorted(maps.Keys(f.Environment)) {
		v, err := t.Resolve(f.Environment[k], refs)
		if err != nil {
			return nil, fmt.Errorf("%s environment %s: %w", f.LogicalID, k, err)
		}
		s, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf("%s environment %s: %w", f.LogicalID, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// Resolve evaluates Ref, Fn::Join and Fn::Sub in a raw template value (see
// Environment). A Ref to a CommaDelimitedList parameter yields a []any.
func (t *Template) Resolve(v any, refs map[string]string) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.Resolve(e, refs)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if !isIntrinsic(x) {
			out := make(map[string]any, len(x))
			for k, e := range x {
				r, err := t.Resolve(e, refs)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[k] = r
			}
			return out, nil
		}
		for fn, arg := range x {
			return t.intrinsicValue(fn, arg, refs)
		}
	}
	return v, nil
}

func (t *Template) intrinsicValue(fn string, arg any, refs map[string]string) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("the argument of Ref, %v, is not a name", arg)
		}
		return t.ref(name, refs)
	case "Fn::Join":
		args, ok := arg.([]any)
		if !ok || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [separator, list], got %v", arg)
		}
		sep, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: separator %v is not a string", args[0])
		}
		list, err := t.Resolve(args[1], refs)
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: %v is not a list", list)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, err := scalarString(it)
			if err != nil {
				return nil, fmt.Errorf("Fn::Join: %w", err)
			}
			parts[i] = s
		}
		return strings.Join(parts, sep), nil
	case "Fn::Sub":
		return t.sub(arg, refs)
	}
	return nil, fmt.Errorf("%s is not evaluated locally", fn)
}

// pseudoDefault is the value a pseudo parameter takes locally unless refs
// says otherwise.
func pseudoDefault(name string) (string, bool) {
	switch name {
	case "AWS::Partition":
		return "aws", true
	case "AWS::Region":
		return "us-east-1", true
	case "AWS::AccountId":
		return "000000000000", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::StackName":
		return "chunkup-local", true
	}
	return "", false
}

func (t *Template) ref(name string, refs map[string]string) (any, error) {
	p, isParam := t.Parameters[name]
	v, given := refs[name]
	if !given {
		v, given = pseudoDefault(name)
	}
	if !given {
		if !isParam || p.Default == nil {
			return nil, fmt.Errorf("no value for Ref %s: not given and no parameter default", name)
		}
		s, err := scalarString(p.Default)
		if err != nil {
			return nil, fmt.Errorf("value of Ref %s: %w", name, err)
		}
		v = s
	}
	if isParam && (p.Type == "CommaDelimitedList" || strings.HasPrefix(p.Type, "List<")) {
		var out []any
		for _, s := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	}
	return v, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (t *Template) sub(arg any, refs map[string]string) (any, error) {
	format, ok := arg.(string)
	vars := map[string]any{}
	if !ok {
		args, isList := arg.([]any)
		if !isList || len(args) != 2 {
			return nil, fmt.Errorf("Fn::Sub: want a string or [string, map], got %v", arg)
		}
		if format, ok = args[0].(string); !ok {
			return nil, fmt.Errorf("Fn::Sub: %v is not a string", args[0])
		}
		for k, v := range asMap(args[1]) {
			r, err := t.Resolve(v, refs)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub %s: %w", k, err)
			}
			vars[k] = r
		}
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := vars[name]
		if !ok {
			var err error
			if v, err = t.ref(name, refs); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("Fn::Sub: %w", err)
				}
				return m
			}
		}
		s, err := scalarString(v)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		return s
	})
	if firstErr != nil {
		return nil, firstErr
	}
	// ${!Literal} writes ${Literal}.
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// scalarString renders a resolved scalar as CloudFormation would.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := scalarString(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("%v is not a scalar", v)
}
