package samtemplate

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTableInput builds a DynamoDB CreateTable request named tableName
// from the UploadsTable resource: attribute definitions, key schema, global
// and local secondary indexes (with their projections) and billing mode.
// Settings CreateTable cannot carry (TTL, point-in-time recovery) are left
// out; TTL is set on AWS by the template only.
func (t *Template) CreateTableInput(tableName string) (*dynamodb.CreateTableInput, error) {
	return t.CreateTableInputFor(TableLogicalID, tableName)
}

// CreateTableInputFor is CreateTableInput for any AWS::DynamoDB::Table
// resource of the template.
func (t *Template) CreateTableInputFor(logicalID, tableName string) (*dynamodb.CreateTableInput, error) {
	r, ok := t.Resource(logicalID)
	if !ok {
		return nil, fmt.Errorf("create table input: no resource %s in the template", logicalID)
	}
	if r.Type != TypeTable {
		return nil, fmt.Errorf("create table input: %s is a %s, not a %s", logicalID, r.Type, TypeTable)
	}
	if tableName == "" {
		return nil, errors.New("create table input: empty table name")
	}
	p := r.Properties
	in := &dynamodb.CreateTableInput{TableName: aws.String(tableName)}

	for i, a := range asSlice(p["AttributeDefinitions"]) {
		am := asMap(a)
		name, err := str(am, "AttributeName")
		if err != nil {
			return nil, fmt.Errorf("create table input: AttributeDefinitions[%d]: %w", i, err)
		}
		typ, err := str(am, "AttributeType")
		if err != nil {
			return nil, fmt.Errorf("create table input: AttributeDefinitions[%d]: %w", i, err)
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name),
			AttributeType: types.ScalarAttributeType(typ),
		})
	}
	ks, err := keySchema(p["KeySchema"])
	if err != nil {
		return nil, fmt.Errorf("create table input: KeySchema: %w", err)
	}
	in.KeySchema = ks

	provisioned := false
	switch mode, _ := p["BillingMode"].(string); mode {
	case "", string(types.BillingModeProvisioned):
		if p["ProvisionedThroughput"] == nil {
			// No throughput given: on-demand is the only thing that can work.
			in.BillingMode = types.BillingModePayPerRequest
			break
		}
		in.BillingMode = types.BillingModeProvisioned
		provisioned = true
		if in.ProvisionedThroughput, err = throughput(p["ProvisionedThroughput"]); err != nil {
			return nil, fmt.Errorf("create table input: %w", err)
		}
	case string(types.BillingModePayPerRequest):
		in.BillingMode = types.BillingModePayPerRequest
	default:
		return nil, fmt.Errorf("create table input: unknown BillingMode %q", mode)
	}

	for i, g := range asSlice(p["GlobalSecondaryIndexes"]) {
		gm := asMap(g)
		name, ks, proj, err := index(gm)
		if err != nil {
			return nil, fmt.Errorf("create table input: GlobalSecondaryIndexes[%d]: %w", i, err)
		}
		gsi := types.GlobalSecondaryIndex{IndexName: aws.String(name), KeySchema: ks, Projection: proj}
		if provisioned {
			if gsi.ProvisionedThroughput, err = throughput(gm["ProvisionedThroughput"]); err != nil {
				return nil, fmt.Errorf("create table input: index %s: %w", name, err)
			}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for i, l := range asSlice(p["LocalSecondaryIndexes"]) {
		name, ks, proj, err := index(asMap(l))
		if err != nil {
			return nil, fmt.Errorf("create table input: LocalSecondaryIndexes[%d]: %w", i, err)
		}
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName: aws.String(name), KeySchema: ks, Projection: proj,
		})
	}
	return in, nil
}

// TimeToLive returns the table's TTL attribute and whether TTL is enabled.
func (t *Template) TimeToLive() (attribute string, enabled bool) {
	r, _ := t.Resource(TableLogicalID)
	spec := asMap(r.Properties["TimeToLiveSpecification"])
	attribute, _ = spec["AttributeName"].(string)
	enabled, _ = spec["Enabled"].(bool)
	return attribute, enabled
}

func index(m map[string]any) (string, []types.KeySchemaElement, *types.Projection, error) {
	name, err := str(m, "IndexName")
	if err != nil {
		return "", nil, nil, err
	}
	ks, err := keySchema(m["KeySchema"])
	if err != nil {
		return "", nil, nil, fmt.Errorf("index %s: KeySchema: %w", name, err)
	}
	pm := asMap(m["Projection"])
	if pm == nil {
		return "", nil, nil, fmt.Errorf("index %s: no Projection", name)
	}
	proj := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	if pt, _ := pm["ProjectionType"].(string); pt != "" {
		proj.ProjectionType = types.ProjectionType(pt)
	}
	for _, a := range asSlice(pm["NonKeyAttributes"]) {
		s, ok := a.(string)
		if !ok {
			return "", nil, nil, fmt.Errorf("index %s: NonKeyAttributes entry %v is not a string", name, a)
		}
		proj.NonKeyAttributes = append(proj.NonKeyAttributes, s)
	}
	return name, ks, proj, nil
}

func keySchema(v any) ([]types.KeySchemaElement, error) {
	list := asSlice(v)
	if len(list) == 0 {
		return nil, errors.New("empty")
	}
	out := make([]types.KeySchemaElement, 0, len(list))
	for i, e := range list {
		em := asMap(e)
		name, err := str(em, "AttributeName")
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		typ, err := str(em, "KeyType")
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyType(typ)})
	}
	return out, nil
}

func throughput(v any) (*types.ProvisionedThroughput, error) {
	m := asMap(v)
	if m == nil {
		return nil, errors.New("provisioned billing without ProvisionedThroughput")
	}
	r, err := integer(m["ReadCapacityUnits"])
	if err != nil {
		return nil, fmt.Errorf("ReadCapacityUnits: %w", err)
	}
	w, err := integer(m["WriteCapacityUnits"])
	if err != nil {
		return nil, fmt.Errorf("WriteCapacityUnits: %w", err)
	}
	return &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(r), WriteCapacityUnits: aws.Int64(w)}, nil
}

// str returns m[key] as a non-empty literal string; an intrinsic function or
// any other value is an error (the local stack cannot evaluate those).
func str(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", fmt.Errorf("%s missing", key)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s: want a literal string, got %v", key, v)
	}
	return s, nil
}

func integer(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer: %w", err)
		}
		return i, nil
	}
	return 0, fmt.Errorf("want an integer, got %v", v)
}
