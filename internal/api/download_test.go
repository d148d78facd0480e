package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// content asks for the download link of upload id, without following it:
// the status and the link.
func (e *env) content(id string) (int, string) {
	e.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.url + "/v1/uploads/" + id + "/content")
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestDownloadLink: the owner of a finished upload is sent (302) to a
// link that fetches the object byte for byte, as a download under the
// file's original name, and expires within minutes; another owner's
// request answers 404, an upload not yet complete 409. The object
// carries the client's metadata, chunkup's own, and the content type.
func TestDownloadLink(t *testing.T) {
	e, alice, bob := newAuthEnv(t)
	const chunk = 1 << 20
	data := randomBytes(chunk+4321, 501)
	name := "Résumé (final).pdf"
	body, _ := json.Marshal(map[string]any{"name": name, "size": len(data), "chunkSize": chunk, "type": "application/pdf",
		"metadata": map[string]string{"album": "summer-2024", "ref_no": "42"}})
	var up nativeUpload
	if st := alice.call("POST", "/v1/uploads", bytes.NewReader(body), &up); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	alice.putNative(up.ID, 0, chunkOf(data, chunk, 0))
	if st, _ := alice.content(up.ID); st != http.StatusConflict {
		t.Fatalf("link of an open upload: %d, want 409", st)
	}
	alice.putNative(up.ID, 1, chunkOf(data, chunk, 1))
	done := alice.completeNative(up.ID, data)

	st, link := alice.content(up.ID)
	if st != http.StatusFound || link == "" {
		t.Fatalf("owner's link: %d %q, want 302 with a Location", st, link)
	}
	u, err := url.Parse(link)
	if exp, perr := strconv.Atoi(u.Query().Get("X-Amz-Expires")); err != nil || perr != nil || exp <= 0 || exp > 300 {
		t.Fatalf("link %q: want a presigned URL of at most 300 s", link)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("the link fetched %d, %d bytes; want the file's %d", resp.StatusCode, len(got), len(data))
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] != name {
		t.Fatalf("Content-Disposition %q (%v): want the original name %q", resp.Header.Get("Content-Disposition"), err, name)
	}
	if st, loc := bob.content(up.ID); st != http.StatusNotFound || loc != "" {
		t.Fatalf("another owner's link: %d %q, want 404", st, loc)
	}

	head, err := e.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &e.bucket, Key: &done.Key})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"meta-album": "summer-2024", "meta-ref_no": "42", "upload-id": up.ID, "owner": url.PathEscape("sub:alice"),
		"original-name": url.PathEscape(name), "dialect": "native"}
	for k, v := range want {
		if head.Metadata[k] != v {
			t.Errorf("object metadata %s = %q, want %q (all: %v)", k, head.Metadata[k], v, head.Metadata)
		}
	}
	if ct := *head.ContentType; !strings.HasPrefix(ct, "application/pdf") {
		t.Errorf("object content type %q, want application/pdf", ct)
	}
}
