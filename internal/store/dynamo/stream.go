package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

// CommitAppend applies one step of a sequential upload. The condition on
// the offset serialises writers: of two chunks sent for the same offset,
// one commits and the other is told the new offset.
func (st *Store) CommitAppend(ctx context.Context, id string, c upload.Commit, now time.Time) error {
	vals := item{
		":old": num(c.Old), ":new": num(c.New), ":ps": num(c.PartStart), ":open": str(string(upload.StateOpen)),
		":h": hashesValue(c.Hashes), ":now": millis(now),
	}
	update := "SET #off = :new, hashes = :h, updatedAt = :now"
	if c.Seal != nil {
		update += ", partStart = :new, nextPart = :np, pending = :empty, partCRC = :zero, seal = :seal"
		vals[":np"] = num(int64(c.Seal.Part + 1))
		vals[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		vals[":zero"] = num(0)
		vals[":seal"] = sealValue(c.Seal)
	} else if c.Fold {
		// The piece holds every pending one: it replaces the list.
		update += ", pending = :piece, partCRC = :pc"
		vals[":piece"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{str(c.Piece)}}
		vals[":pc"] = unum(c.PartCRC)
	} else if c.Piece != "" {
		update += ", pending = list_append(if_not_exists(pending, :empty), :piece), partCRC = :pc"
		vals[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		vals[":piece"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{str(c.Piece)}}
		vals[":pc"] = unum(c.PartCRC)
	}
	cond := "#s = :open AND #off = :old AND partStart = :ps AND attribute_not_exists(seal)"
	names := map[string]string{"#s": "state", "#off": "offset"}
	if c.SetsSize {
		update += ", #size = :size"
		cond += " AND #size = :deferred"
		names["#size"] = "size"
		vals[":size"], vals[":deferred"] = num(c.Size), num(upload.SizeDeferred)
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	return wrap("commit append", err)
}

// PutSealedPart writes a sealed part's record: its pieces and CRC.
func (st *Store) PutSealedPart(ctx context.Context, id string, k int, chunks []upload.ChunkRecord, crc uint64) error {
	it := partKey(id, k)
	for _, c := range chunks {
		it[chunkAttr(c.Index)] = &types.AttributeValueMemberM{Value: item{"k": str(c.Key), "s": num(c.Size), "h": unum(c.CRC)}}
	}
	it["crc"] = unum(crc)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &st.table,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return wrap("put sealed part", err)
}

// ClearSeal removes the session's seal of part k.
func (st *Store) ClearSeal(ctx context.Context, id string, k int) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String("REMOVE seal"),
		ConditionExpression:       aws.String("seal.part = :k"),
		ExpressionAttributeValues: item{":k": num(int64(k))},
	})
	return wrap("clear seal", err)
}

func hashesValue(h map[string][]byte) types.AttributeValue {
	m := item{}
	for alg, state := range h {
		m[alg] = &types.AttributeValueMemberB{Value: state}
	}
	return &types.AttributeValueMemberM{Value: m}
}

func sealValue(s *upload.Seal) types.AttributeValue {
	keys := make([]types.AttributeValue, len(s.Keys))
	for i, k := range s.Keys {
		keys[i] = str(k)
	}
	return &types.AttributeValueMemberM{Value: item{
		"part": num(int64(s.Part)), "start": num(s.Start), "end": num(s.End),
		"keys": &types.AttributeValueMemberL{Value: keys}, "crc": unum(s.CRC),
	}}
}

func decodeStream(it item, s *upload.Session) {
	s.Kind = upload.Kind(it.str("kind"))
	s.PartSize = it.int("partSize")
	s.Offset = it.int("offset")
	s.PartStart = it.int("partStart")
	s.NextPart = int(it.int("nextPart"))
	s.PartCRC = it.uint("partCRC")
	if l, ok := it["pending"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				s.Pending = append(s.Pending, sv.Value)
			}
		}
	}
	if m, ok := it["hashes"].(*types.AttributeValueMemberM); ok {
		s.Hashes = map[string][]byte{}
		for alg, v := range m.Value {
			if b, ok := v.(*types.AttributeValueMemberB); ok {
				s.Hashes[alg] = b.Value
			}
		}
	}
	if m, ok := it["digests"].(*types.AttributeValueMemberM); ok {
		s.Digests = map[string]string{}
		for alg := range m.Value {
			s.Digests[alg] = item(m.Value).str(alg)
		}
	}
	if m, ok := it["seal"].(*types.AttributeValueMemberM); ok {
		sm := item(m.Value)
		seal := &upload.Seal{Part: int(sm.int("part")), Start: sm.int("start"), End: sm.int("end"), CRC: sm.uint("crc")}
		if l, ok := sm["keys"].(*types.AttributeValueMemberL); ok {
			for _, v := range l.Value {
				if sv, ok := v.(*types.AttributeValueMemberS); ok {
					seal.Keys = append(seal.Keys, sv.Value)
				}
			}
		}
		s.Seal = seal
	}
}

func encodeStream(it item, s *upload.Session) {
	if s.Kind != upload.Sequential {
		return
	}
	it["kind"] = str(string(s.Kind))
	it["partSize"] = num(s.PartSize)
	it["offset"] = num(s.Offset)
	it["partStart"] = num(s.PartStart)
	it["nextPart"] = num(int64(s.NextPart))
	it["partCRC"] = unum(s.PartCRC)
	it["pending"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	it["hashes"] = hashesValue(s.Hashes)
}

func digestsValue(d map[string]string) types.AttributeValue {
	m := item{}
	for alg, hex := range d {
		m[alg] = str(hex)
	}
	return &types.AttributeValueMemberM{Value: m}
}
