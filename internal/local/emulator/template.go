package emulator

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"chunkup/internal/local/samtemplate"
)

// FromTemplate describes the template's functions for Start: each one's
// bootstrap from bootstraps (by logical id), its Timeout and MemorySize
// (Globals applied), and its environment: the template's variables with
// refs resolving their Refs (samtemplate.Template.Environment), then env
// on top, where the local stack's endpoints, credentials, table and bucket
// go.
func FromTemplate(tmpl *samtemplate.Template, bootstraps, refs, env map[string]string) ([]Function, error) {
	var out []Function
	for _, f := range tmpl.Functions {
		bin, ok := bootstraps[f.LogicalID]
		if !ok {
			return nil, fmt.Errorf("emulator: no bootstrap for %s", f.LogicalID)
		}
		vars, err := tmpl.Environment(f, refs)
		if err != nil {
			return nil, fmt.Errorf("emulator: %w", err)
		}
		maps.Copy(vars, env)
		timeout, err := wholeNumber(f, "Timeout")
		if err != nil {
			return nil, err
		}
		memory, err := wholeNumber(f, "MemorySize")
		if err != nil {
			return nil, err
		}
		out = append(out, Function{Name: f.LogicalID, Bootstrap: bin, Env: vars,
			Timeout: time.Duration(timeout) * time.Second, MemoryMB: memory})
	}
	return out, nil
}

// wholeNumber reads a numeric property; 0 when the function has none.
func wholeNumber(f samtemplate.Function, property string) (int, error) {
	v, ok := f.Properties[property]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("emulator: %s %s %v: want a positive whole number", f.LogicalID, property, v)
	}
	return n, nil
}

// Names returns the logical ids of the template's functions.
func Names(tmpl *samtemplate.Template) []string {
	var out []string
	for _, f := range tmpl.Functions {
		out = append(out, f.LogicalID)
	}
	return out
}

// StartTemplate builds every function of the template from the repository
// at root into dir (Build) and starts them (Start) with the environment
// FromTemplate gives them, the template's table and bucket being the given
// ones and env on top.
func StartTemplate(ctx context.Context, root string, tmpl *samtemplate.Template, dir, table, bucket string, env map[string]string, opts Options) (*Emulator, error) {
	bins, err := Build(ctx, root, dir, Names(tmpl)...)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{samtemplate.TableLogicalID: table, samtemplate.BucketLogicalID: bucket}
	fns, err := FromTemplate(tmpl, bins, refs, env)
	if err != nil {
		return nil, err
	}
	return Start(ctx, fns, opts)
}
