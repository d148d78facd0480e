package emulator

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"chunkup/internal/local/samtemplate"
)

// TestBuildIsTheMakefiles: Build builds as the Makefile's build-<LogicalId>
// targets do (LAMBDA_ENV less GOOS and GOARCH, LAMBDA_FLAGS), each
// function of the template from the package its target names.
func TestBuildIsTheMakefiles(t *testing.T) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(raw)
	variable := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(.*)$`).FindStringSubmatch(mk)
		if m == nil {
			t.Fatalf("Makefile has no %s", name)
		}
		return strings.TrimSpace(m[1])
	}
	// LAMBDA_ENV: the platform (here this machine's) and the rest, which
	// must be buildEnv; GOFLAGS is the Makefile's -mod=mod.
	var env []string
	for _, f := range strings.Fields(variable("LAMBDA_ENV")) {
		switch {
		case strings.HasPrefix(f, "GOOS=") || strings.HasPrefix(f, "GOARCH="):
		case strings.HasPrefix(f, "GOFLAGS="):
			env = append(env, "GOFLAGS=-mod=mod")
		default:
			env = append(env, f)
		}
	}
	if !slices.Equal(env, buildEnv) {
		t.Errorf("LAMBDA_ENV gives %v, Build uses %v", env, buildEnv)
	}
	flags := strings.ReplaceAll(variable("LAMBDA_FLAGS"), "-ldflags='-s -w'", "-ldflags=-s -w")
	if got := strings.Join(buildFlags, " "); flags != got {
		t.Errorf("LAMBDA_FLAGS is %q, Build uses %q", flags, got)
	}
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names(tmpl) {
		m := regexp.MustCompile(`(?m)^build-` + name + `:\n\t\$\(call lambda,` + name + `,([^)]+)\)`).FindStringSubmatch(mk)
		if m == nil {
			t.Errorf("Makefile has no build-%s target calling lambda", name)
			continue
		}
		if m[1] != SourceDir(name) {
			t.Errorf("build-%s builds %s, Build would build %s", name, m[1], SourceDir(name))
		}
	}
}
