package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

// RecordChunk adds a staged chunk to its part record, once, and stamps
// the part with the recording request's claim. Once a part holds all its
// chunks no chunk can be recorded in it again, so the stamp it keeps is
// the one its completing chunk left; the engine reads a part's claim only
// when the part is complete, so the stamps on an incomplete part mean
// nothing. The write returns the whole part (which costs no read units),
// so its assembler has the chunk list.
func (st *Store) RecordChunk(ctx context.Context, id string, k int, c upload.ChunkRecord, claim upload.Lease) (*upload.Part, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.table,
		Key:                      partKey(id, k),
		UpdateExpression:         aws.String("SET #c = :c, " + partLease.set()),
		ConditionExpression:      aws.String("attribute_not_exists(#c) AND attribute_not_exists(etag)"),
		ExpressionAttributeNames: map[string]string{"#c": chunkAttr(c.Index)},
		ExpressionAttributeValues: item{
			":c": &types.AttributeValueMemberM{Value: item{"k": str(c.Key), "s": num(c.Size), "h": unum(c.CRC)}},
			":t": str(claim.Token),
			":u": millis(claim.Until),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, wrap("record chunk", err)
	}
	return decodePart(out.Attributes), nil
}

// GetPart reads a part record; one nothing reached comes back empty.
func (st *Store) GetPart(ctx context.Context, id string, k int) (*upload.Part, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: partKey(id, k), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get part: %w", err)
	}
	if out.Item == nil {
		return &upload.Part{Index: k, Chunks: map[int]upload.ChunkRecord{}}, nil
	}
	return decodePart(out.Item), nil
}

// ListParts reads every part record of an upload.
func (st *Store) ListParts(ctx context.Context, id string) ([]*upload.Part, error) {
	var parts []*upload.Part
	err := st.queryParts(ctx, id, false, func(it item) {
		parts = append(parts, decodePart(it))
	})
	return parts, err
}

func (st *Store) queryParts(ctx context.Context, id string, keysOnly bool, each func(item)) error {
	in := &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :p)"),
		ExpressionAttributeValues: item{":pk": str("U#" + id), ":p": str("P#")},
		ConsistentRead:            aws.Bool(true),
	}
	if keysOnly {
		in.ProjectionExpression = aws.String("pk, sk")
	}
	for {
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("query parts: %w", err)
		}
		for _, it := range out.Items {
			each(it)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ClaimPart takes the right to assemble a part and returns the part as
// the claim left it. The write returns the whole item (which costs no
// read units), so the claimant has the chunk list without a GetItem.
func (st *Store) ClaimPart(ctx context.Context, id string, k int, claim upload.Lease, now time.Time) (*upload.Part, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &st.table,
		Key:              partKey(id, k),
		UpdateExpression: aws.String("SET " + partLease.set()),
		// A retry of this very claim (its answer lost) finds its own token.
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(etag) AND " + partLease.grantable()),
		ExpressionAttributeValues: leaseValues(nil, claim, now),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, wrap("claim part", err)
	}
	return decodePart(out.Attributes), nil
}

// ReleasePart gives up a claim after a failed assembly.
func (st *Store) ReleasePart(ctx context.Context, id string, k int, token string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       partKey(id, k),
		UpdateExpression:          aws.String("REMOVE " + partLease.remove()),
		ConditionExpression:       aws.String(partLease.heldBy()),
		ExpressionAttributeValues: item{":t": str(token)},
	})
	return wrap("release part", err)
}

// RecordPart records an assembled part and drops its chunk list, which is
// no longer needed, so the record stays small. The assembler knows the
// chunks it used, so the record is not read again.
func (st *Store) RecordPart(ctx context.Context, id string, k int, token string, done upload.AssembledPart, now time.Time) error {
	update := "SET etag = :e, crc = :c, #size = :s, finishedAt = :now REMOVE " + partLease.remove()
	for _, c := range done.Chunks {
		update += ", " + chunkAttr(c.Index)
	}
	etag, crc, size := done.ETag, done.CRC, done.Size
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &st.table,
		Key:              partKey(id, k),
		UpdateExpression: aws.String(update),
		// A retry whose first attempt took effect finds the same ETag.
		ConditionExpression:       aws.String(partLease.heldBy() + " OR etag = :e"),
		ExpressionAttributeNames:  map[string]string{"#size": "size"},
		ExpressionAttributeValues: item{":e": str(etag), ":c": unum(crc), ":s": num(size), ":now": millis(now), ":t": str(token)},
	})
	return wrap("record part", err)
}

// CountPart adds a part to the session's count of assembled parts. The
// count comes first and the part's mark after: a crash between them can
// only overcount, which completion tolerates (it checks every part).
func (st *Store) CountPart(ctx context.Context, id string, k int) (int, error) {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String("ADD partsDone :one"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeValues: item{":one": num(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, wrap("count part", err)
	}
	_, err = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       partKey(id, k),
		UpdateExpression:          aws.String("SET counted = :t"),
		ExpressionAttributeValues: item{":t": boolean(true)},
	})
	if err != nil {
		return 0, wrap("mark part counted", err)
	}
	return int(item(out.Attributes).int("partsDone")), nil
}

// DeleteParts removes every part record of an upload, 25 at a time.
func (st *Store) DeleteParts(ctx context.Context, id string) error {
	var keys []item
	if err := st.queryParts(ctx, id, true, func(it item) { keys = append(keys, it) }); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(25, len(keys))
		reqs := make([]types.WriteRequest, n)
		for i, k := range keys[:n] {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		keys = keys[n:]
		pending := map[string][]types.WriteRequest{st.table: reqs}
		for tries := 0; len(pending[st.table]) > 0; tries++ {
			if tries == 8 {
				return fmt.Errorf("delete part records: %d left unprocessed", len(pending[st.table]))
			}
			out, err := st.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("delete part records: %w", err)
			}
			pending = out.UnprocessedItems
			if len(pending[st.table]) > 0 {
				time.Sleep(time.Duration(50<<tries) * time.Millisecond)
			}
		}
	}
	return nil
}

func decodePart(raw map[string]types.AttributeValue) *upload.Part {
	it := item(raw)
	sk := strings.TrimPrefix(it.str("sk"), "P#")
	k, _ := strconv.Atoi(sk)
	p := &upload.Part{
		Index:      k,
		Chunks:     map[int]upload.ChunkRecord{},
		Claim:      partLease.decode(it),
		ETag:       it.str("etag"),
		CRC:        it.uint("crc"),
		Size:       it.int("size"),
		Counted:    it.bool("counted"),
		FinishedAt: it.time("finishedAt"),
	}
	for name, v := range raw {
		if len(name) < 2 || name[0] != 'c' || name[1] < '0' || name[1] > '9' {
			continue
		}
		i, err := strconv.Atoi(name[1:])
		m, ok := v.(*types.AttributeValueMemberM)
		if err != nil || !ok {
			continue
		}
		c := item(m.Value)
		p.Chunks[i] = upload.ChunkRecord{Index: i, Key: c.str("k"), Size: c.int("s"), CRC: c.uint("h")}
	}
	return p
}
