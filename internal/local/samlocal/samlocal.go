// Package samlocal points `sam local` at the local stores: it makes the
// env.json that `sam local start-api --env-vars env.json` (and `sam local
// invoke`) read, which gives every function of template.yaml the
// endpoints, region and keys of a running dynalite and versitygw and the
// names of the table and bucket made there, and the endpoint of the
// local EventBridge stand-in that takes uploads' events.
//
// sam local overrides only the environment variables a function declares
// (its own or Globals.Function's), so every variable written here must be
// declared in the template; on AWS they keep their declared defaults
// (empty: the real services).
package samlocal

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"chunkup/internal/local/samtemplate"
)

// Stores describes the local stores as a function's container reaches
// them.
type Stores struct {
	// DynamoEndpoint, S3Endpoint and EventsEndpoint (the local
	// EventBridge) are base URLs a container can reach, e.g.
	// http://host.docker.internal:4567.
	DynamoEndpoint, S3Endpoint, EventsEndpoint string
	// Region, AccessKey and SecretKey sign requests to both servers.
	Region, AccessKey, SecretKey string
	// Table and Bucket are the names of the table and bucket made there;
	// under sam local the template's !Ref UploadsTable and !Ref
	// UploadsBucket are only logical ids.
	Table, Bucket string
}

// Vars returns the environment variables (internal/config's names) that
// point a function at the stores.
func (s Stores) Vars() map[string]string {
	return map[string]string{
		"TABLE_NAME":                 s.Table,
		"BUCKET_NAME":                s.Bucket,
		"DYNAMODB_ENDPOINT":          s.DynamoEndpoint,
		"S3_ENDPOINT":                s.S3Endpoint,
		"EVENTS_ENDPOINT":            s.EventsEndpoint,
		"ENDPOINT_REGION":            s.Region,
		"ENDPOINT_ACCESS_KEY_ID":     s.AccessKey,
		"ENDPOINT_SECRET_ACCESS_KEY": s.SecretKey,
	}
}

// EndpointSuffix ends the name of every variable that names a service's
// endpoint (DYNAMODB_ENDPOINT, S3_ENDPOINT, EVENTS_ENDPOINT): env.json must set each one a
// function declares, or under sam local that function would reach AWS.
const EndpointSuffix = "_ENDPOINT"

// EnvVars returns env.json's content: for each function of the template,
// by logical id, the stores' variables. It is an error for a function
// not to declare one of them (sam local would drop it), for the stores to
// leave one empty, or for a function to declare an endpoint variable the
// stores do not set.
func EnvVars(tmpl *samtemplate.Template, stores Stores) (map[string]map[string]string, error) {
	vars := stores.Vars()
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if vars[k] == "" {
			return nil, fmt.Errorf("env.json: the local stores leave %s empty", k)
		}
	}
	if len(tmpl.Functions) == 0 {
		return nil, fmt.Errorf("env.json: the template has no functions")
	}
	out := make(map[string]map[string]string, len(tmpl.Functions))
	for _, f := range tmpl.Functions {
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			if _, ok := f.Environment[k]; !ok {
				return nil, fmt.Errorf("env.json: %s does not declare %s in template.yaml, so sam local would not pass it", f.LogicalID, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(f.Environment)) {
			if _, ok := vars[k]; strings.HasSuffix(k, EndpointSuffix) && !ok {
				return nil, fmt.Errorf("env.json: %s declares %s, which the local stores do not provide", f.LogicalID, k)
			}
		}
		out[f.LogicalID] = maps.Clone(vars)
	}
	return out, nil
}

// Write writes env.json's content to path.
func Write(path string, env map[string]map[string]string) error {
	data, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return fmt.Errorf("env.json: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("env.json: %w", err)
	}
	return nil
}
