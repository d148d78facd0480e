// Package stack runs the local stand-ins for the AWS services chunkup
// uses: dynalite (DynamoDB's wire protocol, from npm) and versitygw (an S3
// gateway over a POSIX directory, built from the tools module). Both run as
// child processes on free loopback ports, so tests and `make run` talk to
// real servers with the real AWS SDK, without Docker or an AWS account.
//
// Start launches both servers and waits until they answer; Provision creates
// the table and bucket exactly as template.yaml declares them; Close stops
// both. The test helpers (a stack shared by a test binary) live in the
// stacktest package.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"chunkup/internal/local/proc"
	"chunkup/internal/local/samtemplate"
)

// Environment variables naming the server binaries.
const (
	EnvDynalite  = "CHUNKUP_DYNALITE"
	EnvVersityGW = "CHUNKUP_VERSITYGW"
)

// Defaults for Options.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccessKey = "chunkuplocal"
	DefaultSecretKey = "chunkuplocalsecret"
	// DefaultStartTimeout bounds how long Start waits for each server.
	DefaultStartTimeout = 60 * time.Second
)

// Options configures Start. The zero value starts an in-memory dynalite
// and a versitygw over a temporary directory removed by Close.
type Options struct {
	// Dir holds the servers' data: Dir/s3 for versitygw and, when Persist
	// is set, Dir/dynamodb for dynalite. Empty means a new temporary
	// directory, removed by Close.
	Dir string
	// Persist keeps DynamoDB data on disk (dynalite --path Dir/dynamodb)
	// instead of in memory.
	Persist bool
	// Log receives both servers' output, each line as written; nil drops
	// it (the last lines are still kept for error messages).
	Log io.Writer

	// Host is the address both servers listen on: empty means loopback
	// (127.0.0.1). Another address, such as 0.0.0.0 or a Docker bridge's,
	// lets containers reach them (make stores); the stack's endpoints then
	// name that address, or loopback for 0.0.0.0.
	Host string
	// DynamoPort and S3Port pin the ports; 0 picks free ones.
	DynamoPort, S3Port int
	// Dynalite and VersityGW are the server binaries. Empty means the
	// CHUNKUP_DYNALITE / CHUNKUP_VERSITYGW environment variables, else
	// <repo>/node_modules/.bin/dynalite and <repo>/.local/bin/versitygw.
	Dynalite, VersityGW string
	// Region, AccessKey and SecretKey are the credentials clients use
	// (and versitygw's root user). Empty means the Default* constants.
	Region, AccessKey, SecretKey string
	// StartTimeout bounds the wait for each server; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

// Stack is a running pair of local servers.
type Stack struct {
	// DynamoEndpoint and S3Endpoint are base URLs, e.g. http://127.0.0.1:41234.
	DynamoEndpoint, S3Endpoint string
	// Region, AccessKey and SecretKey are what clients must use.
	Region, AccessKey, SecretKey string
	// Dir is the data directory (see Options.Dir).
	Dir string

	spawner             *proc.Spawner
	dynalite, versitygw *child
	removeDir           bool
	names               atomic.Int64
	closeOnce           sync.Once
	closeErr            error
}

// Start launches dynalite and versitygw on loopback ports and returns once
// both answer HTTP requests. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	dynalite, versitygw, err := binaries(opts)
	if err != nil {
		return nil, err
	}
	s := &Stack{
		spawner:   proc.NewSpawner(),
		Region:    or(opts.Region, DefaultRegion),
		AccessKey: or(opts.AccessKey, DefaultAccessKey),
		SecretKey: or(opts.SecretKey, DefaultSecretKey),
		Dir:       opts.Dir,
	}
	if s.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "chunkup-localstack-"); err != nil {
			return nil, fmt.Errorf("localstack: data directory: %w", err)
		}
		s.removeDir = true
	} else if s.Dir, err = filepath.Abs(s.Dir); err != nil {
		return nil, fmt.Errorf("localstack: data directory: %w", err)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}

	listen := or(opts.Host, "127.0.0.1")
	dynArgs := func(port int) []string {
		args := []string{"--port", fmt.Sprint(port), "--host", listen, "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
		if opts.Persist {
			args = append(args, "--path", filepath.Join(s.Dir, "dynamodb"))
		}
		return args
	}
	if opts.Persist {
		if err := os.MkdirAll(filepath.Join(s.Dir, "dynamodb"), 0o755); err != nil {
			return nil, s.failStart(fmt.Errorf("localstack: %w", err))
		}
	}
	s.dynalite, err = startServer(ctx, s.spawner, serverSpec{
		name:    "dynalite",
		path:    dynalite,
		host:    clientHost(listen),
		args:    dynArgs,
		port:    opts.DynamoPort,
		log:     opts.Log,
		timeout: timeout,
	})
	if err != nil {
		return nil, s.failStart(err)
	}
	s.DynamoEndpoint = s.dynalite.URL

	meta, data := filepath.Join(s.Dir, "s3", "meta"), filepath.Join(s.Dir, "s3", "data")
	for _, d := range []string{meta, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, s.failStart(fmt.Errorf("localstack: %w", err))
		}
	}
	s.versitygw, err = startServer(ctx, s.spawner, serverSpec{
		name: "versitygw",
		path: versitygw,
		host: clientHost(listen),
		args: func(port int) []string {
			return []string{
				"--port", net.JoinHostPort(listen, fmt.Sprint(port)),
				"--region", s.Region,
				"--quiet",
				"posix", "--sidecar", meta, data,
			}
		},
		env: []string{
			"ROOT_ACCESS_KEY=" + s.AccessKey,
			"ROOT_SECRET_KEY=" + s.SecretKey,
		},
		port:    opts.S3Port,
		log:     opts.Log,
		timeout: timeout,
	})
	if err != nil {
		return nil, s.failStart(err)
	}
	s.S3Endpoint = s.versitygw.URL
	return s, nil
}

// clientHost is the address clients on this machine use for servers
// listening on host: loopback for the unspecified address.
func clientHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}

// failStart stops whatever Start got running and returns err.
func (s *Stack) failStart(err error) error {
	if cerr := s.Close(); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// Close stops both servers (their whole process groups) and waits for them;
// it removes the data directory if Start created it. A server that had
// already died is reported in the error (see Err). It is safe to call more
// than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, c := range []*child{s.versitygw, s.dynalite} {
			if c != nil {
				errs = append(errs, c.Stop())
			}
		}
		s.spawner.Close()
		if s.removeDir {
			if err := os.RemoveAll(s.Dir); err != nil {
				errs = append(errs, fmt.Errorf("localstack: remove data directory: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Err reports a server that has exited without being asked to, with its
// exit status and last output; nil while both run.
func (s *Stack) Err() error {
	var errs []error
	for _, c := range []*child{s.dynalite, s.versitygw} {
		if c != nil {
			errs = append(errs, c.Failure())
		}
	}
	return errors.Join(errs...)
}

// Provision creates the table (from the template's UploadsTable) and the
// bucket if they do not exist yet, gives the bucket the template's CORS
// rules, and returns once the table is ACTIVE.
func (s *Stack) Provision(ctx context.Context, tmpl *samtemplate.Template, table, bucket string) error {
	if err := s.CreateTable(ctx, tmpl, table); err != nil {
		return err
	}
	if err := s.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	return s.SetBucketCORS(ctx, tmpl, bucket)
}

// Environ returns the environment variables internal/config reads, set for
// this stack and the given table and bucket.
func (s *Stack) Environ(table, bucket string) map[string]string {
	return map[string]string{
		"TABLE_NAME":            table,
		"BUCKET_NAME":           bucket,
		"DYNAMODB_ENDPOINT":     s.DynamoEndpoint,
		"S3_ENDPOINT":           s.S3Endpoint,
		"AWS_REGION":            s.Region,
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
	}
}

// binaries finds the two server programs, or explains how to install them.
func binaries(opts Options) (dynalite, versitygw string, err error) {
	dynalite = or(opts.Dynalite, os.Getenv(EnvDynalite))
	versitygw = or(opts.VersityGW, os.Getenv(EnvVersityGW))
	if dynalite == "" || versitygw == "" {
		root, rerr := samtemplate.FindRoot()
		if rerr != nil {
			return "", "", fmt.Errorf("localstack: set %s and %s, or run from the repository: %w", EnvDynalite, EnvVersityGW, rerr)
		}
		dynalite = or(dynalite, filepath.Join(root, "node_modules", ".bin", "dynalite"))
		versitygw = or(versitygw, filepath.Join(root, ".local", "bin", "versitygw"))
	}
	for _, p := range []string{dynalite, versitygw} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", "", fmt.Errorf("localstack: %w (run `make tools` to install the pinned dynalite and versitygw)", err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return "", "", fmt.Errorf("localstack: %s is not an executable file (run `make tools`)", p)
		}
	}
	return dynalite, versitygw, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
