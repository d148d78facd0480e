// Package hookfunc is a local stand-in for the Lambda functions that
// serve chunkup's hooks, for the local stack only (it never ships): it
// takes the Lambda Invoke API (POST
// /2015-03-31/functions/{FunctionName}/invocations), so the service's own
// Lambda client and hook caller talk to it unchanged, and forwards each
// invocation's event to the URL given for that function, whose answer is
// the function's result. An application developer can so run a hook as
// a plain HTTP handler while chunkup runs locally.
//
// A URL that answers a status other than 2xx, or cannot be reached, is a
// function that failed, answered as Lambda answers one: 200 with
// X-Amz-Function-Error: Unhandled and {"errorMessage", "errorType"}. A
// function with no URL is unknown (404 ResourceNotFoundException).
// Signatures are not checked: it serves loopback only.
package hookfunc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Options configure a stand-in.
type Options struct {
	// Functions maps each function's name, as the service invokes it (an
	// ARN), to the URL its events are POSTed to.
	Functions map[string]string
	// Client forwards the events (default: one with a 30 s timeout; the
	// caller's own timeout, which ends its request, ends the forward too).
	Client *http.Client
	Logger *slog.Logger
}

// Functions is the stand-in: an http.Handler of the Invoke API.
type Functions struct {
	opt Options
}

// New returns the stand-in.
func New(opt Options) *Functions {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Functions{opt: opt}
}

// MaxPayload is Lambda's limit on a synchronous invocation's event and
// on its result: 6 MB.
const MaxPayload = 6 << 20

const invokePrefix = "/2015-03-31/functions/"

// ServeHTTP answers Invoke; any other operation is refused as Lambda
// refuses an unknown one.
func (f *Functions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, invokePrefix)
	name, ok2 := strings.CutSuffix(name, "/invocations")
	if r.Method != http.MethodPost || !ok || !ok2 || name == "" {
		fail(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("%s %s is not served by the local Lambda (only Invoke)", r.Method, r.URL.Path))
		return
	}
	url, known := f.opt.Functions[name]
	if !known {
		fail(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	event, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
	if err != nil {
		fail(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", fmt.Sprintf("the event is over the limit of %d bytes", MaxPayload))
		return
	}
	switch kind := r.Header.Get("X-Amz-Invocation-Type"); kind {
	case "", "RequestResponse":
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		fail(w, http.StatusBadRequest, "InvalidParameterValueException", fmt.Sprintf("invocation type %q is not served by the local Lambda (RequestResponse and DryRun are)", kind))
		return
	}
	start := time.Now()
	result, ferr := f.forward(r, url, event)
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if ferr != nil {
		f.opt.Logger.Warn("hook function failed", "function", name, "to", url, "err", ferr, "took", time.Since(start).String())
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"errorMessage": ferr.Error(), "errorType": "HookURLFailed"})
		return
	}
	f.opt.Logger.Info("hook function", "function", name, "to", url, "event", string(event), "result", string(result), "took", time.Since(start).String())
	w.Header().Set("Content-Type", "application/json")
	w.Write(result)
}

// forward POSTs event to url, with the invocation's context, and returns
// what a 2xx answer carries (null for an empty one).
func (f *Functions) forward(r *http.Request, url string, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return nil, fmt.Errorf("forward to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.opt.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("forward to %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPayload+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read the answer of %s: %w", url, err)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("%s answered %d: %.512s", url, resp.StatusCode, body)
	case len(body) > MaxPayload:
		return nil, fmt.Errorf("%s answered over the limit of %d bytes of a function's result", url, MaxPayload)
	case len(bytes.TrimSpace(body)) == 0:
		return []byte("null"), nil
	}
	return body, nil
}

// fail answers an error as the Lambda API does: its type in
// X-Amzn-ErrorType and the body.
func fail(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", kind)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
