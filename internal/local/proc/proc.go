// Package proc runs the local stand-ins' server processes: each in its own
// process group on loopback ports picked free, started from one OS thread
// so that the kernel kills them if this process dies without stopping them
// (Linux), and ready once it answers HTTP.
//
// The local stack's servers (dynalite, versitygw) and the Lambda Runtime
// Interface Emulator's instances run through it.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Spec describes one server process to start.
type Spec struct {
	// Name names the server in errors and log lines.
	Name string
	// Path is the program.
	Path string
	// Host is where clients reach the server, in its URL and the
	// readiness check; empty means 127.0.0.1.
	Host string
	// Args returns the arguments for the ports picked, one for each entry
	// of Ports.
	Args func(ports []int) []string
	// Ports are the loopback ports the server listens on, 0 for one picked
	// free; the first is the one polled for readiness. Empty means one
	// port, picked free.
	Ports []int
	// Env is the whole environment of the process; nil means this
	// process's.
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// Log receives the process's output (stdout and stderr), each line
	// prefixed with Name; nil drops it (the last lines are still kept for
	// error messages).
	Log io.Writer
	// Timeout bounds the wait until the server answers.
	Timeout time.Duration
}

// Process is a running server.
type Process struct {
	// URL is http://<Spec.Host>:<first port>.
	URL string
	// Ports are the ports it was started with, in Spec.Ports order.
	Ports []int

	name   string
	cmd    *exec.Cmd
	output *tail
	exited chan struct{} // closed once the process has been waited for
	err    error         // Wait's result, valid after exited is closed
	// stopping is set once Stop begins, so an exit after it is expected.
	stopping atomic.Bool
}

// portAttempts is how often a server is restarted on new free ports when
// a port picked turns out to be taken.
const portAttempts = 3

// Start starts spec from sp's thread and waits until it answers HTTP on
// its first port. A server that fails because a port picked free was taken
// meanwhile is started again on new ones.
func Start(ctx context.Context, sp *Spawner, spec Spec) (*Process, error) {
	want := spec.Ports
	if len(want) == 0 {
		want = []int{0}
	}
	picked := false
	var err error
	for attempt := 0; attempt < portAttempts; attempt++ {
		ports := append([]int(nil), want...)
		for i, p := range ports {
			if p == 0 {
				picked = true
				if ports[i], err = freePort(); err != nil {
					return nil, fmt.Errorf("%s: %w", spec.Name, err)
				}
			}
		}
		var p *Process
		p, err = launch(sp, spec, ports)
		if err != nil {
			return nil, err
		}
		if err = p.waitReady(ctx, spec.Timeout); err == nil {
			return p, nil
		}
		stopErr := p.Terminate()
		if !picked || !p.output.contains("address already in use", "EADDRINUSE") {
			return nil, errors.Join(err, stopErr)
		}
	}
	return nil, err
}

// launch starts the process in its own process group.
func launch(sp *Spawner, spec Spec, ports []int) (*Process, error) {
	host := spec.Host
	if host == "" {
		host = "127.0.0.1"
	}
	cmd := exec.Command(spec.Path, spec.Args(ports)...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	out := newTail(64 << 10)
	var w io.Writer = out
	if spec.Log != nil {
		w = io.MultiWriter(out, &PrefixWriter{Prefix: spec.Name + ": ", W: spec.Log})
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	// The output pipes are drained by goroutines; do not let a grandchild
	// that inherited them keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	if err := sp.start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{
		URL:    "http://" + net.JoinHostPort(host, strconv.Itoa(ports[0])),
		Ports:  ports,
		name:   spec.Name,
		cmd:    cmd,
		output: out,
		exited: make(chan struct{}),
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls the server until it answers any HTTP request, the process
// dies, or the deadline passes.
func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/", nil)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); its last output:\n%s", p.name, p.err, p.output)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s within %v: %w; its last output:\n%s", p.name, p.URL, timeout, ctx.Err(), p.output)
		case <-tick.C:
		}
	}
}

// Pid is the process id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Output is the last of what the process wrote (up to 64 KiB).
func (p *Process) Output() string { return p.output.String() }

// Failure describes an exit nobody asked for, or returns nil while the
// server runs (or after Stop).
func (p *Process) Failure() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	if p.stopping.Load() {
		return nil
	}
	return fmt.Errorf("%s on %s exited unexpectedly (%v); its last output:\n%s", p.name, p.URL, p.err, p.output)
}

// Stop ends the process group (SIGTERM, then SIGKILL after a grace period)
// and waits for the process; an exit before Stop is reported as Failure
// does.
func (p *Process) Stop() error {
	if err := p.Failure(); err != nil {
		return err
	}
	return p.Terminate()
}

// Terminate is Stop without the report of an earlier unexpected exit.
func (p *Process) Terminate() error {
	p.stopping.Store(true)
	select {
	case <-p.exited:
		return nil // already gone; its exit status is no news at this point
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
	}
}

// Spawner forks every process from one OS thread that lives until Close.
// Linux sends a child its parent-death signal (Pdeathsig) when the thread
// that forked it ends, not the process, and the Go runtime ends a thread
// whenever a goroutine locked to it exits; forking from a thread held by
// this goroutine keeps the processes alive exactly as long as the spawner.
type Spawner struct {
	jobs chan func()
	once sync.Once
}

// NewSpawner starts the spawner's goroutine and thread.
func NewSpawner() *Spawner {
	sp := &Spawner{jobs: make(chan func())}
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
func (sp *Spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	sp.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}

// Close lets the spawner's goroutine finish; its thread goes back to the
// runtime (unlocked), so it does not end. Stop the processes first. It is
// safe to call more than once.
func (sp *Spawner) Close() { sp.once.Do(func() { close(sp.jobs) }) }

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

// PrefixWriter writes each line to W with Prefix in front. It never fails:
// a log that cannot be written must not stall the process whose output
// pipe it drains, so write errors only turn the log off. A last line
// without its newline is held until the next write.
type PrefixWriter struct {
	Prefix string
	W      io.Writer

	mu      sync.Mutex
	partial []byte
	broken  bool
}

func (p *PrefixWriter) Write(b []byte) (int, error) {
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
			if _, err := io.WriteString(p.W, p.Prefix+string(line)); err != nil {
				p.broken = true
			}
		}
		p.partial = p.partial[i+1:]
	}
	return len(b), nil
}
