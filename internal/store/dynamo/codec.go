package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"chunkup/internal/upload"
)

func encodeSession(s *upload.Session) item {
	it := sessionKey(s.ID)
	set := func(name, v string) {
		if v != "" {
			it[name] = str(v)
		}
	}
	set("owner", s.Owner)
	set("ident", s.Identifier)
	set("name", s.Name)
	set("ctype", s.ContentType)
	set("key", s.Key)
	set("state", string(s.State))
	set("mpu", s.MultipartID)
	set("verify", s.Verify)
	set("dialect", s.Dialect)
	if len(s.Metadata) > 0 {
		it["meta"] = digestsValue(s.Metadata) // a map of strings, as digests are
	}
	it["size"] = num(s.Size)
	it["chunkSize"] = num(s.ChunkSize)
	it["chunks"] = num(int64(s.Chunks))
	it["cpp"] = num(int64(s.ChunksPerPart))
	it["parts"] = num(int64(s.Parts))
	it["auto"] = boolean(s.AutoComplete)
	it["live"] = boolean(s.LiveBinding)
	it["partsDone"] = num(int64(s.PartsDone))
	it["createdAt"] = millis(s.CreatedAt)
	it["updatedAt"] = millis(s.UpdatedAt)
	it["expiresAt"] = millis(s.ExpiresAt)
	it["sweep"] = str(sweepShard(s.ID))
	if s.Partial {
		it["partial"] = boolean(true)
	}
	if len(s.Sources) > 0 {
		l := make([]types.AttributeValue, len(s.Sources))
		for i, id := range s.Sources {
			l[i] = str(id)
		}
		it["sources"] = &types.AttributeValueMemberL{Value: l}
	}
	if s.MultipartRetried {
		it["mpuRetried"] = boolean(true) // a direct upload's, started before its session
	}
	encodeStream(it, s)
	encodeDirect(it, s)
	return it
}

func decodeSession(id string, raw map[string]types.AttributeValue) *upload.Session {
	it := item(raw)
	s := &upload.Session{
		ID:           id,
		Owner:        it.str("owner"),
		Identifier:   it.str("ident"),
		LiveBinding:  liveBinding(it),
		Name:         it.str("name"),
		ContentType:  it.str("ctype"),
		Key:          it.str("key"),
		AutoComplete: it.bool("auto"),
		Verify:       it.str("verify"),
		Dialect:      it.str("dialect"),
		Metadata:     stringMap(it["meta"]),
		EventOwed:    it.bool("evOwed"),
		State:        upload.State(it.str("state")),
		MultipartID:  it.str("mpu"),
		// Written only by ClaimMultipart and SetMultipartID.
		MultipartClaims:  int(it.int("mpuClaims")),
		MultipartRetried: it.bool("mpuRetried"),
		PartsDone:        int(it.int("partsDone")),
		CreatedAt:        it.time("createdAt"),
		UpdatedAt:        it.time("updatedAt"),
		ExpiresAt:        it.time("expiresAt"),
		CompletedAt:      it.time("completedAt"),
		Completion:       completionLease.decode(it),
		ETag:             it.str("etag"),
		CRC64:            it.str("crc"),
	}
	if app := it.str("app"); app != "" {
		s.App = []byte(app)
	}
	s.Size = it.int("size")
	s.ChunkSize = it.int("chunkSize")
	s.Chunks = int(it.int("chunks"))
	s.ChunksPerPart = int(it.int("cpp"))
	s.Parts = int(it.int("parts"))
	s.Partial = it.bool("partial")
	if l, ok := it["sources"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				s.Sources = append(s.Sources, sv.Value)
			}
		}
	}
	decodeStream(it, s)
	decodeDirect(it, s)
	return s
}

// stringMap reads a map of strings (the client's metadata); nil if none.
func stringMap(v types.AttributeValue) map[string]string {
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok || len(m.Value) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.Value))
	for k, v := range m.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out[k] = s.Value
		}
	}
	return out
}
