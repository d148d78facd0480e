package api_test

// Owner isolation through the whole stack with authorization on (issue
// 4): requests carry tokens from a local issuer, the local gateway's JWT
// authorizer checks them and hands their claims to the functions, and
// every upload belongs to its token's sub. For every dialect, another
// caller cannot check, append to, complete, abort or read the status of an
// upload: each such request is answered as for an unknown upload, in the
// dialect's own shape, and leaves the owner's upload exactly as it was.
// A request without a valid token never reaches a function.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"chunkup/internal/api"
	"chunkup/internal/local/auth"
)

// as is a view of an env made with auth on whose requests all carry a
// token for sub: the existing request helpers then speak as sub.
func (e *env) as(sub string) *env {
	e.t.Helper()
	if e.issuer == nil {
		e.t.Fatal("as: the env was made without auth")
	}
	tok, err := e.issuer.Mint(sub, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+tok.Value)
		e.gw.ServeHTTP(w, r)
	}))
	e.t.Cleanup(srv.Close)
	view := *e
	view.url = srv.URL
	return &view
}

func newAuthEnv(t *testing.T) (e, alice, bob *env) {
	t.Helper()
	e = newEnvWith(t, envOptions{auth: true})
	return e, e.as("alice"), e.as("bob")
}

// storage is everything the stack holds, each thing rendered as text by
// where it is: every table item, every bucket object (size and ETag) and
// every open multipart upload with its parts.
func (e *env) storage() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var start map[string]types.AttributeValue
	for {
		page, err := e.db.Scan(ctx, &dynamodb.ScanInput{TableName: &e.table, ExclusiveStartKey: start})
		if err != nil {
			e.t.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			out["item "+renderAV(it["pk"])+" "+renderAV(it["sk"])] = renderAV(&types.AttributeValueMemberM{Value: it})
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		start = page.LastEvaluatedKey
	}
	objects := s3.NewListObjectsV2Paginator(e.s3, &s3.ListObjectsV2Input{Bucket: &e.bucket})
	for objects.HasMorePages() {
		page, err := objects.NextPage(ctx)
		if err != nil {
			e.t.Fatalf("list objects: %v", err)
		}
		for _, o := range page.Contents {
			out["object "+aws.ToString(o.Key)] = fmt.Sprintf("%d %s", aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	mpus, err := e.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &e.bucket})
	if err != nil {
		e.t.Fatalf("list multipart uploads: %v", err)
	}
	for _, u := range mpus.Uploads {
		parts, err := e.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: &e.bucket, Key: u.Key, UploadId: u.UploadId})
		if err != nil {
			e.t.Fatalf("list parts: %v", err)
		}
		var ps []string
		for _, p := range parts.Parts {
			ps = append(ps, fmt.Sprintf("%d:%s", aws.ToInt32(p.PartNumber), aws.ToString(p.ETag)))
		}
		out["multipart "+aws.ToString(u.Key)+" "+aws.ToString(u.UploadId)] = strings.Join(ps, ",")
	}
	return out
}

// renderAV renders a DynamoDB value as text, maps and sets in a stable
// order.
func renderAV(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return strconv.Quote(v.Value)
	case *types.AttributeValueMemberN:
		return "N" + v.Value
	case *types.AttributeValueMemberB:
		return "B" + base64.StdEncoding.EncodeToString(v.Value)
	case *types.AttributeValueMemberBOOL:
		return strconv.FormatBool(v.Value)
	case *types.AttributeValueMemberNULL:
		return "null"
	case *types.AttributeValueMemberSS:
		return "SS" + fmt.Sprint(slices.Sorted(slices.Values(v.Value)))
	case *types.AttributeValueMemberNS:
		return "NS" + fmt.Sprint(slices.Sorted(slices.Values(v.Value)))
	case *types.AttributeValueMemberBS:
		var bs []string
		for _, b := range v.Value {
			bs = append(bs, base64.StdEncoding.EncodeToString(b))
		}
		slices.Sort(bs)
		return "BS" + fmt.Sprint(bs)
	case *types.AttributeValueMemberL:
		var parts []string
		for _, e := range v.Value {
			parts = append(parts, renderAV(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *types.AttributeValueMemberM:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(v.Value)) {
			parts = append(parts, k+":"+renderAV(v.Value[k]))
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprintf("%T", v)
}

// unchanged fails the test if anything in before is gone or different in
// after, or, unless others may add their own, if anything was added.
func (e *env) unchanged(what string, before, after map[string]string, othersMayAdd bool) {
	e.t.Helper()
	var diffs []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diffs = append(diffs, "gone: "+k)
		} else if w != v {
			diffs = append(diffs, fmt.Sprintf("changed: %s\n    was %s\n    now %s", k, v, w))
		}
	}
	if !othersMayAdd {
		for k, v := range after {
			if _, ok := before[k]; !ok {
				diffs = append(diffs, "added: "+k+" = "+v)
			}
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		e.t.Fatalf("%s changed the stored uploads:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// TestIsolationNative: bob cannot read, append to, complete or abort
// alice's upload by its id, before or after she finishes it.
func TestIsolationNative(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	const chunk = 1 << 20
	data := randomBytes(2*chunk+300_000, 401)
	up := alice.createNative("alice.bin", int64(len(data)), chunk)
	for n := 0; n < 2; n++ {
		if st, out := alice.putNative(up.ID, n, chunkOf(data, chunk, n)); st != 200 {
			t.Fatalf("alice's chunk %d: %d %v", n, st, out)
		}
	}
	// The owner is the token's sub, as the gateway passed it on.
	ctx := context.Background()
	if _, err := e.svc.Engine.Get(ctx, "sub:alice", up.ID); err != nil {
		t.Fatalf("the upload is not sub:alice's: %v", err)
	}
	if _, err := e.svc.Engine.Get(ctx, api.Anonymous, up.ID); err == nil {
		t.Fatal("an anonymous caller sees alice's upload")
	}
	var status nativeUpload
	if st := alice.call("GET", "/v1/uploads/"+up.ID, nil, &status); st != 200 || status.Received != 2 {
		t.Fatalf("alice's status: %d %+v", st, status)
	}
	before := e.storage()

	notFound := func(what string, st int, er nativeError) {
		t.Helper()
		if st != http.StatusNotFound || er.Error.Code != "upload_not_found" {
			t.Errorf("bob %s: %d %+v, want 404 upload_not_found", what, st, er)
		}
	}
	bobTries := func() {
		t.Helper()
		var er nativeError
		notFound("reads the status", bob.call("GET", "/v1/uploads/"+up.ID, nil, &er), er)
		er = nativeError{}
		notFound("sends the missing chunk", bob.call("PUT", "/v1/uploads/"+up.ID+"/chunks/2", bytes.NewReader(chunkOf(data, chunk, 2)), &er), er)
		er = nativeError{}
		notFound("overwrites a stored chunk", bob.call("PUT", "/v1/uploads/"+up.ID+"/chunks/0", bytes.NewReader(make([]byte, chunk)), &er), er)
		er = nativeError{}
		notFound("completes", bob.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &er), er)
		er = nativeError{}
		notFound("aborts", bob.call("DELETE", "/v1/uploads/"+up.ID, nil, &er), er)
	}
	bobTries()
	e.unchanged("bob's requests", before, e.storage(), false)
	var again nativeUpload
	if st := alice.call("GET", "/v1/uploads/"+up.ID, nil, &again); st != 200 || again.Received != 2 || again.State != status.State ||
		len(again.Missing) != 1 || again.Missing[0].First != 2 || again.Missing[0].Last != 2 {
		t.Fatalf("alice's status after bob: %d %+v, want 2 received, chunk 2 missing", st, again)
	}

	if st, out := alice.putNative(up.ID, 2, chunkOf(data, chunk, 2)); st != 200 {
		t.Fatalf("alice's last chunk: %d %v", st, out)
	}
	var done nativeUpload
	if st := alice.call("POST", "/v1/uploads/"+up.ID+"/complete", nil, &done); st != 200 || done.State != "complete" {
		t.Fatalf("alice completes: %d %+v", st, done)
	}
	if got, crc := e.object(done.Key); !bytes.Equal(got, data) || crc != done.CRC64NVME {
		t.Fatalf("alice's object differs from her file (%d bytes)", len(got))
	}
	// A finished upload is no more bob's than an open one.
	finished := e.storage()
	bobTries()
	e.unchanged("bob's requests after completion", finished, e.storage(), false)
}

// TestIsolationResumable: bob's test GETs for alice's identifier answer
// 204 (not here), and his chunks with it make an upload of his own; hers
// is untouched and finishes as her file.
func TestIsolationResumable(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	size := 3<<20 + 100_000
	ident := strconv.Itoa(size) + "-reportpdf"
	a := resumableFile{data: randomBytes(size, 402), name: "report.pdf", chunkSize: 1 << 20, identifier: ident}
	b := a
	b.data = randomBytes(size, 403)
	last := a.chunks()
	for n := 1; n < last; n++ {
		if st, out := alice.sendResumable(a, n); st != 200 {
			t.Fatalf("alice's chunk %d: %d %v", n, st, out)
		}
	}
	before := e.storage()
	for n := 1; n <= last; n++ {
		if st := bob.testResumable(b, n); st != http.StatusNoContent {
			t.Fatalf("bob tests chunk %d of alice's identifier: %d, want 204", n, st)
		}
	}
	st, out := bob.sendResumable(b, last)
	if st != 200 || out["state"] == "complete" || out["key"] != nil {
		t.Fatalf("bob's last chunk under alice's identifier: %d %v, want a chunk of his own upload", st, out)
	}
	e.unchanged("bob's requests", before, e.storage(), true)
	if st := bob.testResumable(b, last); st != 200 {
		t.Fatalf("bob's own chunk tests as %d", st)
	}
	if st := alice.testResumable(a, last); st != http.StatusNoContent {
		t.Fatalf("alice's last chunk tests as %d after bob sent his: his went into hers", st)
	}
	for n := 1; n < last; n++ {
		if st := alice.testResumable(a, n); st != 200 {
			t.Fatalf("alice's chunk %d tests as %d", n, st)
		}
	}
	st, out = alice.sendResumable(a, last)
	if st != 200 || out["state"] != "complete" {
		t.Fatalf("alice's last chunk: %d %v", st, out)
	}
	key, _ := out["key"].(string)
	if got, _ := e.object(key); !bytes.Equal(got, a.data) {
		t.Fatal("alice's object is not her file")
	}
	// Her finished file is not his to find: a test GET answers 204, not
	// where her file is.
	if st := bob.testResumable(b, 1); st != http.StatusNoContent {
		t.Fatalf("bob tests chunk 1 after alice finished: %d, want 204", st)
	}
}

// TestIsolationFlow: as TestIsolationResumable, for Flow.js.
func TestIsolationFlow(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	size := 3<<20 + 200_000
	a := flowFile{data: randomBytes(size, 404), name: "clip.mp4", fileType: "video/mp4", chunkSize: 1 << 20, identifier: strconv.Itoa(size) + "-clipmp4"}
	b := a
	b.data = randomBytes(size, 405)
	last := a.chunks()
	for n := 1; n < last; n++ {
		if st, out := alice.flowPost(a, n); st != 200 {
			t.Fatalf("alice's chunk %d: %d %v", n, st, out)
		}
	}
	before := e.storage()
	for n := 1; n <= last; n++ {
		if st := bob.flowTest(b.params(n)); st != http.StatusNoContent {
			t.Fatalf("bob tests chunk %d of alice's identifier: %d, want 204", n, st)
		}
	}
	st, out := bob.flowPost(b, last)
	if st != 200 || out["state"] == "complete" || out["key"] != nil {
		t.Fatalf("bob's last chunk under alice's identifier: %d %v, want a chunk of his own upload", st, out)
	}
	e.unchanged("bob's requests", before, e.storage(), true)
	if st := alice.flowTest(a.params(last)); st != http.StatusNoContent {
		t.Fatalf("alice's last chunk tests as %d after bob sent his", st)
	}
	st, out = alice.flowPost(a, last)
	if st != 200 || out["state"] != "complete" {
		t.Fatalf("alice's last chunk: %d %v", st, out)
	}
	key, _ := out["key"].(string)
	if got, _ := e.object(key); !bytes.Equal(got, a.data) {
		t.Fatal("alice's object is not her file")
	}
	if st := bob.flowTest(b.params(1)); st != http.StatusNoContent {
		t.Fatalf("bob tests chunk 1 after alice finished: %d, want 204", st)
	}
}

// TestIsolationMultipleUpload: bob's chunks under alice's X-Upload-Id go
// into an upload of his own, before and after she finishes; neither
// answer tells him of her file.
func TestIsolationMultipleUpload(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	const id = "7d6c9f1e-0b1a-4c55-8f0e-3a2b1c0d9e8f"
	a := newMUFile(randomBytes(3<<20+50_000, 406), "scan.tiff", id, 1<<20)
	b := newMUFile(randomBytes(3<<20+50_000, 407), "scan.tiff", id, 1<<20)
	for i := 0; i < a.count-1; i++ {
		if st, ans := alice.muChunk(a, i); st != 200 || ans.done() {
			t.Fatalf("alice's chunk %d: %d %+v", i, st, ans)
		}
	}
	before := e.storage()
	st, ans := bob.muChunk(b, a.count-1)
	if st != 200 || ans.done() || ans.ChunksReceived == nil || *ans.ChunksReceived != 1 {
		t.Fatalf("bob's last chunk under alice's id: %d %+v, want his first chunk of his own upload", st, ans)
	}
	e.unchanged("bob's chunk", before, e.storage(), true)
	st, final := alice.muChunk(a, a.count-1)
	if st != 200 {
		t.Fatalf("alice's last chunk: %d %+v", st, final)
	}
	alice.checkFinished(final, a.name, a.data)
	// After she finished, the id still leads bob to his own upload only.
	for i := 0; i < b.count-1; i++ {
		st, ans = bob.muChunk(b, i)
		if st != 200 || ans.FileGUID == final.FileGUID || ans.Key == final.Key {
			t.Fatalf("bob's chunk %d after alice finished: %d %+v, her file is %s", i, st, ans, final.FileGUID)
		}
	}
	bob.checkFinished(ans, b.name, b.data)
	if got, _ := e.object(final.Key); !bytes.Equal(got, a.data) {
		t.Fatal("alice's object changed")
	}
}

// TestIsolationDjango: bob can neither append to nor complete alice's
// upload_id: 404 {"detail": …}, nothing changed.
func TestIsolationDjango(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	data := randomBytes(200_000, 408)
	const chunk = 50_000
	id := alice.djangoUpload("notes.txt", data, chunk, 100_000)
	before := e.storage()
	for _, c := range []djangoChunk{
		{uploadID: id, name: "notes.txt", data: data[100_000:150_000], rng: contentRange(100_000, chunk, len(data))},
		{uploadID: id, name: "notes.txt", data: make([]byte, chunk), rng: contentRange(0, chunk, len(data))},
	} {
		if st, a := bob.djangoSend(c); st != http.StatusNotFound || a.Detail == "" || a.UploadID != "" {
			t.Errorf("bob appends to alice's upload at %s: %d %+v, want 404 with a detail", c.rng, st, a)
		}
	}
	if st, a := bob.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}); st != http.StatusNotFound || a.Detail == "" {
		t.Errorf("bob completes alice's upload: %d %+v, want 404", st, a)
	}
	e.unchanged("bob's requests", before, e.storage(), false)
	for start := 100_000; start < len(data); start += chunk {
		piece := data[start : start+chunk]
		if st, a := alice.djangoSend(djangoChunk{uploadID: id, name: "notes.txt", data: piece, rng: contentRange(start, len(piece), len(data))}); st != 200 || a.Offset != int64(start+chunk) {
			t.Fatalf("alice's chunk at %d after bob: %d %+v (her offset must not have moved)", start, st, a)
		}
	}
	st, a := alice.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}})
	if st != 200 {
		t.Fatalf("alice completes: %d %+v", st, a)
	}
	if got, _ := e.object(a.Key); !bytes.Equal(got, data) {
		t.Fatal("alice's object is not her file")
	}
	finished := e.storage()
	if st, _ := bob.djangoComplete(url.Values{"upload_id": {id}, "md5": {md5Hex(data)}}); st != http.StatusNotFound {
		t.Errorf("bob completes alice's finished upload: %d, want 404", st)
	}
	e.unchanged("bob's completion after hers", finished, e.storage(), false)
}

// TestIsolationDRF: bob gets 404 {"detail": "Not found."} for alice's
// upload whatever he does with it: GET, PUT a chunk, POST the checksum.
func TestIsolationDRF(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	data := randomBytes(300_000, 409)
	const chunk = 100_000
	u := alice.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-%d/%d", chunk-1, len(data)), "data.csv", data[:chunk]).upload(t)
	sum := md5.Sum(data)
	checksum := url.Values{"md5": {hex.EncodeToString(sum[:])}}
	path := "/drf/uploads/" + u.ID
	bobTries := func() {
		t.Helper()
		bob.drfSend("GET", path, nil, nil).refused(t, 404, "Not found.", nil)
		bob.drfPut(path, fmt.Sprintf("bytes %d-%d/%d", chunk, 2*chunk-1, len(data)), "data.csv", data[chunk:2*chunk]).refused(t, 404, "Not found.", nil)
		bob.drfPut(path, fmt.Sprintf("bytes 0-%d/%d", chunk-1, len(data)), "data.csv", make([]byte, chunk)).refused(t, 404, "Not found.", nil)
		bob.drfComplete(path, checksum).refused(t, 404, "Not found.", nil)
	}
	before := e.storage()
	bobTries()
	e.unchanged("bob's requests", before, e.storage(), false)
	if got := alice.drfSend("GET", path, nil, nil).upload(t); got.Offset != chunk || got.Status != 1 {
		t.Fatalf("alice's upload after bob: %+v", got)
	}
	for start := chunk; start < len(data); start += chunk {
		alice.drfPut(path, fmt.Sprintf("bytes %d-%d/%d", start, start+chunk-1, len(data)), "data.csv", data[start:start+chunk]).upload(t)
	}
	done := alice.drfComplete(path, checksum)
	if u := done.upload(t); u.Status != 2 {
		t.Fatalf("alice completes: %+v", u)
	}
	var where struct{ Key string }
	if err := json.Unmarshal(done.raw, &where); err != nil || where.Key == "" {
		t.Fatalf("completion %s has no key", done.raw)
	}
	if got, _ := e.object(where.Key); !bytes.Equal(got, data) {
		t.Fatal("alice's object is not her file")
	}
	finished := e.storage()
	bobTries()
	e.unchanged("bob's requests after completion", finished, e.storage(), false)
}

// TestIsolationFileUpload: files are known by name per owner, so bob's
// resume GET finds nothing of alice's, his later chunk of her file name
// has no upload to go to (404), and a file of the same name he starts from
// byte 0 is his own.
func TestIsolationFileUpload(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	const chunk = 100_000
	a := fuFile{name: "cv.pdf", data: randomBytes(350_000, 410), chunk: chunk}
	b := fuFile{name: "cv.pdf", data: randomBytes(350_000, 411), chunk: chunk, raw: true}
	for ub := 0; ub < 2*chunk; ub += chunk {
		if st, ans, _ := alice.fuDo(a.request(alice.url, ub)); st != 200 || ans.Files[0].Size != int64(ub+chunk) {
			t.Fatalf("alice's chunk at %d: %d %+v", ub, st, ans)
		}
	}
	resume := url.Values{"file": {a.name}, "size": {strconv.Itoa(len(a.data))}}
	before := e.storage()
	if st, ans := bob.fuResume(resume); st != 200 || ans.File != nil {
		t.Fatalf("bob's resume GET for alice's file: %d %+v, want {\"file\": null}", st, ans)
	}
	if st, ans, _ := bob.fuDo(b.request(bob.url, 2*chunk)); st != http.StatusNotFound || len(ans.Files) != 1 || ans.Files[0].Error == "" {
		t.Fatalf("bob's next chunk of alice's file: %d %+v, want 404 with the file's error", st, ans)
	}
	e.unchanged("bob's requests", before, e.storage(), false)
	if st, ans := alice.fuResume(resume); st != 200 || ans.File == nil || ans.File.Size != 2*chunk {
		t.Fatalf("alice's resume GET after bob: %d %+v", st, ans)
	}
	// His own file of the same name, from byte 0, finishes as his.
	ans, _ := bob.fuUpload(b, 0)
	bob.fuFinished(ans, b)
	if st, ans := alice.fuResume(resume); st != 200 || ans.File == nil || ans.File.Size != 2*chunk {
		t.Fatalf("alice's resume GET after bob's file: %d %+v", st, ans)
	}
	ans, _ = alice.fuUpload(a, 2*chunk)
	alice.fuFinished(ans, a)
}

// TestIsolationNoTokenNoEntry: with auth on, every route of the template
// answers a request without a valid token 401 {"message":"Unauthorized"}
// from the gateway, and nothing is stored; CORS preflights pass without
// one.
func TestIsolationNoTokenNoEntry(t *testing.T) {
	e, alice, _ := newAuthEnv(t)
	up := alice.createNative("kept.bin", 10, 1<<20)
	// Another issuer of the same name and audience, with its own key…
	stranger, err := auth.New(auth.Options{URL: e.issuer.URL(), Audience: e.issuer.Audience()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := stranger.Mint("alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// …and a token that claims the real issuer's kid, signed with a key
	// that is not the issuer's.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.Sign(key, e.issuer.KeyID(), map[string]any{
		"iss": e.issuer.URL(), "aud": e.issuer.Audience(), "sub": "alice",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	credentials := map[string]string{
		"no token":                     "",
		"not a JWT":                    "Bearer x.y.z",
		"another issuer's token":       "Bearer " + other.Value,
		"a token forged for alice":     "Bearer " + forged,
		"alice's token as Basic creds": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+other.Value)),
	}
	before := e.storage()
	staged := e.blobs.putStaged.Load()
	routes := e.tmpl.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	for _, r := range routes {
		if r.Public {
			continue // the OPTIONS routes of ANY paths, checked below
		}
		method := r.Method
		if method == "ANY" {
			method = "POST"
		}
		path := strings.NewReplacer("{id}", up.ID, "{n}", "0").Replace(r.Path)
		for what, cred := range credentials {
			req, _ := http.NewRequest(method, e.url+path, bytes.NewReader([]byte("chunk")))
			req.Header.Set("Content-Type", "application/octet-stream")
			if cred != "" {
				req.Header.Set("Authorization", cred)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := `{"message":"Unauthorized"}`
			if method == http.MethodHead {
				want = "" // the answer to a HEAD has no body
			}
			if resp.StatusCode != http.StatusUnauthorized || string(body) != want {
				t.Errorf("%s %s with %s: %d %s, want 401 %s", method, path, what, resp.StatusCode, body, want)
			}
		}
	}
	// A browser's CORS preflight carries no token and must still pass,
	// on every path, the ANY ones (with their open OPTIONS routes) too.
	for _, r := range routes {
		method := r.Method
		if method == "ANY" || method == "OPTIONS" {
			method = "POST"
		}
		path := strings.NewReplacer("{id}", up.ID, "{n}", "0").Replace(r.Path)
		req, _ := http.NewRequest("OPTIONS", e.url+path, nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("preflight for %s %s: %d %s, want 2xx with CORS headers", method, path, resp.StatusCode, body)
		}
	}
	e.unchanged("requests without a valid token", before, e.storage(), false)
	if e.blobs.putStaged.Load() != staged {
		t.Fatal("a request without a valid token staged a chunk")
	}
	// The same routes do answer a caller with a token.
	var status nativeUpload
	if st := alice.call("GET", "/v1/uploads/"+up.ID, nil, &status); st != 200 || status.ID != up.ID {
		t.Fatalf("alice's own status: %d %+v", st, status)
	}
}
