package samtemplate

// These tests check the project's own template.yaml against what the
// design requires (issue 2: "template.yaml is checked by a test").

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

// loadProject loads the repository's template.yaml and returns it with the
// repository root.
func loadProject(t *testing.T) (*Template, string) {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, root
}

// wantFunctions are the four functions of the design and their directories.
var wantFunctions = map[string]string{
	"ReceiveFunction":  "receive",
	"CheckFunction":    "check",
	"CompleteFunction": "complete",
	"CleanupFunction":  "cleanup",
}

func TestProjectFunctionsBuildSettings(t *testing.T) {
	tmpl, _ := loadProject(t)
	var ids []string
	for _, f := range tmpl.Functions {
		ids = append(ids, f.LogicalID)
		if f.BuildMethod != "makefile" {
			t.Errorf("%s: BuildMethod %q, want makefile", f.LogicalID, f.BuildMethod)
		}
		if f.Runtime != "provided.al2023" {
			t.Errorf("%s: Runtime %q, want provided.al2023", f.LogicalID, f.Runtime)
		}
		if !slices.Equal(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s: Architectures %v, want [arm64]", f.LogicalID, f.Architectures)
		}
		if f.Handler != "bootstrap" {
			t.Errorf("%s: Handler %q, want bootstrap", f.LogicalID, f.Handler)
		}
		if f.CodeURI != "." {
			t.Errorf("%s: CodeUri %q, want .", f.LogicalID, f.CodeURI)
		}
	}
	for id := range wantFunctions {
		if !slices.Contains(ids, id) {
			t.Errorf("template has no %s (functions: %v)", id, ids)
		}
	}
}

// makeTargets returns, for each target of the form build-X in the
// Makefile, the text of its recipe.
func makeTargets(t *testing.T, root string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	targets := map[string]string{}
	header := regexp.MustCompile(`^(build-[A-Za-z0-9]+)\s*:`)
	current := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := header.FindStringSubmatch(line); m != nil {
			current = m[1]
			targets[current] += ""
			continue
		}
		if current != "" && strings.HasPrefix(line, "\t") {
			targets[current] += line + "\n"
			continue
		}
		current = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return targets
}

func TestProjectMakefileTargets(t *testing.T) {
	tmpl, root := loadProject(t)
	targets := makeTargets(t, root)
	for _, f := range tmpl.Functions {
		target := "build-" + f.LogicalID
		recipe, ok := targets[target]
		if !ok {
			t.Errorf("Makefile has no %s: target (sam build calls it)", target)
			continue
		}
		m := regexp.MustCompile(`\./functions/([a-z0-9_-]+)`).FindStringSubmatch(recipe)
		if m == nil {
			t.Errorf("%s: recipe names no ./functions/<dir>:\n%s", target, recipe)
			continue
		}
		if want, ok := wantFunctions[f.LogicalID]; ok && m[1] != want {
			t.Errorf("%s builds ./functions/%s, want ./functions/%s", target, m[1], want)
		}
		if _, err := os.Stat(filepath.Join(root, "functions", m[1], "main.go")); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

func TestProjectRoutesUnique(t *testing.T) {
	tmpl, _ := loadProject(t)
	routes := tmpl.Routes()
	if len(routes) == 0 {
		t.Fatal("template declares no HttpApi routes")
	}
	seen := map[string]string{}
	for _, r := range routes {
		key := r.String()
		if other, dup := seen[key]; dup {
			t.Errorf("route %s declared by %s and %s", key, other, r.Function)
		}
		seen[key] = r.Function
		if !strings.HasPrefix(r.Path, "/") {
			t.Errorf("route %s: path does not start with /", key)
		}
	}
}

func TestProjectCleanupSchedule(t *testing.T) {
	tmpl, _ := loadProject(t)
	f, ok := tmpl.Function("CleanupFunction")
	if !ok {
		t.Fatal("no CleanupFunction")
	}
	if len(f.Schedules) == 0 {
		t.Error("CleanupFunction has no Schedule event")
	}
	if len(f.Routes) != 0 {
		t.Errorf("CleanupFunction should serve no HTTP routes, has %v", f.Routes)
	}
}

// statements returns the inline policy statements of a function.
func statements(f Function) []map[string]any {
	var out []map[string]any
	for _, p := range f.Policies {
		for _, s := range asSlice(asMap(p)["Statement"]) {
			out = append(out, asMap(s))
		}
	}
	return out
}

// strings of an Action or Resource value (single value or list); intrinsic
// functions are rendered with %v so a wildcard inside them still shows.
func stringsOf(v any) []string {
	var out []string
	for _, e := range asSlice(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		} else {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// hasS3PolicyTemplate reports whether f has one of SAM's S3 policy
// templates (S3CrudPolicy and the like).
func hasS3PolicyTemplate(f Function) bool {
	for _, p := range f.Policies {
		for name := range asMap(p) {
			if strings.HasPrefix(name, "S3") {
				return true
			}
		}
	}
	return false
}

func allowedActions(f Function) []string {
	var out []string
	for _, s := range statements(f) {
		if s["Effect"] == "Allow" {
			out = append(out, stringsOf(s["Action"])...)
		}
	}
	return out
}

func TestProjectMultipartPermissions(t *testing.T) {
	tmpl, _ := loadProject(t)
	s3Users := 0
	for _, f := range tmpl.Functions {
		// What S3CrudPolicy lacks; a function whose only S3 access is an
		// inline statement (CheckFunction's listing of a direct upload's
		// parts) has just what that statement allows.
		if !hasS3PolicyTemplate(f) {
			continue
		}
		s3Users++
		actions := allowedActions(f)
		want := []string{"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}
		if f.LogicalID == "CleanupFunction" {
			want = append(want, "s3:ListBucketMultipartUploads")
		}
		for _, a := range want {
			if !slices.Contains(actions, a) {
				t.Errorf("%s uses S3 but no inline statement allows %s (S3CrudPolicy lacks it)", f.LogicalID, a)
			}
		}
	}
	if s3Users == 0 {
		t.Error("no function has S3 access")
	}
}

func TestProjectTable(t *testing.T) {
	tmpl, _ := loadProject(t)
	attr, enabled := tmpl.TimeToLive()
	if attr != "ttl" || !enabled {
		t.Errorf("table TTL = (%q, %v), want (ttl, true)", attr, enabled)
	}
	in, err := tmpl.CreateTableInput("uploads")
	if err != nil {
		t.Fatal(err)
	}
	if in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("BillingMode %q, want PAY_PER_REQUEST", in.BillingMode)
	}
	var sweep *types.GlobalSecondaryIndex
	for i := range in.GlobalSecondaryIndexes {
		if aws.ToString(in.GlobalSecondaryIndexes[i].IndexName) == "sweep" {
			sweep = &in.GlobalSecondaryIndexes[i]
		}
	}
	if sweep == nil {
		t.Fatalf("table has no sweep index: %+v", in.GlobalSecondaryIndexes)
	}
	if sweep.Projection == nil || sweep.Projection.ProjectionType == "" {
		t.Error("sweep index has no projection")
	}
	defined := map[string]bool{}
	for _, a := range in.AttributeDefinitions {
		defined[aws.ToString(a.AttributeName)] = true
	}
	keys := slices.Clone(in.KeySchema)
	for _, g := range in.GlobalSecondaryIndexes {
		keys = append(keys, g.KeySchema...)
	}
	used := map[string]bool{}
	for _, k := range keys {
		name := aws.ToString(k.AttributeName)
		used[name] = true
		if !defined[name] {
			t.Errorf("key attribute %s has no AttributeDefinition", name)
		}
	}
	for name := range defined {
		if !used[name] {
			// DynamoDB rejects definitions of attributes no key uses.
			t.Errorf("attribute %s is defined but is no key", name)
		}
	}
	if defined["ttl"] {
		t.Error("ttl must not be a key attribute")
	}
}

// TestProjectBucket checks the bucket's lifecycle rules; its security
// settings are in TestProjectSecurityReview.
func TestProjectBucket(t *testing.T) {
	tmpl, _ := loadProject(t)
	b, ok := tmpl.Resource(BucketLogicalID)
	if !ok || b.Type != TypeBucket {
		t.Fatalf("no %s bucket resource", BucketLogicalID)
	}
	var abortDays, stagingDays any
	for _, r := range asSlice(asMap(b.Properties["LifecycleConfiguration"])["Rules"]) {
		rule := asMap(r)
		if rule["Status"] != "Enabled" {
			continue
		}
		if a := asMap(rule["AbortIncompleteMultipartUpload"]); a != nil {
			abortDays = a["DaysAfterInitiation"]
		}
		prefix, _ := rule["Prefix"].(string)
		if prefix == "" {
			prefix, _ = asMap(rule["Filter"])["Prefix"].(string)
		}
		if prefix == "staging/" && rule["ExpirationInDays"] != nil {
			stagingDays = rule["ExpirationInDays"]
		}
	}
	if abortDays == nil {
		t.Error("no enabled lifecycle rule aborts incomplete multipart uploads")
	}
	if stagingDays == nil {
		t.Error("no enabled lifecycle rule expires the staging/ prefix")
	}
	// The rules' days are the upload lifetime the functions enforce: an
	// upload kept open longer would lose its data to them.
	const lifetime = "UploadLifetimeDays"
	if !refersTo(abortDays, lifetime) || !refersTo(stagingDays, lifetime) {
		t.Errorf("lifecycle days %v and %v, want both a Ref to %s", abortDays, stagingDays, lifetime)
	}
	for _, f := range tmpl.Functions {
		if !refersTo(f.Environment["UPLOAD_LIFETIME_DAYS"], lifetime) {
			t.Errorf("%s: UPLOAD_LIFETIME_DAYS is %v, want a Ref to %s", f.LogicalID, f.Environment["UPLOAD_LIFETIME_DAYS"], lifetime)
		}
	}
	p, ok := tmpl.Parameters[lifetime]
	if !ok {
		t.Fatalf("no %s parameter", lifetime)
	}
	days, err := strconv.Atoi(fmt.Sprint(p.Default))
	if err != nil || upload.LifetimeOf(days) != upload.DefaultOptions().MaxLifetime {
		t.Errorf("%s defaults to %v: the engine's default lifetime %v is not that less an hour", lifetime, p.Default, upload.DefaultOptions().MaxLifetime)
	}
}

// refersTo reports whether v is a Ref to logicalID.
func refersTo(v any, logicalID string) bool {
	return asMap(v)["Ref"] == logicalID
}

// tomlTables reads the simple TOML of samconfig.toml: [table] headers and
// key = value lines (values kept as written, quotes and all).
func tomlTables(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]map[string]string{"": {}}
	current := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			current = strings.Trim(line, "[]")
			tables[current] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: not key = value: %q", path, i+1, line)
			}
			tables[current][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return tables
}

func TestProjectSAMConfig(t *testing.T) {
	tmpl, root := loadProject(t)
	tables := tomlTables(t, filepath.Join(root, "samconfig.toml"))
	if tables[""]["version"] != "0.1" {
		t.Errorf("version = %q, want 0.1", tables[""]["version"])
	}
	deploy := tables["default.deploy.parameters"]
	for k, want := range map[string]string{
		"stack_name":        `"chunkup"`,
		"resolve_s3":        "true",
		"capabilities":      `"CAPABILITY_IAM"`,
		"confirm_changeset": "true",
	} {
		if deploy[k] != want {
			t.Errorf("[default.deploy.parameters] %s = %q, want %s", k, deploy[k], want)
		}
	}
	if deploy["region"] == "" {
		t.Error("[default.deploy.parameters] has no region")
	}
	// Every parameter overridden must exist in the template.
	overrides := strings.Trim(deploy["parameter_overrides"], `"`)
	for _, m := range regexp.MustCompile(`([A-Za-z0-9]+)=`).FindAllStringSubmatch(overrides, -1) {
		if _, ok := tmpl.Parameters[m[1]]; !ok {
			t.Errorf("parameter_overrides names %s, which template.yaml does not declare", m[1])
		}
	}
	if !strings.Contains(overrides, "AllowedOrigins=") {
		t.Error("parameter_overrides does not set AllowedOrigins")
	}
	if b := tables["default.build.parameters"]; b["cached"] != "true" || b["parallel"] != "true" {
		t.Errorf("[default.build.parameters] = %v, want cached and parallel", b)
	}
	// sam validate lints; a template with AWS::LanguageExtensions would
	// need language_extensions = true for it to resolve them first.
	validate := tables["default.validate.parameters"]
	if validate["lint"] != "true" {
		t.Errorf("[default.validate.parameters] lint = %q, want true", validate["lint"])
	}
	if slices.Contains(asSlice(tmpl.Raw["Transform"]), any("AWS::LanguageExtensions")) && validate["language_extensions"] != "true" {
		t.Error("template.yaml uses AWS::LanguageExtensions but [default.validate.parameters] lacks language_extensions = true")
	}
}
