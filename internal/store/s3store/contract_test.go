package s3store_test

import (
	"context"
	"testing"
	"time"

	"chunkup/internal/local/stack/stacktest"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
	"chunkup/internal/upload/storetest"
)

// TestContract holds the S3 store, on versitygw, to the contract of
// upload.Blobs: each case on a bucket of its own.
func TestContract(t *testing.T) {
	storetest.TestBlobs(t, func(t *testing.T) upload.Blobs {
		stack := stacktest.ForTest(t)
		_, bucket, err := stack.NewNames(t.Name())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := stack.CreateBucket(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		return s3store.New(stack.NewS3Client(), bucket)
	})
}
