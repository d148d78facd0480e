package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// serverSpec describes one server to start.
type serverSpec struct {
	name    string
	path    string
	host    string // where clients reach it, e.g. 127.0.0.1
	args    func(port int) []string
	env     []string
	port    int // 0: pick a free one
	log     io.Writer
	timeout time.Duration
}

// child is a running server process.
type child struct {
	name   string
	url    string
	cmd    *exec.Cmd
	output *tail
	exited chan struct{} // closed once the process has been waited for
	err    error         // Wait's result, valid after exited is closed
	// stopping is set once stop begins, so an exit after it is expected.
	stopping atomic.Bool
}

// portAttempts is how often a server is restarted on a new free port when
// the port picked turns out to be taken.
const portAttempts = 3

// startServer starts spec and waits until it answers HTTP on its port.
func startServer(ctx context.Context, sp *spawner, spec serverSpec) (*child, error) {
	var err error
	for attempt := 0; attempt < portAttempts; attempt++ {
		port := spec.port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("localstack: %s: %w", spec.name, err)
			}
		}
		var c *child
		c, err = launch(sp, spec, port)
		if err != nil {
			return nil, err
		}
		if err = c.waitReady(ctx, spec.timeout); err == nil {
			return c, nil
		}
		stopErr := c.terminate()
		if spec.port != 0 || !c.output.contains("address already in use", "EADDRINUSE") {
			return nil, errors.Join(err, stopErr)
		}
	}
	return nil, err
}

// launch starts the process in its own process group.
func launch(sp *spawner, spec serverSpec, port int) (*child, error) {
	cmd := exec.Command(spec.path, spec.args(port)...)
	cmd.Env = append(os.Environ(), spec.env...)
	out := newTail(64 << 10)
	var w io.Writer = out
	if spec.log != nil {
		w = io.MultiWriter(out, &prefixWriter{prefix: spec.name + ": ", w: spec.log})
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	// The output pipes are drained by goroutines; do not let a grandchild
	// that inherited them keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	if err := sp.start(cmd); err != nil {
		return nil, fmt.Errorf("localstack: start %s: %w", spec.name, err)
	}
	c := &child{
		name:   spec.name,
		url:    "http://" + net.JoinHostPort(spec.host, fmt.Sprint(port)),
		cmd:    cmd,
		output: out,
		exited: make(chan struct{}),
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// waitReady polls the server until it answers any HTTP request, the process
// dies, or the deadline passes.
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/", nil)
		if err != nil {
			return fmt.Errorf("localstack: %s: %w", c.name, err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("localstack: %s exited before it was ready (%v); its last output:\n%s", c.name, c.err, c.output)
		case <-ctx.Done():
			return fmt.Errorf("localstack: %s did not answer on %s within %v: %w; its last output:\n%s", c.name, c.url, timeout, ctx.Err(), c.output)
		case <-tick.C:
		}
	}
}

// failure describes an exit the stack did not ask for, or returns nil while
// the server runs (or after stop).
func (c *child) failure() error {
	select {
	case <-c.exited:
	default:
		return nil
	}
	if c.stopping.Load() {
		return nil
	}
	return fmt.Errorf("localstack: %s on %s exited unexpectedly (%v); its last output:\n%s", c.name, c.url, c.err, c.output)
}

// stop ends the process group (SIGTERM, then SIGKILL after a grace period)
// and waits for the process.
func (c *child) stop() error {
	if err := c.failure(); err != nil {
		return err
	}
	return c.terminate()
}

// terminate is stop without the report of an earlier unexpected exit.
func (c *child) terminate() error {
	c.stopping.Store(true)
	select {
	case <-c.exited:
		return nil // already gone; its exit status is no news at this point
	default:
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("localstack: kill %s: %w", c.name, err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("localstack: %s (pid %d) did not exit after SIGKILL", c.name, pgid)
	}
}

// spawner forks every server from one OS thread that lives until the stack
// is closed. Linux sends a child its parent-death signal (Pdeathsig) when
// the thread that forked it ends, not the process, and the Go runtime ends a
// thread whenever a goroutine locked to it exits; forking from a thread held
// by this goroutine keeps the servers alive exactly as long as the stack.
type spawner struct {
	jobs chan func()
}

func newSpawner() *spawner {
	sp := &spawner{jobs: make(chan func())}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for job := range sp.jobs {
			job()
		}
	}()
	return sp
}

// start runs cmd.Start on the spawner's thread.
func (sp *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	sp.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}

// close lets the spawner's goroutine finish; its thread goes back to the
// runtime (unlocked), so it does not end.
func (sp *spawner) close() { close(sp.jobs) }

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}

func (t *tail) contains(subs ...string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range subs {
		if bytes.Contains(t.buf, []byte(s)) {
			return true
		}
	}
	return false
}

// prefixWriter writes each line to w with a prefix naming its server. It
// never fails: a log that cannot be written must not stall the server whose
// output pipe it drains, so write errors only turn the log off.
type prefixWriter struct {
	mu      sync.Mutex
	prefix  string
	w       io.Writer
	partial []byte
	broken  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := p.partial[:i+1]
		if !p.broken {
			if _, err := io.WriteString(p.w, p.prefix+string(line)); err != nil {
				p.broken = true
			}
		}
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}
