package upload

import (
	"context"
	"fmt"

	"chunkup/internal/wire/crc64nvme"
)

// Reading the part ledger: the part records as a table, the chunks they
// lack, and the CRC64NVME fold that joins chunks into a part and parts
// into the file.

// partTable reads all of a session's part records into a slice indexed by
// part, with empty records for parts nothing has reached.
func (e *Engine) partTable(ctx context.Context, s *Session) ([]*Part, error) {
	list, err := e.sessions.ListParts(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("list parts of %s: %w", s.ID, err)
	}
	n := s.Parts
	if s.Kind == Sequential {
		n = s.NextPart
	}
	parts := make([]*Part, n)
	for _, p := range list {
		if p.Index >= 0 && p.Index < n {
			parts[p.Index] = p
		}
	}
	for k := range parts {
		if parts[k] == nil {
			parts[k] = &Part{Index: k}
		}
	}
	return parts, nil
}

func missingRanges(s *Session, parts []*Part) []Range {
	if s.Kind == Sequential {
		return nil // its bytes are all in before it can complete
	}
	var out []Range
	add := func(i int) {
		if n := len(out); n > 0 && out[n-1].Last == i-1 {
			out[n-1].Last = i
			return
		}
		out = append(out, Range{First: i, Last: i})
	}
	for k, p := range parts {
		if p.Assembled() {
			continue
		}
		first, end := s.PartChunks(k)
		for i := first; i < end; i++ {
			if _, ok := p.Chunks[i]; !ok {
				add(i)
			}
		}
	}
	return out
}

func countRanges(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += r.Last - r.First + 1
	}
	return n
}

// span is a run of bytes whose CRC64NVME is known: a staged chunk, or
// an assembled part.
type span interface {
	span() (crc uint64, size int64)
}

func (c ChunkRecord) span() (uint64, int64) { return c.CRC, c.Size }
func (p *Part) span() (uint64, int64)       { return p.CRC, p.Size }

// foldCRC is the CRC64NVME and size of spans laid end to end, combined
// from theirs alone: a part's from its chunks', the file's from its
// parts'. No byte is read.
func foldCRC[S span](join *crc64nvme.Combiner, spans []S) (crc uint64, size int64) {
	for i, sp := range spans {
		c, n := sp.span()
		if i == 0 {
			crc = c
		} else {
			crc = join.Combine(crc, c, n)
		}
		size += n
	}
	return crc, size
}
