package api_test

// Listing a caller's uploads (issue 14, item 3) through the whole stack
// with authorization on: GET /v1/uploads answers the caller's uploads of
// every kind and dialect, newest first, in pages whose cursor works only
// for the listing that gave it; GET /drf/uploads answers the caller's
// drf uploads as drf-chunked-upload's list view does. Both run through
// the table's owner index on dynalite.

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// listedUpload is a row of the native listing.
type listedUpload struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Dialect   string `json:"dialect"`
	CreatedAt string `json:"createdAt"`
	Key       string `json:"key"`
	Direct    bool   `json:"direct"`
}

type listPage struct {
	Uploads []listedUpload `json:"uploads"`
	Next    string         `json:"next"`
}

// listAll follows the native listing of query from its first page to its
// last, and returns every row in order. It fails the test if a page is
// longer than limit.
func (e *env) listAll(query url.Values, limit int) []listedUpload {
	e.t.Helper()
	var rows []listedUpload
	query.Set("limit", fmt.Sprint(limit))
	for pages := 0; ; pages++ {
		var page listPage
		if st := e.call("GET", "/v1/uploads?"+query.Encode(), nil, &page); st != http.StatusOK {
			e.t.Fatalf("GET /v1/uploads?%s: %d", query.Encode(), st)
		}
		if len(page.Uploads) > limit {
			e.t.Fatalf("a page of limit %d holds %d uploads", limit, len(page.Uploads))
		}
		rows = append(rows, page.Uploads...)
		if page.Next == "" {
			return rows
		}
		if pages > 50 {
			e.t.Fatal("the listing does not end")
		}
		query.Set("cursor", page.Next)
	}
}

// idOfKey is the upload id in a final object's key (uploads/<id>/<name>).
func idOfKey(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// checkListed fails the test unless rows are exactly the uploads of want
// (id → dialect), each once, newest first.
func checkListed(t *testing.T, what string, rows []listedUpload, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range rows {
		if seen[r.ID] {
			t.Errorf("%s: %s listed twice", what, r.ID)
		}
		seen[r.ID] = true
		d, ok := want[r.ID]
		if !ok {
			t.Errorf("%s: lists %s (%s, %s), not one of the caller's", what, r.ID, r.Dialect, r.Name)
		} else if r.Dialect != d {
			t.Errorf("%s: %s is of dialect %q, want %q", what, r.ID, r.Dialect, d)
		}
		if i > 0 && r.CreatedAt > rows[i-1].CreatedAt {
			t.Errorf("%s: %s (created %s) after %s (created %s): not newest first", what, r.ID, r.CreatedAt, rows[i-1].ID, rows[i-1].CreatedAt)
		}
	}
	for id, d := range want {
		if !seen[id] {
			t.Errorf("%s: the %s upload %s is missing", what, d, id)
		}
	}
}

func TestListEachOwnerSeesTheirOwn(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	aliceOpen, aliceDone := map[string]string{}, map[string]string{}
	next := func() { e.clock.Advance(time.Second) } // each upload in a second of its own

	aliceOpen[alice.createNative("a.bin", 3<<20, 1<<20).ID] = "native"
	next()
	var direct nativeUpload
	if st := alice.call("POST", "/v1/uploads", jsonBody(map[string]any{"name": "d.bin", "size": 12 << 20, "direct": true}), &direct); st != 201 {
		t.Fatalf("direct create: %d", st)
	}
	aliceOpen[direct.ID] = "native"
	next()
	aliceOpen[strings.TrimPrefix(alice.tusCreate(1000, "filename dC5iaW4="), "/files/")] = "tus"
	next()
	data := randomBytes(200_000, 77)
	drfOpen := alice.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-99999/%d", len(data)), "open.csv", data[:100_000]).upload(t)
	aliceOpen[drfOpen.ID] = "drf"
	next()
	drfDone := alice.drfUploadAll("done.csv", data, 100_000)
	sum := md5.Sum(data)
	if u := alice.drfComplete(drfDone.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).upload(t); u.Status != 2 {
		t.Fatalf("drf completion: %+v", u)
	}
	aliceDone[drfDone.ID] = "drf"
	next()
	aliceOpen[alice.companionCreate("c.bin").UploadID] = "companion"
	next()
	aliceOpen[alice.djangoUpload("dj.bin", data, 100_000, 100_000)] = "django"
	next()
	st, mu := alice.muWhole("m.txt", "text/plain", []byte("a whole file"))
	if st != 200 || mu.Key == "" {
		t.Fatalf("multipleupload whole file: %d %v", st, mu)
	}
	aliceDone[idOfKey(mu.Key)] = "multipleupload"
	next()
	bobs := map[string]string{bob.createNative("b.bin", 1<<20, 1<<20).ID: "native"}
	next()
	bobDrf := bob.drfPut("/drf/uploads", "bytes 0-9/10", "b.csv", []byte("0123456789")).upload(t)
	bobs[bobDrf.ID] = "drf"

	all := map[string]string{}
	for id, d := range aliceOpen {
		all[id] = d
	}
	for id, d := range aliceDone {
		all[id] = d
	}
	checkListed(t, "alice, in pages of 2", alice.listAll(url.Values{}, 2), all)
	checkListed(t, "alice, in one page", alice.listAll(url.Values{}, 100), all)
	checkListed(t, "alice's open ones", alice.listAll(url.Values{"state": {"open"}}, 3), aliceOpen)
	checkListed(t, "alice's complete ones", alice.listAll(url.Values{"state": {"complete"}}, 1), aliceDone)
	checkListed(t, "bob", bob.listAll(url.Values{}, 1), bobs)
	for _, r := range alice.listAll(url.Values{}, 100) {
		if r.ID == direct.ID && !r.Direct {
			t.Errorf("the direct upload is listed as %+v", r)
		}
		if _, done := aliceDone[r.ID]; done && (r.State != "complete" || idOfKey(r.Key) != r.ID) {
			t.Errorf("a finished upload is listed as %+v", r)
		}
	}

	// Alice's cursor in bob's hands is refused, and shows him nothing.
	var first listPage
	if st := alice.call("GET", "/v1/uploads?limit=1", nil, &first); st != 200 || first.Next == "" {
		t.Fatalf("alice's first page: %d %+v", st, first)
	}
	var er nativeError
	if st := bob.call("GET", "/v1/uploads?limit=1&cursor="+first.Next, nil, &er); st != 400 || er.Error.Code != "invalid_request" || !strings.Contains(er.Error.Message, "not given for this listing") {
		t.Errorf("bob with alice's cursor: %d %+v, want 400 invalid_request", st, er)
	}
	// Nor does it serve another filter of alice's own.
	er = nativeError{}
	if st := alice.call("GET", "/v1/uploads?state=complete&cursor="+first.Next, nil, &er); st != 400 || er.Error.Code != "invalid_request" {
		t.Errorf("alice's cursor for another filter: %d %+v, want 400", st, er)
	}
}

func TestListRefusesBadQueries(t *testing.T) {
	_, alice, _ := newAuthEnv(t)
	alice.createNative("a.bin", 10, 10)
	for _, c := range []struct {
		query, says string
		limit       int64
	}{
		{"limit=0", `limit "0" is not a whole number from 1 to 100`, 100},
		{"limit=101", `limit "101" is not a whole number from 1 to 100`, 100},
		{"limit=ten", `limit "ten"`, 100},
		{"state=aborted", `state "aborted" is not one of "open", "complete"`, 0},
		{"cursor=bm90IGEgY3Vyc29y", `cursor "bm90IGEgY3Vyc29y" is not one this listing gave`, 0},
		{"cursor=" + strings.Repeat("A", 65), "cursor is 65 characters, over the limit of 64", 64},
	} {
		var er nativeError
		if st := alice.call("GET", "/v1/uploads?"+c.query, nil, &er); st != 400 || er.Error.Code != "invalid_request" ||
			!strings.Contains(er.Error.Message, c.says) || er.Error.Limit != c.limit {
			t.Errorf("?%s: %d %+v, want 400 invalid_request saying %q, limit %d", c.query, st, er, c.says, c.limit)
		}
	}
	var bad drfAnswer = alice.drfSend("GET", "/drf/uploads?limit=0", nil, nil)
	bad.refused(t, 400, `limit "0" is not a whole number from 1 to 100`, map[string]any{"limit": 100})
	alice.drfSend("GET", "/drf/uploads?cursor=xyz", nil, nil).refused(t, 400, `Cursor "xyz" is not one this listing gave: pass the next value of the previous page as it came`, nil)
}

// drfLinkNext is the URL of the next page that a drf list answer's Link
// header names, "" if none.
var drfLinkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// drfList follows GET /drf/uploads (with query) through its Link headers,
// and returns every upload of every page, each checked as a drf answer.
func (e *env) drfList(query string) []drfUpload {
	e.t.Helper()
	var all []drfUpload
	target := "/drf/uploads" + query
	for pages := 0; target != ""; pages++ {
		a := e.drfSend("GET", target, nil, nil)
		if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
			e.t.Fatalf("GET %s: %d %s (Cache-Control %q)", target, a.status, a.raw, a.header.Get("Cache-Control"))
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(a.raw, &rows); err != nil {
			e.t.Fatalf("GET %s: %s is not a JSON array", target, a.raw)
		}
		for _, r := range rows {
			all = append(all, drfAnswer{status: 200, raw: r}.upload(e.t))
		}
		target = ""
		if m := drfLinkNext.FindStringSubmatch(a.header.Get("Link")); m != nil {
			target = m[1]
		}
		if pages > 50 {
			e.t.Fatal("the drf list does not end")
		}
	}
	return all
}

// TestDRFListAsItsSuiteExpects: drf-chunked-upload's own tests
// (test_list_uploads, test_list_uploads_no_user_restricted): a user's list
// is exactly their uploads, open and complete, never another user's; an
// unauthenticated caller's is []. Uploads of other dialects are not drf's
// to list. Each row is the upload as the other answers show it: the
// finished one's file fetches the file.
func TestDRFListAsItsSuiteExpects(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	data := randomBytes(150_000, 78)
	open := alice.drfPut("/drf/uploads", fmt.Sprintf("bytes 0-49999/%d", len(data)), "fakefile", data[:50_000]).upload(t)
	e.clock.Advance(time.Second)
	done := alice.drfUploadAll("fakefile", data, 50_000)
	sum := md5.Sum(data)
	alice.drfComplete(done.URL, url.Values{"md5": {hex.EncodeToString(sum[:])}}).upload(t)
	e.clock.Advance(time.Second)
	alice.createNative("native.bin", 10, 10) // not a drf upload
	bobs := bob.drfPut("/drf/uploads", "bytes 0-9/10", "fakefile", []byte("0123456789")).upload(t)

	for _, query := range []string{"", "?limit=1"} {
		got := alice.drfList(query)
		var ids []string
		for _, u := range got {
			ids = append(ids, u.ID)
			if u.User != "sub:alice" {
				t.Errorf("alice's list%s: %s has user %q", query, u.ID, u.User)
			}
		}
		if want := []string{done.ID, open.ID}; !slices.Equal(ids, want) {
			t.Errorf("alice's list%s: %q, want %q (newest first)", query, ids, want)
		}
		if len(got) == 2 && (got[0].Status != 2 || got[0].File == nil || got[1].Status != 1 || got[1].File != nil || got[1].Offset != 50_000) {
			t.Errorf("alice's list%s: %+v", query, got)
		}
		if len(got) > 0 && got[0].File != nil {
			resp, err := http.Get(*got[0].File)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(body, data) {
				t.Errorf("the finished upload's file answers %d with %d bytes, not the file", resp.StatusCode, len(body))
			}
		}
	}
	if got := bob.drfList(""); len(got) != 1 || got[0].ID != bobs.ID {
		t.Errorf("bob's list: %+v, want his one upload", got)
	}

	anon := newEnv(t, nil)
	anon.drfPut("/drf/uploads", "bytes 0-9/10", "fakefile", []byte("0123456789")).upload(t)
	a := anon.drfSend("GET", "/drf/uploads", nil, nil)
	if a.status != 200 || strings.TrimSpace(string(a.raw)) != "[]" {
		t.Errorf("an unauthenticated caller's list: %d %s, want 200 []", a.status, a.raw)
	}
}
