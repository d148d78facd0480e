// Package samtemplate reads the project's AWS SAM template (template.yaml)
// so that the local stack, the local gateway and the tests use the same
// definitions as a deployment: the functions and their HTTP API routes, the
// DynamoDB table and the S3 bucket.
//
// CloudFormation short-form tags (!Ref, !Sub, !GetAtt, !Join, !If, ...) are
// read as their long form (map{"Ref": ...}, map{"Fn::Sub": ...}), so raw
// values look as they would in a JSON template.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Resource types the package knows about.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHTTPAPI  = "AWS::Serverless::HttpApi"
	TypeTable    = "AWS::DynamoDB::Table"
	TypeBucket   = "AWS::S3::Bucket"
)

// Logical ids of the resources the service is built around.
const (
	TableLogicalID  = "UploadsTable"
	BucketLogicalID = "UploadsBucket"
)

// Template is a parsed SAM template.
type Template struct {
	// Path is the file the template was read from ("" if parsed from bytes).
	Path string
	// Raw is the whole document as plain Go values.
	Raw map[string]any
	// Parameters holds the template's parameters by name.
	Parameters map[string]Parameter
	// Globals is the raw Globals section (nil if absent).
	Globals map[string]any
	// ResourceIDs lists the logical ids of Resources in document order.
	ResourceIDs []string
	// Functions lists the AWS::Serverless::Function resources in document
	// order, with Globals.Function merged in.
	Functions []Function

	resources map[string]Resource
}

// Parameter is one entry of the template's Parameters section.
type Parameter struct {
	Name    string
	Type    string
	Default any // nil when the parameter has no default
	Raw     map[string]any
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Raw        map[string]any
}

// Function is an AWS::Serverless::Function with Globals.Function applied.
type Function struct {
	LogicalID     string
	CodeURI       string
	Runtime       string
	Handler       string
	Architectures []string
	// BuildMethod is Metadata.BuildMethod ("makefile" for this project).
	BuildMethod string
	// Routes are the function's HttpApi events, in document order.
	Routes []Route
	// Schedules are the expressions of its Schedule/ScheduleV2 events,
	// e.g. "rate(15 minutes)".
	Schedules []string
	// Environment is Environment.Variables, raw (values may be intrinsics).
	Environment map[string]any
	// Policies is the Policies property, raw: SAM policy templates such as
	// map{"S3CrudPolicy": ...}, inline map{"Statement": [...]}, or names.
	Policies []any
	// Properties are all merged properties, raw.
	Properties map[string]any
	// Metadata is the resource's Metadata, raw.
	Metadata map[string]any
}

// Route is one HTTP API route of a function: Method and Path as written in
// the template (Method upper-cased), e.g. PUT /v1/uploads/{id}/chunks/{n}.
type Route struct {
	Function string // logical id of the function serving the route
	Event    string // name of the event in the function's Events
	Method   string // GET, POST, ..., or ANY
	Path     string // e.g. /v1/uploads/{id}; "$default" for a catch-all event
	// API is the logical id of the HttpApi of the event's ApiId ("" for
	// SAM's implicit API).
	API string
	// Public is set when no authorizer guards the route: its operation
	// in the API's DefinitionBody (see Template.Operation) names no
	// security requirement, in no branch of an Fn::If. The template
	// requires the JWT authorizer there, when AuthIssuer is set, on
	// every route but the CORS preflight ones.
	Public bool
}

// String renders the route as API Gateway's route key, "METHOD /path".
func (r Route) String() string {
	if r.Path == "$default" {
		return "$default"
	}
	return r.Method + " " + r.Path
}

// Load reads and parses the SAM template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SAM template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses a SAM template from YAML (or JSON) text.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse SAM template: %w", err)
	}
	rawAny, err := toValue(&doc)
	if err != nil {
		return nil, fmt.Errorf("parse SAM template: %w", err)
	}
	raw, ok := rawAny.(map[string]any)
	if !ok {
		return nil, errors.New("parse SAM template: top level is not a mapping")
	}
	t := &Template{
		Raw:        raw,
		Parameters: map[string]Parameter{},
		resources:  map[string]Resource{},
	}
	for name, p := range asMap(raw["Parameters"]) {
		pm := asMap(p)
		typ, _ := pm["Type"].(string)
		t.Parameters[name] = Parameter{Name: name, Type: typ, Default: pm["Default"], Raw: pm}
	}
	t.Globals = asMap(raw["Globals"])

	resNode := child(&doc, "Resources")
	if resNode == nil {
		return nil, errors.New("parse SAM template: no Resources section")
	}
	resources := asMap(raw["Resources"])
	t.ResourceIDs = mappingKeys(resNode)
	for _, id := range t.ResourceIDs {
		rm := asMap(resources[id])
		typ, _ := rm["Type"].(string)
		r := Resource{
			LogicalID:  id,
			Type:       typ,
			Properties: asMap(rm["Properties"]),
			Metadata:   asMap(rm["Metadata"]),
			Raw:        rm,
		}
		t.resources[id] = r
		if typ != TypeFunction {
			continue
		}
		eventsNode := child(child(child(resNode, id), "Properties"), "Events")
		fn, err := newFunction(r, asMap(t.Globals["Function"]), mappingKeys(eventsNode))
		if err != nil {
			return nil, fmt.Errorf("parse SAM template: %s: %w", id, err)
		}
		t.Functions = append(t.Functions, fn)
	}
	for i := range t.Functions {
		for j := range t.Functions[i].Routes {
			r := &t.Functions[i].Routes[j]
			r.Public = !requiresSecurity(t.Operation(*r)["security"])
		}
	}
	return t, nil
}

// Operation returns the OpenAPI operation of a route in its HttpApi's
// DefinitionBody, raw: the object under paths.<Path>.<method>, where SAM
// adds the route's integration and API Gateway reads its security
// requirement. It is nil when the API has no DefinitionBody or the body
// no such operation (SAM then adds one with the integration alone).
func (t *Template) Operation(r Route) map[string]any {
	api, ok := t.Resource(r.API)
	if !ok || api.Type != TypeHTTPAPI {
		return nil
	}
	paths := asMap(asMap(api.Properties["DefinitionBody"])["paths"])
	return asMap(asMap(paths[r.Path])[OperationKey(r.Method)])
}

// OperationKey is the key of an HTTP method's operation in an OpenAPI path
// item as API Gateway reads it: the method in lower case, and
// x-amazon-apigateway-any-method for ANY.
func OperationKey(method string) string {
	if strings.EqualFold(method, "ANY") {
		return "x-amazon-apigateway-any-method"
	}
	return strings.ToLower(method)
}

// requiresSecurity reports whether an operation's security value names a
// security scheme, in either branch of an Fn::If: a list holding a
// non-empty requirement. [] and AWS::NoValue require nothing.
func requiresSecurity(v any) bool {
	if args := asSlice(asMap(v)["Fn::If"]); len(args) == 3 {
		return requiresSecurity(args[1]) || requiresSecurity(args[2])
	}
	list, _ := v.([]any)
	for _, req := range list {
		if len(asMap(req)) > 0 {
			return true
		}
	}
	return false
}

// newFunction builds a Function from its resource and the Globals.Function
// section. eventOrder lists the event names in document order.
func newFunction(r Resource, globals map[string]any, eventOrder []string) (Function, error) {
	props := mergeGlobals(globals, r.Properties)
	f := Function{
		LogicalID:   r.LogicalID,
		Properties:  props,
		Metadata:    r.Metadata,
		Environment: asMap(asMap(props["Environment"])["Variables"]),
	}
	f.CodeURI, _ = props["CodeUri"].(string)
	f.Runtime, _ = props["Runtime"].(string)
	f.Handler, _ = props["Handler"].(string)
	f.BuildMethod, _ = r.Metadata["BuildMethod"].(string)
	for _, a := range asSlice(props["Architectures"]) {
		s, ok := a.(string)
		if !ok {
			return Function{}, fmt.Errorf("architecture %v is not a string", a)
		}
		f.Architectures = append(f.Architectures, s)
	}
	switch p := props["Policies"].(type) {
	case nil:
	case []any:
		f.Policies = p
	default: // a single policy (a name or a document)
		f.Policies = []any{p}
	}

	events := asMap(props["Events"])
	for _, name := range eventOrder {
		ev := asMap(events[name])
		typ, _ := ev["Type"].(string)
		ep := asMap(ev["Properties"])
		switch typ {
		case "HttpApi":
			method, _ := ep["Method"].(string)
			path, _ := ep["Path"].(string)
			if method == "" && path == "" {
				method, path = "ANY", "$default"
			}
			if method == "" || path == "" {
				return Function{}, fmt.Errorf("event %s: HttpApi event needs both Method and Path", name)
			}
			method = strings.ToUpper(method)
			if method == "*" {
				method = "ANY"
			}
			api, _ := asMap(ep["ApiId"])["Ref"].(string)
			f.Routes = append(f.Routes, Route{Function: r.LogicalID, Event: name, Method: method, Path: path, API: api})
		case "Schedule", "ScheduleV2":
			expr, _ := ep["Schedule"].(string)
			if typ == "ScheduleV2" {
				expr, _ = ep["ScheduleExpression"].(string)
			}
			if expr == "" {
				return Function{}, fmt.Errorf("event %s: %s event without an expression", name, typ)
			}
			f.Schedules = append(f.Schedules, expr)
		}
	}
	return f, nil
}

// mergeGlobals applies SAM's Globals rules: the resource's own scalars win,
// maps are merged key by key (recursively), lists are concatenated with the
// global entries first.
func mergeGlobals(global, own map[string]any) map[string]any {
	out := make(map[string]any, len(global)+len(own))
	for k, v := range global {
		out[k] = v
	}
	for k, v := range own {
		g, ok := out[k]
		if !ok {
			out[k] = v
			continue
		}
		gm, gIsMap := g.(map[string]any)
		om, oIsMap := v.(map[string]any)
		gl, gIsList := g.([]any)
		ol, oIsList := v.([]any)
		switch {
		case gIsMap && oIsMap && !isIntrinsic(gm) && !isIntrinsic(om):
			out[k] = mergeGlobals(gm, om)
		case gIsList && oIsList:
			out[k] = append(slices.Clone(gl), ol...)
		default:
			out[k] = v
		}
	}
	return out
}

// isIntrinsic reports whether m is an intrinsic function call ({"Ref": x},
// {"Fn::Sub": y}, ...), which must be replaced as a whole, never merged.
func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// Routes returns every HTTP API route of every function, in document order.
func (t *Template) Routes() []Route {
	var out []Route
	for _, f := range t.Functions {
		out = append(out, f.Routes...)
	}
	return out
}

// Function returns the function with the given logical id.
func (t *Template) Function(logicalID string) (Function, bool) {
	for _, f := range t.Functions {
		if f.LogicalID == logicalID {
			return f, true
		}
	}
	return Function{}, false
}

// Resource returns the resource with the given logical id.
func (t *Template) Resource(logicalID string) (Resource, bool) {
	r, ok := t.resources[logicalID]
	return r, ok
}

// ResourcesOfType returns the resources of one type in document order.
func (t *Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, id := range t.ResourceIDs {
		if r := t.resources[id]; r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// FindRoot returns the repository root: the nearest directory, from the
// working directory upwards, that holds both go.mod and template.yaml.
// Tests use it to find the template wherever `go test` runs them.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "template.yaml")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no directory above the working directory holds go.mod and template.yaml")
		}
		dir = parent
	}
}

// LoadFromRoot finds the repository root and loads its template.yaml.
func LoadFromRoot() (*Template, error) {
	root, err := FindRoot()
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, "template.yaml"))
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// asMap returns v as a map, or nil.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asSlice returns v as a list; a single non-list value becomes a list of one.
func asSlice(v any) []any {
	switch s := v.(type) {
	case nil:
		return nil
	case []any:
		return s
	default:
		return []any{s}
	}
}
