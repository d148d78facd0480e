package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"chunkup/internal/local/samtemplate"
)

// testBootstrap is testdata/fn built as a function's bootstrap, once per
// test binary (TestMain).
var testBootstrap string

func TestMain(m *testing.M) {
	code, err := withTestFunction(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func withTestFunction(m *testing.M) (int, error) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "chunkup-emulator-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bins, err := build(context.Background(), root, dir, map[string]string{"TestFunction": "./internal/local/emulator/testdata/fn"})
	if err != nil {
		return 0, err
	}
	testBootstrap = bins["TestFunction"]
	return m.Run(), nil
}

// logLines is a slog handler's output, for the tests that read the log.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startTest runs the test function in an emulator pool of concurrency
// instances with the given timeout.
func startTest(t *testing.T, concurrency int, timeout time.Duration) (*Pool, *logLines) {
	t.Helper()
	log := &logLines{}
	var out io.Writer
	if os.Getenv("CHUNKUP_TEST_LOG") != "" {
		out = os.Stderr
	}
	e, err := Start(context.Background(), []Function{{
		Name: "TestFunction", Bootstrap: testBootstrap, Env: map[string]string{"GREETING": "hello"},
		Timeout: timeout, MemoryMB: 256,
	}}, Options{Concurrency: concurrency, Output: out, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e.Pool("TestFunction"), log
}

func invoke(t *testing.T, p *Pool, requestID string, ev map[string]string) (answer, error) {
	t.Helper()
	ctx := context.Background()
	if requestID != "" {
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID})
	}
	payload, _ := json.Marshal(ev)
	resp, err := p.Invoke(ctx, payload)
	if err != nil {
		return answer{}, err
	}
	var a answer
	if err := json.Unmarshal(resp, &a); err != nil {
		t.Fatalf("answer %q: %v", resp, err)
	}
	return a, nil
}

type answer struct {
	Pid       int               `json:"pid"`
	RequestID string            `json:"requestId"`
	Function  string            `json:"function"`
	Env       map[string]string `json:"env"`
}

// TestInvoke: the bootstrap answers through the emulator with the request
// id it was given, sees its own environment and the emulator's variables
// but nothing of this process's, and its first invocation is the only
// cold start.
func TestInvoke(t *testing.T) {
	t.Setenv("CHUNKUP_TEST_OUTSIDE", "leaked")
	p, log := startTest(t, 2, 5*time.Second)
	first, err := invoke(t, p, "req-1", map[string]string{"do": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if first.RequestID != "req-1" || first.Function != "TestFunction" {
		t.Errorf("the function saw request id %q and name %q, want req-1 and TestFunction", first.RequestID, first.Function)
	}
	want := map[string]string{"GREETING": "hello", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_TIMEOUT": "5"}
	for k, v := range want {
		if first.Env[k] != v {
			t.Errorf("%s=%q in the function, want %q", k, first.Env[k], v)
		}
	}
	if v, ok := first.Env["CHUNKUP_TEST_OUTSIDE"]; ok {
		t.Errorf("the function sees this process's environment: CHUNKUP_TEST_OUTSIDE=%q", v)
	}
	second, err := invoke(t, p, "req-2", map[string]string{"do": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Pid != first.Pid {
		t.Errorf("second invocation ran in runtime %d, the first in %d: want the warm one", second.Pid, first.Pid)
	}
	if st := p.Stats(); st.Invocations != 2 || st.ColdStarts != 1 || st.Started != 1 {
		t.Errorf("stats %+v, want 2 invocations, 1 cold start, 1 instance", st)
	}
	if n := strings.Count(log.String(), `msg="cold start"`); n != 1 || !strings.Contains(log.String(), "lambdaRequestId=req-1") {
		t.Errorf("want one cold start logged, for req-1:\n%s", log)
	}
	// An answer that merely has an errorMessage is the function's answer.
	resp, err := p.Invoke(context.Background(), []byte(`{"do":"errorlike"}`))
	if err != nil || !bytes.Contains(resp, []byte(`"not an error"`)) {
		t.Errorf("errorlike: %q, %v; want the function's answer", resp, err)
	}
}

// TestFunctionErrors: an error the handler returns, a panic, an exit and a
// timeout are each a *FunctionError; after a crash or a timeout the
// emulator starts the runtime again, and that invocation is a cold start.
func TestFunctionErrors(t *testing.T) {
	p, _ := startTest(t, 1, time.Second)
	warm, err := invoke(t, p, "", map[string]string{"do": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		do, errType, message string
		restarts             bool
	}{
		{"error", "errorString", "boom", false},
		{"panic", "string", "kaboom", true},
		{"exit", "Runtime.ExitError", "exit status 3", true},
		{"sleep", timeoutType, "Task timed out after 1.00 seconds", true},
	}
	for _, c := range cases {
		cold := p.Stats().ColdStarts
		_, err := invoke(t, p, "", map[string]string{"do": c.do})
		var fe *FunctionError
		if !errors.As(err, &fe) || fe.Type != c.errType || !strings.Contains(fe.Message, c.message) || fe.Function != "TestFunction" {
			t.Errorf("do=%s: %v, want a function error %s %q", c.do, err, c.errType, c.message)
			continue
		}
		next, err := invoke(t, p, "", map[string]string{"do": "ok"})
		if err != nil {
			t.Fatalf("after do=%s: %v", c.do, err)
		}
		restarted := next.Pid != warm.Pid
		if restarted != c.restarts {
			t.Errorf("after do=%s the runtime restarted: %v, want %v", c.do, restarted, c.restarts)
		}
		if got := p.Stats().ColdStarts - cold; restarted && got != 1 || !restarted && got != 0 {
			t.Errorf("after do=%s: %d cold starts counted, the runtime restarted: %v", c.do, got, restarted)
		}
		warm = next
	}
	if st := p.Stats(); st.Started != 1 || st.Replaced != 0 || st.Errors != 4 {
		t.Errorf("stats %+v: want one instance throughout, 4 errors", st)
	}
}

// TestPoolRunsInvocationsAtOnce: two invocations that each wait for the
// other both finish, so a pool of two runs them at once; eight of them
// never use more than the pool's two instances, and none is refused by an
// instance already busy.
func TestPoolRunsInvocationsAtOnce(t *testing.T) {
	p, _ := startTest(t, 2, 30*time.Second)
	var arrived atomic.Int64
	pair := make(chan struct{})
	var once sync.Once
	barrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == 2 {
			once.Do(func() { close(pair) })
		}
		select {
		case <-pair:
		case <-time.After(20 * time.Second):
			http.Error(w, "no other invocation arrived", http.StatusGatewayTimeout)
		}
	}))
	defer barrier.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := invoke(t, p, "", map[string]string{"do": "barrier", "barrier": barrier.URL}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := p.Stats(); st.Started > 2 || st.Invocations != 8 {
		t.Errorf("stats %+v: want 8 invocations on at most 2 instances", st)
	}
}

// TestDeadInstanceIsReplaced: an instance whose emulator died is replaced
// by a new one, and the invocation succeeds.
func TestDeadInstanceIsReplaced(t *testing.T) {
	p, log := startTest(t, 1, 5*time.Second)
	if _, err := invoke(t, p, "", map[string]string{"do": "ok"}); err != nil {
		t.Fatal(err)
	}
	in := <-p.warm
	if err := syscall.Kill(in.proc.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-in.proc.Exited()
	p.warm <- in
	if _, err := invoke(t, p, "", map[string]string{"do": "ok"}); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Started != 2 || st.Replaced != 1 || st.ColdStarts != 2 {
		t.Errorf("stats %+v: want the dead instance replaced by a second, cold", st)
	}
	if !strings.Contains(log.String(), "emulator instance replaced") {
		t.Errorf("the replacement is not logged:\n%s", log)
	}
}

// TestStartErrors: a missing emulator or bootstrap is reported before
// anything runs.
func TestStartErrors(t *testing.T) {
	if _, err := Start(context.Background(), nil, Options{RIE: "/nonexistent/aws-lambda-rie"}); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("missing emulator: %v, want an error saying to run make tools", err)
	}
	_, err := Start(context.Background(), []Function{{Name: "F", Bootstrap: "/nonexistent/bootstrap"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "F") {
		t.Errorf("missing bootstrap: %v, want an error naming the function", err)
	}
}
