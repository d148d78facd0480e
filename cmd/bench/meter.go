package main

import (
	"context"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// OpStat is what the service asked of one AWS operation.
type OpStat struct {
	Calls    int64   `json:"calls"`    // operations, as the service called them
	Attempts int64   `json:"attempts"` // HTTP requests sent (retries included): what AWS bills
	Failed   int64   `json:"failed"`   // operations that returned an error
	BytesOut int64   `json:"bytesOut"` // request bodies sent
	BytesIn  int64   `json:"bytesIn"`  // response bodies received (Content-Length)
	Seconds  float64 `json:"seconds"`  // time spent in the operation, summed
	// DynamoDB only.
	ReadUnits  float64 `json:"readUnits,omitempty"`  // RRU as the server reported them (ReturnConsumedCapacity TOTAL)
	WriteUnits float64 `json:"writeUnits,omitempty"` // WRU as the server reported them; 1 per failed conditional write
	IndexUnits float64 `json:"indexUnits,omitempty"` // WRU of the sparse sweep index (modelled, see indexWrites)
	CondFailed int64   `json:"condFailed,omitempty"` // conditional writes that lost
}

func (a *OpStat) add(b OpStat, sign float64) {
	s := int64(sign)
	a.Calls += s * b.Calls
	a.Attempts += s * b.Attempts
	a.Failed += s * b.Failed
	a.BytesOut += s * b.BytesOut
	a.BytesIn += s * b.BytesIn
	a.Seconds += sign * b.Seconds
	a.ReadUnits += sign * b.ReadUnits
	a.WriteUnits += sign * b.WriteUnits
	a.IndexUnits += sign * b.IndexUnits
	a.CondFailed += s * b.CondFailed
}

// Counts is everything one piece of work cost, by what AWS bills for.
type Counts struct {
	// Ops are the AWS operations, keyed "S3 PutObject", "DynamoDB UpdateItem", ….
	Ops map[string]OpStat `json:"ops"`
	// API is what reached API Gateway: requests, their bytes (headers and
	// body) and HTTP API metering units (512 KB increments).
	APIRequests   int64 `json:"apiRequests"`
	APIBytes      int64 `json:"apiBytes"`
	APIIncrements int64 `json:"apiIncrements"`
	// APIBodyBytes is the part of APIBytes that was request bodies: what
	// reached the functions as their events' bodies.
	APIBodyBytes int64 `json:"apiBodyBytes"`
	// Invocations and handler time, by function.
	Invocations map[string]int64   `json:"invocations"`
	Handler     map[string]float64 `json:"handlerSeconds"`
	// StagedByteSeconds is how long staged chunks stayed in S3, times their
	// size; PartByteSeconds the same for multipart parts until completion.
	StagedByteSeconds float64 `json:"stagedByteSeconds"`
	PartByteSeconds   float64 `json:"partByteSeconds"`
	// CPU is the CPU time used, by process: "bench" (the clients, the
	// local gateway and the functions' handlers), "versitygw", "dynalite".
	CPU map[string]float64 `json:"cpuSeconds"`
}

func newCounts() Counts {
	return Counts{Ops: map[string]OpStat{}, Invocations: map[string]int64{}, Handler: map[string]float64{}, CPU: map[string]float64{}}
}

// Sub returns c - b.
func (c Counts) Sub(b Counts) Counts { return c.combine(b, -1) }

// Add returns c + b.
func (c Counts) Add(b Counts) Counts { return c.combine(b, 1) }

func (c Counts) combine(b Counts, sign float64) Counts {
	out := newCounts()
	for k, v := range c.Ops {
		out.Ops[k] = v
	}
	for k, v := range b.Ops {
		o := out.Ops[k]
		o.add(v, sign)
		out.Ops[k] = o
	}
	for k, v := range out.Ops {
		if v == (OpStat{}) {
			delete(out.Ops, k)
		}
	}
	s := int64(sign)
	out.APIRequests = c.APIRequests + s*b.APIRequests
	out.APIBytes = c.APIBytes + s*b.APIBytes
	out.APIIncrements = c.APIIncrements + s*b.APIIncrements
	out.APIBodyBytes = c.APIBodyBytes + s*b.APIBodyBytes
	for k, v := range c.Invocations {
		out.Invocations[k] = v
	}
	for k, v := range b.Invocations {
		out.Invocations[k] += s * v
	}
	for k, v := range c.Handler {
		out.Handler[k] = v
	}
	for k, v := range b.Handler {
		out.Handler[k] += sign * v
	}
	for k, v := range c.CPU {
		out.CPU[k] = v
	}
	for k, v := range b.CPU {
		out.CPU[k] += sign * v
	}
	out.StagedByteSeconds = c.StagedByteSeconds + sign*b.StagedByteSeconds
	out.PartByteSeconds = c.PartByteSeconds + sign*b.PartByteSeconds
	return out
}

// CPUTotal is the CPU time of every process.
func (c Counts) CPUTotal() float64 {
	var t float64
	for _, v := range c.CPU {
		t += v
	}
	return t
}

// S3 request classes, as S3's price list groups them.
const (
	classPut  = "PUT" // PUT, COPY, POST, LIST
	classGet  = "GET" // GET and all other requests
	classFree = "FREE"
)

// s3Class says how S3 bills an operation. DELETE (DeleteObject, and
// DeleteObjects, the multi-object delete) and CANCEL (AbortMultipartUpload)
// are free. A request sent with a presigned URL is billed as its
// operation.
func s3Class(op string) string {
	switch strings.TrimSuffix(op, " (presigned)") {
	case "PutObject", "CopyObject", "UploadPart", "UploadPartCopy", "CreateMultipartUpload",
		"CompleteMultipartUpload", "ListObjects", "ListObjectsV2", "ListMultipartUploads",
		"ListParts", "ListObjectVersions", "ListBuckets", "CreateBucket", "PutBucketLifecycleConfiguration":
		return classPut
	case "DeleteObject", "DeleteObjects", "AbortMultipartUpload":
		return classFree
	}
	return classGet
}

// S3 returns the S3 attempts of a class.
func (c Counts) S3(class string) int64 {
	var n int64
	for k, v := range c.Ops {
		if op, ok := strings.CutPrefix(k, "S3 "); ok && s3Class(op) == class {
			n += v.Attempts
		}
	}
	return n
}

// S3Billable is every S3 request that costs money.
func (c Counts) S3Billable() int64 { return c.S3(classPut) + c.S3(classGet) }

// S3BytesWritten is the bytes the service sent to S3 in request bodies
// (not the clients' own, with presigned URLs).
func (c Counts) S3BytesWritten() int64 {
	var n int64
	for k, v := range c.Ops {
		if strings.HasPrefix(k, "S3 ") && k != presignedOp {
			n += v.BytesOut
		}
	}
	return n
}

// S3BytesRead is the bytes the service read back from S3.
func (c Counts) S3BytesRead() int64 {
	var n int64
	for k, v := range c.Ops {
		if strings.HasPrefix(k, "S3 ") {
			n += v.BytesIn
		}
	}
	return n
}

// Dynamo returns DynamoDB's read units, write units (table and index) and
// requests.
func (c Counts) Dynamo() (rru, wru float64, requests int64) {
	for k, v := range c.Ops {
		if strings.HasPrefix(k, "DynamoDB ") {
			rru += v.ReadUnits
			wru += v.WriteUnits + v.IndexUnits
			requests += v.Attempts
		}
	}
	return rru, wru, requests
}

// OpNames lists the operations of one service, sorted.
func (c Counts) OpNames(service string) []string {
	var out []string
	for k := range c.Ops {
		if op, ok := strings.CutPrefix(k, service+" "); ok {
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}

// meter counts what the service's AWS clients do: a middleware on every
// operation of the clients built from the aws.Config it is installed on.
type meter struct {
	mu     sync.Mutex
	ops    map[string]*OpStat
	staged map[string]stagedObject // staging key → when and how big
	parts  map[string][]stagedObject
	// byte-seconds of objects already gone
	stagedBS, partBS float64
	now              func() time.Time
}

type stagedObject struct {
	at   time.Time
	size int64
}

func newMeter() *meter {
	return &meter{ops: map[string]*OpStat{}, staged: map[string]stagedObject{}, parts: map[string][]stagedObject{}, now: time.Now}
}

// install adds the meter to every client built from cfg.
func (m *meter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("chunkupBenchOperation", m.operation), middleware.After); err != nil {
			return err
		}
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("chunkupBenchAttempt", m.attempt), middleware.After)
	})
}

func opKey(ctx context.Context) string {
	return awsmiddleware.GetServiceID(ctx) + " " + awsmiddleware.GetOperationName(ctx)
}

func (m *meter) stat(key string) *OpStat {
	s := m.ops[key]
	if s == nil {
		s = &OpStat{}
		m.ops[key] = s
	}
	return s
}

// operation runs once per operation call: it asks DynamoDB for the
// capacity consumed, and afterwards records it, the time taken and the
// lifetimes of staged objects.
func (m *meter) operation(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	askCapacity(in.Parameters)
	start := m.now()
	out, md, err := next.HandleInitialize(ctx, in)
	end := m.now()
	key := opKey(ctx)

	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stat(key)
	s.Calls++
	s.Seconds += end.Sub(start).Seconds()
	if err != nil {
		s.Failed++
	}
	switch awsmiddleware.GetServiceID(ctx) {
	case "DynamoDB":
		op := awsmiddleware.GetOperationName(ctx)
		if err == nil {
			units := consumed(out.Result)
			if isRead(op) {
				s.ReadUnits += units
			} else {
				s.WriteUnits += units
				s.IndexUnits += indexWrites(in.Parameters)
			}
		} else if isConditionFailure(err) {
			// A losing conditional write is billed too: at least one unit
			// (the items here are under 1 KB), though no capacity is reported.
			s.CondFailed++
			s.WriteUnits++
		}
	case "S3":
		if err == nil {
			m.trackObjects(in.Parameters, end)
		}
	}
	return out, md, err
}

// attempt runs once per HTTP request sent: retries are billed too.
func (m *meter) attempt(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	var sent int64
	if req, ok := in.Request.(*smithyhttp.Request); ok && req.ContentLength > 0 {
		sent = req.ContentLength
	}
	out, md, err := next.HandleDeserialize(ctx, in)
	var got int64
	if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.ContentLength > 0 {
		got = resp.ContentLength
	}
	m.mu.Lock()
	s := m.stat(opKey(ctx))
	s.Attempts++
	s.BytesOut += sent
	s.BytesIn += got
	m.mu.Unlock()
	return out, md, err
}

// trackObjects follows staged chunks from their PUT to their DELETE, and
// multipart parts from their upload to the upload's completion.
func (m *meter) trackObjects(params any, now time.Time) {
	switch in := params.(type) {
	case *s3.PutObjectInput:
		if k := aws.ToString(in.Key); strings.HasPrefix(k, "staging/") {
			m.staged[k] = stagedObject{at: now, size: aws.ToInt64(in.ContentLength)}
		}
	case *s3.DeleteObjectsInput:
		if in.Delete == nil {
			return
		}
		for _, o := range in.Delete.Objects {
			k := aws.ToString(o.Key)
			if st, ok := m.staged[k]; ok {
				m.stagedBS += float64(st.size) * now.Sub(st.at).Seconds()
				delete(m.staged, k)
			}
		}
	case *s3.UploadPartInput:
		k := aws.ToString(in.UploadId)
		m.parts[k] = append(m.parts[k], stagedObject{at: now, size: aws.ToInt64(in.ContentLength)})
	case *s3.CompleteMultipartUploadInput, *s3.AbortMultipartUploadInput:
		var k string
		if c, ok := in.(*s3.CompleteMultipartUploadInput); ok {
			k = aws.ToString(c.UploadId)
		} else {
			k = aws.ToString(in.(*s3.AbortMultipartUploadInput).UploadId)
		}
		for _, p := range m.parts[k] {
			m.partBS += float64(p.size) * now.Sub(p.at).Seconds()
		}
		delete(m.parts, k)
	}
}

// snapshot copies the counts so far. Objects still staged count up to now.
func (m *meter) snapshot(c *Counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, v := range m.ops {
		c.Ops[k] = *v
	}
	c.StagedByteSeconds = m.stagedBS
	for _, st := range m.staged {
		c.StagedByteSeconds += float64(st.size) * now.Sub(st.at).Seconds()
	}
	c.PartByteSeconds = m.partBS
	for _, ps := range m.parts {
		for _, p := range ps {
			c.PartByteSeconds += float64(p.size) * now.Sub(p.at).Seconds()
		}
	}
}

func isRead(op string) bool {
	switch op {
	case "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems":
		return true
	}
	return false
}

func isConditionFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ConditionalCheckFailed")
}

// askCapacity sets ReturnConsumedCapacity TOTAL on a DynamoDB request, so
// that the server reports the units it charged (dynalite computes them from
// item sizes as DynamoDB does: reads in 4 KB, writes in 1 KB, the larger of
// the old and new item for an update).
func askCapacity(params any) {
	const total = dbtypes.ReturnConsumedCapacityTotal
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = total
	}
}

func units(c *dbtypes.ConsumedCapacity) float64 {
	if c == nil {
		return 0
	}
	return aws.ToFloat64(c.CapacityUnits)
}

// consumed is the capacity a DynamoDB answer reports.
func consumed(result any) float64 {
	switch o := result.(type) {
	case *dynamodb.GetItemOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return units(o.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		var n float64
		for i := range o.ConsumedCapacity {
			n += units(&o.ConsumedCapacity[i])
		}
		return n
	case *dynamodb.BatchGetItemOutput:
		var n float64
		for i := range o.ConsumedCapacity {
			n += units(&o.ConsumedCapacity[i])
		}
		return n
	}
	return 0
}

var setsExpiry = regexp.MustCompile(`\bexpiresAt\s*=`)

// indexWrites models the write units of the sparse "sweep" index (KEYS_ONLY,
// keyed by sweep and expiresAt), which dynalite does not report: a session
// item entering it costs one write, leaving it one, and moving its
// expiresAt two (the old index entry deleted, the new one put). Only the
// session item (sk "S") carries the sweep attribute.
func indexWrites(params any) float64 {
	isSession := func(key map[string]dbtypes.AttributeValue) bool {
		sk, ok := key["sk"].(*dbtypes.AttributeValueMemberS)
		return ok && sk.Value == "S"
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		if _, ok := in.Item["sweep"]; ok {
			return 1
		}
	case *dynamodb.DeleteItemInput:
		if isSession(in.Key) {
			return 1
		}
	case *dynamodb.UpdateItemInput:
		if !isSession(in.Key) {
			return 0
		}
		expr := aws.ToString(in.UpdateExpression)
		switch {
		case strings.Contains(expr, "REMOVE sweep"):
			return 1
		case setsExpiry.MatchString(expr):
			return 2
		}
	}
	return 0
}

// apiMeter stands where API Gateway meters requests: in front of the local
// gateway, it counts every request and its size.
type apiMeter struct {
	mu                            sync.Mutex
	requests, bytes, incs, bodies int64
}

// httpAPIIncrement is the HTTP API's metering step: a request is billed as
// one request per 512 KB (or part of it).
const httpAPIIncrement = 512 << 10

func increments(size int64) int64 {
	return max(1, int64(math.Ceil(float64(size)/httpAPIIncrement)))
}

// requestSize is a request as it travels: request line, headers and body.
func requestSize(r *http.Request, body int64) int64 {
	n := int64(len(r.Method) + len(r.URL.RequestURI()) + len(r.Proto) + 4)
	n += int64(len("Host: ") + len(r.Host) + 2)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += int64(len(k) + 2 + len(v) + 2)
		}
	}
	return n + 2 + body
}

func (a *apiMeter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.ContentLength
		if body < 0 {
			body = 0
		}
		size := requestSize(r, body)
		a.mu.Lock()
		a.requests++
		a.bytes += size
		a.incs += increments(size)
		a.bodies += body
		a.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (a *apiMeter) snapshot(c *Counts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c.APIRequests, c.APIBytes, c.APIIncrements, c.APIBodyBytes = a.requests, a.bytes, a.incs, a.bodies
}

// functionMeter times every invocation of every function's handler: the
// work Lambda bills as duration, short of decoding the event.
type functionMeter struct {
	mu      sync.Mutex
	count   map[string]int64
	seconds map[string]float64
}

func newFunctionMeter() *functionMeter {
	return &functionMeter{count: map[string]int64{}, seconds: map[string]float64{}}
}

func (f *functionMeter) wrap(handlers map[string]http.Handler) map[string]http.Handler {
	out := make(map[string]http.Handler, len(handlers))
	for name, h := range handlers {
		out[name] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			h.ServeHTTP(w, r)
			d := time.Since(start).Seconds()
			f.mu.Lock()
			f.count[name]++
			f.seconds[name] += d
			f.mu.Unlock()
		})
	}
	return out
}

func (f *functionMeter) snapshot(c *Counts) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.count {
		c.Invocations[k] = v
	}
	for k, v := range f.seconds {
		c.Handler[k] = v
	}
}
