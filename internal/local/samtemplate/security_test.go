package samtemplate

// The security review of template.yaml (issue 4: "The template passes a
// security review in a test"): what a reviewer would check by hand before
// letting the stack hold other people's files. Each check returns its
// findings, so that TestSecurityReviewFindsFlaws can show that a flawed
// template does not pass.

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// findings collects what a review found wrong.
type findings []string

func (f *findings) add(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

// securityChecks are the review's checks by name.
func securityChecks() []struct {
	name  string
	check func(*findings, *Template)
} {
	return []struct {
		name  string
		check func(*findings, *Template)
	}{
		{"bucket blocks all public access", reviewPublicAccess},
		{"bucket and table are encrypted at rest", reviewEncryption},
		{"bucket refuses requests without TLS", reviewTLSOnly},
		{"functions get least privilege", reviewFunctionPolicies},
		{"CORS is not open by default", reviewCORS},
		{"JWT authorizer is wired to its parameters", reviewAuthorizer},
		{"no route opts out of the authorizer", reviewRouteAuth},
	}
}

// review runs every check on a template.
func review(tmpl *Template) findings {
	var f findings
	for _, c := range securityChecks() {
		c.check(&f, tmpl)
	}
	return f
}

func TestProjectSecurityReview(t *testing.T) {
	tmpl, _ := loadProject(t)
	for _, c := range securityChecks() {
		t.Run(c.name, func(t *testing.T) {
			var f findings
			c.check(&f, tmpl)
			for _, msg := range f {
				t.Error(msg)
			}
		})
	}
}

// TestSecurityReviewFindsFlaws: the project's template with one flaw
// written into it fails the review, with a finding that names the flaw.
func TestSecurityReviewFindsFlaws(t *testing.T) {
	_, root := loadProject(t)
	src, err := os.ReadFile(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, finding string
	}{
		{"public ACLs allowed", "BlockPublicAcls: true", "BlockPublicAcls: false", "PublicAccessBlockConfiguration.BlockPublicAcls"},
		{"no default encryption", "SSEAlgorithm: AES256", "SSEAlgorithm: none", "SSEAlgorithm none"},
		{"table without SSE", "SSEEnabled: true", "SSEEnabled: false", "table SSESpecification"},
		{"TLS rule turned around", `aws:SecureTransport: "false"`, `aws:SecureTransport: "true"`, "no bucket policy denies requests without TLS"},
		{"TLS rule for objects only", "            Resource:\n              - !Sub \"arn:${AWS::Partition}:s3:::${UploadsBucket}\"\n              - !Sub \"arn:${AWS::Partition}:s3:::${UploadsBucket}/*\"\n            Condition:",
			"            Resource:\n              - !Sub \"arn:${AWS::Partition}:s3:::${UploadsBucket}/*\"\n            Condition:", "lacks arn:${AWS::Partition}:s3:::${UploadsBucket}"},
		{"wildcard action", "                - s3:ListMultipartUploadParts\n", "                - s3:*\n", `wildcard Action "s3:*"`},
		{"wildcard resource", `Resource: !Sub "arn:${AWS::Partition}:s3:::${UploadsBucket}/*"`, `Resource: "*"`, "is not this stack's bucket or table"},
		{"another bucket", `Resource: !Sub "arn:${AWS::Partition}:s3:::${UploadsBucket}/*"`, `Resource: !Sub "arn:${AWS::Partition}:s3:::other-bucket/*"`, "is not this stack's bucket or table"},
		{"managed policy", "      Policies:\n        - DynamoDBReadPolicy:", "      Policies:\n        - AmazonS3FullAccess\n        - DynamoDBReadPolicy:", `managed policy "AmazonS3FullAccess"`},
		{"policy template on any bucket", "        - S3CrudPolicy:\n            BucketName: !Ref UploadsBucket", "        - S3CrudPolicy:\n            BucketName: \"*\"", "S3CrudPolicy"},
		{"CORS open by default", `Default: "https://example.com"`, `Default: "*"`, "AllowedOrigins defaults to"},
		{"auth on by default", "  AuthIssuer:\n    Type: String\n    Default: \"\"", "  AuthIssuer:\n    Type: String\n    Default: \"https://issuer.example\"", "auth off by default"},
		{"condition on the audience", `AuthEnabled: !Not [!Equals [!Ref AuthIssuer, ""]]`, `AuthEnabled: !Not [!Equals [!Join ["", !Ref AuthAudience], ""]]`, "Conditions.AuthEnabled"},
		{"issuer hard-coded", "issuer: !Ref AuthIssuer", "issuer: https://issuer.example", "jwtConfiguration"},
		{"token from the query string", "identitySource: $request.header.Authorization", "identitySource: $request.querystring.token", "identitySource"},
		{"authorizer even when off", "              - !Ref AWS::NoValue\n        paths:", "              - {JwtAuthorizer: {type: oauth2}}\n        paths:", "want none at all"},
		{"authorizer as the API's Auth", "      DefinitionBody:\n", "      Auth:\n        DefaultAuthorizer: JwtAuthorizer\n      DefinitionBody:\n", "sets Auth"},
		{"a route missing from the DefinitionBody", "          /flow:\n            get: {security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}\n            post: {security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}\n",
			"          /flow:\n            get: {security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}\n", "POST /flow: security <nil>"},
		{"a route requiring nothing", "            put: {security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}\n          /v1/uploads/{id}/complete:",
			"            put: {security: !If [AuthEnabled, [], !Ref AWS::NoValue]}\n          /v1/uploads/{id}/complete:", "PUT /v1/uploads/{id}/chunks/{n}: security"},
		{"a misspelt path", "          /v1/uploads/{id}/complete:\n", "          /v1/uploads/{id}/completed:\n", "post /v1/uploads/{id}/completed belongs to no function's route"},
		{"a route opts out", "            Method: POST\n            Path: /flow\n", "            Method: POST\n            Path: /flow\n            Auth:\n              Authorizer: NONE\n", "route sets its own Auth"},
		{"preflight route behind the authorizer", "          /drf/uploads:\n", "          /drf/uploads:\n            options: {security: !If [AuthEnabled, [JwtAuthorizer: []], !Ref AWS::NoValue]}\n", "OPTIONS /drf/uploads: security"},
		{"ANY route without a preflight route", "            Method: OPTIONS\n            Path: /multipleupload/upload-chunk\n", "            Method: OPTIONS\n            Path: /multipleupload/upload-chunk-gone\n", "ANY /multipleupload/upload-chunk: no OPTIONS"},
	} {
		if !strings.Contains(string(src), c.old) {
			t.Errorf("%s: template.yaml has no %q to change; update the test", c.name, c.old)
			continue
		}
		tmpl, err := Parse([]byte(strings.Replace(string(src), c.old, c.new, 1)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		f := review(tmpl)
		if !slices.ContainsFunc(f, func(msg string) bool { return strings.Contains(msg, c.finding) }) {
			t.Errorf("%s: no finding mentions %q; findings: %q", c.name, c.finding, f)
		}
	}
}

func reviewPublicAccess(f *findings, tmpl *Template) {
	b, _ := tmpl.Resource(BucketLogicalID)
	if b.Type != TypeBucket {
		f.add("no %s bucket", BucketLogicalID)
		return
	}
	pab := asMap(b.Properties["PublicAccessBlockConfiguration"])
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			f.add("PublicAccessBlockConfiguration.%s = %v, want true", k, pab[k])
		}
	}
	// ACLs off altogether: the bucket owner owns every object.
	rules := asSlice(asMap(b.Properties["OwnershipControls"])["Rules"])
	if len(rules) != 1 || asMap(rules[0])["ObjectOwnership"] != "BucketOwnerEnforced" {
		f.add("OwnershipControls %v, want one rule ObjectOwnership: BucketOwnerEnforced", b.Properties["OwnershipControls"])
	}
	for _, k := range []string{"AccessControl", "WebsiteConfiguration"} {
		if b.Properties[k] != nil {
			f.add("bucket sets %s", k)
		}
	}
	// No bucket policy may allow anyone anything.
	for _, p := range tmpl.ResourcesOfType("AWS::S3::BucketPolicy") {
		for i, s := range policyStatements(p.Properties["PolicyDocument"]) {
			if s["Effect"] != "Deny" {
				f.add("%s statement %d: Effect %v; a bucket policy here only denies", p.LogicalID, i, s["Effect"])
			}
		}
	}
}

func reviewEncryption(f *findings, tmpl *Template) {
	b, _ := tmpl.Resource(BucketLogicalID)
	rules := asSlice(asMap(b.Properties["BucketEncryption"])["ServerSideEncryptionConfiguration"])
	if len(rules) == 0 {
		f.add("bucket has no default encryption")
	}
	for i, r := range rules {
		alg := asMap(asMap(r)["ServerSideEncryptionByDefault"])["SSEAlgorithm"]
		if !slices.Contains([]any{"AES256", "aws:kms", "aws:kms:dsse"}, alg) {
			f.add("encryption rule %d: SSEAlgorithm %v", i, alg)
		}
	}
	table, ok := tmpl.Resource(TableLogicalID)
	if !ok {
		f.add("no %s table", TableLogicalID)
		return
	}
	if sse := asMap(table.Properties["SSESpecification"]); sse["SSEEnabled"] != true {
		f.add("table SSESpecification %v, want SSEEnabled: true", sse)
	}
}

// bucketARNs are the ARNs of the bucket and of its objects, as !Sub text.
func bucketARNs() []string {
	return []string{
		"arn:${AWS::Partition}:s3:::${" + BucketLogicalID + "}",
		"arn:${AWS::Partition}:s3:::${" + BucketLogicalID + "}/*",
	}
}

func reviewTLSOnly(f *findings, tmpl *Template) {
	found := false
	for _, p := range tmpl.ResourcesOfType("AWS::S3::BucketPolicy") {
		if !refersTo(p.Properties["Bucket"], BucketLogicalID) {
			continue
		}
		for _, s := range policyStatements(p.Properties["PolicyDocument"]) {
			v := asMap(asMap(s["Condition"])["Bool"])["aws:SecureTransport"]
			if s["Effect"] != "Deny" || (v != "false" && v != false) {
				continue
			}
			found = true
			if s["Principal"] != "*" {
				f.add("TLS statement's Principal %v, want \"*\" (everyone)", s["Principal"])
			}
			if a := stringsOf(s["Action"]); !slices.Equal(a, []string{"s3:*"}) {
				f.add("TLS statement's Action %v, want s3:* (every request)", a)
			}
			var got []string
			for _, r := range asSlice(s["Resource"]) {
				got = append(got, subText(r))
			}
			for _, want := range bucketARNs() {
				if !slices.Contains(got, want) {
					f.add("TLS statement's Resource %v lacks %s", got, want)
				}
			}
		}
	}
	if !found {
		f.add("no bucket policy denies requests without TLS (aws:SecureTransport false)")
	}
}

// reviewFunctionPolicies: a function gets SAM policy templates scoped to
// this stack's table or bucket, and inline statements that allow named
// actions on this stack's resources; nothing else.
func reviewFunctionPolicies(f *findings, tmpl *Template) {
	for _, fn := range tmpl.Functions {
		if fn.Properties["Role"] != nil {
			f.add("%s: brings its own Role, which this review cannot see into", fn.LogicalID)
		}
		for _, p := range withBranches(fn.Policies) {
			if name, ok := p.(string); ok {
				f.add("%s: managed policy %q (grants beyond this stack's resources)", fn.LogicalID, name)
				continue
			}
			m := asMap(p)
			if m["Statement"] != nil {
				reviewStatements(f, fn.LogicalID, asSlice(m["Statement"]))
				continue
			}
			for name, arg := range m {
				param, target, known := samPolicyTemplate(name)
				if !known {
					f.add("%s: policy %s is not a reviewed SAM policy template", fn.LogicalID, name)
					continue
				}
				if args := asMap(arg); len(args) != 1 || !refersTo(args[param], target) {
					f.add("%s: %s %v, want only %s: !Ref %s", fn.LogicalID, name, arg, param, target)
				}
			}
		}
	}
}

// withBranches lists policies with each Fn::If among them replaced by
// both of its branches (but AWS::NoValue), as a deployment may have
// either: the grants of the application's hooks are there only when
// their functions are named.
func withBranches(policies []any) []any {
	var out []any
	for _, p := range policies {
		args := asSlice(asMap(p)["Fn::If"])
		if len(args) != 3 {
			out = append(out, p)
			continue
		}
		for _, branch := range withBranches(args[1:]) {
			if !refersTo(branch, "AWS::NoValue") {
				out = append(out, branch)
			}
		}
	}
	return out
}

// samPolicyTemplate names the SAM policy templates a function may use,
// each with the parameter that must scope it to this stack's own resource.
func samPolicyTemplate(name string) (param, target string, ok bool) {
	switch name {
	case "DynamoDBCrudPolicy", "DynamoDBReadPolicy":
		return "TableName", TableLogicalID, true
	case "S3CrudPolicy", "S3ReadPolicy":
		return "BucketName", BucketLogicalID, true
	case "EventBridgePutEventsPolicy": // events:PutEvents on the bus the deployer names, only
		return "EventBusName", "EventBusName", true
	}
	return "", "", false
}

func reviewStatements(f *findings, where string, stmts []any) {
	for i, raw := range stmts {
		checkStatement(f, fmt.Sprintf("%s statement %d", where, i), asMap(raw), ownResource)
	}
}

// ownResource reports whether a Resource names this stack's bucket (or
// its objects) or table, and nothing else.
func ownResource(r any) bool {
	if ga := asSlice(asMap(r)["Fn::GetAtt"]); len(ga) == 2 {
		return ga[0] == BucketLogicalID || ga[0] == TableLogicalID
	}
	text := subText(r)
	return slices.Contains(bucketARNs(), text) ||
		strings.HasPrefix(text, "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${"+TableLogicalID+"}")
}

// subText is the text of a !Sub without a variable map, "" for anything
// else (a plain string is refused: it names a resource outside the stack).
func subText(v any) string {
	s, _ := asMap(v)["Fn::Sub"].(string)
	return s
}

func policyStatements(doc any) []map[string]any {
	var out []map[string]any
	for _, s := range asSlice(asMap(doc)["Statement"]) {
		out = append(out, asMap(s))
	}
	return out
}

func reviewCORS(f *findings, tmpl *Template) {
	p, ok := tmpl.Parameters["AllowedOrigins"]
	if !ok {
		f.add("no AllowedOrigins parameter")
		return
	}
	if d, _ := p.Default.(string); d == "" || strings.Contains(d, "*") {
		f.add("AllowedOrigins defaults to %q: a deployment must not allow every origin unless told to", d)
	}
	for _, api := range tmpl.ResourcesOfType(TypeHTTPAPI) {
		cors := asMap(api.Properties["CorsConfiguration"])
		if !refersTo(cors["AllowOrigins"], "AllowedOrigins") {
			f.add("%s: AllowOrigins %v, want !Ref AllowedOrigins", api.LogicalID, cors["AllowOrigins"])
		}
		if cors["AllowCredentials"] == true {
			f.add("%s: AllowCredentials; tokens travel in Authorization, not cookies", api.LogicalID)
		}
	}
}

// reviewAuthorizer: AuthIssuer and AuthAudience parameters (off by
// default), the AuthEnabled condition on AuthIssuer, and an HttpApi whose
// DefinitionBody declares, when AuthEnabled, the JWT security scheme
// JwtAuthorizer reading the Authorization header with issuer and audience
// from the parameters, and no scheme otherwise. The scheme is OpenAPI
// under an Fn::If, which CloudFormation resolves; the HttpApi's own Auth
// cannot take one, since the SAM transform reads it before any condition
// is known (aws/serverless-application-model#1859).
func reviewAuthorizer(f *findings, tmpl *Template) {
	iss, ok1 := tmpl.Parameters["AuthIssuer"]
	aud, ok2 := tmpl.Parameters["AuthAudience"]
	if !ok1 || !ok2 {
		f.add("template lacks the AuthIssuer and AuthAudience parameters")
		return
	}
	if iss.Type != "String" || iss.Default != "" {
		f.add("AuthIssuer: Type %q, Default %v; want String, \"\" (auth off by default)", iss.Type, iss.Default)
	}
	if aud.Type != "CommaDelimitedList" || aud.Default != "" {
		f.add("AuthAudience: Type %q, Default %v; want CommaDelimitedList, \"\"", aud.Type, aud.Default)
	}
	wantCond := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AuthIssuer"}, ""}}}}
	if got := asMap(tmpl.Raw["Conditions"])["AuthEnabled"]; !reflect.DeepEqual(got, wantCond) {
		f.add("Conditions.AuthEnabled = %v, want %v", got, wantCond)
	}
	rule := asMap(asMap(tmpl.Raw["Rules"])["AuthNeedsAnAudience"])
	if !reflect.DeepEqual(rule["RuleCondition"], wantCond) || len(asSlice(rule["Assertions"])) == 0 {
		f.add("Rules.AuthNeedsAnAudience = %v: want an assertion on AuthAudience under the AuthEnabled condition", rule)
	}

	apis := tmpl.ResourcesOfType(TypeHTTPAPI)
	if len(apis) != 1 {
		f.add("%d HttpApi resources, want 1", len(apis))
		return
	}
	api := apis[0]
	if api.Properties["Auth"] != nil {
		f.add("%s sets Auth %v: the authorizer belongs in the DefinitionBody's securitySchemes, under Fn::If [AuthEnabled, …]", api.LogicalID, api.Properties["Auth"])
	}
	schemes := asMap(asMap(api.Properties["DefinitionBody"])["components"])["securitySchemes"]
	if on, ok := resolveIf(schemes, "AuthEnabled", true); !ok {
		f.add("securitySchemes %v is not Fn::If [AuthEnabled, …, …]", schemes)
	} else {
		reviewJWTScheme(f, on)
	}
	if off, ok := resolveIf(schemes, "AuthEnabled", false); ok && !refersTo(off, "AWS::NoValue") {
		f.add("with AuthIssuer empty, securitySchemes is %v; want none at all (!Ref AWS::NoValue)", off)
	}
	// Preflights stay unauthenticated only if the API has a CORS
	// configuration (API Gateway then answers OPTIONS itself), and browsers
	// may send a token only if Authorization is an allowed header.
	cors := asMap(api.Properties["CorsConfiguration"])
	if cors == nil {
		f.add("no CorsConfiguration: preflights would meet the authorizer")
	}
	if !slices.Contains(stringsOf(cors["AllowHeaders"]), "authorization") {
		f.add("CORS AllowHeaders %v lacks authorization", cors["AllowHeaders"])
	}
}

// authScheme is the name of the JWT security scheme every guarded route
// requires.
const authScheme = "JwtAuthorizer"

// reviewJWTScheme checks the security schemes declared when auth is on:
// the JWT authorizer alone, as API Gateway reads it from OpenAPI.
func reviewJWTScheme(f *findings, schemes any) {
	all := asMap(schemes)
	scheme := asMap(all[authScheme])
	if len(all) != 1 || scheme == nil {
		f.add("with AuthIssuer set, securitySchemes %v; want %s alone", schemes, authScheme)
		return
	}
	authorizer := asMap(scheme["x-amazon-apigateway-authorizer"])
	if scheme["type"] != "oauth2" || authorizer["type"] != "jwt" {
		f.add("%s: type %v, authorizer type %v; want oauth2 and jwt", authScheme, scheme["type"], authorizer["type"])
	}
	if authorizer["identitySource"] != "$request.header.Authorization" {
		f.add("identitySource %v, want $request.header.Authorization", authorizer["identitySource"])
	}
	jwt := asMap(authorizer["jwtConfiguration"])
	if !refersTo(jwt["issuer"], "AuthIssuer") || !refersTo(jwt["audience"], "AuthAudience") {
		f.add("jwtConfiguration %v, want issuer: !Ref AuthIssuer, audience: !Ref AuthAudience", jwt)
	}
	for _, k := range []string{"authorizerUri", "authorizerCredentials", "authorizerPayloadFormatVersion"} {
		if authorizer[k] != nil {
			f.add("authorizer sets %s: it is not a plain JWT authorizer", k)
		}
	}
}

// resolveIf evaluates v = Fn::If [cond, then, else] for the condition's
// value; ok is false when v is not such an Fn::If.
func resolveIf(v any, cond string, value bool) (chosen any, ok bool) {
	args := asSlice(asMap(v)["Fn::If"])
	if len(args) != 3 || args[0] != cond {
		return nil, false
	}
	if value {
		return args[1], true
	}
	return args[2], true
}

// guarded is the security of every operation but the preflight ones:
// the JWT authorizer when auth is on, nothing when it is off.
var guarded = map[string]any{"Fn::If": []any{
	"AuthEnabled",
	[]any{map[string]any{authScheme: []any{}}},
	map[string]any{"Ref": "AWS::NoValue"},
}}

// reviewRouteAuth is the route-coverage check: with AuthIssuer set, every
// route of the functions' Events requires the JWT authorizer. A route
// carries the requirement only through its operation in UploadsApi's
// DefinitionBody; one that is missing there is open to anyone. Only
// OPTIONS routes may be open, and every path with an ANY route needs one:
// an ANY route takes CORS preflights too, and browsers send those without
// a token. Every operation of the DefinitionBody must belong to a route:
// one that does not is a misspelt or left-over entry, and the route it
// meant is likely open.
func reviewRouteAuth(f *findings, tmpl *Template) {
	anyPaths, optionsPaths := map[string]bool{}, map[string]bool{}
	served := map[string]bool{}
	for _, fn := range tmpl.Functions {
		for _, r := range fn.Routes {
			ev := asMap(asMap(asMap(fn.Properties["Events"])[r.Event])["Properties"])
			if !refersTo(ev["ApiId"], "UploadsApi") {
				f.add("%s %s: ApiId %v, want !Ref UploadsApi (the implicit API has no authorizer)", fn.LogicalID, r, ev["ApiId"])
			}
			if ev["Auth"] != nil {
				f.add("%s %s: route sets its own Auth %v (the JWT requirement is the DefinitionBody's)", fn.LogicalID, r, ev["Auth"])
			}
			served[r.Path+" "+OperationKey(r.Method)] = true
			security := tmpl.Operation(r)["security"]
			switch {
			case r.Method == "OPTIONS" && r.Public:
				optionsPaths[r.Path] = true
			case r.Method == "OPTIONS":
				f.add("%s %s: security %v; a preflight route must need no token", fn.LogicalID, r, security)
			case !reflect.DeepEqual(security, guarded):
				f.add("%s %s: security %v in UploadsApi's DefinitionBody, want %v: without it the route is open to anyone when auth is on", fn.LogicalID, r, security, guarded)
			}
			if r.Method == "ANY" {
				anyPaths[r.Path] = true
			}
		}
	}
	for path := range anyPaths {
		if !optionsPaths[path] {
			f.add("ANY %s: no OPTIONS %s route open without a token, so its preflights meet the authorizer", path, path)
		}
	}
	api, _ := tmpl.Resource("UploadsApi")
	for path, item := range asMap(asMap(api.Properties["DefinitionBody"])["paths"]) {
		for key := range asMap(item) {
			if !served[path+" "+key] {
				f.add("DefinitionBody operation %s %s belongs to no function's route", key, path)
			}
		}
	}
}
