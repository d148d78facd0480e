// Package stacktest shares one local stack (dynalite + versitygw) among the
// tests of a test binary.
//
// Use it from a package's tests like this:
//
//	func TestMain(m *testing.M) { stacktest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		stack := stacktest.ForTest(t)
//		table, bucket := stack.NewTableAndBucket(t, stacktest.Template(t))
//		db, s3c := stack.NewDynamoClient(), stack.NewS3Client()
//		...
//	}
//
// The stack starts on first use and is stopped by Main after the last test.
// Without Main, ForTest starts a stack per test and stops it when the test
// ends (slower, but nothing is leaked).
package stacktest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
)

// binary is the state shared by the tests of one test binary: a stack can
// only be shared through package state, since TestMain and the tests have
// nothing else in common.
type binary struct {
	mu      sync.Mutex
	inMain  bool
	started bool
	stack   *stack.Stack
	err     error
}

var shared binary

// Main runs the tests and then stops the shared stack, if one was started.
// Call it from TestMain.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	stack := shared.stack
	shared.stack, shared.started, shared.inMain = nil, false, false
	shared.mu.Unlock()
	if stack != nil {
		if err := stack.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "stacktest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// ForTest returns the test binary's running stack, starting it on first
// use. A stack that fails to start (for instance because `make tools` has
// not been run) fails every test that asks for it, with the reason.
func ForTest(tb testing.TB) *stack.Stack {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		stack, err := start()
		if err != nil {
			tb.Fatalf("%v", err)
		}
		tb.Cleanup(func() {
			if err := stack.Close(); err != nil {
				tb.Errorf("%v", err)
			}
		})
		return stack
	}
	if !shared.started {
		shared.started = true
		shared.stack, shared.err = start()
	}
	if shared.err != nil {
		tb.Fatalf("%v", shared.err)
	}
	if err := shared.stack.Err(); err != nil {
		tb.Fatalf("stacktest: the shared stack is broken: %v", err)
	}
	return shared.stack
}

func start() (*stack.Stack, error) {
	opts := stack.Options{}
	if os.Getenv("CHUNKUP_STACK_LOG") != "" {
		opts.Log = os.Stderr
	}
	stack, err := stack.Start(context.Background(), opts)
	if err != nil {
		return nil, fmt.Errorf("stacktest: %w", err)
	}
	return stack, nil
}

// Template loads the repository's template.yaml.
func Template(tb testing.TB) *samtemplate.Template {
	tb.Helper()
	tmpl, err := samtemplate.LoadFromRoot()
	if err != nil {
		tb.Fatalf("stacktest: %v", err)
	}
	return tmpl
}

// Provisioned returns the shared stack with a fresh table and bucket made
// from the repository's template.
func Provisioned(tb testing.TB) (stack *stack.Stack, table, bucket string) {
	tb.Helper()
	stack = ForTest(tb)
	table, bucket = stack.NewTableAndBucket(tb, Template(tb))
	return stack, table, bucket
}
