package emulator

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Build settings of the Makefile's build-<LogicalId> targets (LAMBDA_ENV
// and LAMBDA_FLAGS, which a test holds these to), less the platform:
// the emulator runs the binaries on this machine, so they are built for
// runtime.GOOS/runtime.GOARCH rather than linux/arm64.
var (
	buildEnv   = []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod"}
	buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w"}
)

// SourceDir is the package a function is built from, as its
// build-<LogicalId> target names it: ./functions/receive for
// ReceiveFunction.
func SourceDir(name string) string {
	return "./functions/" + strings.ToLower(strings.TrimSuffix(name, "Function"))
}

// Build builds the bootstrap binary of each named function from the
// repository at root into dir/<name>/bootstrap, as the build-<LogicalId>
// targets build it for Lambda but for this machine's platform, with one
// go build (the GO environment variable names the go command, "go" if
// unset). It returns each binary's absolute path by name.
func Build(ctx context.Context, root, dir string, names ...string) (map[string]string, error) {
	pkgs := map[string]string{}
	for _, n := range names {
		pkgs[n] = SourceDir(n)
	}
	return build(ctx, root, dir, pkgs)
}

// build is Build for packages given by function name.
func build(ctx context.Context, root, dir string, pkgs map[string]string) (map[string]string, error) {
	names := slices.Sorted(maps.Keys(pkgs))
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", tmp+string(filepath.Separator))
	for _, n := range names {
		args = append(args, pkgs[n])
	}
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), append([]string{"GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH}, buildEnv...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s for %s/%s: %w\n%s", strings.Join(names, ", "), runtime.GOOS, runtime.GOARCH, err, out)
	}
	paths := map[string]string{}
	for _, n := range names {
		dst := filepath.Join(dir, n, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, filepath.Base(pkgs[n])), dst); err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
		paths[n] = dst
	}
	return paths, nil
}
