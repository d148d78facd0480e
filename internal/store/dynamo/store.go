// Package dynamo keeps chunkup's upload sessions in one DynamoDB table.
// Every write is a single-item conditional write (no transactions), so
// racing requests never both win and the store runs on dynalite too.
//
// Items (pk, sk):
//
//	U#<id>, S              the session
//	U#<id>, P#<part>       one S3 part: its staged chunks, then its ETag
//	I#<owner>#<ident>, I   an owner's client identifier → upload id
//
// An identifier record of an indexed upload also carries its part plan,
// which never changes. If the session says so (live), the record also
// carries the rest of what never changes about the upload (name, type,
// key), its multipart upload once started, and, while the upload is
// open, openUntil: its expiry as last copied there, which never runs
// ahead of the session's. The chunk path takes the upload from the
// record alone while openUntil is set and not yet past. Every write that
// moves a live session out of open (BeginComplete, EndSession) first
// removes openUntil from its identifier's record, so a record that has
// it was read while the session was open.
//
// Sessions that the sweep must look at carry a "sweep" attribute (one of a
// few shards) and are found through the sparse index of that name, sorted
// by expiresAt. Every session is also in the index of sessions by owner
// (OwnerIndex), newest first, through which an owner's uploads are listed.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

// SweepIndex is the name of the sparse index of sessions the sweep visits.
const SweepIndex = "sweep"

// sweepShards spreads the sparse index over a few partition keys so that
// busy tables do not write one hot key.
const sweepShards = 8

// Store is the upload.Sessions implementation on DynamoDB.
type Store struct {
	db    API
	table string
}

// New returns a store on table.
func New(db API, table string) *Store { return &Store{db: db, table: table} }

var _ upload.Sessions = (*Store)(nil)

// API is the part of the DynamoDB client that the store calls: single-item
// reads and writes, queries, batched deletes and batched reads. *dynamodb.Client
// provides it, and a test may wrap it.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

func sessionKey(id string) item { return item{"pk": str("U#" + id), "sk": str("S")} }

func partKey(id string, k int) item {
	return item{"pk": str("U#" + id), "sk": str(fmt.Sprintf("P#%05d", k))}
}

func identKey(owner, ident string) item {
	return item{"pk": str("I#" + url.PathEscape(owner) + "#" + url.PathEscape(ident)), "sk": str("I")}
}

func sweepShard(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "open#" + strconv.Itoa(int(h.Sum32()%sweepShards))
}

func chunkAttr(index int) string { return "c" + strconv.Itoa(index) }

// liveBinding reports whether the identifier record of session item s
// keeps a copy of the session (upload.Session.LiveBinding). A session
// written before sessions said so has one if it has an identifier and
// is indexed.
func liveBinding(s item) bool {
	if v, ok := s["live"].(*types.AttributeValueMemberBOOL); ok {
		return v.Value
	}
	return s.str("ident") != "" && s.str("kind") == ""
}

// isConflict reports whether err is a lost conditional write.
func isConflict(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// wrap turns a lost condition into upload.ErrConflict and adds context.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isConflict(err) {
		return fmt.Errorf("%s: %w", op, upload.ErrConflict)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// CreateSession stores a new session.
func (st *Store) CreateSession(ctx context.Context, s *upload.Session) error {
	it := encodeSession(s)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &st.table,
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	return wrap("put session", err)
}

// GetSession reads a session with a strongly consistent read.
func (st *Store) GetSession(ctx context.Context, id string) (*upload.Session, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: sessionKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if out.Item == nil {
		return nil, upload.ErrNotFound
	}
	return decodeSession(id, out.Item), nil
}

// DeleteSession removes a session record.
func (st *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.table, Key: sessionKey(id)})
	return wrap("delete session", err)
}

// LookupIdentifier follows an owner's identifier to its upload id.
func (st *Store) LookupIdentifier(ctx context.Context, owner, ident string) (string, error) {
	b, err := st.LookupBinding(ctx, owner, ident)
	return b.ID, err
}

// The attributes of a session's item that its identifier's record
// copies, under the same names: the part plan of an indexed upload, and,
// while a session with LiveBinding set is open, the rest of what a chunk
// needs of it (with its expiry as openUntil).
var (
	planAttrs = []string{"size", "chunkSize", "chunks", "cpp", "parts"}
	liveAttrs = []string{"name", "ctype", "key", "verify", "mpu", "auto", "createdAt", "dialect", "meta"}
)

// LookupBinding reads an owner's identifier record: the upload id it
// points at, the upload's part plan, and, while the record says the
// upload is open, the upload as the record describes it.
func (st *Store) LookupBinding(ctx context.Context, owner, ident string) (upload.Binding, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: identKey(owner, ident), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return upload.Binding{}, fmt.Errorf("get identifier: %w", err)
	}
	if out.Item == nil {
		return upload.Binding{}, upload.ErrNotFound
	}
	it := item(out.Item)
	s := decodeSession(it.str("id"), it) // what the record copies of it
	b := upload.Binding{ID: s.ID, Plan: s.Plan}
	if _, open := it["openUntil"]; open && b.Plan.Chunks > 0 {
		s.Owner, s.Identifier, s.LiveBinding = owner, ident, true
		s.State, s.ExpiresAt = upload.StateOpen, it.time("openUntil")
		b.Live = s
	}
	return b, nil
}

// BindIdentifier points an identifier at session s, if it points nowhere
// or still at replaces. The record of an indexed session carries its
// part plan, which never changes, so that a chunk can be judged against
// the upload before its session is read; that of an open session with
// LiveBinding set, also the rest of what a chunk needs of it, and
// openUntil.
func (st *Store) BindIdentifier(ctx context.Context, s *upload.Session, replaces string) error {
	it := identKey(s.Owner, s.Identifier)
	it["id"] = str(s.ID)
	if s.Kind == upload.Indexed && s.Chunks > 0 && s.ChunksPerPart > 0 {
		sess := encodeSession(s)
		for _, name := range planAttrs {
			it[name] = sess[name]
		}
		if s.State == upload.StateOpen && s.LiveBinding {
			for _, name := range liveAttrs {
				if v, ok := sess[name]; ok {
					it[name] = v
				}
			}
			it["openUntil"] = sess["expiresAt"]
		}
	}
	in := &dynamodb.PutItemInput{TableName: &st.table, Item: it}
	if replaces == "" {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("id = :old")
		in.ExpressionAttributeValues = item{":old": str(replaces)}
	}
	_, err := st.db.PutItem(ctx, in)
	return wrap("bind identifier", err)
}

// closeBinding removes openUntil from the record of session s's
// identifier, if the record keeps a copy of s (LiveBinding) and still
// points at s. It runs before any write that moves the session out
// of open: a session that is not open never has a record that says it
// is. The record is named by s's owner and identifier, which never
// change, so the caller's copy of s names it as well as a read would.
func (st *Store) closeBinding(ctx context.Context, s *upload.Session) error {
	if !s.LiveBinding {
		return nil // a record that never says open, or none
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       identKey(s.Owner, s.Identifier),
		UpdateExpression:          aws.String("REMOVE openUntil"),
		ConditionExpression:       aws.String("id = :id"),
		ExpressionAttributeValues: item{":id": str(s.ID)},
	})
	if err != nil && !isConflict(err) { // a record that points elsewhere, or none, is not this session's
		return fmt.Errorf("close identifier record: %w", err)
	}
	return nil
}

// copyToBinding applies update to the identifier record of session id,
// whose item s a write returned, under cond, if the record keeps a copy
// of the session (liveBinding) and still points at it. It is
// best effort: a record that lags the session only makes chunks read the
// session (an expiry copied late is an earlier one, a multipart id
// missing is looked up).
func (st *Store) copyToBinding(ctx context.Context, id string, s item, update, cond string, vals item) {
	if !liveBinding(s) {
		return
	}
	vals[":id"] = str(id)
	_, _ = st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       identKey(s.str("owner"), s.str("ident")),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("id = :id AND " + cond),
		ExpressionAttributeValues: vals,
	})
}

// ClaimMultipart takes the right to start the multipart upload, counting
// the claims taken in mpuClaims. A retry of this very claim (its answer
// lost) finds its own token; it counts twice, which only costs the sweep
// one listing of multipart uploads.
func (st *Store) ClaimMultipart(ctx context.Context, id string, claim upload.Lease, now time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String("SET " + multipartLease.set() + " ADD mpuClaims :one"),
		ConditionExpression:       aws.String("attribute_exists(pk) AND attribute_not_exists(mpu) AND " + multipartLease.grantable()),
		ExpressionAttributeValues: leaseValues(item{":one": num(1)}, claim, now),
	})
	return wrap("claim multipart upload", err)
}

// ReleaseMultipart gives up a claim to start the multipart upload.
func (st *Store) ReleaseMultipart(ctx context.Context, id, token string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String("REMOVE " + multipartLease.remove()),
		ConditionExpression:       aws.String(multipartLease.heldBy()),
		ExpressionAttributeValues: item{":t": str(token)},
	})
	return wrap("release multipart claim", err)
}

// SetMultipartID records the multipart upload unless one is recorded, and
// drops the claim to start it. It copies the id to the identifier's
// record, for the chunks that take the upload from there.
func (st *Store) SetMultipartID(ctx context.Context, id, mpu string, retried bool) (string, error) {
	update := "SET mpu = :m REMOVE " + multipartLease.remove()
	vals := item{":m": str(mpu)}
	if retried {
		update = "SET mpu = :m, mpuRetried = :r REMOVE " + multipartLease.remove()
		vals[":r"] = boolean(true)
	}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND (attribute_not_exists(mpu) OR mpu = :m)"),
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err == nil {
		st.copyToBinding(ctx, id, out.Attributes, "SET mpu = :m", "attribute_exists(openUntil)", item{":m": str(mpu)})
		return mpu, nil
	}
	if !isConflict(err) {
		return "", fmt.Errorf("set multipart id: %w", err)
	}
	s, err := st.GetSession(ctx, id)
	if err != nil {
		return "", err
	}
	if s.MultipartID == "" {
		return "", fmt.Errorf("set multipart id: session %s vanished", id)
	}
	return s.MultipartID, nil
}

// Touch moves an open session's expiry forward, then its copy in the
// identifier's record (after, so the copy never runs ahead; not if the
// record says the session is no longer open).
func (st *Store) Touch(ctx context.Context, id string, expires, now time.Time) error {
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String("SET expiresAt = :e, updatedAt = :now"),
		ConditionExpression:       aws.String("#s = :open AND expiresAt < :e"),
		ExpressionAttributeNames:  map[string]string{"#s": "state"},
		ExpressionAttributeValues: item{":e": millis(expires), ":now": millis(now), ":open": str(string(upload.StateOpen))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return wrap("touch session", err)
	}
	st.copyToBinding(ctx, id, out.Attributes, "SET openUntil = :e", "openUntil < :e", item{":e": millis(expires)})
	return nil
}

// BeginComplete takes the right to finish upload s, having first taken
// back its identifier record's word that it is open.
func (st *Store) BeginComplete(ctx context.Context, s *upload.Session, claim upload.Lease, now time.Time) error {
	if err := st.closeBinding(ctx, s); err != nil {
		return fmt.Errorf("begin completion: %w", err)
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.table,
		Key:                      sessionKey(s.ID),
		UpdateExpression:         aws.String("SET #s = :completing, " + completionLease.set() + ", updatedAt = :now"),
		ConditionExpression:      aws.String("#s = :open OR (#s = :completing AND " + completionLease.grantable() + ")"),
		ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: leaseValues(item{
			":completing": str(string(upload.StateCompleting)), ":open": str(string(upload.StateOpen)),
		}, claim, now),
	})
	return wrap("begin completion", err)
}

// RecordComplete records the finished object and its size (a direct
// upload's is learnt at completion), the on-complete hook's answer, and
// that its event is owed if s says so. The session stays in the sweep's index, due at s.ExpiresAt,
// when the sweep deletes its part records (or sends the event a crash
// left owed).
func (st *Store) RecordComplete(ctx context.Context, s *upload.Session) error {
	vals := item{
		":complete": str(string(upload.StateComplete)), ":completing": str(string(upload.StateCompleting)),
		":etag": str(s.ETag), ":crc": str(s.CRC64), ":at": millis(s.CompletedAt),
		":exp": millis(s.ExpiresAt), ":t": str(s.Completion.Token), ":d": digestsValue(s.Digests),
		":size": num(s.Size),
	}
	update := "SET #s = :complete, etag = :etag, crc = :crc, completedAt = :at, expiresAt = :exp, updatedAt = :at, digests = :d, #size = :size"
	if s.EventOwed {
		update += ", evOwed = :owed"
		vals[":owed"] = boolean(true)
	}
	if len(s.App) > 0 {
		update += ", app = :app"
		vals[":app"] = str(string(s.App))
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(s.ID),
		UpdateExpression:          aws.String(update + " REMOVE " + completionLease.until),
		ConditionExpression:       aws.String(completionLease.heldBy() + " AND (#s = :completing OR #s = :complete)"),
		ExpressionAttributeNames:  map[string]string{"#s": "state", "#size": "size"},
		ExpressionAttributeValues: vals,
	})
	return wrap("record completion", err)
}

// SettleEvent drops the mark of an owed event, and moves the session's
// due time in the sweep's index to due unless it is zero.
func (st *Store) SettleEvent(ctx context.Context, id string, due time.Time) error {
	update := "REMOVE evOwed"
	vals := item{":owed": boolean(true)}
	if !due.IsZero() {
		update = "SET expiresAt = :due " + update
		vals[":due"] = millis(due)
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("evOwed = :owed"),
		ExpressionAttributeValues: vals,
	})
	return wrap("settle event", err)
}

// ReleaseComplete ends the completion claim token holds by moving its
// lapse to the epoch; the session stays completing, for the next request
// (BeginComplete) or the sweep to take over at once.
func (st *Store) ReleaseComplete(ctx context.Context, id, token string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &st.table,
		Key:                      sessionKey(id),
		UpdateExpression:         aws.String("SET " + completionLease.lapse()),
		ConditionExpression:      aws.String(completionLease.heldBy() + " AND #s = :completing"),
		ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: item{
			":zero": num(0), ":t": str(token), ":completing": str(string(upload.StateCompleting)),
		},
	})
	return wrap("release completion claim", err)
}

// EndSession moves session s to aborted or expired, having first taken
// back its identifier record's word that it is open. An aborted session
// becomes due for the sweep at once, so that its data is released even
// if the request that aborted it dies.
func (st *Store) EndSession(ctx context.Context, s *upload.Session, from []upload.State, to upload.State, now time.Time) error {
	for _, f := range from {
		if !f.CanBecome(to) {
			return fmt.Errorf("end session %s: state %s cannot become %s", s.ID, f, to)
		}
	}
	if err := st.closeBinding(ctx, s); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	vals := item{":to": str(string(to)), ":now": millis(now)}
	names := make([]string, len(from))
	for i, state := range from {
		names[i] = ":f" + strconv.Itoa(i)
		vals[names[i]] = str(string(state))
	}
	update := "SET #s = :to, updatedAt = :now"
	if to == upload.StateAborted {
		update += ", expiresAt = :now"
	}
	if s.EventOwed {
		update += ", evOwed = :owed"
		vals[":owed"] = boolean(true)
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(s.ID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#s IN (" + strings.Join(names, ", ") + ")"),
		ExpressionAttributeNames:  map[string]string{"#s": "state"},
		ExpressionAttributeValues: vals,
	})
	return wrap("end session", err)
}

// Forget frees session s's client identifier, if it still points at s,
// then drops s from the sweep's index and sets its TTL. The identifier
// goes first: the sweep finds a session only through its index, so a
// failure after the session has left the index (a write that took
// effect with its answer lost, or the identifier's delete failing)
// would leave the identifier's record bound for good. In this order a
// failure before the session leaves the index leaves it there, for the
// next sweep to forget again, and one after leaves nothing bound. Both
// writes are idempotent.
func (st *Store) Forget(ctx context.Context, s *upload.Session, ttl time.Time) error {
	if s.Identifier != "" {
		_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                 &st.table,
			Key:                       identKey(s.Owner, s.Identifier),
			ConditionExpression:       aws.String("id = :id"),
			ExpressionAttributeValues: item{":id": str(s.ID)},
		})
		if err := wrap("free identifier", err); err != nil && !errors.Is(err, upload.ErrConflict) {
			return err
		}
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &st.table,
		Key:                       sessionKey(s.ID),
		UpdateExpression:          aws.String("REMOVE sweep SET #ttl = :ttl"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: item{":ttl": num(ttl.Unix())},
	})
	if err := wrap("retire session", err); err != nil && !errors.Is(err, upload.ErrConflict) {
		return err
	}
	return nil
}

// ListExpired finds sessions in the sweep's index whose expiry has passed.
func (st *Store) ListExpired(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	for shard := 0; shard < sweepShards && len(ids) < limit; shard++ {
		out, err := st.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &st.table,
			IndexName:                 aws.String(SweepIndex),
			KeyConditionExpression:    aws.String("sweep = :s AND expiresAt < :now"),
			ExpressionAttributeValues: item{":s": str("open#" + strconv.Itoa(shard)), ":now": millis(now)},
			Limit:                     aws.Int32(int32(limit - len(ids))),
		})
		if err != nil {
			return nil, fmt.Errorf("query sweep index: %w", err)
		}
		for _, it := range out.Items {
			ids = append(ids, strings.TrimPrefix(item(it).str("pk"), "U#"))
		}
	}
	return ids, nil
}
