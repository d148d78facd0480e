package samtemplate

// These tests run the real SAM translator on template.yaml (issue 15) and
// check the CloudFormation it makes, as CloudFormation would create it for
// each auth setting: every route on the API with its function and, with
// AuthIssuer set, the JWT authorizer; least-privilege roles; the bucket
// private, encrypted and TLS-only; the table's TTL and indexes. The
// translator is Python (the aws-sam-translator package, which `sam
// validate`, cfn-lint and the AWS::Serverless transform run); where python3
// cannot import it, the tests skip and say why.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"chunkup/internal/metrics"
	"chunkup/internal/store/dynamo"
)

// translateJob is one template for testdata/sam_translate.py to translate.
type translateJob struct {
	Template   string            `json:"template"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// translateResult is the translation of one job, or the translator's
// errors.
type translateResult struct {
	CloudFormation map[string]any `json:"cloudformation"`
	Errors         []string       `json:"errors"`
}

var (
	pythonOnce sync.Once
	pythonPath string
	pythonWhy  string // why the translator cannot run, when pythonPath is ""
)

// samTranslator returns python3's path, or skips the test when python3 is
// missing or cannot import the SAM translator.
func samTranslator(t *testing.T) string {
	t.Helper()
	pythonOnce.Do(func() {
		p, err := exec.LookPath("python3")
		if err != nil {
			pythonWhy = "python3 is not on PATH"
			return
		}
		if out, err := exec.Command(p, "-c", "import samtranslator, boto3").CombinedOutput(); err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			pythonWhy = fmt.Sprintf("%s cannot import the SAM translator (pip install aws-sam-translator): %v: %s", p, err, lines[len(lines)-1])
			return
		}
		pythonPath = p
	})
	if pythonPath == "" {
		t.Skipf("SAM translator tests skipped: %s", pythonWhy)
	}
	return pythonPath
}

// translate runs the SAM translator on every job at once.
func translate(t *testing.T, jobs []translateJob) []translateResult {
	t.Helper()
	python := samTranslator(t)
	in, err := json.Marshal(map[string]any{"jobs": jobs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join("testdata", "sam_translate.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sam_translate.py: %v\n%s", err, stderr.Bytes())
	}
	var res struct {
		Results []translateResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("sam_translate.py output: %v", err)
	}
	if len(res.Results) != len(jobs) {
		t.Fatalf("sam_translate.py: %d results for %d jobs", len(res.Results), len(jobs))
	}
	return res.Results
}

// authSetting is one way to deploy: parameter values, and whether they
// turn authorization on.
type authSetting struct {
	name   string
	params map[string]string
	on     bool
}

// authSettings are the two ways to deploy: AuthIssuer empty (the
// default) and set.
var authSettings = []authSetting{
	{"auth off", nil, false},
	{"auth on", map[string]string{"AuthIssuer": "https://issuer.example.com", "AuthAudience": "chunkup-app"}, true},
}

// deployment is a translated template as CloudFormation would create it
// for one set of parameter values, with the SAM template it came from.
type deployment struct {
	tmpl      *Template
	resources map[string]any
	authOn    bool
	params    map[string]string
}

func (d deployment) resource(id string) (typ string, props map[string]any) {
	r := asMap(d.resources[id])
	typ, _ = r["Type"].(string)
	return typ, asMap(r["Properties"])
}

func (d deployment) ofType(typ string) []string {
	var ids []string
	for id := range d.resources {
		if t, _ := d.resource(id); t == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// deployedChecks are the checks of a translated template by name.
var deployedChecks = []struct {
	name  string
	check func(*findings, deployment)
}{
	{"every route on the API with its function and auth", checkDeployedRoutes},
	{"function roles grant least privilege", checkDeployedRoles},
	{"bucket private, encrypted and TLS-only", checkDeployedBucket},
	{"table TTL and indexes", checkDeployedTable},
	{"alarms on the metrics and tracing as asked", checkDeployedAlarms},
	{"S3's events of form uploads reach the cleanup function", checkFormEvents},
}

func checkDeployment(d deployment) findings {
	var f findings
	for _, c := range deployedChecks {
		c.check(&f, d)
	}
	return f
}

// TestTranslatedTemplate translates template.yaml for both auth settings
// and checks the CloudFormation that comes out.
func TestTranslatedTemplate(t *testing.T) {
	var settings []templateSetting
	for _, s := range authSettings {
		settings = append(settings, templateSetting{params: s.params, authOn: s.on})
	}
	ds := deployProject(t, settings)
	for i, s := range authSettings {
		t.Run(s.name, func(t *testing.T) {
			d := ds[i]
			for _, c := range deployedChecks {
				var f findings
				c.check(&f, d)
				for _, msg := range f {
					t.Errorf("%s: %s", c.name, msg)
				}
			}
		})
	}
}

// TestTranslatedTemplateChecksFindFlaws: the project's template with one
// flaw written into it translates (the translator takes it) but fails the
// checks, with a finding that names the flaw. The first is the one the
// route-coverage check exists for: a route left out of the
// DefinitionBody is deployed without the authorizer.
func TestTranslatedTemplateChecksFindFlaws(t *testing.T) {
	const guardedOp = "{security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}"
	off, on := authSettings[0], authSettings[1]
	cases := []struct {
		setting                 authSetting
		name, old, new, finding string
	}{
		{on, "a route left out of the DefinitionBody",
			"          /resumable:\n            get: " + guardedOp + "\n            post: " + guardedOp + "\n",
			"          /resumable:\n            get: " + guardedOp + "\n",
			"POST /resumable (ReceiveFunction): security <nil>"},
		{on, "a route whose requirement is empty",
			"          /v1/uploads/{id}:\n            get: " + guardedOp + "\n",
			"          /v1/uploads/{id}:\n            get: {security: []}\n",
			"GET /v1/uploads/{id} (CheckFunction): security []"},
		{off, "a requirement without its condition",
			"          /v1/uploads:\n            get: " + guardedOp + "\n            post: " + guardedOp + "\n",
			"          /v1/uploads:\n            get: " + guardedOp + "\n            post: {security: [JwtAuthorizer: []]}\n",
			"POST /v1/uploads (ReceiveFunction): security [map[JwtAuthorizer:[]]], want none"},
		{on, "an event's path changed, not the DefinitionBody's",
			"            Method: GET\n            Path: /flow\n",
			"            Method: GET\n            Path: /flow-check\n",
			"GET /flow-check (CheckFunction): security <nil>"},
		{on, "a wildcard resource",
			`Resource: !Sub "arn:${AWS::Partition}:s3:::${UploadsBucket}/*"`,
			`Resource: "*"`,
			`Resource "*"`},
		{on, "a wildcard action",
			"                - s3:ListMultipartUploadParts\n",
			"                - s3:*\n",
			`wildcard Action "s3:*"`},
		{on, "a write for the check function",
			"        - DynamoDBReadPolicy:\n            TableName: !Ref UploadsTable\n",
			"        - DynamoDBCrudPolicy:\n            TableName: !Ref UploadsTable\n",
			"CheckFunction: dynamodb:PutItem"},
		{on, "an owner index that projects every attribute",
			"            ProjectionType: INCLUDE\n            NonKeyAttributes: [state, dialect]\n",
			"            ProjectionType: ALL\n",
			"and the owner index"},
		{off, "an alarm on a metric the functions do not write",
			"      MetricName: EventsOwed\n",
			"      MetricName: EventsPending\n",
			"EventsOwedAlarm watches chunkup EventsPending"},
		{on, "TTL off",
			"        AttributeName: ttl\n        Enabled: true\n",
			"        AttributeName: ttl\n        Enabled: false\n",
			"TimeToLiveSpecification"},
		{on, "public policy allowed",
			"BlockPublicPolicy: true",
			"BlockPublicPolicy: false",
			"BlockPublicPolicy"},
		{off, "the bucket's events not sent to EventBridge",
			"          EventBridgeEnabled: true\n",
			"          EventBridgeEnabled: false\n",
			"EventBridge must be enabled"},
		{off, "chunkup's own completions passed to the cleanup function",
			"reason: [{anything-but: [CompleteMultipartUpload, CopyObject]}]",
			"reason: [{anything-but: [CopyObject]}]",
			"CompleteMultipartUpload left out"},
		{off, "the staged chunks passed to the cleanup function",
			"key: [{anything-but: {prefix: staging/}}]",
			"key: [{prefix: \"\"}]",
			"keys but staging/"},
	}
	var settings []templateSetting
	for _, c := range cases {
		settings = append(settings, templateSetting{params: c.setting.params, authOn: c.setting.on, old: c.old, new: c.new})
	}
	for i, d := range deployProject(t, settings) {
		if f := checkDeployment(d); !hasFinding(f, cases[i].finding) {
			t.Errorf("%s: no finding mentions %q; findings: %q", cases[i].name, cases[i].finding, f)
		}
	}
}

// deploy resolves a translation for the parameter values, failing the test
// if the translator refused the template.
// templateSetting is one translation of the project's template.yaml: its
// parameter values, whether its authorizer is on, and, for a template
// broken on purpose, a text of it replaced (old by new, once).
type templateSetting struct {
	params   map[string]string
	authOn   bool
	old, new string
}

// deployProject translates the project's template.yaml in each setting,
// in one run of the translator, and returns what each would deploy. A
// setting whose old text the template lacks fails the test: the test
// that breaks it is out of date.
func deployProject(t *testing.T, settings []templateSetting) []deployment {
	t.Helper()
	_, root := loadProject(t)
	src, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]translateJob, len(settings))
	for i, s := range settings {
		text := string(src)
		if s.old != "" {
			if !strings.Contains(text, s.old) {
				t.Fatalf("template.yaml has no %q to change; update the test", s.old)
			}
			text = strings.Replace(text, s.old, s.new, 1)
		}
		jobs[i] = translateJob{Template: text, Parameters: s.params}
	}
	results := translate(t, jobs)
	out := make([]deployment, len(settings))
	for i, s := range settings {
		tmpl, err := Parse([]byte(jobs[i].Template))
		if err != nil {
			t.Fatalf("setting %d: %v", i, err)
		}
		out[i] = deploy(t, tmpl, results[i], s.params, s.authOn)
	}
	return out
}

// hasFinding reports whether a finding mentions want.
func hasFinding(f []string, want string) bool {
	return slices.ContainsFunc(f, func(msg string) bool { return strings.Contains(msg, want) })
}

func deploy(t *testing.T, tmpl *Template, res translateResult, params map[string]string, authOn bool) deployment {
	t.Helper()
	if len(res.Errors) > 0 || res.CloudFormation == nil {
		t.Fatalf("the SAM translator refused the template: %q", res.Errors)
	}
	resources, err := deployedResources(res.CloudFormation, params)
	if err != nil {
		t.Fatal(err)
	}
	return deployment{tmpl: tmpl, resources: resources, authOn: authOn, params: params}
}

// deployedResources returns a CloudFormation template's resources as
// CloudFormation creates them for the given parameter values (the rest at
// their defaults): conditions evaluated, resources whose Condition is
// false left out, every Fn::If replaced by its chosen branch and every
// AWS::NoValue removed. Other intrinsic functions stay as written.
func deployedResources(cfn map[string]any, params map[string]string) (map[string]any, error) {
	c := conditions{cfn: cfn, params: params, values: map[string]bool{}}
	out := map[string]any{}
	for id, r := range asMap(cfn["Resources"]) {
		if name, ok := asMap(r)["Condition"].(string); ok {
			on, err := c.value(name)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", id, err)
			}
			if !on {
				continue
			}
		}
		v, _, err := c.resolve(r)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		out[id] = v
	}
	return out, nil
}

// conditions evaluates a template's Conditions for parameter values.
type conditions struct {
	cfn    map[string]any
	params map[string]string
	values map[string]bool
}

func (c conditions) value(name string) (bool, error) {
	if v, ok := c.values[name]; ok {
		return v, nil
	}
	def, ok := asMap(c.cfn["Conditions"])[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := c.eval(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	c.values[name] = v
	return v, nil
}

// eval evaluates a condition function: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, Condition.
func (c conditions) eval(v any) (bool, error) {
	m := asMap(v)
	if len(m) != 1 {
		return false, fmt.Errorf("%v is not a condition function", v)
	}
	for fn, arg := range m {
		args := asSlice(arg)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return c.value(name)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals %v: want two values", arg)
			}
			a, err := c.scalar(args[0])
			if err != nil {
				return false, err
			}
			b, err := c.scalar(args[1])
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not %v: want one condition", arg)
			}
			b, err := c.eval(args[0])
			return !b, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				b, err := c.eval(a)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		}
	}
	return false, fmt.Errorf("%v is not a condition function", v)
}

// scalar is a literal or a Ref to a parameter, as text.
func (c conditions) scalar(v any) (string, error) {
	name, isRef := asMap(v)["Ref"].(string)
	if !isRef {
		return scalarString(v)
	}
	if p, ok := c.params[name]; ok {
		return p, nil
	}
	def, ok := asMap(asMap(asMap(c.cfn["Parameters"])[name]))["Default"]
	if !ok {
		return "", fmt.Errorf("Ref %s: no value and no default", name)
	}
	return scalarString(def)
}

// resolve replaces each Fn::If by its chosen branch; keep is false when
// v resolves to AWS::NoValue and must be left out of its parent.
func (c conditions) resolve(v any) (out any, keep bool, err error) {
	switch x := v.(type) {
	case []any:
		list := make([]any, 0, len(x))
		for _, e := range x {
			r, keep, err := c.resolve(e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				list = append(list, r)
			}
		}
		return list, true, nil
	case map[string]any:
		if refersTo(x, "AWS::NoValue") {
			return nil, false, nil
		}
		if args := asSlice(x["Fn::If"]); len(x) == 1 && args != nil {
			name, _ := args[0].(string)
			if len(args) != 3 || name == "" {
				return nil, false, fmt.Errorf("Fn::If %v: want [condition, then, else]", args)
			}
			on, err := c.value(name)
			if err != nil {
				return nil, false, err
			}
			if on {
				return c.resolve(args[1])
			}
			return c.resolve(args[2])
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			r, keep, err := c.resolve(e)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", k, err)
			}
			if keep {
				m[k] = r
			}
		}
		return m, true, nil
	}
	return v, true, nil
}

// checkDeployedRoutes: the API has an operation for every route of the
// template's route table, integrated with the route's function, which
// lets only this API's route invoke it; with auth on, every route but the
// preflight ones requires the JWT authorizer, declared with the
// AuthIssuer and AuthAudience parameters; with auth off, no authorizer
// and no requirement exist. Every operation on the API is such a route.
func checkDeployedRoutes(f *findings, d deployment) {
	apis := d.ofType("AWS::ApiGatewayV2::Api")
	if !slices.Equal(apis, []string{"UploadsApi"}) {
		f.add("HTTP APIs %v, want UploadsApi alone", apis)
		return
	}
	if auths := d.ofType("AWS::ApiGatewayV2::Authorizer"); len(auths) > 0 {
		f.add("authorizer resources %v besides the API's OpenAPI", auths)
	}
	_, api := d.resource("UploadsApi")
	body := asMap(api["Body"])
	paths := asMap(body["paths"])
	routes := d.tmpl.Routes()
	if len(routes) == 0 {
		f.add("the template has no routes")
	}
	onAPI := map[string]bool{}
	for _, r := range routes {
		onAPI[r.Path+" "+OperationKey(r.Method)] = true
		op := asMap(asMap(paths[r.Path])[OperationKey(r.Method)])
		if op == nil {
			f.add("%s (%s): not on the API", r, r.Function)
			continue
		}
		in := asMap(op["x-amazon-apigateway-integration"])
		uri, _ := asMap(in["uri"])["Fn::Sub"].(string)
		if in["type"] != "aws_proxy" || in["payloadFormatVersion"] != "2.0" || !strings.Contains(uri, "/functions/${"+r.Function+".Arn}/invocations") {
			f.add("%s: integration %v, want aws_proxy 2.0 to %s", r, in, r.Function)
		}
		checkRoutePermission(f, d, r)
		security, hasSecurity := op["security"]
		switch want := []any{map[string]any{authScheme: []any{}}}; {
		case d.authOn && r.Method != "OPTIONS" && !reflect.DeepEqual(security, want):
			f.add("%s (%s): security %v, want %v: the route is open to anyone", r, r.Function, security, want)
		case (!d.authOn || r.Method == "OPTIONS") && hasSecurity && len(asSlice(security)) > 0:
			f.add("%s (%s): security %v, want none (auth on: %v)", r, r.Function, security, d.authOn)
		}
	}
	for path, item := range paths {
		for key := range asMap(item) {
			if !onAPI[path+" "+key] {
				f.add("operation %s %s is on the API but is no route of a function", key, path)
			}
		}
	}

	schemes := asMap(asMap(body["components"])["securitySchemes"])
	if !d.authOn {
		if len(schemes) > 0 {
			f.add("auth off, yet the API declares security schemes %v", schemes)
		}
		return
	}
	authorizer := asMap(asMap(schemes[authScheme])["x-amazon-apigateway-authorizer"])
	want := map[string]any{
		"type":           "jwt",
		"identitySource": "$request.header.Authorization",
		"jwtConfiguration": map[string]any{
			"issuer":   map[string]any{"Ref": "AuthIssuer"},
			"audience": map[string]any{"Ref": "AuthAudience"},
		},
	}
	if len(schemes) != 1 || !reflect.DeepEqual(authorizer, want) {
		f.add("auth on: security schemes %v, want %s alone with authorizer %v", schemes, authScheme, want)
	}
}

// checkRoutePermission: the function's invoke permission for the route
// is API Gateway's, for this API's route only (SAM names it
// <Function><Event>Permission).
func checkRoutePermission(f *findings, d deployment, r Route) {
	id := r.Function + r.Event + "Permission"
	typ, p := d.resource(id)
	if typ != "AWS::Lambda::Permission" {
		f.add("%s: no permission %s for API Gateway to invoke %s", r, id, r.Function)
		return
	}
	src := asSlice(asMap(p["SourceArn"])["Fn::Sub"])
	text, _ := src[0].(string)
	vars := map[string]any{}
	if len(src) == 2 {
		vars = asMap(src[1])
	}
	method := r.Method
	if method == "ANY" {
		method = "*"
	}
	route := method + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "*")
	if !refersTo(p["FunctionName"], r.Function) || p["Action"] != "lambda:InvokeFunction" || p["Principal"] != "apigateway.amazonaws.com" ||
		!refersTo(vars["__ApiId__"], "UploadsApi") || !strings.HasSuffix(text, "/${__Stage__}/"+route) {
		f.add("%s: permission %s = %v, want apigateway.amazonaws.com invoking %s from UploadsApi's %s only", r, id, p, r.Function, route)
	}
}

// xrayWrite is the managed policy SAM gives a traced function's role:
// writing its traces to X-Ray, and nothing else.
const xrayWrite = ":iam::aws:policy/AWSXrayWriteOnlyAccess"

// tracing reports whether the deployment asks for X-Ray tracing.
func (d deployment) tracing() bool { return d.params["Tracing"] == "Active" }

// param is v as CloudFormation gives it: a Ref to a parameter is the
// value the deployment gives it (or its default); anything else is v.
func (d deployment) param(v any) any {
	m := asMap(v)
	name, ok := m["Ref"].(string)
	if len(m) != 1 || !ok {
		return v
	}
	if given, ok := d.params[name]; ok {
		return given
	}
	if p, ok := d.tmpl.Parameters[name]; ok {
		return p.Default
	}
	return v
}

// lambdaBasicExecution is the managed policy SAM gives every function role
// it makes: writing the function's logs.
const lambdaBasicExecution = ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// readOnlyFunctions may only read: the table, the bucket's objects (to
// sign download links), and the parts of a multipart upload (a direct
// upload's status lists those its client sent there).
var readOnlyFunctions = map[string]bool{"CheckFunction": true}

// dynamoReads are the actions that change nothing that a read-only
// function may take: DynamoDB's reads, and S3's listing of parts.
var dynamoReads = []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable", "s3:ListMultipartUploadParts"}

// checkDeployedRoles: every function has a role of its own that only
// Lambda may assume; its inline statements allow named actions (no
// wildcards) on this stack's bucket, its objects and its table (with its
// indexes), and the event bus the deployer names, never "*" or anything
// else; the only managed policy is SAM's basic execution role (the
// function's logs); a read-only function gets only DynamoDB reads and
// s3:GetObject.
func checkDeployedRoles(f *findings, d deployment) {
	functions := d.ofType("AWS::Lambda::Function")
	if len(functions) == 0 {
		f.add("no Lambda functions")
	}
	for _, fn := range functions {
		_, props := d.resource(fn)
		role := asSlice(asMap(props["Role"])["Fn::GetAtt"])
		roleID, _ := role[0].(string)
		typ, rp := d.resource(roleID)
		if typ != "AWS::IAM::Role" || roleID != fn+"Role" {
			f.add("%s: role %v, want its own %sRole", fn, props["Role"], fn)
			continue
		}
		trust := policyStatements(rp["AssumeRolePolicyDocument"])
		if len(trust) != 1 || !reflect.DeepEqual(asMap(trust[0]["Principal"]), map[string]any{"Service": []any{"lambda.amazonaws.com"}}) {
			f.add("%s: role trust %v, want lambda.amazonaws.com alone", fn, trust)
		}
		for _, arn := range stringsOf(rp["ManagedPolicyArns"]) {
			if !strings.HasSuffix(arn, lambdaBasicExecution) && !(d.tracing() && strings.HasSuffix(arn, xrayWrite)) {
				f.add("%s: managed policy %s", fn, arn)
			}
		}
		for _, pol := range asSlice(rp["Policies"]) {
			for i, s := range policyStatements(asMap(pol)["PolicyDocument"]) {
				checkStatement(f, fmt.Sprintf("%s: %v statement %d", fn, asMap(pol)["PolicyName"], i), s, stackResource)
				if !readOnlyFunctions[fn] {
					continue
				}
				for _, a := range stringsOf(s["Action"]) {
					if !slices.Contains(dynamoReads, a) && a != "s3:GetObject" {
						f.add("%s: %s, but the function only reads the table and objects", fn, a)
					}
				}
			}
		}
	}
}

// checkStatement checks one statement of a function's policy: it
// allows (never denies, never by exclusion), names its actions without a
// wildcard, and names resources that own accepts: this stack's bucket, its
// objects or its table (the template's and the translation's ways of
// naming them differ, so each review brings its own).
func checkStatement(f *findings, at string, s map[string]any, own func(any) bool) {
	if s["Effect"] != "Allow" {
		f.add("%s: Effect %v in a function policy", at, s["Effect"])
	}
	for _, k := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
		if s[k] != nil {
			f.add("%s: %s in a function policy", at, k)
		}
	}
	actions := stringsOf(s["Action"])
	if len(actions) == 0 {
		f.add("%s: no Action", at)
	}
	if hookGrant(s) {
		return
	}
	for _, a := range actions {
		if strings.Contains(a, "*") {
			f.add("%s: wildcard Action %q", at, a)
		}
	}
	resources := asSlice(s["Resource"])
	if len(resources) == 0 {
		f.add("%s: no Resource", at)
	}
	for _, r := range resources {
		if !own(r) {
			f.add("%s: Resource %q is not this stack's bucket or table (or the bucket's objects)", at, fmt.Sprint(r))
		}
	}
}

// hookFunctions are the parameters that name the application's hook
// functions, the only resources outside the stack a function may act on.
var hookFunctions = []string{"PreCreateFunction", "OnCompleteFunction"}

// hookGrant reports whether statement s is the grant of an application's
// hook: lambda:InvokeFunction and nothing else, on functions named by the
// hook parameters and nothing else.
func hookGrant(s map[string]any) bool {
	resources := asSlice(s["Resource"])
	if !slices.Equal(stringsOf(s["Action"]), []string{"lambda:InvokeFunction"}) || len(resources) == 0 {
		return false
	}
	for _, r := range resources {
		ref, _ := asMap(r)["Ref"].(string)
		if !slices.Contains(hookFunctions, ref) {
			return false
		}
	}
	return true
}

// stackResource reports whether a policy's Resource is an ARN within this
// stack's bucket or table: a !Sub whose text, with its variables that Ref
// a resource written back as ${Resource}, begins with the bucket's or
// the table's ARN, or a GetAtt of either's Arn.
func stackResource(r any) bool {
	if ga := asSlice(asMap(r)["Fn::GetAtt"]); len(ga) == 2 {
		return (ga[0] == BucketLogicalID || ga[0] == TableLogicalID) && ga[1] == "Arn"
	}
	sub := asSlice(asMap(r)["Fn::Sub"])
	if len(sub) == 0 {
		return false // a literal: "*" or a resource outside the stack
	}
	text, _ := sub[0].(string)
	if len(sub) == 2 {
		for name, v := range asMap(sub[1]) {
			ref, ok := asMap(v)["Ref"].(string)
			if !ok {
				return false
			}
			text = strings.ReplaceAll(text, "${"+name+"}", "${"+ref+"}")
		}
	}
	bucket := "arn:${AWS::Partition}:s3:::${" + BucketLogicalID + "}"
	table := "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${" + TableLogicalID + "}"
	bus := "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}" // the bus the deployer names
	return text == bucket || text == bucket+"/*" || text == table || strings.HasPrefix(text, table+"/index/") || text == bus
}

// checkDeployedBucket: the bucket blocks all public access and ACLs, is
// encrypted by default, and its policy denies every request without TLS,
// on the bucket and its objects, and allows nothing.
func checkDeployedBucket(f *findings, d deployment) {
	typ, b := d.resource(BucketLogicalID)
	if typ != "AWS::S3::Bucket" {
		f.add("no bucket %s", BucketLogicalID)
		return
	}
	pab := asMap(b["PublicAccessBlockConfiguration"])
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			f.add("PublicAccessBlockConfiguration.%s = %v, want true", k, pab[k])
		}
	}
	if rules := asSlice(asMap(b["OwnershipControls"])["Rules"]); len(rules) != 1 || asMap(rules[0])["ObjectOwnership"] != "BucketOwnerEnforced" {
		f.add("OwnershipControls %v, want BucketOwnerEnforced (no ACLs)", b["OwnershipControls"])
	}
	for _, k := range []string{"AccessControl", "WebsiteConfiguration"} {
		if b[k] != nil {
			f.add("bucket sets %s", k)
		}
	}
	enc := asSlice(asMap(b["BucketEncryption"])["ServerSideEncryptionConfiguration"])
	if len(enc) == 0 {
		f.add("bucket has no default encryption")
	}
	for _, r := range enc {
		if alg := asMap(asMap(r)["ServerSideEncryptionByDefault"])["SSEAlgorithm"]; !slices.Contains([]any{"AES256", "aws:kms", "aws:kms:dsse"}, alg) {
			f.add("bucket encryption SSEAlgorithm %v", alg)
		}
	}
	tlsOnly := false
	for _, id := range d.ofType("AWS::S3::BucketPolicy") {
		_, p := d.resource(id)
		for _, s := range policyStatements(p["PolicyDocument"]) {
			if s["Effect"] != "Deny" {
				f.add("%s allows %v: the bucket policy only denies", id, s["Action"])
				continue
			}
			cond := asMap(asMap(s["Condition"])["Bool"])["aws:SecureTransport"]
			var res []string
			for _, r := range asSlice(s["Resource"]) {
				res = append(res, subText(r))
			}
			if refersTo(p["Bucket"], BucketLogicalID) && s["Principal"] == "*" && slices.Equal(stringsOf(s["Action"]), []string{"s3:*"}) &&
				(cond == "false" || cond == false) && slices.Equal(res, bucketARNs()) {
				tlsOnly = true
			}
		}
	}
	if !tlsOnly {
		f.add("no bucket policy denies everyone every request without TLS (aws:SecureTransport false) on %v", bucketARNs())
	}
}

// checkDeployedTable: the table the store needs (internal/store/dynamo):
// keys pk and sk, the sweep index (sweep, expiresAt; keys only) and no
// other, TTL on the ttl attribute, encryption, point-in-time recovery.
func checkDeployedTable(f *findings, d deployment) {
	typ, p := d.resource(TableLogicalID)
	if typ != "AWS::DynamoDB::Table" {
		f.add("no table %s", TableLogicalID)
		return
	}
	ttl := map[string]any{"AttributeName": "ttl", "Enabled": true}
	if got := asMap(p["TimeToLiveSpecification"]); !reflect.DeepEqual(got, ttl) {
		f.add("TimeToLiveSpecification %v, want %v", got, ttl)
	}
	keys := []any{
		map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
		map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
	}
	if !reflect.DeepEqual(p["KeySchema"], keys) {
		f.add("KeySchema %v, want %v", p["KeySchema"], keys)
	}
	sweep := map[string]any{
		"IndexName": dynamo.SweepIndex,
		"KeySchema": []any{
			map[string]any{"AttributeName": "sweep", "KeyType": "HASH"},
			map[string]any{"AttributeName": "expiresAt", "KeyType": "RANGE"},
		},
		"Projection": map[string]any{"ProjectionType": "KEYS_ONLY"},
	}
	// The owner index lists an owner's uploads; it projects only what a
	// listing filters by, so that a chunk's writes to a session (which
	// change neither) cost it nothing.
	owner := map[string]any{
		"IndexName": dynamo.OwnerIndex,
		"KeySchema": []any{
			map[string]any{"AttributeName": "owner", "KeyType": "HASH"},
			map[string]any{"AttributeName": "createdAt", "KeyType": "RANGE"},
		},
		"Projection": map[string]any{"ProjectionType": "INCLUDE", "NonKeyAttributes": []any{"state", "dialect"}},
	}
	if gsi := asSlice(p["GlobalSecondaryIndexes"]); len(gsi) != 2 || !reflect.DeepEqual(gsi[0], sweep) || !reflect.DeepEqual(gsi[1], owner) {
		f.add("GlobalSecondaryIndexes %v, want the sweep index %v and the owner index %v", gsi, sweep, owner)
	}
	if p["LocalSecondaryIndexes"] != nil {
		f.add("LocalSecondaryIndexes %v, want none", p["LocalSecondaryIndexes"])
	}
	if asMap(p["SSESpecification"])["SSEEnabled"] != true {
		f.add("SSESpecification %v, want SSEEnabled", p["SSESpecification"])
	}
	if asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"] != true {
		f.add("PointInTimeRecoverySpecification %v, want enabled", p["PointInTimeRecoverySpecification"])
	}
}

// alarmOn is what an alarm must watch: a metric of a namespace, by one
// dimension, summed over a period.
type alarmOn struct {
	namespace, metric, dimension string
	value                        any // the dimension's value, as the template writes it
	period                       float64
}

// checkDeployedAlarms: the alarms watch the metrics the functions write
// (their namespace, names and Stack dimension, package metrics) and the
// cleanup function's errors, and notify AlarmTopicArn exactly when it is
// set; every function is traced exactly when Tracing is Active.
func checkDeployedAlarms(f *findings, d deployment) {
	stack := map[string]any{"Ref": "AWS::StackName"}
	for id, want := range map[string]alarmOn{
		"CleanupFailingAlarm": {"AWS/Lambda", "Errors", "FunctionName", map[string]any{"Ref": "CleanupFunction"}, 900},
		"EventsOwedAlarm":     {metrics.Namespace, metrics.EventsOwed, metrics.DimensionStack, stack, 900},
	} {
		typ, p := d.resource(id)
		if typ != "AWS::CloudWatch::Alarm" {
			f.add("no alarm %s", id)
			continue
		}
		dims := []any{map[string]any{"Name": want.dimension, "Value": want.value}}
		if p["Namespace"] != want.namespace || p["MetricName"] != want.metric || !reflect.DeepEqual(p["Dimensions"], dims) ||
			p["Statistic"] != "Sum" || p["Period"] != want.period || p["Threshold"] != 1.0 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" {
			f.add("%s watches %v %v %v (%v over %v, %v %v), want the sum of %s %s by %s %v over %v at least 1",
				id, p["Namespace"], p["MetricName"], p["Dimensions"], p["Statistic"], p["Period"], p["ComparisonOperator"], p["Threshold"],
				want.namespace, want.metric, want.dimension, want.value, want.period)
		}
		checkAlarmActions(f, d, id, p)
	}
	typ, p := d.resource("FaultsAlarm")
	if typ != "AWS::CloudWatch::Alarm" {
		f.add("no alarm FaultsAlarm")
	} else {
		watched := map[string]string{}
		for _, m := range asSlice(p["Metrics"]) {
			stat := asMap(asMap(m)["MetricStat"])
			metric := asMap(stat["Metric"])
			if len(stat) == 0 {
				continue
			}
			dims := []any{map[string]any{"Name": metrics.DimensionStack, "Value": stack}}
			if metric["Namespace"] != metrics.Namespace || !reflect.DeepEqual(metric["Dimensions"], dims) || stat["Stat"] != "Sum" {
				f.add("FaultsAlarm: metric %v, want a sum in %s by this stack", stat, metrics.Namespace)
			}
			id, _ := asMap(m)["Id"].(string)
			watched[id], _ = metric["MetricName"].(string)
		}
		if watched["faults"] != metrics.RetryableFaults || watched["requests"] != metrics.Requests {
			f.add("FaultsAlarm watches %v, want faults %s and requests %s", watched, metrics.RetryableFaults, metrics.Requests)
		}
		if !reflect.DeepEqual(p["Threshold"], map[string]any{"Ref": "FaultAlarmPercent"}) {
			f.add("FaultsAlarm: threshold %v, want FaultAlarmPercent", p["Threshold"])
		}
		checkAlarmActions(f, d, "FaultsAlarm", p)
	}
	for _, fn := range d.ofType("AWS::Lambda::Function") {
		_, props := d.resource(fn)
		mode := d.param(asMap(props["TracingConfig"])["Mode"])
		switch {
		case d.tracing() && mode != "Active":
			f.add("%s: TracingConfig %v with Tracing Active", fn, props["TracingConfig"])
		case !d.tracing() && props["TracingConfig"] != nil:
			f.add("%s: TracingConfig %v without Tracing Active", fn, props["TracingConfig"])
		}
	}
}

// checkAlarmActions: an alarm notifies AlarmTopicArn when it goes off
// and when it clears, if the deployer named one, and nothing otherwise.
func checkAlarmActions(f *findings, d deployment, id string, p map[string]any) {
	topic := d.params["AlarmTopicArn"]
	for _, k := range []string{"AlarmActions", "OKActions"} {
		var got []string
		for _, a := range asSlice(p[k]) {
			s, _ := d.param(a).(string)
			got = append(got, s)
		}
		if (topic == "" && len(got) != 0) || (topic != "" && !slices.Equal(got, []string{topic})) {
			f.add("%s: %s %v, want %q", id, k, got, topic)
		}
	}
}

// TestTranslatedTemplateTracingAndAlarms: with Tracing Active and an
// alarm topic, every function is traced (and may write to X-Ray only) and
// every alarm notifies the topic; by default neither.
func TestTranslatedTemplateTracingAndAlarms(t *testing.T) {
	settings := []map[string]string{
		nil,
		{"Tracing": "Active", "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:chunkup-alarms"},
	}
	ds := deployProject(t, []templateSetting{{params: settings[0]}, {params: settings[1]}})
	for i, p := range settings {
		d := ds[i]
		var f findings
		checkDeployedAlarms(&f, d)
		checkDeployedRoles(&f, d)
		for _, msg := range f {
			t.Errorf("%v: %s", p, msg)
		}
		traced := 0
		for _, fn := range d.ofType("AWS::Lambda::Function") {
			_, props := d.resource(fn)
			if d.param(asMap(props["TracingConfig"])["Mode"]) == "Active" {
				traced++
			}
		}
		if want := map[bool]int{true: 4, false: 0}[d.tracing()]; traced != want {
			t.Errorf("%v: %d functions traced, want %d", p, traced, want)
		}
	}
}

// checkFormEvents: the bucket sends its events to EventBridge, and a rule
// passes S3's Object Created events of this bucket's objects, but not of
// its staged chunks (under staging/) nor chunkup's own completions, to
// the cleanup function, which EventBridge may invoke. (A form upload's
// key is under uploads/ or a prefix the pre-create hook chose.)
func checkFormEvents(f *findings, d deployment) {
	_, b := d.resource(BucketLogicalID)
	if on := asMap(asMap(b["NotificationConfiguration"])["EventBridgeConfiguration"])["EventBridgeEnabled"]; on != true && on != "true" {
		f.add("bucket NotificationConfiguration %v: EventBridge must be enabled", b["NotificationConfiguration"])
	}
	var rules []string
	for _, id := range d.ofType("AWS::Events::Rule") {
		_, r := d.resource(id)
		p := asMap(r["EventPattern"])
		detail := asMap(p["detail"])
		if !slices.Equal(stringsOf(p["source"]), []string{"aws.s3"}) {
			continue
		}
		rules = append(rules, id)
		names := asSlice(asMap(detail["bucket"])["name"])
		keys := asSlice(asMap(detail["object"])["key"])
		reasons := asSlice(detail["reason"])
		excluded := []string{}
		if len(reasons) == 1 {
			excluded = stringsOf(asMap(reasons[0])["anything-but"])
		}
		if !slices.Equal(stringsOf(p["detail-type"]), []string{"Object Created"}) || len(names) != 1 || !refersTo(names[0], BucketLogicalID) ||
			len(keys) != 1 || asMap(asMap(keys[0])["anything-but"])["prefix"] != "staging/" || !slices.Contains(excluded, "CompleteMultipartUpload") {
			f.add("rule %s pattern %v: want Object Created of the bucket's keys but staging/, CompleteMultipartUpload left out", id, p)
		}
		targets := asSlice(r["Targets"])
		if len(targets) != 1 || !strings.Contains(fmt.Sprint(asMap(targets[0])["Arn"]), "CleanupFunction") {
			f.add("rule %s targets %v, want the cleanup function", id, targets)
		}
	}
	if len(rules) != 1 {
		f.add("%d rules take S3's events (%v), want one", len(rules), rules)
		return
	}
	for _, id := range d.ofType("AWS::Lambda::Permission") {
		_, p := d.resource(id)
		if p["Principal"] == "events.amazonaws.com" && strings.Contains(fmt.Sprint(p["SourceArn"]), rules[0]) && strings.Contains(fmt.Sprint(p["FunctionName"]), "CleanupFunction") {
			return
		}
	}
	f.add("no permission lets rule %s invoke the cleanup function", rules[0])
}
