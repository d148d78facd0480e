package samlocal

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"chunkup/internal/local/samtemplate"
)

// stores is a set of local stores as a container would reach them.
var stores = Stores{
	DynamoEndpoint: "http://host.docker.internal:4567",
	S3Endpoint:     "http://host.docker.internal:7070",
	EventsEndpoint: "http://host.docker.internal:4010",
	Region:         "us-east-1",
	AccessKey:      "chunkuplocal",
	SecretKey:      "chunkuplocalsecret",
	Table:          "chunkup-uploads",
	Bucket:         "chunkup-uploads",
}

// mustSet are the variables env.json must set for every function that
// declares them: the endpoints (any *_ENDPOINT), the keys and region that
// sign requests to them, and the table and bucket, whose !Ref values are
// only logical ids under sam local.
func mustSet(name string) bool {
	return strings.HasSuffix(name, EndpointSuffix) || strings.HasPrefix(name, "ENDPOINT_") ||
		name == "TABLE_NAME" || name == "BUCKET_NAME"
}

// checkEnvFile checks env.json against the template: every function has
// an entry and nothing else does, every variable of an entry is declared
// by its function (sam local drops the others), and every declared
// variable that mustSet is set.
func checkEnvFile(tmpl *samtemplate.Template, env map[string]map[string]string) []string {
	var findings []string
	add := func(format string, args ...any) { findings = append(findings, fmt.Sprintf(format, args...)) }
	for _, f := range tmpl.Functions {
		entry, ok := env[f.LogicalID]
		if !ok {
			add("env.json has no entry for %s", f.LogicalID)
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(entry)) {
			if _, declared := f.Environment[k]; !declared {
				add("%s: env.json sets %s, which the template does not declare (sam local drops it)", f.LogicalID, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(f.Environment)) {
			if mustSet(k) && entry[k] == "" {
				add("%s: env.json leaves %s unset, so under sam local it is %v", f.LogicalID, k, f.Environment[k])
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(env)) {
		if _, ok := tmpl.Function(id); !ok {
			add("env.json has an entry for %s, which is no function of the template", id)
		}
	}
	return findings
}

func projectTemplate(t *testing.T) (*samtemplate.Template, []byte) {
	t.Helper()
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, src
}

// readBack writes env through Write and reads the file as sam local
// would.
func readBack(t *testing.T, env map[string]map[string]string) map[string]map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "env.json")
	if err := Write(path, env); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]string
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("env.json is not a map of functions to string variables: %v\n%s", err, data)
	}
	return got
}

// TestEnvFileMatchesTemplate: the env.json made for the project's
// template passes the check, and gives each function the stores.
func TestEnvFileMatchesTemplate(t *testing.T) {
	tmpl, _ := projectTemplate(t)
	env, err := EnvVars(tmpl, stores)
	if err != nil {
		t.Fatal(err)
	}
	got := readBack(t, env)
	for _, msg := range checkEnvFile(tmpl, got) {
		t.Error(msg)
	}
	for _, f := range tmpl.Functions {
		if e := got[f.LogicalID]; e["DYNAMODB_ENDPOINT"] != stores.DynamoEndpoint || e["S3_ENDPOINT"] != stores.S3Endpoint || e["EVENTS_ENDPOINT"] != stores.EventsEndpoint ||
			e["TABLE_NAME"] != stores.Table || e["BUCKET_NAME"] != stores.Bucket || e["ENDPOINT_ACCESS_KEY_ID"] != stores.AccessKey {
			t.Errorf("%s: env.json entry %v does not point at %+v", f.LogicalID, e, stores)
		}
	}
}

// TestEnvFileCheckFindsFlaws: the check fails on an env.json, or a
// template, with one flaw, naming it.
func TestEnvFileCheckFindsFlaws(t *testing.T) {
	tmpl, src := projectTemplate(t)
	good, err := EnvVars(tmpl, stores)
	if err != nil {
		t.Fatal(err)
	}
	broken := func(change func(env map[string]map[string]string)) map[string]map[string]string {
		env := map[string]map[string]string{}
		for id, e := range good {
			env[id] = maps.Clone(e)
		}
		change(env)
		return env
	}
	withVar := strings.Replace(string(src), "        S3_ENDPOINT: \"\"\n", "        S3_ENDPOINT: \"\"\n        QUEUE_ENDPOINT: \"\"\n", 1)
	moreVars, err := samtemplate.Parse([]byte(withVar))
	if err != nil || withVar == string(src) {
		t.Fatalf("template.yaml has no S3_ENDPOINT: \"\" to add a variable after (%v); update the test", err)
	}
	for _, c := range []struct {
		name    string
		tmpl    *samtemplate.Template
		env     map[string]map[string]string
		finding string
	}{
		{"a function without an entry", tmpl, broken(func(env map[string]map[string]string) { delete(env, "CheckFunction") }), "no entry for CheckFunction"},
		{"an undeclared variable", tmpl, broken(func(env map[string]map[string]string) { env["ReceiveFunction"]["AWS_REGION"] = "us-east-1" }), "ReceiveFunction: env.json sets AWS_REGION"},
		{"an endpoint left empty", tmpl, broken(func(env map[string]map[string]string) { env["CompleteFunction"]["S3_ENDPOINT"] = "" }), "CompleteFunction: env.json leaves S3_ENDPOINT unset"},
		{"the table left out", tmpl, broken(func(env map[string]map[string]string) { delete(env["CleanupFunction"], "TABLE_NAME") }), "CleanupFunction: env.json leaves TABLE_NAME unset"},
		{"an entry for no function", tmpl, broken(func(env map[string]map[string]string) { env["UploadsApi"] = map[string]string{} }), "entry for UploadsApi"},
		{"a new endpoint in the template", moreVars, good, "leaves QUEUE_ENDPOINT unset"},
	} {
		f := checkEnvFile(c.tmpl, readBack(t, c.env))
		if !slices.ContainsFunc(f, func(msg string) bool { return strings.Contains(msg, c.finding) }) {
			t.Errorf("%s: no finding mentions %q; findings: %q", c.name, c.finding, f)
		}
	}
}

// TestEnvVarsRefuses: EnvVars will not write an env.json that sam local
// would not apply, or that would leave a function on AWS's services.
func TestEnvVarsRefuses(t *testing.T) {
	tmpl, src := projectTemplate(t)
	undeclared, err := samtemplate.Parse([]byte(strings.Replace(string(src), "        ENDPOINT_REGION: \"\"\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	extra, err := samtemplate.Parse([]byte(strings.Replace(string(src), "        S3_ENDPOINT: \"\"\n", "        S3_ENDPOINT: \"\"\n        QUEUE_ENDPOINT: \"\"\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	noKey := stores
	noKey.SecretKey = ""
	for _, c := range []struct {
		name   string
		tmpl   *samtemplate.Template
		stores Stores
		want   string
	}{
		{"a variable the template does not declare", undeclared, stores, "does not declare ENDPOINT_REGION"},
		{"an endpoint the stores do not provide", extra, stores, "declares QUEUE_ENDPOINT"},
		{"a store without its key", tmpl, noKey, "leave ENDPOINT_SECRET_ACCESS_KEY empty"},
	} {
		if _, err := EnvVars(c.tmpl, c.stores); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}
