package stack_test

// What the session store relies on from DynamoDB, proven against dynalite.

import (
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"chunkup/internal/local/stack/stacktest"
)

func s(v string) dbtypes.AttributeValue { return &dbtypes.AttributeValueMemberS{Value: v} }
func n(v int) dbtypes.AttributeValue    { return &dbtypes.AttributeValueMemberN{Value: strconv.Itoa(v)} }

func TestDynaliteItems(t *testing.T) {
	ctx := ctxFor(t)
	stack, table, _ := stacktest.Provisioned(t)
	db := stack.NewDynamoClient()
	key := map[string]dbtypes.AttributeValue{"pk": s("upload#1"), "sk": s("session")}
	item := map[string]dbtypes.AttributeValue{
		"pk": s("upload#1"), "sk": s("session"),
		"state": s("open"), "chunks": n(0), "sweep": s("open"), "expiresAt": n(1000), "ttl": n(2000),
	}

	t.Run("conditional put creates once", func(t *testing.T) {
		put := &dynamodb.PutItemInput{
			TableName: &table, Item: item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}
		if _, err := db.PutItem(ctx, put); err != nil {
			t.Fatalf("first conditional put: %v", err)
		}
		_, err := db.PutItem(ctx, put)
		if _, ok := isConditionFailed(err); !ok {
			t.Fatalf("second conditional put: err = %v, want ConditionalCheckFailedException", err)
		}
	})

	t.Run("get", func(t *testing.T) {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := out.Item["state"].(*dbtypes.AttributeValueMemberS); st == nil || st.Value != "open" {
			t.Errorf("item = %v", out.Item)
		}
	})

	t.Run("update returns new values", func(t *testing.T) {
		out, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &table, Key: key,
			UpdateExpression:          aws.String("SET chunks = chunks + :one"),
			ConditionExpression:       aws.String("#st = :open"),
			ExpressionAttributeNames:  map[string]string{"#st": "state"},
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":one": n(1), ":open": s("open")},
			ReturnValues:              dbtypes.ReturnValueAllNew,
		})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := out.Attributes["chunks"].(*dbtypes.AttributeValueMemberN); c == nil || c.Value != "1" {
			t.Errorf("ALL_NEW attributes = %v, want chunks 1", out.Attributes)
		}
		out, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &table, Key: key,
			UpdateExpression:          aws.String("SET chunks = :five"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":five": n(5)},
			ReturnValues:              dbtypes.ReturnValueUpdatedOld,
		})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := out.Attributes["chunks"].(*dbtypes.AttributeValueMemberN); c == nil || c.Value != "1" || len(out.Attributes) != 1 {
			t.Errorf("UPDATED_OLD attributes = %v, want only chunks 1", out.Attributes)
		}
	})

	// The request parameter is accepted; whether the failed item comes back
	// in the exception is reported, not relied on: callers must re-read.
	t.Run("condition failure with ReturnValuesOnConditionCheckFailure", func(t *testing.T) {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &table, Key: key,
			UpdateExpression:                    aws.String("SET chunks = :z"),
			ConditionExpression:                 aws.String("#st = :done"),
			ExpressionAttributeNames:            map[string]string{"#st": "state"},
			ExpressionAttributeValues:           map[string]dbtypes.AttributeValue{":z": n(0), ":done": s("complete")},
			ReturnValuesOnConditionCheckFailure: dbtypes.ReturnValuesOnConditionCheckFailureAllOld,
		})
		ccf, ok := isConditionFailed(err)
		if !ok {
			t.Fatalf("err = %v, want ConditionalCheckFailedException", err)
		}
		t.Logf("dynalite returns the item with the condition failure: %v (%d attributes)", ccf.Item != nil, len(ccf.Item))
	})

	t.Run("sparse sweep index", func(t *testing.T) {
		// An item without the sweep attribute stays out of the index.
		other := map[string]dbtypes.AttributeValue{"pk": s("upload#2"), "sk": s("session"), "expiresAt": n(10)}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: other}); err != nil {
			t.Fatal(err)
		}
		out, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName: &table, IndexName: aws.String("sweep"),
			KeyConditionExpression:    aws.String("sweep = :open AND expiresAt < :now"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":open": s("open"), ":now": n(5000)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != 1 {
			t.Fatalf("sweep query found %d items, want 1: %v", len(out.Items), out.Items)
		}
		// KEYS_ONLY: table keys and index keys, nothing else.
		if _, has := out.Items[0]["state"]; has {
			t.Errorf("KEYS_ONLY index returned a non-key attribute: %v", out.Items[0])
		}
		// Removing the attribute takes the item out of the index.
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &table, Key: key, UpdateExpression: aws.String("REMOVE sweep"),
		}); err != nil {
			t.Fatal(err)
		}
		out, err = db.Query(ctx, &dynamodb.QueryInput{
			TableName: &table, IndexName: aws.String("sweep"),
			KeyConditionExpression:    aws.String("sweep = :open"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":open": s("open")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != 0 {
			t.Errorf("item still in the sparse index after REMOVE: %v", out.Items)
		}
	})

	t.Run("delete with condition and ALL_OLD", func(t *testing.T) {
		out, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &table, Key: key,
			ConditionExpression: aws.String("attribute_exists(pk)"),
			ReturnValues:        dbtypes.ReturnValueAllOld,
		})
		if err != nil {
			t.Fatal(err)
		}
		if out.Attributes["pk"] == nil {
			t.Errorf("ALL_OLD on delete returned %v", out.Attributes)
		}
		_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &table, Key: key, ConditionExpression: aws.String("attribute_exists(pk)"),
		})
		if _, ok := isConditionFailed(err); !ok {
			t.Errorf("delete of a missing item with attribute_exists: err = %v", err)
		}
	})
}

// TestDynaliteLimits checks what dynalite does not do (design.md: no
// transactions, no UpdateTimeToLive), so the engine must not need them.
func TestDynaliteLimits(t *testing.T) {
	ctx := ctxFor(t)
	stack, table, _ := stacktest.Provisioned(t)
	db := stack.NewDynamoClient()
	_, ttlErr := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &table,
		TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)},
	})
	_, txErr := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []dbtypes.TransactWriteItem{{
		Put: &dbtypes.Put{TableName: &table, Item: map[string]dbtypes.AttributeValue{"pk": s("tx"), "sk": s("tx")}},
	}}})
	for name, err := range map[string]error{"UpdateTimeToLive": ttlErr, "TransactWriteItems": txErr} {
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "UnknownOperationException" {
			t.Errorf("%s: err = %v; dynalite 4.0.0 answers UnknownOperationException (did it learn %s?)", name, err, name)
		}
	}
}
