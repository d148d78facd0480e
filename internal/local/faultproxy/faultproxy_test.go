package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// backend is a stand-in server that counts what reaches it and answers
// every request with the same body.
type backend struct {
	srv   *httptest.Server
	hits  atomic.Int64
	hosts chan string
}

func newBackend(t *testing.T, body string) *backend {
	t.Helper()
	b := &backend{hosts: make(chan string, 100)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		select {
		case b.hosts <- r.Host:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// syncBuffer is a log the proxy's goroutines write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProxy(t *testing.T, opts Options) (*Proxy, string) {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, u
}

// plainClient never retries by itself and never reuses a connection, so
// each test request is exactly one request.
func plainClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestNoFaultForwardsAndKeepsHost(t *testing.T) {
	b := newBackend(t, `{"ok":true}`)
	p, u := startProxy(t, Options{Backend: DynamoDB, Target: b.srv.URL})
	resp, err := plainClient().Post(u+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	if host := <-b.hosts; host != strings.TrimPrefix(u, "http://") {
		t.Fatalf("backend saw Host %q, want the proxy's %q (SigV4 signs it)", host, strings.TrimPrefix(u, "http://"))
	}
	if st := p.Stats(); st.Requests != 1 || st.Total() != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Each cut either keeps the request from the backend or lets it through,
// and in every case the client gets no complete answer.
func TestCuts(t *testing.T) {
	for _, tc := range []struct {
		kind    Kind
		reached int64
	}{
		{CutBefore, 0},
		{CutAfter, 1},
		{Truncate, 1},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			b := newBackend(t, `{"a long enough answer":"to cut in half"}`)
			log := &syncBuffer{}
			p, u := startProxy(t, Options{Backend: DynamoDB, Target: b.srv.URL, Rate: 1, Kinds: []Kind{tc.kind}, Log: log})
			req, _ := http.NewRequest("POST", u+"/", strings.NewReader(`{"TableName":"t"}`))
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.UpdateItem")
			resp, err := plainClient().Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Fatal("the client got a whole answer")
			}
			if got := b.hits.Load(); got != tc.reached {
				t.Fatalf("backend got %d requests, want %d", got, tc.reached)
			}
			if n := p.Stats().Faults[tc.kind]; n != 1 {
				t.Fatalf("counted %d %s faults", n, tc.kind)
			}
			if want := "dynamodb " + string(tc.kind) + ` UpdateItem {"TableName":"t"}`; !strings.Contains(log.String(), want) {
				t.Fatalf("log %q does not say %q", log.String(), want)
			}
		})
	}
}

func TestDelayForwards(t *testing.T) {
	b := newBackend(t, `{}`)
	p, u := startProxy(t, Options{Backend: S3, Target: b.srv.URL, Rate: 1, Kinds: []Kind{Delay}, MaxDelay: 50 * time.Millisecond})
	for i := 0; i < 5; i++ {
		resp, err := plainClient().Get(u + "/bucket/key")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if b.hits.Load() != 5 || p.Stats().Faults[Delay] != 5 {
		t.Fatalf("hits %d, stats %+v", b.hits.Load(), p.Stats())
	}
}

func TestRateCanBeTurnedOff(t *testing.T) {
	b := newBackend(t, `{}`)
	p, u := startProxy(t, Options{Backend: S3, Target: b.srv.URL, Rate: 1, Kinds: []Kind{CutBefore}})
	p.SetRate(0)
	resp, err := plainClient().Get(u + "/x")
	if err != nil {
		t.Fatalf("with the rate at 0: %v", err)
	}
	resp.Body.Close()
	if _, err := New(Options{Backend: S3, Target: b.srv.URL, Rate: 2}); err == nil {
		t.Fatal("a rate of 2 was accepted")
	}
}

func sdkConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		// One attempt: the test looks at the error the retryer would see.
		Retryer: func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	}
}

// The injected errors are the services' own: the SDK reads their codes
// and its standard retryer retries them, as it would the real ones.
func TestErrorsAreTheServicesOwn(t *testing.T) {
	retryable := retry.NewStandard()
	check := func(t *testing.T, err error, codes []string) {
		t.Helper()
		var api smithy.APIError
		if !errors.As(err, &api) {
			t.Fatalf("not an API error: %v", err)
		}
		if !slices.Contains(codes, api.ErrorCode()) {
			t.Fatalf("code %q, want one of %v", api.ErrorCode(), codes)
		}
		if !retryable.IsErrorRetryable(err) {
			t.Fatalf("the standard retryer would not retry %v", err)
		}
	}
	t.Run("s3", func(t *testing.T) {
		b := newBackend(t, `{}`)
		p, u := startProxy(t, Options{Backend: S3, Target: b.srv.URL, Rate: 1, Kinds: []Kind{Error}})
		client := s3.NewFromConfig(sdkConfig(), func(o *s3.Options) { o.BaseEndpoint = aws.String(u); o.UsePathStyle = true })
		for i := 0; i < 12; i++ {
			_, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("key")})
			check(t, err, []string{"SlowDown", "InternalError", "ServiceUnavailable"})
		}
		if b.hits.Load() != 0 || p.Stats().Faults[Error] != 12 {
			t.Fatalf("hits %d, stats %+v", b.hits.Load(), p.Stats())
		}
	})
	t.Run("dynamodb", func(t *testing.T) {
		b := newBackend(t, `{}`)
		_, u := startProxy(t, Options{Backend: DynamoDB, Target: b.srv.URL, Rate: 1, Kinds: []Kind{Error}})
		client := dynamodb.NewFromConfig(sdkConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(u) })
		for i := 0; i < 12; i++ {
			_, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
				TableName: aws.String("t"), Key: map[string]dbtypes.AttributeValue{"pk": &dbtypes.AttributeValueMemberS{Value: "x"}},
			})
			check(t, err, []string{"ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"})
		}
	})
}

// Match and Limit aim faults at chosen requests: here, the first
// UpdateItem only.
func TestMatchAndLimit(t *testing.T) {
	b := newBackend(t, `{}`)
	p, u := startProxy(t, Options{Backend: DynamoDB, Target: b.srv.URL, Rate: 1, Kinds: []Kind{CutBefore}, Limit: 1,
		Match: func(r Request) bool {
			return r.Operation == "UpdateItem" && strings.Contains(string(r.Body), "SET claim")
		}})
	send := func(op, body string) error {
		req, _ := http.NewRequest("POST", u+"/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
		resp, err := plainClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := send("GetItem", `{"SET claim":1}`); err != nil {
		t.Fatalf("a GetItem was cut: %v", err)
	}
	if err := send("UpdateItem", `{"UpdateExpression":"SET etag"}`); err != nil {
		t.Fatalf("an UpdateItem that does not match was cut: %v", err)
	}
	if err := send("UpdateItem", `{"UpdateExpression":"SET claim = :t"}`); err == nil {
		t.Fatal("the matching UpdateItem went through")
	}
	if err := send("UpdateItem", `{"UpdateExpression":"SET claim = :t"}`); err != nil {
		t.Fatalf("a second fault past the limit: %v", err)
	}
	if b.hits.Load() != 3 || p.Stats().Total() != 1 {
		t.Fatalf("backend hits %d, faults %d", b.hits.Load(), p.Stats().Total())
	}
}
