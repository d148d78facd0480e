package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"chunkup/internal/wire/crc64nvme"
)

// rawResult is one raw multipart upload straight to S3: the ceiling.
type rawResult struct {
	Total    time.Duration
	Complete time.Duration // CompleteMultipartUpload alone
}

// rawUpload writes f to S3 as a client would without chunkup: one
// multipart upload with parts of partSize, par parts in flight, each part
// with its CRC64NVME (computed as it goes) and an unsigned payload, and a
// full-object CRC64NVME that S3 verifies on completion: the same checksum
// work chunkup asks of S3.
func rawUpload(ctx context.Context, c *s3.Client, bucket, key string, f file, partSize int64, par int) (rawResult, error) {
	start := time.Now()
	mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &bucket, Key: &key,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		ChecksumType:      types.ChecksumTypeFullObject,
	})
	if err != nil {
		return rawResult{}, fmt.Errorf("raw: create multipart upload: %w", err)
	}
	n := chunkCount(f.size(), partSize)
	parts := make([]types.CompletedPart, n)
	crcs := make([]uint64, n)
	var mu sync.Mutex
	err = sendAll(ctx, n, par, func(ctx context.Context, i int) error {
		lo, hi := int64(i)*partSize, min(int64(i+1)*partSize, f.size())
		crc := crc64nvme.Checksum(f.data[lo:hi])
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: &key, UploadId: mpu.UploadId,
			PartNumber:        aws.Int32(int32(i + 1)),
			Body:              bytes.NewReader(f.data[lo:hi]),
			ContentLength:     aws.Int64(hi - lo),
			ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc)),
		}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		if err != nil {
			return fmt.Errorf("raw: upload part %d: %w", i+1, err)
		}
		mu.Lock()
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC64NVME: aws.String(crc64nvme.Encode(crc))}
		crcs[i] = crc
		mu.Unlock()
		return nil
	})
	if err != nil {
		c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mpu.UploadId})
		return rawResult{}, err
	}
	var whole uint64
	combiner := crc64nvme.NewCombiner()
	for i, crc := range crcs {
		lo, hi := int64(i)*partSize, min(int64(i+1)*partSize, f.size())
		if i == 0 {
			whole = crc
		} else {
			whole = combiner.Combine(whole, crc, hi-lo)
		}
	}
	cstart := time.Now()
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: &key, UploadId: mpu.UploadId,
		MultipartUpload:   &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC64NVME: aws.String(crc64nvme.Encode(whole)),
		ChecksumType:      types.ChecksumTypeFullObject,
	})
	if err != nil {
		return rawResult{}, fmt.Errorf("raw: complete: %w", err)
	}
	end := time.Now()
	return rawResult{Total: end.Sub(start), Complete: end.Sub(cstart)}, nil
}

// deleteObject removes a finished object so the disk does not fill up.
func deleteObject(ctx context.Context, c *s3.Client, bucket, key string) {
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
}
