package samtemplate

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const sample = `
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins:
    Type: CommaDelimitedList
    Default: "https://a.example,https://b.example"
  Size:
    Type: Number
    Default: 42
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
    Handler: bootstrap
    CodeUri: .
    Timeout: 29
    Environment:
      Variables:
        TABLE: !Ref Table
        ORIGINS: !Join [",", !Ref Origins]
        SIZE: !Ref Size
Resources:
  Zeta:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      Timeout: 5
      Environment:
        Variables:
          ARN: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/*"
          LITERAL: !Sub "${!NotAVar}-${Size}"
          PAIR: !Sub
            - "${X}-${Y}"
            - X: one
              Y: !Ref Size
      Policies:
        - S3CrudPolicy:
            BucketName: !Ref Bucket
        - Statement:
            - Effect: Allow
              Action: [s3:AbortMultipartUpload]
              Resource: !GetAtt Bucket.Arn
      Events:
        Second:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: get, Path: /b}
        First:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: "/a/{id}"}
        Third:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: any, Path: /c}
        Fourth:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: OPTIONS, Path: /c}
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
  Alpha:
    Type: AWS::Serverless::Function
    Properties:
      Architectures: [x86_64]
      Events:
        Catch:
          Type: HttpApi
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: g, AttributeType: N}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: byG
          KeySchema: [{AttributeName: g, KeyType: HASH}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a, b]}
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      Tags:
        - Key: cond
          Value: !If [IsProd, !Select [0, !Split [",", "x,y"]], !GetAtt [Table, StreamArn]]
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /a/{id}:
            post: {security: !If [IsProd, [Jwt: []], !Ref AWS::NoValue]}
          /b:
            get: {security: []}
          /c:
            x-amazon-apigateway-any-method: {security: [{Jwt: [scope]}]}
            options: {security: !If [IsProd, [], !Ref AWS::NoValue]}
`

func TestParseShortTags(t *testing.T) {
	tmpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tmpl.ResourceIDs, []string{"Zeta", "Alpha", "Table", "Bucket", "Api"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ResourceIDs = %v, want %v (document order)", got, want)
	}
	bucket, ok := tmpl.Resource("Bucket")
	if !ok {
		t.Fatal("no Bucket resource")
	}
	gotTag := bucket.Properties["Tags"].([]any)[0].(map[string]any)["Value"]
	wantTag := map[string]any{"Fn::If": []any{
		"IsProd",
		map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{",", "x,y"}}}},
		map[string]any{"Fn::GetAtt": []any{"Table", "StreamArn"}},
	}}
	if !reflect.DeepEqual(gotTag, wantTag) {
		t.Errorf("nested intrinsics = %#v, want %#v", gotTag, wantTag)
	}

	zeta, ok := tmpl.Function("Zeta")
	if !ok {
		t.Fatal("no function Zeta")
	}
	stmt := zeta.Policies[1].(map[string]any)["Statement"].([]any)[0].(map[string]any)
	if got, want := stmt["Resource"], map[string]any{"Fn::GetAtt": []any{"Bucket", "Arn"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("!GetAtt scalar = %#v, want %#v", got, want)
	}
	if got := zeta.Environment["TABLE"]; !reflect.DeepEqual(got, map[string]any{"Ref": "Table"}) {
		t.Errorf("global env TABLE = %#v, want Ref Table", got)
	}
}

func TestGlobalsMerge(t *testing.T) {
	tmpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	zeta, _ := tmpl.Function("Zeta")
	if zeta.Runtime != "provided.al2023" || zeta.Handler != "bootstrap" || zeta.CodeURI != "." {
		t.Errorf("globals not applied: runtime %q handler %q codeuri %q", zeta.Runtime, zeta.Handler, zeta.CodeURI)
	}
	if zeta.Properties["Timeout"] != 5 {
		t.Errorf("Timeout = %v, want the function's own 5", zeta.Properties["Timeout"])
	}
	if zeta.BuildMethod != "makefile" {
		t.Errorf("BuildMethod = %q", zeta.BuildMethod)
	}
	for _, k := range []string{"TABLE", "ORIGINS", "SIZE", "ARN", "LITERAL", "PAIR"} {
		if _, ok := zeta.Environment[k]; !ok {
			t.Errorf("environment lacks %s after merge: %v", k, zeta.Environment)
		}
	}
	// SAM appends lists: the global arm64 comes first.
	alpha, _ := tmpl.Function("Alpha")
	if want := []string{"arm64", "x86_64"}; !reflect.DeepEqual(alpha.Architectures, want) {
		t.Errorf("Alpha architectures = %v, want %v", alpha.Architectures, want)
	}
}

func TestRoutesAndSchedules(t *testing.T) {
	tmpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	// Public comes from the API's DefinitionBody: an operation whose
	// security names a scheme (in either branch of an Fn::If) is guarded;
	// security: [], one that resolves to [] or nothing, or no operation at
	// all (the implicit API's catch-all) is open.
	want := []Route{
		{Function: "Zeta", Event: "Second", Method: "GET", Path: "/b", API: "Api", Public: true},
		{Function: "Zeta", Event: "First", Method: "POST", Path: "/a/{id}", API: "Api"},
		{Function: "Zeta", Event: "Third", Method: "ANY", Path: "/c", API: "Api"},
		{Function: "Zeta", Event: "Fourth", Method: "OPTIONS", Path: "/c", API: "Api", Public: true},
		{Function: "Alpha", Event: "Catch", Method: "ANY", Path: "$default", Public: true},
	}
	if got := tmpl.Routes(); !reflect.DeepEqual(got, want) {
		t.Errorf("Routes() = %+v, want %+v", got, want)
	}
	if got := want[1].String(); got != "POST /a/{id}" {
		t.Errorf("route key = %q", got)
	}
	zeta, _ := tmpl.Function("Zeta")
	if !reflect.DeepEqual(zeta.Schedules, []string{"rate(1 minute)"}) {
		t.Errorf("Schedules = %v", zeta.Schedules)
	}
}

func TestEnvironment(t *testing.T) {
	tmpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	zeta, _ := tmpl.Function("Zeta")
	env, err := tmpl.Environment(zeta, map[string]string{
		"Table": "t1", "Bucket": "b1", "AWS::Partition": "aws",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"TABLE":   "t1",
		"ORIGINS": "https://a.example,https://b.example",
		"SIZE":    "42",
		"ARN":     "arn:aws:s3:::b1/*",
		"LITERAL": "${NotAVar}-42",
		"PAIR":    "one-42",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("Environment = %v, want %v", env, want)
	}
	env, err = tmpl.Environment(zeta, map[string]string{
		"Table": "t1", "Bucket": "b1", "AWS::Partition": "aws", "Origins": "*", "Size": "7",
	})
	if err != nil {
		t.Fatal(err)
	}
	if env["ORIGINS"] != "*" || env["SIZE"] != "7" {
		t.Errorf("parameter overrides not used: %v", env)
	}
	if _, err := tmpl.Environment(zeta, map[string]string{"Bucket": "b"}); err == nil || !strings.Contains(err.Error(), "Table") {
		t.Errorf("unresolvable Ref: err = %v, want one naming Table", err)
	}
}

func TestCreateTableInputSample(t *testing.T) {
	tmpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	in, err := tmpl.CreateTableInputFor("Table", "tbl")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.TableName) != "tbl" || in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("name %q billing %q", aws.ToString(in.TableName), in.BillingMode)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GSIs = %d", len(in.GlobalSecondaryIndexes))
	}
	p := in.GlobalSecondaryIndexes[0].Projection
	if p.ProjectionType != types.ProjectionTypeInclude || !reflect.DeepEqual(p.NonKeyAttributes, []string{"a", "b"}) {
		t.Errorf("projection = %+v", p)
	}
	if in.GlobalSecondaryIndexes[0].ProvisionedThroughput != nil {
		t.Error("on-demand index has provisioned throughput")
	}
	if _, err := tmpl.CreateTableInputFor("Bucket", "x"); err == nil {
		t.Error("CreateTableInputFor on a bucket: no error")
	}
	if _, err := tmpl.CreateTableInputFor("Nope", "x"); err == nil {
		t.Error("CreateTableInputFor on a missing resource: no error")
	}
}

func TestParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not yaml":      "a: [",
		"no resources":  "Parameters: {}\n",
		"top is a list": "- a\n",
		"bad getatt":    "Resources:\n  X:\n    Type: T\n    Properties: {A: !GetAtt NoDot}\n",
		"half a route": "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n" +
			"      Events:\n        E: {Type: HttpApi, Properties: {Path: /x}}\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
}
