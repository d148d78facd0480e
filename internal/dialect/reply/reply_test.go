package reply_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"chunkup/internal/dialect/dialecttest"
	"chunkup/internal/dialect/reply"
	"chunkup/internal/upload"
)

// teapot is a status table no family has: every refusal is 418, so a
// test can tell the table's status from one Fail chose itself.
func teapot(upload.Code) int { return http.StatusTeapot }

// shape is a family's body: the code and message it was given.
func shape(e *upload.Error) any { return map[string]any{"code": e.Code, "message": e.Message} }

// request is a request with API Gateway's request id in its context, as
// package api puts it there.
func request(requestID string) *http.Request {
	r := httptest.NewRequest("PUT", "/v1/uploads/u1/chunks/3", nil)
	return r.WithContext(context.WithValue(r.Context(), upload.RequestIDKey{}, requestID))
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return m
}

// TestRefusal: a refusal gets the status the family's table gives its
// code, the family's body, no Retry-After, and no log record.
func TestRefusal(t *testing.T) {
	var log dialecttest.Log
	f := reply.Family{Log: log.Logger(), Status: teapot}
	rec := httptest.NewRecorder()
	err := &upload.Error{Code: upload.CodeChunkRange, Message: "chunk 9 is out of range"}
	f.Fail(rec, request("req-1"), fmt.Errorf("put chunk: %w", err), shape)
	if rec.Code != http.StatusTeapot || rec.Header().Get("Retry-After") != "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v, want 418 JSON without Retry-After", rec.Code, rec.Header())
	}
	if b := decode(t, rec); b["code"] != string(upload.CodeChunkRange) || b["message"] != err.Message {
		t.Fatalf("body %v", b)
	}
	if got := log.Records(t, ""); len(got) != 0 {
		t.Fatalf("a refusal was logged: %v", got)
	}
}

// TestBusyIsRetryable: a refusal the table answers 503 (the upload busy)
// carries Retry-After, so the client waits and sends it again.
func TestBusyIsRetryable(t *testing.T) {
	f := reply.Family{Log: slog.New(slog.DiscardHandler), Status: reply.Status}
	rec := httptest.NewRecorder()
	f.Fail(rec, request("req-1"), &upload.Error{Code: upload.CodeBusy, Message: "busy"}, shape)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d Retry-After %q, want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestFault: an error that is no refusal is answered 503 with
// Retry-After whatever the table says, in the family's body as the
// refusal Fault, and logged once, at error level, with the request id,
// the upload id it was marked with, and the error.
func TestFault(t *testing.T) {
	var log dialecttest.Log
	f := reply.Family{Log: log.Logger(), Status: teapot}
	rec := httptest.NewRecorder()
	cause := errors.New("dynamodb: connection reset")
	f.Fail(rec, request("req-7"), reply.ForUpload("u1", fmt.Errorf("read session u1: %w", cause)), shape)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d Retry-After %q, want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	want := reply.Fault()
	if b := decode(t, rec); b["code"] != string(upload.CodeServiceTimeout) || b["code"] != string(want.Code) || b["message"] != want.Message {
		t.Fatalf("body %v, want the fault %v", b, want)
	}
	got := log.Records(t, "request failed")
	if len(got) != 1 {
		t.Fatalf("%d log records, want 1: %v", len(got), got)
	}
	r := got[0]
	for k, v := range map[string]any{
		"level": "ERROR", "msg": "request failed", "request_id": "req-7", "upload_id": "u1",
		"method": "PUT", "path": "/v1/uploads/u1/chunks/3", "err": "read session u1: dynamodb: connection reset",
	} {
		if r[k] != v {
			t.Errorf("log %s = %v, want %v (record %v)", k, r[k], v, r)
		}
	}
}

// TestFaultWithoutIDs: a fault of a request with no request id, about no
// upload known, is logged without those fields rather than with empty
// ones.
func TestFaultWithoutIDs(t *testing.T) {
	var log dialecttest.Log
	f := reply.Family{Log: log.Logger(), Status: teapot}
	f.Fail(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/uploads", nil), reply.ForUpload("", errors.New("boom")), shape)
	got := log.Records(t, "request failed")
	if len(got) != 1 {
		t.Fatalf("%d log records, want 1", len(got))
	}
	for _, k := range []string{"request_id", "upload_id"} {
		if v, ok := got[0][k]; ok {
			t.Errorf("log has %s = %v", k, v)
		}
	}
}

// TestMarkedRefusal: a refusal marked with its upload is still a
// refusal, answered by the table and not logged.
func TestMarkedRefusal(t *testing.T) {
	var log dialecttest.Log
	f := reply.Family{Log: log.Logger(), Status: teapot}
	rec := httptest.NewRecorder()
	f.Fail(rec, request("req-1"), reply.ForUpload("u1", &upload.Error{Code: upload.CodeExpired, Message: "expired"}), shape)
	if rec.Code != http.StatusTeapot || len(log.Records(t, "")) != 0 {
		t.Fatalf("%d, want the table's 418 and no log record", rec.Code)
	}
}

// TestHeadersStay: headers set before Fail (a dialect's Range, say) stay
// on the answer, and NoStore marks it uncacheable.
func TestHeadersStay(t *testing.T) {
	f := reply.Family{Log: slog.New(slog.DiscardHandler), Status: reply.Status, NoStore: true}
	rec := httptest.NewRecorder()
	rec.Header().Set("Range", "0-99")
	f.Fail(rec, request("req-1"), &upload.Error{Code: upload.CodeOffset, Message: "offset", Offset: 100}, shape)
	if rec.Header().Get("Range") != "0-99" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", rec.Header())
	}
}

// TestJSON: an answer is the value as encoding/json writes it, one line,
// with its status and type; Cache-Control only for a NoStore family.
func TestJSON(t *testing.T) {
	for _, noStore := range []bool{false, true} {
		rec := httptest.NewRecorder()
		reply.Family{NoStore: noStore}.JSON(rec, http.StatusCreated, map[string]any{"id": "u1", "n": 3})
		if rec.Code != http.StatusCreated || rec.Body.String() != `{"id":"u1","n":3}`+"\n" || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
		}
		if got := rec.Header().Get("Cache-Control") == "no-store"; got != noStore {
			t.Fatalf("NoStore %v: Cache-Control %q", noStore, rec.Header().Get("Cache-Control"))
		}
	}
}

// TestStatus pins the table most families start from.
func TestStatus(t *testing.T) {
	want := map[upload.Code]int{
		upload.CodeBusy: 503, upload.CodeServiceTimeout: 503,
		upload.CodeNotFound: 404, upload.CodeExpired: 410, upload.CodeAborted: 410,
		upload.CodeInvalid: 400, upload.CodeFileTooLarge: 400, upload.CodeComplete: 400, upload.CodeOffset: 400,
	}
	for c, st := range want {
		if got := reply.Status(c); got != st {
			t.Errorf("%s: %d, want %d", c, got, st)
		}
	}
}

// TestForUpload: a marked error reads and unwraps as the error it marks;
// nil and an unknown upload leave the error as it is.
func TestForUpload(t *testing.T) {
	cause := errors.New("boom")
	err := reply.ForUpload("u1", cause)
	if err.Error() != "boom" || !errors.Is(err, cause) {
		t.Fatalf("marked error %q does not stand for its cause", err)
	}
	var e *upload.Error
	if !errors.As(reply.ForUpload("u1", &upload.Error{Code: upload.CodeBusy}), &e) || e.Code != upload.CodeBusy {
		t.Fatal("a marked refusal is not found as one")
	}
	if reply.ForUpload("u1", nil) != nil || reply.ForUpload("", cause) != cause {
		t.Fatal("nil or an unknown upload was marked")
	}
}

// TestLogger: a dialect's own records name the upload and the request.
func TestLogger(t *testing.T) {
	var log dialecttest.Log
	f := reply.Family{Log: log.Logger()}
	ctx := request("req-3").Context()
	f.Logger(ctx, "u9").WarnContext(ctx, "drop refused upload")
	got := log.Records(t, "drop refused upload")
	if len(got) != 1 || got[0]["upload_id"] != "u9" || got[0]["request_id"] != "req-3" {
		t.Fatalf("records %v", got)
	}
}

// TestWrite shows a family that writes its own bodies (tus: plain text)
// getting the status and body Fail chose, Retry-After on a fault, and no
// JSON written in its place.
func TestWrite(t *testing.T) {
	var gotStatus int
	var gotBody any
	f := reply.Family{Log: slog.New(slog.DiscardHandler), Status: reply.Status,
		Write: func(w http.ResponseWriter, _ *http.Request, status int, body any) {
			gotStatus, gotBody = status, body
			w.WriteHeader(status)
		}}
	rec := httptest.NewRecorder()
	f.Fail(rec, httptest.NewRequest("PATCH", "/files/x", nil), errors.New("dynamodb down"), func(e *upload.Error) any { return e.Code })
	if gotStatus != http.StatusServiceUnavailable || gotBody != upload.CodeServiceTimeout {
		t.Fatalf("Write got %d %v; want 503 and the fault's code", gotStatus, gotBody)
	}
	if rec.Header().Get("Retry-After") == "" || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Fatalf("answer: headers %v, body %q; want Retry-After and nothing written by JSON", rec.Header(), rec.Body.String())
	}
}

// TestAppRefusalStatus: the application's refusal is answered with the
// status it asked for where the family's clients take it as a refusal,
// and with the family's table's status otherwise; no other code is.
func TestAppRefusalStatus(t *testing.T) {
	only400 := func(s int) bool { return s == http.StatusBadRequest }
	for _, c := range []struct {
		name    string
		refuses func(int) bool
		err     *upload.Error
		want    int
	}{
		{"any 4xx kept", nil, &upload.Error{Code: upload.CodeRefused, Status: 402}, 402},
		{"a status the clients would retry", only400, &upload.Error{Code: upload.CodeRefused, Status: 402}, http.StatusTeapot},
		{"a status the clients take", only400, &upload.Error{Code: upload.CodeRefused, Status: 400}, 400},
		{"not a 4xx", nil, &upload.Error{Code: upload.CodeRefused, Status: 503}, http.StatusTeapot},
		{"another code's Status is ignored", nil, &upload.Error{Code: upload.CodeInvalid, Status: 402}, http.StatusTeapot},
	} {
		f := reply.Family{Log: slog.New(slog.DiscardHandler), Status: teapot, Refuses: c.refuses}
		rec := httptest.NewRecorder()
		f.Fail(rec, request("req-1"), c.err, shape)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.want)
		}
	}
}

// TestMergeApp: an object's members join the answer's fields without
// replacing any; another JSON value is the answer's app; none changes
// nothing.
func TestMergeApp(t *testing.T) {
	enc := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }
	for app, want := range map[string]string{
		`{"photoId":7,"id":"theirs"}`: `{"id":"ours","photoId":7}`,
		`[1,2]`:                       `{"app":[1,2],"id":"ours"}`,
		`"done"`:                      `{"app":"done","id":"ours"}`,
		``:                            `{"id":"ours"}`,
	} {
		if got := enc(reply.MergeApp(map[string]any{"id": "ours"}, []byte(app))); got != want {
			t.Errorf("MergeApp(%s) = %s, want %s", app, got, want)
		}
	}
}
