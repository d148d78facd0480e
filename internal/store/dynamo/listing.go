package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

// OwnerIndex is the name of the index of sessions by owner, newest first:
// partition key owner, sort key createdAt, the attributes that already
// are on every session item (so it adds no byte to one). It projects the
// keys, state and dialect, which a listing filters by; a session's owner
// and creation never change and its state only as it ends, so a session
// costs the index one write when it is made, one for each change of
// state and one when DynamoDB's TTL deletes it, and nothing for its
// chunks. Only session items have an owner attribute: identifier records
// and part records are not in it.
const OwnerIndex = "owner"

// maxBatchGet is the most keys one BatchGetItem request takes.
const maxBatchGet = 100

// ListOwned pages through owner's entries in the owner index, newest
// first, keeping those the filter admits, then reads their sessions in
// one BatchGetItem (eventually consistent, as the index is), keeping
// those still admitted as read.
func (st *Store) ListOwned(ctx context.Context, owner string, q upload.OwnedQuery) (upload.OwnedPage, error) {
	limit := max(q.Limit, 1)
	budget := max(q.Budget, limit)
	in := &dynamodb.QueryInput{
		TableName:                 &st.table,
		IndexName:                 aws.String(OwnerIndex),
		KeyConditionExpression:    aws.String("#o = :o"),
		ExpressionAttributeNames:  map[string]string{"#o": "owner"},
		ExpressionAttributeValues: item{":o": str(owner)},
		ScanIndexForward:          aws.Bool(false),
	}
	if filter := ownedFilter(q, in); filter != "" {
		in.FilterExpression = aws.String(filter)
	}
	if q.After != nil {
		in.ExclusiveStartKey = ownedKey(owner, *q.After)
	}
	var keys []map[string]types.AttributeValue
	var last map[string]types.AttributeValue
	for read := 0; ; {
		in.Limit = aws.Int32(int32(min(limit-len(keys), budget-read)))
		out, err := st.db.Query(ctx, in)
		if err != nil {
			return upload.OwnedPage{}, fmt.Errorf("query owner index: %w", err)
		}
		read += int(out.ScannedCount)
		for _, it := range out.Items {
			keys = append(keys, item{"pk": it["pk"], "sk": it["sk"]})
		}
		last = out.LastEvaluatedKey
		if last == nil || len(keys) >= limit || read >= budget {
			break
		}
		in.ExclusiveStartKey = last
	}
	sessions, err := st.getSessions(ctx, keys)
	if err != nil {
		return upload.OwnedPage{}, err
	}
	page := upload.OwnedPage{}
	for _, s := range sessions {
		if s.Owner == owner && q.Admits(s) {
			page.Sessions = append(page.Sessions, s)
		}
	}
	if last != nil {
		it := item(last)
		page.Next = &upload.ListPosition{CreatedAt: it.time("createdAt"), ID: strings.TrimPrefix(it.str("pk"), "U#")}
	}
	return page, nil
}

// ownedFilter is the filter expression of q on the index's projected
// state and dialect, with its values added to in; "" if q filters
// nothing.
func ownedFilter(q upload.OwnedQuery, in *dynamodb.QueryInput) string {
	var terms []string
	if len(q.States) > 0 {
		names := make([]string, len(q.States))
		for i, s := range q.States {
			names[i] = ":st" + strconv.Itoa(i)
			in.ExpressionAttributeValues[names[i]] = str(string(s))
		}
		in.ExpressionAttributeNames["#s"] = "state"
		terms = append(terms, "#s IN ("+strings.Join(names, ", ")+")")
	}
	if q.Dialect != "" {
		in.ExpressionAttributeValues[":d"] = str(q.Dialect)
		terms = append(terms, "dialect = :d")
	}
	return strings.Join(terms, " AND ")
}

// ownedKey is the owner index's key of the entry at p: the index's keys
// and the table's. The owner is always the caller's, never the
// position's.
func ownedKey(owner string, p upload.ListPosition) map[string]types.AttributeValue {
	k := sessionKey(p.ID)
	k["owner"] = str(owner)
	k["createdAt"] = millis(p.CreatedAt)
	return k
}

// getSessions reads the sessions of keys, in their order, skipping any
// that no longer exist. It asks again for the keys DynamoDB leaves
// unprocessed, a few times.
func (st *Store) getSessions(ctx context.Context, keys []map[string]types.AttributeValue) ([]*upload.Session, error) {
	byID := make(map[string]*upload.Session, len(keys))
	for start := 0; start < len(keys); start += maxBatchGet {
		pending := keys[start:min(start+maxBatchGet, len(keys))]
		for try := 0; len(pending) > 0; try++ {
			if try == 5 {
				return nil, fmt.Errorf("read listed sessions: %d keys left unprocessed after %d tries", len(pending), try)
			}
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{st.table: {Keys: pending}},
			})
			if err != nil {
				return nil, fmt.Errorf("read listed sessions: %w", err)
			}
			for _, raw := range out.Responses[st.table] {
				id := strings.TrimPrefix(item(raw).str("pk"), "U#")
				byID[id] = decodeSession(id, raw)
			}
			pending = out.UnprocessedKeys[st.table].Keys
		}
	}
	sessions := make([]*upload.Session, 0, len(byID))
	for _, k := range keys {
		if s, ok := byID[strings.TrimPrefix(item(k).str("pk"), "U#")]; ok {
			sessions = append(sessions, s)
		}
	}
	return sessions, nil
}
