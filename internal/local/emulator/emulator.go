// Package emulator runs Lambda functions as `sam build` ships them: each
// function's bootstrap binary under the AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie, the emulator `sam local` runs inside its
// containers), here outside any container, invoked through the emulator's
// invoke API (POST /2015-03-31/functions/function/invocations) with the
// event's JSON, as Lambda's Invoke API is.
//
// An emulator instance runs one invocation at a time, as a Lambda sandbox
// does, so each function has a pool of instances. How many invocations run
// at once is Lambda's concurrency: a function's reserved concurrency
// (Function.ReservedConcurrency) is its own, and the functions without
// one share the unreserved concurrency (Options.Concurrency), as the
// functions of an account do. An invocation takes a slot of its
// function's concurrency, then an idle instance, else starts one; an idle
// instance holds no slot. When every slot is in use an invocation waits
// for one, or, with Options.Throttle, is refused at once with a
// *ThrottleError, as Lambda refuses it. An instance's first invocation starts the
// function's runtime (a cold start, logged), and so does the next one after
// the runtime crashed or timed out, as on Lambda. The bootstrap gets the
// function's environment and nothing of this process's.
//
// The emulator does not say which answers are function errors (Lambda's
// X-Amz-Function-Error header): Invoke reads them from the answer and
// returns them as *FunctionError, which an API Gateway integration answers
// with 500.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"chunkup/internal/local/proc"
	"chunkup/internal/local/samtemplate"
)

// EnvRIE names the emulator binary when Options.RIE is empty.
const EnvRIE = "CHUNKUP_RIE"

// Defaults for Function and Options.
const (
	// DefaultConcurrency is the unreserved concurrency: how many
	// invocations of the functions without reserved concurrency run at
	// once, all together.
	DefaultConcurrency = 4
	// DefaultTimeout is Lambda's default function timeout.
	DefaultTimeout = 3 * time.Second
	// DefaultMemoryMB is Lambda's default memory size.
	DefaultMemoryMB = 128
	// DefaultStartTimeout bounds the wait for an instance to answer.
	DefaultStartTimeout = 30 * time.Second
)

// Function is one function to run.
type Function struct {
	// Name is the function's name (its logical id, e.g. ReceiveFunction):
	// AWS_LAMBDA_FUNCTION_NAME, and in the invoked function ARN.
	Name string
	// Bootstrap is the built bootstrap binary; it runs in its directory,
	// as in /var/task.
	Bootstrap string
	// Env is the function's environment (the template's variables, the
	// local stack's endpoints and credentials). The emulator's own
	// variables (AWS_LAMBDA_FUNCTION_*) are added to it.
	Env map[string]string
	// Timeout is the function's timeout, in whole seconds (rounded up);
	// DefaultTimeout when zero. An invocation that runs longer is ended
	// and is a function error.
	Timeout time.Duration
	// MemoryMB is the function's memory size, as the function is told it
	// (the emulator enforces none); DefaultMemoryMB when zero.
	MemoryMB int
	// ReservedConcurrency, when positive, is the function's reserved
	// concurrency: that many of its invocations may run at once, whatever
	// the other functions do. Zero shares Options.Concurrency.
	ReservedConcurrency int
}

// Options configures Start.
type Options struct {
	// RIE is the aws-lambda-rie binary. Empty means the CHUNKUP_RIE
	// environment variable, else <repo>/.local/bin/aws-lambda-rie.
	RIE string
	// Concurrency is the unreserved concurrency: how many invocations of
	// the functions without reserved concurrency run at once, all
	// together; DefaultConcurrency when zero.
	Concurrency int
	// Throttle refuses an invocation that finds its function's concurrency
	// all in use with a *ThrottleError at once, as Lambda does (no
	// queueing); without it the invocation waits for a slot.
	Throttle bool
	// Output receives what the instances write: the functions' logs and
	// the emulator's START, END and REPORT lines and warnings, each line
	// prefixed with the function's name and the instance's number
	// (ReceiveFunction#2: ...). Nil drops it.
	Output io.Writer
	// Logger receives a line for each cold start and each instance that is
	// replaced; slog.Default() when nil.
	Logger *slog.Logger
	// StartTimeout bounds the wait for a new instance to answer;
	// DefaultStartTimeout when zero.
	StartTimeout time.Duration
	// Parameters are template parameter values for StartTemplate, as
	// `sam deploy --parameter-overrides` gives them: they override the
	// parameters' defaults in the functions' environment and reserved
	// concurrency.
	Parameters map[string]string
}

// Emulator is the running pools, one per function.
type Emulator struct {
	pools   map[string]*Pool
	spawner *proc.Spawner
	closed  chan struct{}
	once    sync.Once
}

// Start checks the emulator and the functions' binaries and starts one
// instance of each function (its runtime starts on its first invocation).
// On error nothing is left running.
func Start(ctx context.Context, functions []Function, opts Options) (*Emulator, error) {
	rie, err := findRIE(opts.RIE)
	if err != nil {
		return nil, err
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	e := &Emulator{pools: map[string]*Pool{}, spawner: proc.NewSpawner(), closed: make(chan struct{})}
	unreserved := newSlots(opts.Concurrency)
	for _, f := range functions {
		if err := f.check(); err != nil {
			return nil, errors.Join(err, e.Close())
		}
		if e.pools[f.Name] != nil {
			return nil, errors.Join(fmt.Errorf("emulator: function %s given twice", f.Name), e.Close())
		}
		e.pools[f.Name] = newPool(e, f, rie, opts, unreserved)
	}
	for _, name := range slices.Sorted(maps.Keys(e.pools)) {
		if err := e.pools[name].prestart(ctx); err != nil {
			return nil, errors.Join(err, e.Close())
		}
	}
	return e, nil
}

// findRIE locates the emulator binary, or explains how to build it.
func findRIE(path string) (string, error) {
	if path == "" {
		path = os.Getenv(EnvRIE)
	}
	if path == "" {
		root, err := samtemplate.FindRoot()
		if err != nil {
			return "", fmt.Errorf("emulator: set %s, or run from the repository: %w", EnvRIE, err)
		}
		path = filepath.Join(root, ".local", "bin", "aws-lambda-rie")
	}
	if err := executable(path); err != nil {
		return "", fmt.Errorf("emulator: %w (run `make tools` to build the pinned aws-lambda-rie)", err)
	}
	return path, nil
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

func (f Function) check() error {
	if f.Name == "" {
		return errors.New("emulator: a function without a name")
	}
	if err := executable(f.Bootstrap); err != nil {
		return fmt.Errorf("emulator: %s: %w", f.Name, err)
	}
	if f.ReservedConcurrency < 0 {
		return fmt.Errorf("emulator: %s: reserved concurrency %d: want 0 (none) or more", f.Name, f.ReservedConcurrency)
	}
	if !filepath.IsAbs(f.Bootstrap) {
		return fmt.Errorf("emulator: %s: bootstrap %s is not an absolute path", f.Name, f.Bootstrap)
	}
	for k := range f.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("emulator: %s: environment variable name %q", f.Name, k)
		}
	}
	return nil
}

// Pool returns the pool of the named function, or nil.
func (e *Emulator) Pool(name string) *Pool { return e.pools[name] }

// Pools returns every function's pool, by name.
func (e *Emulator) Pools() map[string]*Pool { return maps.Clone(e.pools) }

// Close stops every instance, busy or idle; invocations still running end
// with an error. It is safe to call more than once.
func (e *Emulator) Close() error {
	var errs []error
	e.once.Do(func() {
		close(e.closed)
		for _, p := range e.pools {
			errs = append(errs, p.close())
		}
		e.spawner.Close()
	})
	return errors.Join(errs...)
}
