package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runtimeAPI is a minimal Lambda Runtime API (the 2018-06-01 interface a
// provided.al2023 bootstrap talks to): it hands out queued events on
// /invocation/next and records the answers.
type runtimeAPI struct {
	ln     net.Listener
	srv    *http.Server
	events chan []byte

	mu       sync.Mutex
	nextAt   []time.Time // when each /next call arrived
	servedAt []time.Time // when each event was handed out
	answers  []answer
	initErr  string
	answered chan struct{}
}

type answer struct {
	at    time.Time
	body  []byte
	error bool
}

func newRuntimeAPI() (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &runtimeAPI{ln: ln, events: make(chan []byte, 16), answered: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.respond(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.respond(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.initErr = string(b)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		r.answered <- struct{}{}
	})
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *runtimeAPI) addr() string { return r.ln.Addr().String() }

func (r *runtimeAPI) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
	r.srv.Close()
}

var invocationSeq int

func (r *runtimeAPI) next(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.nextAt = append(r.nextAt, time.Now())
	r.mu.Unlock()
	var ev []byte
	select {
	case ev = <-r.events:
	case <-req.Context().Done():
		return
	}
	r.mu.Lock()
	invocationSeq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", invocationSeq)
	r.servedAt = append(r.servedAt, time.Now())
	r.mu.Unlock()
	h := w.Header()
	h.Set("Lambda-Runtime-Aws-Request-Id", id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(29*time.Second).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:chunkup-bench")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
	h.Set("Content-Type", "application/json")
	w.Write(ev)
}

func (r *runtimeAPI) respond(isErr bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.answers = append(r.answers, answer{at: time.Now(), body: b, error: isErr})
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		r.answered <- struct{}{}
	}
}

// coldRun is one process's life: started, initialised, invoked.
type coldRun struct {
	Cold      time.Duration   // process start → first answer
	Init      time.Duration   // process start → first /next (main's setup done)
	First     time.Duration   // first event handed out → its answer
	Warm      []time.Duration // later events: handed out → answer
	MaxRSS    int64           // peak resident memory (VmHWM), bytes
	Responses []string        // the answers' statusCode values
}

// runFunction starts a function binary against a fresh Runtime API with
// env, invokes it with each event in turn, and reports the timings.
func runFunction(ctx context.Context, bin string, env []string, evs [][]byte) (coldRun, error) {
	api, err := newRuntimeAPI()
	if err != nil {
		return coldRun{}, err
	}
	defer api.close()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env, "AWS_LAMBDA_RUNTIME_API="+api.addr())
	cmd.Dir = filepath.Dir(bin)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return coldRun{}, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var run coldRun
	for i, ev := range evs {
		api.events <- ev
		select {
		case <-api.answered:
		case <-time.After(30 * time.Second):
			return coldRun{}, fmt.Errorf("%s: no answer to event %d in 30 s; stderr: %s", filepath.Base(bin), i+1, stderr.String())
		case <-ctx.Done():
			return coldRun{}, ctx.Err()
		}
		api.mu.Lock()
		if api.initErr != "" {
			api.mu.Unlock()
			return coldRun{}, fmt.Errorf("%s: init error: %s; stderr: %s", filepath.Base(bin), api.initErr, stderr.String())
		}
		a := api.answers[len(api.answers)-1]
		served := api.servedAt[len(api.servedAt)-1]
		if i == 0 {
			run.Cold = a.at.Sub(start)
			run.Init = api.nextAt[0].Sub(start)
			run.First = a.at.Sub(served)
		} else {
			run.Warm = append(run.Warm, a.at.Sub(served))
		}
		api.mu.Unlock()
		if a.error {
			return coldRun{}, fmt.Errorf("%s: event %d failed: %s", filepath.Base(bin), i+1, a.body)
		}
		var resp struct {
			StatusCode int `json:"statusCode"`
		}
		json.Unmarshal(a.body, &resp)
		run.Responses = append(run.Responses, strconv.Itoa(resp.StatusCode))
	}
	run.MaxRSS = peakRSS(cmd.Process.Pid)
	return run, nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// peakRSS reads a process's peak resident set (VmHWM), what Lambda
// reports as "Max Memory Used"; 0 where /proc is not there.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ColdStart is the cold start of one function, next to warm invocations.
type ColdStart struct {
	Function string  `json:"function"`
	Event    string  `json:"event"`
	Runs     int     `json:"runs"`
	Cold     float64 `json:"coldSeconds"`  // median, process start → first answer
	Init     float64 `json:"initSeconds"`  // median, process start → first /next
	First    float64 `json:"firstSeconds"` // median, first invocation alone
	Warm     float64 `json:"warmSeconds"`  // median of the later invocations
	MaxRSS   int64   `json:"maxRSS"`       // largest VmHWM seen
	Binary   int64   `json:"binaryBytes"`
	Response string  `json:"response"` // the status the function answered
}

// RSSRow is the receive function's peak resident memory after a run of
// chunk invocations, as Lambda's "Max Memory Used" would show it.
type RSSRow struct {
	Chunk       int64   `json:"chunk"`
	Invocations int     `json:"invocations"`
	MaxRSS      int64   `json:"maxRSS"`
	Warm        float64 `json:"warmSeconds"` // median chunk invocation
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// lambdaEnv is the environment a function gets on Lambda, pointed at the
// local stack; nothing is read from this machine's AWS configuration.
func lambdaEnv(stack map[string]string, function string, memory int, home string) []string {
	env := []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "TZ=:UTC", "LANG=C.UTF-8",
		"AWS_LAMBDA_FUNCTION_NAME=" + function, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memory), "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"_HANDLER=bootstrap", "LAMBDA_TASK_ROOT=" + home, "AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true", "LOG_LEVEL=WARN",
	}
	for k, v := range stack {
		env = append(env, k+"="+v)
	}
	return env
}

// createNative starts a native upload and returns its id.
func createNative(ctx context.Context, c *client, name string, size, chunk int64) (string, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "size": size, "chunkSize": chunk})
	r, err := c.do(ctx, "POST", "/v1/uploads", http.Header{"Content-Type": {"application/json"}}, body)
	if err != nil {
		return "", err
	}
	if err := r.expect("create", http.StatusCreated); err != nil {
		return "", err
	}
	var up struct {
		ID string `json:"id"`
	}
	return up.ID, json.Unmarshal(r.body, &up)
}

// retarget points a sample event of GET /v1/uploads/{id} at upload id.
func retarget(raw []byte, id string) ([]byte, error) {
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("sample event: %w", err)
	}
	path := "/v1/uploads/" + id
	ev["rawPath"] = path
	if rc, ok := ev["requestContext"].(map[string]any); ok {
		if h, ok := rc["http"].(map[string]any); ok {
			h["path"] = path
		}
		rc["timeEpoch"] = time.Now().UnixMilli()
	}
	ev["pathParameters"] = map[string]any{"id": id}
	return json.Marshal(ev)
}

// chunkEvent is the event of PUT /v1/uploads/{id}/chunks/{n} with data.
func chunkEvent(id string, n int, data []byte) ([]byte, error) {
	path := fmt.Sprintf("/v1/uploads/%s/chunks/%d", id, n)
	req, err := http.NewRequest("PUT", "https://bench.execute-api.us-east-1.amazonaws.com"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	ev := apiEvent(req, "PUT /v1/uploads/{id}/chunks/{n}", data)
	ev.PathParameters = map[string]string{"id": id, "n": strconv.Itoa(n)}
	return json.Marshal(ev)
}
