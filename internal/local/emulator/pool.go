package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"chunkup/internal/local/proc"
)

// invokePath is the emulator's invoke API, Lambda's Invoke for the one
// function it runs.
const invokePath = "/2015-03-31/functions/function/invocations"

// FunctionError is an invocation that ended in a function error: the
// function returned an error or panicked, its runtime exited, or it ran
// past its timeout. Lambda marks such answers with X-Amz-Function-Error;
// an API Gateway integration answers them with 500 Internal Server Error.
type FunctionError struct {
	Function string
	// Type and Message are the error's errorType and errorMessage, e.g.
	// "Runtime.ExitError" or, for a timeout, "Sandbox.Timedout".
	Type, Message string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s: function error %s: %s", e.Function, e.Type, e.Message)
}

// timeoutType is the errorType Lambda gives an invocation that timed out.
const timeoutType = "Sandbox.Timedout"

// ThrottleError is an invocation Lambda refused because the function's
// concurrency was all in use (Options.Throttle): Lambda's
// TooManyRequestsException, "Rate Exceeded.", which an API Gateway
// integration answers with 500. The function never ran.
type ThrottleError struct {
	Function string
	// Reason is Lambda's: ReservedFunctionConcurrentInvocationLimitExceeded
	// for a function with reserved concurrency, else
	// ConcurrentInvocationLimitExceeded (the account's unreserved
	// concurrency).
	Reason string
	// Limit is the concurrency that was all in use.
	Limit int
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("%s: throttled: Rate Exceeded. (%s: %d invocations at once)", e.Function, e.Reason, e.Limit)
}

// Throttled reports that the invocation never ran because of a
// concurrency limit; the local gateway logs such failures as throttles.
func (e *ThrottleError) Throttled() bool { return true }

// Stats counts a pool's work.
type Stats struct {
	Invocations int64 // invocations answered by an instance
	ColdStarts  int64 // invocations that started the function's runtime
	Errors      int64 // function errors among them
	Throttles   int64 // invocations refused with a *ThrottleError
	Started     int64 // instances (emulator processes) started
	Replaced    int64 // instances stopped because they failed
}

// Pool runs one function in emulator instances, as many at once as its
// concurrency allows: its reserved concurrency, or else the unreserved
// concurrency it shares with every other function without one. Its Invoke
// has the signature the local gateway invokes functions with.
type Pool struct {
	fn     Function
	e      *Emulator
	rie    string
	opts   Options
	client *http.Client

	// slots holds a token for each invocation that may still start, of
	// this function (reserved) or of all the functions sharing it; an
	// invocation holds one from before it takes an instance until it
	// ends, so idle instances hold none, as on Lambda.
	slots    chan struct{}
	reserved bool
	// warm holds idle instances. An instance is started only when none is
	// idle, so a pool never has more instances than slots.
	warm chan *instance

	mu   sync.Mutex
	live map[*instance]bool
	seq  int

	invocations, coldStarts, errs, throttles, started, replaced atomic.Int64
}

// instance is one emulator process running the function.
type instance struct {
	n    int
	proc *proc.Process
	url  string
	// cold is set while the function's runtime has not started: before the
	// first invocation and after a crash or timeout made the emulator
	// reset it.
	cold bool
}

// newSlots is a concurrency of n invocations at once.
func newSlots(n int) chan struct{} {
	slots := make(chan struct{}, n)
	for range n {
		slots <- struct{}{}
	}
	return slots
}

// newPool makes the pool of f; shared is the unreserved concurrency, used
// when f reserves none.
func newPool(e *Emulator, f Function, rie string, opts Options, shared chan struct{}) *Pool {
	if f.Timeout <= 0 {
		f.Timeout = DefaultTimeout
	}
	if f.MemoryMB <= 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	slots := shared
	if f.ReservedConcurrency > 0 {
		slots = newSlots(f.ReservedConcurrency)
	}
	return &Pool{
		fn: f, e: e, rie: rie, opts: opts,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 2, DisableCompression: true, IdleConnTimeout: time.Minute,
		}},
		slots: slots, reserved: f.ReservedConcurrency > 0,
		warm: make(chan *instance, cap(slots)),
		live: map[*instance]bool{},
	}
}

// Concurrency is how many invocations of the function may run at once:
// its reserved concurrency, or the unreserved concurrency it shares.
func (p *Pool) Concurrency() int { return cap(p.slots) }

// Reserved reports whether the function has concurrency of its own.
func (p *Pool) Reserved() bool { return p.reserved }

// Name is the function's name.
func (p *Pool) Name() string { return p.fn.Name }

// Stats returns the pool's counts so far.
func (p *Pool) Stats() Stats {
	return Stats{Invocations: p.invocations.Load(), ColdStarts: p.coldStarts.Load(), Errors: p.errs.Load(),
		Throttles: p.throttles.Load(), Started: p.started.Load(), Replaced: p.replaced.Load()}
}

// prestart starts the pool's first instance, so that a broken setup shows
// at once.
func (p *Pool) prestart(ctx context.Context) error {
	in, err := p.start(ctx)
	if err != nil {
		return err
	}
	p.warm <- in
	return nil
}

// Invoke runs the function on the event's JSON and returns the answer's
// JSON, or a *FunctionError. The request id is the AwsRequestID of ctx's
// Lambda context, when it has one. When the function's concurrency is all
// in use, Invoke fails at once with a *ThrottleError if Options.Throttle is
// set, as Lambda does, and otherwise waits for a slot. Only that wait
// heeds ctx: once started, an invocation runs to its end or its timeout,
// as a Lambda invocation does when its caller goes away.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if err := p.takeSlot(ctx); err != nil {
		return nil, err
	}
	defer func() { p.slots <- struct{}{} }()
	in, err := p.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.fn.Name, err)
	}
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	start := time.Now()
	resp, reset, err := p.send(ctx, in, id, payload)
	var fe *FunctionError
	switch {
	case errors.As(err, &fe):
		p.errs.Add(1)
	case err != nil:
		// The instance did not answer as the emulator does: it is not
		// trusted with another invocation.
		p.replace(in, err)
		return nil, err
	}
	p.invocations.Add(1)
	if in.cold {
		p.coldStarts.Add(1)
		p.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "cold start",
			slog.String("function", p.fn.Name), slog.Int("instance", in.n),
			slog.String("lambdaRequestId", id), slog.Duration("duration", time.Since(start)))
	}
	in.cold = reset
	p.release(in)
	return resp, err
}

// takeSlot takes one of the function's concurrency slots: at once, or a
// *ThrottleError when Options.Throttle is set, else when one frees.
func (p *Pool) takeSlot(ctx context.Context) error {
	select {
	case <-p.slots:
		return nil
	default:
	}
	if p.opts.Throttle {
		p.throttles.Add(1)
		reason := "ConcurrentInvocationLimitExceeded"
		if p.reserved {
			reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
		}
		return &ThrottleError{Function: p.fn.Name, Reason: reason, Limit: cap(p.slots)}
	}
	select {
	case <-p.slots:
		return nil
	case <-p.e.closed:
		return fmt.Errorf("%s: emulator closed", p.fn.Name)
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for one of %d invocations at once to end: %w", p.fn.Name, cap(p.slots), ctx.Err())
	}
}

// acquire takes an idle instance, else starts one. The caller holds a
// slot, so there is room for it.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	for {
		select {
		case in := <-p.warm:
			if in, ok := p.usable(in); ok {
				return in, nil
			}
		case <-p.e.closed:
			return nil, errors.New("emulator closed")
		default:
			return p.start(ctx)
		}
	}
}

// usable returns in unless its process has died, in which case it is
// replaced.
func (p *Pool) usable(in *instance) (*instance, bool) {
	if err := in.proc.Failure(); err != nil {
		p.replace(in, err)
		return nil, false
	}
	return in, true
}

func (p *Pool) release(in *instance) {
	select {
	case <-p.e.closed:
		p.stop(in)
	default:
		p.warm <- in
	}
}

// replace stops a failed instance.
func (p *Pool) replace(in *instance, why error) {
	p.replaced.Add(1)
	p.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "emulator instance replaced",
		slog.String("function", p.fn.Name), slog.Int("instance", in.n), slog.String("error", why.Error()))
	p.stop(in)
}

func (p *Pool) stop(in *instance) {
	_ = in.proc.Terminate()
	p.mu.Lock()
	delete(p.live, in)
	p.mu.Unlock()
}

// start launches a new instance: aws-lambda-rie on two free loopback
// ports (its invoke API and the Runtime API the bootstrap talks to),
// running the bootstrap from its directory with the function's
// environment.
func (p *Pool) start(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	p.seq++
	n := p.seq
	p.mu.Unlock()
	name := fmt.Sprintf("%s#%d", p.fn.Name, n)
	pr, err := proc.Start(ctx, p.e.spawner, proc.Spec{
		Name: name,
		Path: p.rie,
		Args: func(ports []int) []string {
			return []string{
				"--log-level", "warn",
				"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
				"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
				p.fn.Bootstrap,
			}
		},
		Ports:   []int{0, 0},
		Env:     p.fn.environ(),
		Dir:     filepath.Dir(p.fn.Bootstrap),
		Log:     p.opts.Output,
		Timeout: p.opts.StartTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", name, err)
	}
	in := &instance{n: n, proc: pr, url: pr.URL + invokePath, cold: true}
	p.mu.Lock()
	p.live[in] = true
	p.mu.Unlock()
	p.started.Add(1)
	return in, nil
}

// environ is the emulator process's whole environment, which it passes on
// to the bootstrap: the function's variables and what Lambda sets for a
// provided.al2023 function.
func (f Function) environ() []string {
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",
	}
	for k, v := range f.Env {
		env[k] = v
	}
	env["_HANDLER"] = "bootstrap"
	env["LAMBDA_TASK_ROOT"] = filepath.Dir(f.Bootstrap)
	env["AWS_LAMBDA_FUNCTION_NAME"] = f.Name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(f.MemoryMB)
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(timeoutSeconds(f.Timeout))
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// timeoutSeconds is d in whole seconds, rounded up: the emulator reads
// AWS_LAMBDA_FUNCTION_TIMEOUT as an integer.
func timeoutSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// send posts one invocation to the instance and reads what the emulator
// answers (checked against the emulator's source,
// internal/lambda/rie/handlers.go):
//   - 200 with the function's response, or with the error response
//     ({"errorMessage", "errorType"}) of a handler that returned an error;
//   - 200 with "Task timed out after N.00 seconds" when the function ran
//     past AWS_LAMBDA_FUNCTION_TIMEOUT (the emulator then kills the
//     runtime, and starts it again on the next invocation);
//   - 502 with the error response when the runtime exited or failed to
//     start (a panic in a Go handler exits it).
//
// reset reports that the emulator restarts the runtime on the next
// invocation. Any other answer, or none, is an error that is not a
// function error.
func (p *Pool) send(ctx context.Context, in *instance, id string, payload []byte) (resp []byte, reset bool, err error) {
	// The emulator ends the invocation at the function's timeout; the
	// backstop only catches an emulator that hangs.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(timeoutSeconds(p.fn.Timeout))*time.Second+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, bytes.NewReader(payload))
	if err != nil {
		return nil, false, fmt.Errorf("%s#%d: %w", p.fn.Name, in.n, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("X-Amzn-RequestId", id)
	}
	r, err := p.client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("%s#%d: invoke: %w", p.fn.Name, in.n, err)
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, false, fmt.Errorf("%s#%d: read the answer: %w", p.fn.Name, in.n, err)
	}
	switch {
	case r.StatusCode == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after ")):
		return nil, true, &FunctionError{Function: p.fn.Name, Type: timeoutType, Message: string(body)}
	case r.StatusCode == http.StatusOK:
		if fe := p.errorResponse(body); fe != nil {
			return nil, false, fe
		}
		return body, false, nil
	case r.StatusCode == http.StatusBadGateway:
		fe := p.errorResponse(body)
		if fe == nil {
			fe = &FunctionError{Function: p.fn.Name, Type: "Runtime.Unknown", Message: string(body)}
		}
		return nil, true, fe
	}
	return nil, false, fmt.Errorf("%s#%d: the emulator answered %d %q", p.fn.Name, in.n, r.StatusCode, truncate(body, 512))
}

// errorResponse reads a runtime's error response: a JSON object with an
// errorMessage and otherwise only errorType and stackTrace, what the Go
// runtime (and every AWS runtime) posts for a failed invocation. Any other
// answer is the function's response, and nil is returned.
func (p *Pool) errorResponse(body []byte) *FunctionError {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m["errorMessage"] == nil {
		return nil
	}
	for k := range m {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return nil
		}
	}
	var fe struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if err := json.Unmarshal(body, &fe); err != nil {
		return nil
	}
	return &FunctionError{Function: p.fn.Name, Type: fe.Type, Message: fe.Message}
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// close stops every live instance.
func (p *Pool) close() error {
	p.mu.Lock()
	live := make([]*instance, 0, len(p.live))
	for in := range p.live {
		live = append(live, in)
	}
	p.mu.Unlock()
	var errs []error
	for _, in := range live {
		errs = append(errs, in.proc.Terminate())
	}
	p.client.CloseIdleConnections()
	return errors.Join(errs...)
}
