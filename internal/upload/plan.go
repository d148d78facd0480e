package upload

import "fmt"

// S3's multipart rules and the limits the part plan keeps within.
const (
	// MinPartSize is the smallest size S3 accepts for any part but the last.
	MinPartSize = 5 << 20
	// MaxParts is the most parts one S3 multipart upload may have.
	MaxParts = 10000
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// MaxChunksPerPart bounds how many chunks one part record lists, so
	// that the record stays far below DynamoDB's 400 KB item limit.
	MaxChunksPerPart = 1000
)

// Geometry is how a file of Size bytes is cut into Chunks chunks: chunk i
// (from 0) starts at i*ChunkSize and every chunk but the last is ChunkSize
// long; the last holds the rest, which may be shorter or (as Resumable.js
// cuts files) longer than ChunkSize.
type Geometry struct {
	Size      int64
	ChunkSize int64
	Chunks    int
}

// ChunkLen is the number of bytes chunk i holds.
func (g Geometry) ChunkLen(i int) int64 {
	if i == g.Chunks-1 {
		return g.Size - int64(g.Chunks-1)*g.ChunkSize
	}
	return g.ChunkSize
}

// ChunkOffset is where chunk i starts in the file.
func (g Geometry) ChunkOffset(i int) int64 { return int64(i) * g.ChunkSize }

// check reports whether the geometry describes a file at all.
func (g Geometry) check() error {
	switch {
	case g.Size < 0:
		return fmt.Errorf("file size %d is negative", g.Size)
	case g.ChunkSize <= 0:
		return fmt.Errorf("chunk size %d must be positive", g.ChunkSize)
	case g.Chunks <= 0:
		return fmt.Errorf("chunk count %d must be positive", g.Chunks)
	case int64(g.Chunks-1) > g.Size/g.ChunkSize:
		return fmt.Errorf("%d chunks of %d bytes do not fit a file of %d bytes", g.Chunks, g.ChunkSize, g.Size)
	case g.Size > 0 && g.ChunkLen(g.Chunks-1) <= 0:
		return fmt.Errorf("%d chunks of %d bytes leave the last chunk of a %d-byte file empty", g.Chunks, g.ChunkSize, g.Size)
	}
	return nil
}

// Plan maps chunks to S3 parts: part p (from 0; S3 numbers it p+1) holds
// chunks p*ChunksPerPart up to the next part's first chunk.
type Plan struct {
	Geometry
	ChunksPerPart int
	Parts         int
}

// NewPlan makes the part plan for a geometry: a part is at least 5 MiB and
// large enough that the file fits in 10,000 parts, rounded up to whole
// chunks.
func NewPlan(g Geometry) (Plan, error) {
	if err := g.check(); err != nil {
		return Plan{}, err
	}
	partBytes := max(int64(MinPartSize), ceilDiv(g.Size, MaxParts))
	cpp := int(ceilDiv(partBytes, g.ChunkSize))
	if cpp > g.Chunks {
		cpp = g.Chunks
	}
	if cpp > MaxChunksPerPart {
		return Plan{}, fmt.Errorf("chunk size %d bytes is too small for a %d-byte file: a part would hold %d chunks, the limit is %d chunks per part (use chunks of at least %d bytes)",
			g.ChunkSize, g.Size, cpp, MaxChunksPerPart, ceilDiv(partBytes, MaxChunksPerPart))
	}
	p := Plan{Geometry: g, ChunksPerPart: cpp, Parts: int(ceilDiv(int64(g.Chunks), int64(cpp)))}
	if p.Parts > MaxParts {
		return Plan{}, fmt.Errorf("a %d-byte file in %d-byte chunks needs %d parts, more than S3's limit of %d", g.Size, g.ChunkSize, p.Parts, MaxParts)
	}
	if p.PartLen(0) > MaxPartSize {
		return Plan{}, fmt.Errorf("a part of %d bytes is over S3's limit of %d", p.PartLen(0), int64(MaxPartSize))
	}
	return p, nil
}

// PartOf is the part that holds chunk i.
func (p Plan) PartOf(i int) int { return i / p.ChunksPerPart }

// PartChunks is the range [first, end) of chunks in part k.
func (p Plan) PartChunks(k int) (first, end int) {
	first = k * p.ChunksPerPart
	return first, min(first+p.ChunksPerPart, p.Chunks)
}

// PartLen is the number of bytes part k holds.
func (p Plan) PartLen(k int) int64 {
	first, end := p.PartChunks(k)
	var n int64
	for i := first; i < end; i++ {
		n += p.ChunkLen(i)
	}
	return n
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0. It never overflows:
// (a+b-1)/b did for b near the int64 limit (a client's chunk size), which
// made NewPlan divide by zero.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}
