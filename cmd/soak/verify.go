package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"chunkup/internal/api"
	"chunkup/internal/store/s3store"
	"chunkup/internal/upload"
)

// verify checks every file a client finished against S3, byte for byte,
// and counts as lost every file that is not there as sent, and every
// upload that was neither finished nor walked away from.
func (e *env) verify(ctx context.Context, files []*file, rep *Report) {
	var mu sync.Mutex
	each(files, max(e.cfg.Concurrency, 1), func(f *file) {
		loss := e.verifyOne(ctx, f)
		wrong := e.checkEnded(ctx, f)
		if wrong == "" && loss == "" {
			wrong = e.checkTold(f)
		}
		mu.Lock()
		defer mu.Unlock()
		if wrong != "" {
			rep.Wrong = append(rep.Wrong, Loss{File: f.name, Dialect: f.dialect, Reason: wrong})
		}
		if loss != "" {
			rep.lose(f, loss)
			return
		}
		if f.finished {
			rep.Verified++
			if rep.VerifiedBy == nil {
				rep.VerifiedBy = map[string]int{}
			}
			rep.VerifiedBy[f.dialect]++
		}
	})
}

func (e *env) verifyOne(ctx context.Context, f *file) string {
	if !f.finished {
		if walkedAway(f.lastErr) {
			return ""
		}
		return fmt.Sprintf("could not be finished on resume, without faults: %v (during the soak: %v); %s", f.lastErr, f.soakErr, e.diagnose(ctx, f))
	}
	key, err := e.keyOf(ctx, f)
	if err != nil {
		return fmt.Sprintf("the client finished it, but %v; %s", err, e.diagnose(ctx, f))
	}
	sum, etag, err := e.fetch(ctx, key)
	if err != nil {
		return fmt.Sprintf("the client finished it, but S3 has no object %s (%v); %s%s", key, err, e.diagnose(ctx, f), e.elsewhere(ctx, f))
	}
	if sum != f.sum {
		return fmt.Sprintf("object %s differs from the file sent; %s", key, e.diagnose(ctx, f))
	}
	head, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key, ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		return fmt.Sprintf("object %s was read, then its checksum could not be: %v", key, err)
	}
	if crc := aws.ToString(head.ChecksumCRC64NVME); crc != f.crc {
		return fmt.Sprintf("object %s has CRC64NVME %q, not the file's %s; %s", key, crc, f.crc, e.diagnose(ctx, f))
	}
	f.key, f.etag = key, etag
	return ""
}

// checkTold compares what a client was told of its finished file (by a
// completion's answer, or tus's headers) with the object verified.
func (e *env) checkTold(f *file) string {
	t, ok := f.client.(teller)
	if !ok || f.key == "" {
		return ""
	}
	etag, crc := t.told()
	switch {
	case crc != "" && crc != f.crc:
		return fmt.Sprintf("the client was told CRC64NVME %s of %s, which is %s", crc, f.key, f.crc)
	case etag != "" && etag != f.etag:
		return fmt.Sprintf("the client was told ETag %s of %s, which has %s", etag, f.key, f.etag)
	}
	return ""
}

// checkEnded makes sure an upload its client ended (and was told so)
// left nothing behind: no staged object, no multipart upload, and a
// session that says it was aborted. Anything else is a wrong answer.
func (e *env) checkEnded(ctx context.Context, f *file) string {
	if !errors.Is(f.lastErr, errEnded) {
		return ""
	}
	_, id := f.client.where()
	s, err := e.store.GetSession(ctx, id)
	if err != nil {
		return fmt.Sprintf("upload %s was ended, and its session cannot be read: %v", id, err)
	}
	if s.State != upload.StateAborted {
		return fmt.Sprintf("upload %s was ended, and is %s", id, s.State)
	}
	staged, err := e.list(ctx, "staging/"+id+"/")
	if err != nil {
		return fmt.Sprintf("upload %s was ended; its staging prefix cannot be listed: %v", id, err)
	}
	if len(staged) > 0 {
		return fmt.Sprintf("upload %s was ended, and %d staged objects are left (%s…)", id, len(staged), staged[0])
	}
	open, err := e.openMultipart(ctx, s.Key)
	if err != nil {
		return fmt.Sprintf("upload %s was ended; its multipart uploads cannot be listed: %v", id, err)
	}
	if len(open) > 0 {
		return fmt.Sprintf("upload %s was ended, and %d multipart uploads of its key are open", id, len(open))
	}
	return ""
}

// openMultipart lists the multipart uploads open on S3 under prefix, as
// key and upload id.
func (e *env) openMultipart(ctx context.Context, prefix string) ([][2]string, error) {
	var open [][2]string
	in := &s3.ListMultipartUploadsInput{Bucket: &e.bucket, Prefix: &prefix}
	for {
		out, err := e.s3.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, u := range out.Uploads {
			open = append(open, [2]string{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(out.IsTruncated) {
			return open, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// countOpen counts the multipart uploads open before the final sweep,
// of direct uploads and of the others, for the report: the sweep must
// end every one of them.
func (e *env) countOpen(ctx context.Context, rep *Report) error {
	open, err := e.openMultipart(ctx, "")
	if err != nil {
		return err
	}
	for _, u := range open {
		id, _ := upload.IDOfKey(u[0])
		if s, err := e.store.GetSession(ctx, id); err == nil && s.Kind == upload.Direct {
			rep.OpenBeforeSweep.Direct++
		} else {
			rep.OpenBeforeSweep.Other++
		}
	}
	return nil
}

// keyOf is where a finished file should be: the key its answers named,
// or the key its upload id gives; for a client that never learnt either,
// the upload its identifier points at, if that one is complete.
func (e *env) keyOf(ctx context.Context, f *file) (string, error) {
	key, id := f.client.where()
	if key != "" {
		return key, nil
	}
	if id != "" {
		return upload.ObjectKey(id, f.name), nil
	}
	s, err := e.session(ctx, f)
	if err != nil {
		return "", fmt.Errorf("its client never learnt where the file is, and %w", err)
	}
	if s.State != upload.StateComplete {
		return "", fmt.Errorf("its client never learnt where the file is, and its upload %s is %s", s.ID, s.State)
	}
	return s.Key, nil
}

// identifier is the engine's name for an upload the client knows by its
// own identifier; "" for clients that get an id from the service.
func identifier(f *file) string {
	switch c := f.client.(type) {
	case *resumableClient:
		if c.flow {
			return "flow:" + c.identifier
		}
		return c.identifier
	case *multipleClient:
		chunk := int64(f.chunk)
		if c.count == 1 {
			chunk = max(int64(f.size), 1)
		}
		return fmt.Sprintf("multipleupload:%d:%d:%d:%s", f.size, chunk, c.count, c.uploadID)
	case *fileUploadClient:
		return "fileupload:" + f.name
	}
	return ""
}

// session reads the upload a file's client worked on, straight from the
// table: by the id the client learnt, or else by its identifier.
func (e *env) session(ctx context.Context, f *file) (*upload.Session, error) {
	_, id := f.client.where()
	if id == "" {
		ident := identifier(f)
		if ident == "" {
			return nil, errors.New("no upload id was ever answered")
		}
		var err error
		if id, err = e.store.LookupIdentifier(ctx, api.Anonymous, ident); err != nil {
			return nil, fmt.Errorf("no upload is known by its identifier %q: %w", ident, err)
		}
	}
	s, err := e.store.GetSession(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", id, err)
	}
	return s, nil
}

// diagnose says where a file's upload stands in the table, for the
// report of a lost file.
func (e *env) diagnose(ctx context.Context, f *file) string {
	s, err := e.session(ctx, f)
	if err != nil {
		return "upload: " + err.Error()
	}
	now := e.clock.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "upload %s: state %s", s.ID, s.State)
	if s.State == upload.StateCompleting {
		fmt.Fprintf(&b, " (completion claim lapsed %s ago)", now.Sub(s.Completion.Until).Round(time.Second))
	}
	if s.Kind == upload.Sequential {
		fmt.Fprintf(&b, ", %d of %d bytes, %d parts sealed, %d pieces pending", s.Offset, s.Size, s.NextPart, len(s.Pending))
		if s.Seal != nil {
			fmt.Fprintf(&b, ", seal of part %d pending", s.Seal.Part)
		}
	} else {
		fmt.Fprintf(&b, ", %d chunks in %d parts, %d parts counted", s.Chunks, s.Parts, s.PartsDone)
	}
	parts, err := e.store.ListParts(ctx, s.ID)
	if err != nil {
		return b.String() + ", parts unreadable: " + err.Error()
	}
	for _, p := range parts {
		fmt.Fprintf(&b, "; part %d: ", p.Index+1)
		switch {
		case p.Assembled():
			b.WriteString("assembled")
		case p.Claim.Token != "":
			fmt.Fprintf(&b, "%d chunks recorded, claimed until %s from now", len(p.Chunks), p.Claim.Until.Sub(now).Round(time.Second))
		default:
			fmt.Fprintf(&b, "%d chunks recorded", len(p.Chunks))
		}
		missing := 0
		for _, c := range p.Chunks {
			if _, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: aws.String(c.Key)}); err != nil {
				missing++
			}
		}
		if missing > 0 && !p.Assembled() {
			fmt.Fprintf(&b, ", %d of whose staged objects are gone", missing)
		}
	}
	return b.String()
}

// elsewhere looks for the file's bytes under another upload's key, as
// when an earlier upload of the same file was finished but its client
// never learnt it; it says where, or nothing.
func (e *env) elsewhere(ctx context.Context, f *file) string {
	keys, err := e.list(ctx, "uploads/")
	if err != nil {
		return ""
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, "/"+upload.SanitizeName(f.name)) {
			continue
		}
		if sum, _, err := e.fetch(ctx, k); err == nil && sum == f.sum {
			return fmt.Sprintf("; its bytes are in S3 as %s, which its client was never told", k)
		}
	}
	return ""
}

// fetch reads an object straight from S3 and returns its SHA-256 and ETag.
func (e *env) fetch(ctx context.Context, key string) ([32]byte, string, error) {
	out, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil {
		return [32]byte{}, "", err
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return [32]byte{}, "", fmt.Errorf("read %s: %w", key, err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, aws.ToString(out.ETag), nil
}

// sweep moves the clock past every upload's expiry and runs the cleanup
// function until nothing is due: once with the faults on (if any), then
// without, as the next scheduled runs would.
func (e *env) sweep(ctx context.Context, rep *Report) error {
	e.clock.advance(e.opt.Expiry + time.Hour)
	run := func() {
		st, err := e.engine.Sweep(ctx, 100)
		rep.SweepAtEnd.Expired += st.Expired
		rep.SweepAtEnd.Completed += st.Completed
		rep.SweepAtEnd.Released += st.Released
		rep.SweepAtEnd.Errors += st.Errors
		if err != nil {
			rep.SweepAtEnd.Errors++
		}
		rep.SweepAtEnd.Runs++
	}
	if e.cfg.FaultRate > 0 {
		e.setRate(e.cfg.FaultRate)
		run()
		e.setRate(0)
	}
	// An upload the sweep completes (one that finishes by itself, with
	// every chunk in) is cleaned up one expiry period later, as every
	// finished upload is, so that its client can still find it: the runs
	// of the day after see to it. Whether a run completed one cannot be
	// told from its count alone (a completion whose answer was lost is
	// counted as an error), so the index is asked what a day later
	// would find due.
	for day := 0; day < 3; day++ {
		if day > 0 {
			later, err := e.store.ListExpired(ctx, e.clock.Now().Add(e.opt.Expiry+time.Hour), 1)
			if err != nil {
				return fmt.Errorf("list expired uploads: %w", err)
			}
			if len(later) == 0 {
				return nil
			}
			e.clock.advance(e.opt.Expiry + time.Hour)
		}
		if err := e.sweepDue(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

// sweepDue runs the cleanup function until nothing is due.
func (e *env) sweepDue(ctx context.Context, run func()) error {
	for i := 0; i < 20; i++ {
		due, err := e.store.ListExpired(ctx, e.clock.Now(), 1)
		if err != nil {
			return fmt.Errorf("list expired uploads: %w", err)
		}
		if len(due) == 0 {
			return nil
		}
		run()
	}
	return nil
}

// recheck makes sure the sweep left every verified file where it was.
func (e *env) recheck(ctx context.Context, files []*file, rep *Report) {
	for _, f := range files {
		if f.key == "" {
			continue
		}
		out, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &f.key})
		switch {
		case err != nil:
			rep.Verified--
			rep.VerifiedBy[f.dialect]--
			rep.lose(f, fmt.Sprintf("object %s was verified, then the sweep left it unreadable: %v", f.key, err))
		case aws.ToString(out.ETag) != f.etag:
			rep.Verified--
			rep.VerifiedBy[f.dialect]--
			rep.lose(f, fmt.Sprintf("object %s changed during the sweep (ETag %s, was %s)", f.key, aws.ToString(out.ETag), f.etag))
		}
	}
}

// orphans looks for whatever the uploads left behind after the sweep:
// staged chunks, open multipart uploads, sessions still in the sweep's
// index or kept with no TTL, part records, identifier records. It also
// counts finished objects that no client knows of.
func (e *env) orphans(ctx context.Context, files []*file, rep *Report) error {
	o := &rep.Orphans
	staged, err := e.list(ctx, "staging/")
	if err != nil {
		return err
	}
	o.Staged = staged
	open, err := e.openMultipart(ctx, "")
	if err != nil {
		return err
	}
	for _, u := range open {
		o.Multipart = append(o.Multipart, e.describeMultipart(ctx, u[0], u[1]))
	}
	scan := &dynamodb.ScanInput{TableName: &e.table}
	for {
		out, err := e.db.Scan(ctx, scan)
		if err != nil {
			return fmt.Errorf("scan table: %w", err)
		}
		for _, it := range out.Items {
			pk, sk := attrString(it["pk"]), attrString(it["sk"])
			_, indexed := it["sweep"]
			_, ttl := it["ttl"]
			switch {
			case sk == "S" && indexed:
				o.InIndex = append(o.InIndex, strings.TrimPrefix(pk, "U#")+" ("+attrString(it["state"])+")")
			case sk == "S" && !ttl:
				o.NoTTL = append(o.NoTTL, strings.TrimPrefix(pk, "U#")+" ("+attrString(it["state"])+")")
			case strings.HasPrefix(sk, "P#"):
				o.Parts = append(o.Parts, strings.TrimPrefix(pk, "U#")+" "+sk)
			case strings.HasPrefix(pk, "I#"):
				o.Identifiers = append(o.Identifiers, pk+" → "+attrString(it["id"]))
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		scan.ExclusiveStartKey = out.LastEvaluatedKey
	}
	objects, err := e.list(ctx, "uploads/")
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, f := range files {
		known[f.key] = true
	}
	for _, k := range objects {
		if !known[k] {
			rep.Unclaimed = append(rep.Unclaimed, k+e.whoseObject(ctx, k))
		}
	}
	for _, l := range [][]string{o.Staged, o.Multipart, o.InIndex, o.NoTTL, o.Parts, o.Identifiers} {
		sort.Strings(l)
	}
	return nil
}

// whoseObject says what made an object no client knows of, where that
// is not the whole file of an upload sent again: a tus partial upload's
// object, which a final upload never joined (its creation was sent again
// after the answer was lost, or the client walked away).
func (e *env) whoseObject(ctx context.Context, key string) string {
	id, ok := upload.IDOfKey(key)
	if !ok {
		return " (not an upload's key)"
	}
	if s, err := e.store.GetSession(ctx, id); err == nil && s.Partial {
		return " (a tus partial upload's: no final upload joined it, or its deletion once joined failed)"
	}
	return ""
}

// describeMultipart says whose an open multipart upload is: the upload
// whose key it has, and whether that upload recorded it as its own.
func (e *env) describeMultipart(ctx context.Context, key, mpu string) string {
	rest, ok := strings.CutPrefix(key, "uploads/")
	id, _, _ := strings.Cut(rest, "/")
	if !ok || id == "" {
		return key + " (not an upload's key)"
	}
	s, err := e.store.GetSession(ctx, id)
	switch {
	case err != nil:
		return fmt.Sprintf("%s (upload %s: %v)", key, id, err)
	case s.MultipartID == mpu:
		return fmt.Sprintf("%s (the multipart upload of upload %s, now %s)", key, id, s.State)
	}
	return fmt.Sprintf("%s (not the multipart upload upload %s recorded, which is %q; it is %s)", key, id, s.MultipartID, s.State)
}

// list returns every key under prefix, straight from S3 (the soak's own
// client, which no fault reaches).
func (e *env) list(ctx context.Context, prefix string) ([]string, error) {
	return s3store.New(e.s3, e.bucket).ListStaged(ctx, prefix)
}

func attrString(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// each runs fn for every file, at most n at a time.
func each(files []*file, n int, fn func(*file)) {
	todo := make(chan *file)
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range todo {
				fn(f)
			}
		}()
	}
	for _, f := range files {
		todo <- f
	}
	close(todo)
	wg.Wait()
}
