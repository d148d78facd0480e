package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"chunkup/internal/api"
	"chunkup/internal/local/emulator"
	"chunkup/internal/local/gateway"
	"chunkup/internal/local/samtemplate"
)

// functions are the template's functions as chunkup-local runs them: in
// front of the gateway, and on the cleanup function's schedule.
type functions interface {
	// gateway serves the routes by invoking the functions.
	gateway(routes []gateway.Route, opts gateway.Options) (http.Handler, error)
	// sweep runs the scheduled function once.
	sweep(ctx context.Context) error
	// describe says how the functions run, for the startup lines.
	describe() string
}

// inProcess calls the handlers in this process (-in-process).
type inProcess struct{ svc *api.Service }

func newInProcess(svc *api.Service) inProcess { return inProcess{svc: svc} }

func (p inProcess) gateway(routes []gateway.Route, opts gateway.Options) (http.Handler, error) {
	return gateway.New(routes, p.svc.Handlers(), opts)
}

func (p inProcess) sweep(ctx context.Context) error {
	_, err := p.svc.Engine.Sweep(ctx, 100)
	return err
}

func (p inProcess) describe() string {
	return "handlers called in this process (-in-process), not the built binaries"
}

// emulated runs each function's built bootstrap under the Lambda Runtime
// Interface Emulator.
type emulated struct {
	em          *emulator.Emulator
	tmpl        *samtemplate.Template
	bin         string   // the built bootstraps, removed by close
	output      *os.File // the instances' output
	region      string
	concurrency int
	throttle    bool
}

type emulatorOptions struct {
	root               string
	tmpl               *samtemplate.Template
	env                map[string]string // the local stack's endpoints and credentials
	table, bucket, dir string
	rie                string
	concurrency        int
	throttle           bool   // throttle invocations over a function's concurrency
	params             params // template parameter values
	region             string
}

// startEmulator builds the functions for this machine into a temporary
// directory and starts their emulator pools, their output going to
// functions.log in the data directory.
func startEmulator(ctx context.Context, o emulatorOptions, log *slog.Logger) (*emulated, error) {
	output, err := openLog(filepath.Join(o.dir, "functions.log"))
	if err != nil {
		return nil, err
	}
	bin, err := os.MkdirTemp("", "chunkup-functions-")
	if err != nil {
		output.Close()
		return nil, fmt.Errorf("functions directory: %w", err)
	}
	e := &emulated{tmpl: o.tmpl, bin: bin, output: output, region: o.region, concurrency: o.concurrency, throttle: o.throttle}
	start := time.Now()
	log.Info("building the functions' bootstrap binaries for this machine, as build-<LogicalId> does",
		"platform", runtime.GOOS+"/"+runtime.GOARCH, "functions", len(o.tmpl.Functions))
	e.em, err = emulator.StartTemplate(ctx, o.root, o.tmpl, bin, o.table, o.bucket, o.env,
		emulator.Options{RIE: o.rie, Concurrency: o.concurrency, Throttle: o.throttle, Parameters: o.params,
			Output: output, Logger: log})
	if err != nil {
		e.close()
		return nil, err
	}
	log.Info("functions running under the Lambda Runtime Interface Emulator", "concurrency", o.concurrency,
		"took", time.Since(start).Round(time.Millisecond), "output", output.Name())
	return e, nil
}

func (e *emulated) gateway(routes []gateway.Route, opts gateway.Options) (http.Handler, error) {
	fns := map[string]gateway.Function{}
	for name, p := range e.em.Pools() {
		fns[name] = p
	}
	return gateway.NewWithFunctions(routes, fns, opts)
}

// sweep invokes each scheduled function with the event EventBridge sends
// for a schedule (as events/schedule.json).
func (e *emulated) sweep(ctx context.Context) error {
	for _, f := range e.tmpl.Functions {
		if len(f.Schedules) == 0 {
			continue
		}
		payload, err := scheduledEvent(e.region, f.LogicalID)
		if err != nil {
			return err
		}
		if _, err := e.em.Pool(f.LogicalID).Invoke(ctx, payload); err != nil {
			return err
		}
	}
	return nil
}

func (e *emulated) describe() string {
	var reserved []string
	for _, name := range slices.Sorted(maps.Keys(e.em.Pools())) {
		if p := e.em.Pool(name); p.Reserved() {
			reserved = append(reserved, fmt.Sprintf("%s %d", name, p.Concurrency()))
		}
	}
	over := "over it an invocation waits (-throttle-functions=false)"
	if e.throttle {
		over = "over it API Gateway's 500 for a throttled function"
	}
	return fmt.Sprintf("the built bootstrap binaries under the Lambda Runtime Interface Emulator,\n"+
		"                        %d invocations at once unreserved (-concurrency), reserved: %s;\n"+
		"                        %s; output in %s", e.concurrency, strings.Join(reserved, ", "), over, e.output.Name())
}

func (e *emulated) close() {
	if e.em != nil {
		if err := e.em.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "chunkup-local:", err)
		}
	}
	os.RemoveAll(e.bin)
	e.output.Close()
}

// scheduledEvent is what an EventBridge schedule rule sends its target.
func scheduledEvent(region, function string) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	const account = "123456789012"
	return json.Marshal(events.EventBridgeEvent{
		Version: "0", ID: hex.EncodeToString(id), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: account, Time: time.Now().UTC(), Region: region,
		Resources: []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/chunkup-%s-schedule", region, account, function)},
		Detail:    json.RawMessage("{}"),
	})
}
