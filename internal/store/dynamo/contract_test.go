package dynamo_test

import (
	"context"
	"testing"
	"time"

	"chunkup/internal/local/stack/stacktest"
	"chunkup/internal/store/dynamo"
	"chunkup/internal/upload"
	"chunkup/internal/upload/storetest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestContract holds the DynamoDB store, on dynalite, to the contract
// of upload.Sessions: each case on a table of its own, made from the
// repository's template.
func TestContract(t *testing.T) {
	storetest.TestSessions(t, func(t *testing.T) upload.Sessions {
		stack := stacktest.ForTest(t)
		table, _, err := stack.NewNames(t.Name())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := stack.CreateTable(ctx, stacktest.Template(t), table); err != nil {
			t.Fatal(err)
		}
		return dynamo.New(stack.NewDynamoClient(), table)
	})
}
