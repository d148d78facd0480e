package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"chunkup/internal/upload"
)

// ReadProgress reads a session and the records of its highest-numbered
// parts, at most parts of them, in one strongly consistent Query. The
// session (sort key S) sorts after its parts (P#…), so a query backwards
// over the range P#…S reads the session first and then the parts from the
// highest down: it costs what the items weigh together (a session and a
// few part records fit in one read unit), not a GetItem each.
func (st *Store) ReadProgress(ctx context.Context, id string, parts int) (*upload.Session, []*upload.Part, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :p AND :s"),
		ExpressionAttributeValues: item{":pk": str("U#" + id), ":p": str("P#"), ":s": str("S")},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(parts + 1)),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("query session and parts: %w", err)
	}
	if len(out.Items) == 0 || item(out.Items[0]).str("sk") != "S" {
		return nil, nil, upload.ErrNotFound
	}
	s := decodeSession(id, out.Items[0])
	tail := make([]*upload.Part, 0, len(out.Items)-1)
	for _, it := range out.Items[1:] {
		tail = append(tail, decodePart(it))
	}
	return s, tail, nil
}
