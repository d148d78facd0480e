package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// intrinsicName maps a CloudFormation short-form tag to the key of its long
// form: !Ref -> Ref, !Condition -> Condition, every other !X -> Fn::X.
func intrinsicName(tag string) string {
	name := strings.TrimPrefix(tag, "!")
	switch name {
	case "Ref", "Condition":
		return name
	}
	return "Fn::" + name
}

// isShortTag reports whether a node carries a CloudFormation short-form
// tag such as !Ref or !Sub (as opposed to a YAML core tag like !!str).
func isShortTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// toValue turns a YAML node into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil). Short-form intrinsic functions become
// their long form, so `!Ref X` reads as map[string]any{"Ref": "X"} and
// `!GetAtt A.B` as map[string]any{"Fn::GetAtt": []any{"A", "B"}}.
func toValue(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.AliasNode {
		return toValue(n.Alias)
	}
	if isShortTag(n.Tag) {
		return intrinsic(n)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toValue(n.Content[0])
	case yaml.MappingNode:
		return mappingValue(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// mappingValue converts a mapping node, honouring YAML merge keys (<<).
func mappingValue(n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merged []map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Tag != "!!str") {
			src, err := toValue(vn)
			if err != nil {
				return nil, err
			}
			switch s := src.(type) {
			case map[string]any:
				merged = append(merged, s)
			case []any:
				for _, e := range s {
					if m, ok := e.(map[string]any); ok {
						merged = append(merged, m)
					}
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
		}
		v, err := toValue(vn)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Value, err)
		}
		out[k.Value] = v
	}
	for _, m := range merged {
		for k, v := range m {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// intrinsic converts a node tagged with a short-form intrinsic function.
func intrinsic(n *yaml.Node) (any, error) {
	name := intrinsicName(n.Tag)
	if n.Kind == yaml.ScalarNode {
		if name == "Fn::GetAtt" {
			// !GetAtt Resource.Attribute (the attribute may itself hold dots).
			res, attr, ok := strings.Cut(n.Value, ".")
			if !ok {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{name: []any{res, attr}}, nil
		}
		if name == "Fn::GetAZs" && n.Value == "" {
			return map[string]any{name: ""}, nil
		}
		return map[string]any{name: n.Value}, nil
	}
	// Decode the contents as if untagged, then wrap them.
	plain := *n
	plain.Tag = ""
	switch n.Kind {
	case yaml.MappingNode:
		plain.Tag = "!!map"
	case yaml.SequenceNode:
		plain.Tag = "!!seq"
	}
	v, err := toValue(&plain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Tag, err)
	}
	return map[string]any{name: v}, nil
}

// mappingKeys returns the keys of a mapping node in document order.
func mappingKeys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// child returns the value node under key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				return v.Alias
			}
			return v
		}
	}
	return nil
}
