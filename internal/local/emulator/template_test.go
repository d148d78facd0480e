package emulator

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"chunkup/internal/local/samtemplate"
)

// TestFromTemplate: each function gets its own Timeout and MemorySize (or
// the Globals'), the template's variables with the table and bucket
// resolved, and the given environment on top.
func TestFromTemplate(t *testing.T) {
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{}
	for _, n := range Names(tmpl) {
		bins[n] = "/bin/" + n
	}
	refs := map[string]string{samtemplate.TableLogicalID: "the-table", samtemplate.BucketLogicalID: "the-bucket"}
	fns, err := FromTemplate(tmpl, bins, refs,
		map[string]string{"S3_ENDPOINT": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		timeout time.Duration
		memory  int
	}{
		"ReceiveFunction":  {29 * time.Second, 512},
		"CheckFunction":    {10 * time.Second, 128},
		"CompleteFunction": {29 * time.Second, 256},
		"CleanupFunction":  {300 * time.Second, 128},
	}
	if len(fns) != len(want) {
		t.Fatalf("%d functions, want %d", len(fns), len(want))
	}
	for _, f := range fns {
		w, ok := want[f.Name]
		if !ok || f.Timeout != w.timeout || f.MemoryMB != w.memory || f.Bootstrap != "/bin/"+f.Name {
			t.Errorf("%s: timeout %v, memory %d, bootstrap %s; want %v, %d", f.Name, f.Timeout, f.MemoryMB, f.Bootstrap, w.timeout, w.memory)
		}
		for k, v := range map[string]string{"TABLE_NAME": "the-table", "BUCKET_NAME": "the-bucket", "LOG_LEVEL": "INFO",
			"MAX_CHUNK_SIZE": "4194304", "S3_ENDPOINT": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"} {
			if f.Env[k] != v {
				t.Errorf("%s: %s=%q, want %q", f.Name, k, f.Env[k], v)
			}
		}
	}
	delete(bins, "CheckFunction")
	if _, err := FromTemplate(tmpl, bins, refs, nil); err == nil || !strings.Contains(err.Error(), "no bootstrap for CheckFunction") {
		t.Errorf("a function without a bootstrap: %v", err)
	}
}

// TestFromTemplateReservedConcurrency: each function's reserved
// concurrency is what CloudFormation would set for the parameter values:
// the defaults, others given in refs, and none where a parameter of 0
// turns the reservation off.
func TestFromTemplateReservedConcurrency(t *testing.T) {
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{}
	for _, n := range Names(tmpl) {
		bins[n] = "/bin/" + n
	}
	def := func(name string) int {
		n, err := strconv.Atoi(fmt.Sprint(tmpl.Parameters[name].Default))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		params map[string]string
		want   map[string]int
	}{
		{nil, map[string]int{"ReceiveFunction": 0, "CleanupFunction": 1,
			"CompleteFunction": def("CompleteReservedConcurrency"), "CheckFunction": def("CheckReservedConcurrency")}},
		{map[string]string{"CompleteReservedConcurrency": "3", "CheckReservedConcurrency": "0"},
			map[string]int{"ReceiveFunction": 0, "CleanupFunction": 1, "CompleteFunction": 3, "CheckFunction": 0}},
	}
	for _, c := range cases {
		refs := map[string]string{samtemplate.TableLogicalID: "t", samtemplate.BucketLogicalID: "b"}
		maps.Copy(refs, c.params)
		fns, err := FromTemplate(tmpl, bins, refs, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fns {
			if f.ReservedConcurrency != c.want[f.Name] {
				t.Errorf("%v: %s reserved concurrency %d, want %d", c.params, f.Name, f.ReservedConcurrency, c.want[f.Name])
			}
		}
	}
}
