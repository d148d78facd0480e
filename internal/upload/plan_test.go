package upload

import (
	"strings"
	"testing"
)

func TestPlanPartsAreBigEnoughAndFewEnough(t *testing.T) {
	cases := []Geometry{
		{Size: 23 << 20, ChunkSize: 1 << 20, Chunks: 23},
		{Size: 23<<20 + 5, ChunkSize: 1 << 20, Chunks: 23}, // Resumable: last chunk larger
		{Size: 50 << 30, ChunkSize: 4 << 20, Chunks: 12800},
		{Size: 1, ChunkSize: 1 << 20, Chunks: 1},
		{Size: 0, ChunkSize: 1 << 20, Chunks: 1},
		{Size: 5 << 40, ChunkSize: 4718592, Chunks: int((5 << 40) / 4718592)},
	}
	for _, g := range cases {
		p, err := NewPlan(g)
		if err != nil {
			t.Fatalf("%+v: %v", g, err)
		}
		if p.Parts > MaxParts {
			t.Errorf("%+v: %d parts", g, p.Parts)
		}
		var total int64
		for k := 0; k < p.Parts; k++ {
			n := p.PartLen(k)
			if k < p.Parts-1 && n < MinPartSize {
				t.Errorf("%+v: part %d is %d bytes, under 5 MiB", g, k, n)
			}
			total += n
		}
		if total != g.Size {
			t.Errorf("%+v: parts sum to %d", g, total)
		}
		if last := p.PartOf(g.Chunks - 1); last != p.Parts-1 {
			t.Errorf("%+v: last chunk in part %d of %d", g, last, p.Parts)
		}
	}
}

func TestPlanRejectsImpossibleGeometry(t *testing.T) {
	cases := map[string]Geometry{
		"negative":       {Size: -1, ChunkSize: 10, Chunks: 1},
		"too many":       {Size: 100, ChunkSize: 10, Chunks: 12},
		"empty last":     {Size: 100, ChunkSize: 10, Chunks: 11},
		"zero chunk":     {Size: 100, ChunkSize: 0, Chunks: 1},
		"tiny chunks":    {Size: 100 << 20, ChunkSize: 1024, Chunks: 102400},
		"no chunks":      {Size: 100, ChunkSize: 10, Chunks: 0},
		"past 5 GiB/prt": {Size: 60 << 40, ChunkSize: 4 << 20, Chunks: (60 << 40) / (4 << 20)},
	}
	for name, g := range cases {
		if _, err := NewPlan(g); err == nil {
			t.Errorf("%s: %+v accepted", name, g)
		}
	}
	_, err := NewPlan(Geometry{Size: 100 << 20, ChunkSize: 1024, Chunks: 102400})
	if err == nil || !strings.Contains(err.Error(), "1000 chunks per part") {
		t.Errorf("tiny chunks error does not name the limit: %v", err)
	}
}
