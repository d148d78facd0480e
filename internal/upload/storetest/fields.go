package storetest

import (
	"maps"
	"slices"
	"testing"

	"chunkup/internal/upload"
)

// What a store keeps of a session's dialect, client metadata, tus's
// concatenation and a direct upload's plan, and the sequential steps that
// fold the pending pieces into one or fix a deferred size.

var fieldCases = []sessionCase{
	{"session/create keeps the dialect, metadata, tus's partial and sources, and the direct plan", func(t *testing.T, st upload.Sessions) {
		direct := newIndexed(t)
		direct.Plan, direct.LiveBinding, direct.Kind = upload.Plan{}, false, upload.Direct
		direct.Size, direct.MultipartID, direct.MultipartRetried = 12<<20, "mpu-1", true
		direct.Direct = upload.DirectPlan{Declared: true, PartSize: 8 << 20, MaxPart: 2}
		direct.Dialect, direct.Metadata = "companion", map[string]string{"filename": "a.bin", "note": "x"}
		partial := newSequential(t)
		partial.Dialect, partial.Partial = "tus", true
		final := newSequential(t)
		final.Dialect, final.Sources = "tus", []string{"p1", "p2"}
		for _, s := range []*upload.Session{direct, partial, final} {
			create(t, st, s)
			got := get(t, st, s.ID)
			checkStored(t, got, s)
			if got.Dialect != s.Dialect || !maps.Equal(got.Metadata, s.Metadata) || got.Partial != s.Partial ||
				!slices.Equal(got.Sources, s.Sources) || got.Direct != s.Direct || got.MultipartRetried != s.MultipartRetried {
				t.Errorf("read back: dialect %q meta %v partial %v sources %v direct %+v retried %v; want %q %v %v %v %+v %v",
					got.Dialect, got.Metadata, got.Partial, got.Sources, got.Direct, got.MultipartRetried,
					s.Dialect, s.Metadata, s.Partial, s.Sources, s.Direct, s.MultipartRetried)
			}
		}
	}},
	{"binding/Live carries the dialect and metadata", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		s.Dialect, s.Metadata = "native", map[string]string{"k": "v"}
		create(t, st, s)
		ok(t, st.BindIdentifier(t.Context(), s, ""), "BindIdentifier")
		b := lookup(t, st, s)
		if b.Live == nil || b.Live.Dialect != "native" || !maps.Equal(b.Live.Metadata, s.Metadata) {
			t.Errorf("Live = %+v, want dialect native and metadata %v", b.Live, s.Metadata)
		}
	}},
}

// foldCases are the steps of a sequential upload that replace its
// pending pieces (Commit.Fold) or fix its size (Commit.SetsSize).
var foldCases = []sessionCase{
	{"sequential/a folding step replaces the pending pieces", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		ok(t, st.CommitAppend(t.Context(), s.ID, step(s, 0, "o0"), t0), "CommitAppend")
		ok(t, st.CommitAppend(t.Context(), s.ID, step(s, 1<<20, "o1"), t0), "CommitAppend")
		fold := step(s, 2<<20, "o0-o2")
		fold.Fold = true
		ok(t, st.CommitAppend(t.Context(), s.ID, fold, t0), "CommitAppend that folds")
		got := get(t, st, s.ID)
		if !slices.Equal(got.Pending, []string{"o0-o2"}) || got.PartCRC != fold.PartCRC || got.Offset != fold.New {
			t.Errorf("after a fold: Pending %v PartCRC %d Offset %d, want [o0-o2] %d %d", got.Pending, got.PartCRC, got.Offset, fold.PartCRC, fold.New)
		}
	}},
	{"sequential/a step sets a deferred size, once", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		s.Size = upload.SizeDeferred
		create(t, st, s)
		sized := step(s, 0, "o0")
		sized.SetsSize, sized.Size = true, 3<<20
		ok(t, st.CommitAppend(t.Context(), s.ID, sized, t0), "CommitAppend that sets the size")
		got := get(t, st, s.ID)
		if got.Size != 3<<20 || !slices.Equal(got.Pending, []string{"o0"}) {
			t.Fatalf("after setting the size: Size %d Pending %v, want %d [o0]", got.Size, got.Pending, 3<<20)
		}
		again := upload.Commit{Old: sized.New, New: sized.New, PartStart: 0, PartCRC: sized.PartCRC, Hashes: sized.Hashes, SetsSize: true, Size: 4 << 20}
		conflict(t, st.CommitAppend(t.Context(), s.ID, again, t0), "CommitAppend that sets a size already set")
		bare := again
		bare.Size = 3 << 20
		bare.SetsSize = false
		ok(t, st.CommitAppend(t.Context(), s.ID, bare, t0), "CommitAppend with no piece")
		if got := get(t, st, s.ID); got.Size != 3<<20 || !slices.Equal(got.Pending, []string{"o0"}) || got.PartCRC != sized.PartCRC {
			t.Errorf("after a step with no piece: Size %d Pending %v PartCRC %d, want %d [o0] %d", got.Size, got.Pending, got.PartCRC, 3<<20, sized.PartCRC)
		}
	}},
}
