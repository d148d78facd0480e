package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"chunkup/internal/local/proc"
)

// serverSpec describes one server to start.
type serverSpec struct {
	name    string
	path    string
	host    string // where clients reach it, e.g. 127.0.0.1
	args    func(port int) []string
	env     []string // added to this process's environment
	port    int      // 0: pick a free one
	log     io.Writer
	timeout time.Duration
}

// child is a running server process.
type child = proc.Process

// startServer starts spec and waits until it answers HTTP on its port.
func startServer(ctx context.Context, sp *proc.Spawner, spec serverSpec) (*child, error) {
	c, err := proc.Start(ctx, sp, proc.Spec{
		Name:    spec.name,
		Path:    spec.path,
		Host:    spec.host,
		Args:    func(ports []int) []string { return spec.args(ports[0]) },
		Ports:   []int{spec.port},
		Env:     append(os.Environ(), spec.env...),
		Log:     spec.log,
		Timeout: spec.timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	return c, nil
}
