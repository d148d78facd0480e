// Command chunkup-stores runs the local stores for `sam local`: it starts
// dynalite and versitygw and the local EventBridge stand-in (and nothing
// else), creates the table and bucket as template.yaml declares them, and
// writes env.json, which points every function at them when `sam local
// start-api --env-vars env.json` runs it in a container. `make stores`
// starts it; Ctrl-C stops the servers.
//
// The servers listen where a container can reach the host: on a Linux
// host with Docker Engine, the docker0 bridge's address, which
// host.docker.internal names in a container started with --add-host
// host.docker.internal:host-gateway; elsewhere (Docker Desktop, which
// forwards host.docker.internal to the host's loopback) 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"chunkup/internal/local/eventbus"
	"chunkup/internal/local/samlocal"
	"chunkup/internal/local/samtemplate"
	"chunkup/internal/local/stack"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chunkup-stores:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	listen        string // address the servers listen on; "" for listenDefault
	containerHost string // the host's name in a container
	dynamoPort    int
	s3Port        int
	eventsPort    int    // the local EventBridge's
	eventsTo      string // where it forwards each event, if set
	dir           string // the servers' data
	envFile       string // where env.json goes
	table, bucket string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("chunkup-stores", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "address the servers listen on; empty: the docker0 bridge's address if this host has one (Docker Engine on Linux), else 127.0.0.1 (Docker Desktop). 0.0.0.0 listens everywhere (anyone who can reach this machine can then use the stores)")
	fs.StringVar(&o.containerHost, "container-host", "host.docker.internal", "the host's name or address as a function's container reaches it; env.json's endpoints use it")
	fs.IntVar(&o.dynamoPort, "dynamodb-port", 4567, "dynalite's port (0: any free one)")
	fs.IntVar(&o.s3Port, "s3-port", 7070, "versitygw's port (0: any free one)")
	fs.IntVar(&o.eventsPort, "events-port", 4010, "the local EventBridge's port (0: any free one)")
	fs.StringVar(&o.eventsTo, "events-to", "", "forward every upload event, as EventBridge delivers it to a target (JSON, POST), to this URL")
	fs.StringVar(&o.dir, "data", ".local/stores", "where the servers keep their data")
	fs.StringVar(&o.envFile, "env", "env.json", "the env.json to write, for sam local's --env-vars")
	fs.StringVar(&o.table, "table", "chunkup-uploads", "name of the table to create")
	fs.StringVar(&o.bucket, "bucket", "chunkup-uploads", "name of the bucket to create")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.listen == "" {
		o.listen = listenDefault()
	}
	if o.eventsTo != "" {
		if u, err := url.Parse(o.eventsTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return options{}, fmt.Errorf("-events-to=%q: want an http:// or https:// URL", o.eventsTo)
		}
	}
	return o, nil
}

func run(args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := start(ctx, o)
	if err != nil {
		return err
	}
	greet(stdout, o, r)
	<-ctx.Done()
	if err := r.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nchunkup-stores: stopped; %s still names the stopped servers.\n", o.envFile)
	return nil
}

// stores are the running servers and the env.json written for them.
type stores struct {
	stack *stack.Stack
	log   *os.File
	env   map[string]map[string]string
	// bus is the local EventBridge, served by events at eventsURL.
	bus       *eventbus.Bus
	events    *http.Server
	eventsURL string
}

// Close stops the servers.
func (r *stores) Close() error {
	var evErr error
	if r.events != nil {
		evErr = r.events.Close()
	}
	return errors.Join(evErr, r.stack.Close(), r.log.Close())
}

// start starts the servers, creates the table and bucket and writes
// env.json.
func start(ctx context.Context, o options) (*stores, error) {
	root, err := samtemplate.FindRoot()
	if err != nil {
		return nil, err
	}
	tmpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	logFile, err := openLog(filepath.Join(o.dir, "servers.log"))
	if err != nil {
		return nil, err
	}
	s, err := stack.Start(ctx, stack.Options{
		Dir: o.dir, Persist: true, Log: logFile,
		Host: o.listen, DynamoPort: o.dynamoPort, S3Port: o.s3Port,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%w (is something else on port %d or %d? -dynamodb-port and -s3-port choose others)", err, o.dynamoPort, o.s3Port), logFile.Close())
	}
	r := &stores{stack: s, log: logFile}
	if err := r.serveEvents(o); err != nil {
		return nil, errors.Join(err, r.Close())
	}
	if r.env, err = provision(ctx, o, tmpl, s, r.eventsURL); err != nil {
		return nil, errors.Join(err, r.Close())
	}
	return r, nil
}

// serveEvents starts the local EventBridge where the other servers
// listen: it takes PutEvents at / and lists the last events at
// /_local/events, and logs each to the servers' log.
func (r *stores) serveEvents(o options) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(o.listen, fmt.Sprint(o.eventsPort)))
	if err != nil {
		return fmt.Errorf("local EventBridge: %w (is something else on port %d? -events-port chooses another)", err, o.eventsPort)
	}
	log := slog.New(slog.NewJSONHandler(r.log, nil)).With("server", "eventbridge")
	r.bus = eventbus.New(eventbus.Options{ForwardTo: o.eventsTo, Logger: log})
	mux := http.NewServeMux()
	mux.Handle("GET /_local/events", r.bus.ListHandler())
	mux.Handle("/", r.bus)
	r.events = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.eventsURL = "http://" + ln.Addr().String()
	go r.events.Serve(ln)
	return nil
}

// provision creates the table and bucket and writes env.json, with the
// local EventBridge at eventsURL.
func provision(ctx context.Context, o options, tmpl *samtemplate.Template, s *stack.Stack, eventsURL string) (map[string]map[string]string, error) {
	if err := s.Provision(ctx, tmpl, o.table, o.bucket); err != nil {
		return nil, err
	}
	dynamo, err := inContainer(s.DynamoEndpoint, o.containerHost)
	if err != nil {
		return nil, err
	}
	s3, err := inContainer(s.S3Endpoint, o.containerHost)
	if err != nil {
		return nil, err
	}
	events, err := inContainer(eventsURL, o.containerHost)
	if err != nil {
		return nil, err
	}
	env, err := samlocal.EnvVars(tmpl, samlocal.Stores{
		DynamoEndpoint: dynamo, S3Endpoint: s3, EventsEndpoint: events,
		Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		Table: o.table, Bucket: o.bucket,
	})
	if err != nil {
		return nil, err
	}
	if err := samlocal.Write(o.envFile, env); err != nil {
		return nil, err
	}
	return env, nil
}

// inContainer is a server's URL as a container reaches it: the same port
// on containerHost.
func inContainer(endpoint, containerHost string) (string, error) {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(endpoint, "http://"))
	if err != nil {
		return "", fmt.Errorf("endpoint %s: %w", endpoint, err)
	}
	return "http://" + net.JoinHostPort(containerHost, port), nil
}

// listenDefault is where a container reaches this host: the IPv4 address
// of the docker0 bridge if there is one (Docker Engine on Linux, where
// host-gateway means that address), else loopback (Docker Desktop
// forwards host.docker.internal to the host's loopback).
func listenDefault() string {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return "127.0.0.1"
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return "127.0.0.1"
}

// forwarding says where events are forwarded, if anywhere.
func forwarding(to string) string {
	if to == "" {
		return ""
	}
	return ", forwarded to " + to
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

func greet(w io.Writer, o options, r *stores) {
	functions := slices.Sorted(maps.Keys(r.env))
	first := r.env[functions[0]]
	fmt.Fprintf(w, `
chunkup's local stores are running, for sam local:
  DynamoDB (dynalite):  %[1]s   in a container: %[2]s   table %[5]s
  S3 (versitygw):       %[3]s   in a container: %[4]s   bucket %[6]s
  EventBridge (local):  %[10]s   in a container: %[11]s   the last events: %[10]s/_local/events%[12]s
  data:                 %[7]s
  for sam local:        %[8]s (endpoints, region, keys, table and bucket for %[9]s)

In another terminal:
  sam build
  sam local start-api --env-vars %[8]s --add-host host.docker.internal:host-gateway

Ctrl-C stops the stores.
`, r.stack.DynamoEndpoint, first["DYNAMODB_ENDPOINT"], r.stack.S3Endpoint, first["S3_ENDPOINT"],
		o.table, o.bucket, o.dir, o.envFile, strings.Join(functions, ", "), r.eventsURL, first["EVENTS_ENDPOINT"], forwarding(o.eventsTo))
	if ip := net.ParseIP(o.listen); ip != nil && ip.IsUnspecified() {
		fmt.Fprintf(w, "\nThe stores listen on every interface (-listen %s): anyone who can reach this machine can use them with the keys in %s.\n", o.listen, o.envFile)
	}
}
