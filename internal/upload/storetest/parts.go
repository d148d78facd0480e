package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"chunkup/internal/upload"
)

// chunk is a staged chunk record of the suite's indexed session.
func chunk(i int, key string) upload.ChunkRecord {
	return upload.ChunkRecord{Index: i, Key: key, Size: 1 << 20, CRC: uint64(i)*7919 + 1}
}

func record(t *testing.T, st upload.Sessions, id string, k int, c upload.ChunkRecord, token string, until time.Time) *upload.Part {
	t.Helper()
	p, err := st.RecordChunk(t.Context(), id, k, c, upload.Lease{Token: token, Until: until})
	if err != nil {
		t.Fatalf("RecordChunk %d: %v", c.Index, err)
	}
	return p
}

// checkClaim fails the test unless part p is claimed by token until until.
func checkClaim(t *testing.T, p *upload.Part, token string, until time.Time) {
	t.Helper()
	if p.Claim.Token != token || !p.Claim.Until.Equal(ms(until)) {
		t.Errorf("part %d claimed by %q until %v, want %q until %v", p.Index, p.Claim.Token, p.Claim.Until, token, ms(until))
	}
}

func indexes(parts []*upload.Part) []int {
	out := make([]int, len(parts))
	for i, p := range parts {
		out[i] = p.Index
	}
	return out
}

var partCases = []sessionCase{
	{"part/nothing recorded reads empty", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		p := getPart(t, st, s.ID, 3)
		if p.Index != 3 || p.Chunks == nil || len(p.Chunks) != 0 || p.Assembled() || p.Claim.Token != "" || !p.Claim.Until.IsZero() || p.Counted {
			t.Errorf("empty part = %+v", p)
		}
		parts, err := st.ListParts(t.Context(), s.ID)
		if err != nil || len(parts) != 0 {
			t.Errorf("ListParts = %v, %v; want none", parts, err)
		}
	}},
	{"part/a chunk is recorded once, stamping the part with its claim", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ua, ub := t0.Add(time.Minute), t0.Add(2*time.Minute)
		p := record(t, st, s.ID, 0, chunk(0, "k0"), "a", ua)
		if p.Index != 0 || len(p.Chunks) != 1 || p.Chunks[0] != chunk(0, "k0") {
			t.Errorf("RecordChunk returned %+v, want part 0 with chunk 0", p)
		}
		checkClaim(t, p, "a", ua)
		p = record(t, st, s.ID, 0, chunk(1, "k1"), "b", ub)
		if len(p.Chunks) != 2 || p.Chunks[0] != chunk(0, "k0") || p.Chunks[1] != chunk(1, "k1") {
			t.Errorf("RecordChunk returned chunks %v, want 0 and 1", p.Chunks)
		}
		checkClaim(t, p, "b", ub)
		_, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(0, "k0-again"), upload.Lease{Token: "c", Until: t0.Add(time.Hour)})
		conflict(t, err, "RecordChunk of a recorded chunk")
		p = getPart(t, st, s.ID, 0)
		if p.Chunks[0].Key != "k0" {
			t.Errorf("chunk 0's key = %q after a duplicate, want the first, k0", p.Chunks[0].Key)
		}
		checkClaim(t, p, "b", ub)
	}},
	{"part/racing records of one chunk: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		errs := Race(racers, func(i int) error {
			_, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(3, fmt.Sprint("k-", i)), upload.Lease{Token: fmt.Sprint("tok", i), Until: t0.Add(time.Minute)})
			return err
		})
		if w := oneWins(t, errs, "RecordChunk"); w >= 0 {
			p := getPart(t, st, s.ID, 0)
			if p.Chunks[3].Key != fmt.Sprint("k-", w) || p.Claim.Token != fmt.Sprint("tok", w) {
				t.Errorf("part = %+v, want the winner's chunk and claim (racer %d)", p, w)
			}
		}
	}},
	{"part/list in part order", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		for _, k := range []int{10, 0, 2} {
			record(t, st, s.ID, k, chunk(k*5, "k"), "a", t0)
		}
		parts, err := st.ListParts(t.Context(), s.ID)
		ok(t, err, "ListParts")
		if got := indexes(parts); !slices.Equal(got, []int{0, 2, 10}) {
			t.Errorf("ListParts gave parts %v, want [0 2 10]", got)
		}
		if other, err := st.ListParts(t.Context(), newID(t)); err != nil || len(other) != 0 {
			t.Errorf("ListParts of another session = %v, %v; want none", indexes(other), err)
		}
	}},
	{"part/read progress: the session and its highest parts, highest first", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		for k := range 7 {
			record(t, st, s.ID, k, chunk(k*5, "k"), "a", t0)
		}
		for _, c := range []struct {
			n    int
			want []int
		}{{4, []int{6, 5, 4, 3}}, {0, []int{}}, {10, []int{6, 5, 4, 3, 2, 1, 0}}} {
			got, tail, err := st.ReadProgress(t.Context(), s.ID, c.n)
			ok(t, err, "ReadProgress")
			if got.ID != s.ID || got.Plan != s.Plan {
				t.Errorf("ReadProgress(%d) read session %+v", c.n, got)
			}
			if idx := indexes(tail); !slices.Equal(idx, c.want) {
				t.Errorf("ReadProgress(%d) read parts %v, want %v", c.n, idx, c.want)
			}
		}
	}},
	{"part/claim a recorded, unassembled part whose claim is free", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		_, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0)
		conflict(t, err, "ClaimPart of a part nothing was recorded for")
		if parts, _ := st.ListParts(t.Context(), s.ID); len(parts) != 0 {
			t.Errorf("a lost ClaimPart created part records %v", indexes(parts))
		}
		ua := t0.Add(time.Minute)
		record(t, st, s.ID, 0, chunk(0, "k0"), "a", ua)
		_, err = st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: ua.Add(time.Minute)}, ua.Add(-time.Millisecond))
		conflict(t, err, "ClaimPart before a's claim lapses")
		p, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "a", Until: ua}, t0)
		ok(t, err, "ClaimPart by a, which holds it (a retry)")
		checkClaim(t, p, "a", ua)
		ub := ua.Add(time.Minute)
		p, err = st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: ub}, ua)
		ok(t, err, "ClaimPart when a's claim lapses")
		checkClaim(t, p, "b", ub)
		if len(p.Chunks) != 1 || p.Chunks[0] != chunk(0, "k0") {
			t.Errorf("ClaimPart returned chunks %v, want chunk 0", p.Chunks)
		}
		conflict(t, st.ReleasePart(t.Context(), s.ID, 0, "a"), "ReleasePart by a, which lost the claim")
		ok(t, st.ReleasePart(t.Context(), s.ID, 0, "b"), "ReleasePart by b")
		checkClaim(t, getPart(t, st, s.ID, 0), "", time.Time{})
		_, err = st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "c", Until: t0.Add(time.Minute)}, t0)
		ok(t, err, "ClaimPart of a released part, at once")
		conflict(t, st.ReleasePart(t.Context(), newID(t), 0, "c"), "ReleasePart of a missing part")
	}},
	{"part/racing claims of a lapsed part: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		record(t, st, s.ID, 0, chunk(0, "k0"), "dead", t0)
		errs := Race(racers, func(i int) error {
			_, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: fmt.Sprint("tok", i), Until: t0.Add(time.Minute)}, t0.Add(time.Second))
			return err
		})
		if w := oneWins(t, errs, "ClaimPart"); w >= 0 {
			checkClaim(t, getPart(t, st, s.ID, 0), fmt.Sprint("tok", w), t0.Add(time.Minute))
		}
	}},
	{"part/record the assembled part, dropping its chunks and claim", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		record(t, st, s.ID, 0, chunk(0, "k0"), "a", t0.Add(time.Minute))
		record(t, st, s.ID, 0, chunk(1, "k1"), "a", t0.Add(time.Minute))
		done := upload.AssembledPart{ETag: `"e1"`, CRC: 4242, Size: 2 << 20, Chunks: []upload.ChunkRecord{chunk(0, "k0"), chunk(1, "k1")}}
		now := t0.Add(time.Second)
		conflict(t, st.RecordPart(t.Context(), s.ID, 0, "b", done, now), "RecordPart by b, which holds no claim")
		ok(t, st.RecordPart(t.Context(), s.ID, 0, "a", done, now), "RecordPart by a")
		p := getPart(t, st, s.ID, 0)
		if !p.Assembled() || p.ETag != done.ETag || p.CRC != done.CRC || p.Size != done.Size || !p.FinishedAt.Equal(ms(now)) || len(p.Chunks) != 0 {
			t.Errorf("finished part = %+v, want ETag %s CRC %d size %d finished %v, no chunks", p, done.ETag, done.CRC, done.Size, ms(now))
		}
		checkClaim(t, p, "", time.Time{})
		ok(t, st.RecordPart(t.Context(), s.ID, 0, "a", done, now), "RecordPart by a again (a retry)")
		ok(t, st.RecordPart(t.Context(), s.ID, 0, "z", done, now), "RecordPart with the ETag it has")
		other := done
		other.ETag = `"e2"`
		conflict(t, st.RecordPart(t.Context(), s.ID, 0, "z", other, now), "RecordPart with another ETag")
		for _, i := range []int{0, 2} {
			_, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(i, "late"), upload.Lease{Token: "c", Until: t0.Add(time.Hour)})
			conflict(t, err, fmt.Sprintf("RecordChunk %d in an assembled part", i))
		}
		_, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "c", Until: t0.Add(time.Hour)}, t0.Add(time.Hour))
		conflict(t, err, "ClaimPart of an assembled part")
		conflict(t, st.RecordPart(t.Context(), s.ID, 9, "a", done, now), "RecordPart of a missing part")
	}},
	{"part/record by a claimant whose claim passed on: ErrConflict", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		record(t, st, s.ID, 0, chunk(0, "k0"), "a", t0)
		_, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "b", Until: t0.Add(time.Minute)}, t0)
		ok(t, err, "ClaimPart by b")
		done := upload.AssembledPart{ETag: `"ea"`, CRC: 1, Size: 1 << 20, Chunks: []upload.ChunkRecord{chunk(0, "k0")}}
		conflict(t, st.RecordPart(t.Context(), s.ID, 0, "a", done, t0), "RecordPart by a")
		done.ETag = `"eb"`
		ok(t, st.RecordPart(t.Context(), s.ID, 0, "b", done, t0), "RecordPart by b")
		if p := getPart(t, st, s.ID, 0); p.ETag != `"eb"` {
			t.Errorf("part's ETag = %s, want b's", p.ETag)
		}
	}},
	{"part/count: every call adds one, and marks the part", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		record(t, st, s.ID, 0, chunk(0, "k0"), "a", t0)
		for i, k := range []int{0, 1, 1} {
			n, err := st.CountPart(t.Context(), s.ID, k)
			if err != nil || n != i+1 {
				t.Errorf("CountPart(%d) = %d, %v; want %d", k, n, err, i+1)
			}
		}
		if got := get(t, st, s.ID); got.PartsDone != 3 {
			t.Errorf("PartsDone = %d, want 3", got.PartsDone)
		}
		for _, k := range []int{0, 1} {
			if p := getPart(t, st, s.ID, k); !p.Counted {
				t.Errorf("part %d is not marked counted", k)
			}
		}
		_, err := st.CountPart(t.Context(), newID(t), 0)
		conflict(t, err, "CountPart of a missing session")
	}},
	{"part/delete every part record", func(t *testing.T, st upload.Sessions) {
		s, other := newIndexed(t), newIndexed(t)
		create(t, st, s)
		create(t, st, other)
		for k := range 3 {
			record(t, st, s.ID, k, chunk(k*5, "k"), "a", t0)
		}
		record(t, st, other.ID, 0, chunk(0, "k"), "a", t0)
		ok(t, st.DeleteParts(t.Context(), s.ID), "DeleteParts")
		if parts, err := st.ListParts(t.Context(), s.ID); err != nil || len(parts) != 0 {
			t.Errorf("ListParts after DeleteParts = %v, %v", indexes(parts), err)
		}
		if p := getPart(t, st, s.ID, 1); len(p.Chunks) != 0 {
			t.Errorf("part 1 after DeleteParts = %+v", p)
		}
		if parts, _ := st.ListParts(t.Context(), other.ID); len(parts) != 1 {
			t.Errorf("DeleteParts of one session left another's %d parts, want 1", len(parts))
		}
		get(t, st, s.ID)
		ok(t, st.DeleteParts(t.Context(), s.ID), "DeleteParts again")
	}},
}

// step is a sequential step appending a 1 MiB piece at off.
func step(s *upload.Session, off int64, piece string) upload.Commit {
	return upload.Commit{Old: off, New: off + 1<<20, PartStart: s.PartStart, Piece: piece, PartCRC: uint64(off) + 3,
		Hashes: map[string][]byte{"md5": []byte(fmt.Sprint("after ", off))}}
}

var sequentialCases = []sessionCase{
	{"sequential/a step commits at the current offset", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		c := step(s, 0, "o0-a")
		now := t0.Add(time.Second)
		ok(t, st.CommitAppend(t.Context(), s.ID, c, now), "CommitAppend")
		got := get(t, st, s.ID)
		if got.Offset != c.New || !slices.Equal(got.Pending, []string{"o0-a"}) || got.PartCRC != c.PartCRC ||
			string(got.Hashes["md5"]) != "after 0" || !got.UpdatedAt.Equal(ms(now)) || got.PartStart != 0 || got.Seal != nil {
			t.Errorf("after a step: %+v", got.Stream)
		}
		conflict(t, st.CommitAppend(t.Context(), s.ID, step(s, 0, "o0-b"), now), "CommitAppend at the old offset")
		wrong := step(s, c.New, "o1-a")
		wrong.PartStart = 5
		conflict(t, st.CommitAppend(t.Context(), s.ID, wrong, now), "CommitAppend at another partStart")
		ok(t, st.CommitAppend(t.Context(), s.ID, step(s, c.New, "o1-a"), now), "CommitAppend of the next step")
		if got := get(t, st, s.ID); !slices.Equal(got.Pending, []string{"o0-a", "o1-a"}) {
			t.Errorf("Pending = %v, want both pieces in order", got.Pending)
		}
	}},
	{"sequential/a step that seals blocks the next until the seal clears", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		c := step(s, 0, "o0")
		c.Seal = &upload.Seal{Part: 0, Start: 0, End: c.New, Keys: []string{"o0"}, CRC: 99}
		ok(t, st.CommitAppend(t.Context(), s.ID, c, t0), "CommitAppend with a seal")
		got := get(t, st, s.ID)
		if got.Offset != c.New || got.PartStart != c.New || got.NextPart != 1 || len(got.Pending) != 0 || got.PartCRC != 0 ||
			got.Seal == nil || got.Seal.Part != 0 || got.Seal.Start != 0 || got.Seal.End != c.New || !slices.Equal(got.Seal.Keys, []string{"o0"}) || got.Seal.CRC != 99 {
			t.Fatalf("after a sealing step: %+v seal %+v", got.Stream, got.Seal)
		}
		next := step(got, c.New, "o1")
		conflict(t, st.CommitAppend(t.Context(), s.ID, next, t0), "CommitAppend with a seal pending")
		conflict(t, st.ClearSeal(t.Context(), s.ID, 1), "ClearSeal of another part")
		ok(t, st.ClearSeal(t.Context(), s.ID, 0), "ClearSeal")
		if got := get(t, st, s.ID); got.Seal != nil {
			t.Errorf("Seal = %+v after ClearSeal", got.Seal)
		}
		conflict(t, st.ClearSeal(t.Context(), s.ID, 0), "ClearSeal again")
		ok(t, st.CommitAppend(t.Context(), s.ID, next, t0), "CommitAppend once the seal is cleared")
	}},
	{"sequential/an indexed, ended or missing upload takes no step", func(t *testing.T, st upload.Sessions) {
		indexed, ended := newIndexed(t), newSequential(t)
		create(t, st, indexed)
		create(t, st, ended)
		ok(t, st.EndSession(t.Context(), ended, []upload.State{upload.StateOpen}, upload.StateExpired, t0), "EndSession")
		for _, id := range []string{indexed.ID, ended.ID, newID(t)} {
			conflict(t, st.CommitAppend(t.Context(), id, step(ended, 0, "o0"), t0), "CommitAppend")
		}
	}},
	{"sequential/racing steps at one offset: one wins", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		errs := Race(racers, func(i int) error {
			return st.CommitAppend(t.Context(), s.ID, step(s, 0, fmt.Sprint("o0-", i)), t0)
		})
		if w := oneWins(t, errs, "CommitAppend"); w >= 0 {
			if got := get(t, st, s.ID); !slices.Equal(got.Pending, []string{fmt.Sprint("o0-", w)}) {
				t.Errorf("Pending = %v, want the winner's piece alone", got.Pending)
			}
		}
	}},
	{"sequential/a sealed part is written once and claimed whole", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		pieces := []upload.ChunkRecord{{Index: 0, Key: "p0", Size: 3 << 20, CRC: 5}, {Index: 1, Key: "p1", Size: 2 << 20, CRC: 6}}
		ok(t, st.PutSealedPart(t.Context(), s.ID, 0, pieces, 42), "PutSealedPart")
		p := getPart(t, st, s.ID, 0)
		if len(p.Chunks) != 2 || p.Chunks[0] != pieces[0] || p.Chunks[1] != pieces[1] || p.CRC != 42 || p.Assembled() || p.Claim.Token != "" {
			t.Errorf("sealed part = %+v", p)
		}
		conflict(t, st.PutSealedPart(t.Context(), s.ID, 0, pieces[:1], 1), "PutSealedPart again")
		p, err := st.ClaimPart(t.Context(), s.ID, 0, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0)
		ok(t, err, "ClaimPart of a sealed part")
		if len(p.Chunks) != 2 || p.CRC != 42 {
			t.Errorf("ClaimPart returned %+v, want both pieces and CRC 42", p)
		}
	}},
}

var completionCases = []sessionCase{
	{"completion/begin takes the lease, until it lapses", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ua := t0.Add(time.Minute)
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: ua}, t0), "BeginComplete a")
		got := get(t, st, s.ID)
		if got.State != upload.StateCompleting || got.Completion.Token != "a" || !got.Completion.Until.Equal(ms(ua)) || !got.UpdatedAt.Equal(ms(t0)) {
			t.Errorf("after BeginComplete: %s %q until %v updated %v", got.State, got.Completion.Token, got.Completion.Until, got.UpdatedAt)
		}
		conflict(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "b", Until: ua.Add(time.Minute)}, ua.Add(-time.Millisecond)), "BeginComplete b before a's lapses")
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: ua}, t0), "BeginComplete a again (a retry)")
		ub := ua.Add(time.Minute)
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "b", Until: ub}, ua), "BeginComplete b when a's lapses")
		if got := get(t, st, s.ID); got.Completion.Token != "b" || !got.Completion.Until.Equal(ms(ub)) {
			t.Errorf("lease = %q until %v, want b's", got.Completion.Token, got.Completion.Until)
		}
	}},
	{"completion/racing begins: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		errs := Race(racers, func(i int) error {
			return st.BeginComplete(t.Context(), s, upload.Lease{Token: fmt.Sprint("tok", i), Until: t0.Add(time.Minute)}, t0)
		})
		if w := oneWins(t, errs, "BeginComplete"); w >= 0 {
			if got := get(t, st, s.ID); got.Completion.Token != fmt.Sprint("tok", w) {
				t.Errorf("lease held by %q, want the winner's", got.Completion.Token)
			}
		}
	}},
	{"completion/release lets the next take over at once", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		conflict(t, st.ReleaseComplete(t.Context(), s.ID, "a"), "ReleaseComplete of an open upload")
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Hour)}, t0), "BeginComplete a")
		conflict(t, st.ReleaseComplete(t.Context(), s.ID, "b"), "ReleaseComplete by b")
		ok(t, st.ReleaseComplete(t.Context(), s.ID, "a"), "ReleaseComplete by a")
		if got := get(t, st, s.ID); got.State != upload.StateCompleting {
			t.Errorf("state after ReleaseComplete = %s, want completing", got.State)
		}
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "b", Until: t0.Add(time.Hour)}, t0), "BeginComplete b at once")
	}},
	{"completion/record the finished object under the lease", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
		fin := *s
		fin.State, fin.Completion.Token = upload.StateComplete, "b"
		fin.ETag, fin.CRC64 = `"etag-3"`, "AAAAAAAAAAE="
		fin.CompletedAt, fin.ExpiresAt = t0.Add(time.Second), t0.Add(25*time.Hour)
		fin.Digests = map[string]string{"md5": "00ff"}
		conflict(t, st.RecordComplete(t.Context(), &fin), "RecordComplete by b")
		fin.Completion.Token = "a"
		ok(t, st.RecordComplete(t.Context(), &fin), "RecordComplete by a")
		got := get(t, st, s.ID)
		if got.State != upload.StateComplete || got.ETag != fin.ETag || got.CRC64 != fin.CRC64 || !got.CompletedAt.Equal(ms(fin.CompletedAt)) ||
			!got.ExpiresAt.Equal(ms(fin.ExpiresAt)) || !got.UpdatedAt.Equal(ms(fin.CompletedAt)) || got.Digests["md5"] != "00ff" || !got.Completion.Until.IsZero() {
			t.Errorf("completed session = %+v", got)
		}
		ok(t, st.RecordComplete(t.Context(), &fin), "RecordComplete again")
		conflict(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "c", Until: t0.Add(48 * time.Hour)}, t0.Add(48*time.Hour)), "BeginComplete of a complete upload")
		conflict(t, st.ReleaseComplete(t.Context(), s.ID, "a"), "ReleaseComplete of a complete upload")
	}},
	{"completion/an ended or missing upload cannot begin", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateAborted, t0), "EndSession")
		conflict(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete of an aborted upload")
		missing := newIndexed(t)
		conflict(t, st.BeginComplete(t.Context(), missing, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete of a missing upload")
	}},
	{"end/abort an open upload: due for the sweep at once", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		now := t0.Add(time.Minute)
		ok(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateAborted, now), "EndSession")
		got := get(t, st, s.ID)
		if got.State != upload.StateAborted || !got.ExpiresAt.Equal(ms(now)) || !got.UpdatedAt.Equal(ms(now)) {
			t.Errorf("aborted session: %s expires %v updated %v, want aborted, %v, %v", got.State, got.ExpiresAt, got.UpdatedAt, ms(now), ms(now))
		}
		conflict(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateAborted, now), "EndSession again")
	}},
	{"end/expire keeps the expiry", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateExpired, t0.Add(48*time.Hour)), "EndSession")
		if got := get(t, st, s.ID); got.State != upload.StateExpired || !got.ExpiresAt.Equal(ms(s.ExpiresAt)) {
			t.Errorf("expired session: %s expires %v, want expired, %v", got.State, got.ExpiresAt, ms(s.ExpiresAt))
		}
	}},
	{"end/only from the states named", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		ok(t, st.BeginComplete(t.Context(), s, upload.Lease{Token: "a", Until: t0}, t0), "BeginComplete")
		conflict(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, upload.StateExpired, t0), "EndSession from open of a completing upload")
		ok(t, st.EndSession(t.Context(), s, []upload.State{upload.StateOpen, upload.StateCompleting}, upload.StateExpired, t0), "EndSession from open or completing")
		conflict(t, st.EndSession(t.Context(), newIndexed(t), []upload.State{upload.StateOpen}, upload.StateExpired, t0), "EndSession of a missing upload")
	}},
	{"end/a move the state table forbids is refused before anything is written", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		refused(t, st.EndSession(t.Context(), s, []upload.State{upload.StateComplete}, upload.StateAborted, t0), "EndSession from complete")
		checkLive(t, lookup(t, st, s), s)
		if got := get(t, st, s.ID); got.State != upload.StateOpen {
			t.Errorf("state = %s after a refused move, want open", got.State)
		}
	}},
	{"end/racing ends: one wins", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		bound(t, st, s)
		errs := Race(racers, func(i int) error {
			to := upload.StateAborted
			if i%2 == 1 {
				to = upload.StateExpired
			}
			return st.EndSession(t.Context(), s, []upload.State{upload.StateOpen}, to, t0)
		})
		if w := oneWins(t, errs, "EndSession"); w >= 0 {
			want := map[bool]upload.State{true: upload.StateAborted, false: upload.StateExpired}[w%2 == 0]
			if got := get(t, st, s.ID); got.State != want {
				t.Errorf("state = %s, want the winner's, %s", got.State, want)
			}
		}
	}},
}

var sweepCases = []sessionCase{
	{"sweep/lists what expired before now", func(t *testing.T, st upload.Sessions) {
		now := t0.Add(2 * time.Hour)
		var want []string
		for i, d := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 90 * time.Minute, time.Hour} {
			s := newIndexed(t)
			s.ExpiresAt = t0.Add(d)
			create(t, st, s)
			if i != 1 && i != 2 {
				want = append(want, s.ID)
			}
		}
		ids, err := st.ListExpired(t.Context(), now, 10)
		ok(t, err, "ListExpired")
		if slices.Sort(ids); !slices.Equal(ids, slices.Sorted(slices.Values(want))) {
			t.Errorf("ListExpired = %v, want %v (expiry before now, not at it)", ids, want)
		}
		two, err := st.ListExpired(t.Context(), now, 2)
		ok(t, err, "ListExpired with a limit")
		if len(two) != 2 || !slices.Contains(want, two[0]) || !slices.Contains(want, two[1]) || two[0] == two[1] {
			t.Errorf("ListExpired(limit 2) = %v, want two of %v", two, want)
		}
	}},
	{"sweep/a session stays in the index until forgotten", func(t *testing.T, st upload.Sessions) {
		aborted, complete := newIndexed(t), newIndexed(t)
		create(t, st, aborted)
		create(t, st, complete)
		ok(t, st.EndSession(t.Context(), aborted, []upload.State{upload.StateOpen}, upload.StateAborted, t0), "EndSession")
		ok(t, st.BeginComplete(t.Context(), complete, upload.Lease{Token: "a", Until: t0.Add(time.Minute)}, t0), "BeginComplete")
		fin := *complete
		fin.Completion.Token, fin.CompletedAt, fin.ExpiresAt = "a", t0, t0.Add(time.Hour)
		ok(t, st.RecordComplete(t.Context(), &fin), "RecordComplete")
		list := func(at time.Time) []string {
			ids, err := st.ListExpired(t.Context(), at, 10)
			ok(t, err, "ListExpired")
			slices.Sort(ids)
			return ids
		}
		if got := list(t0.Add(time.Millisecond)); !slices.Equal(got, []string{aborted.ID}) {
			t.Errorf("just after the abort, ListExpired = %v, want the aborted session alone", got)
		}
		both := slices.Sorted(slices.Values([]string{aborted.ID, complete.ID}))
		if got := list(t0.Add(2 * time.Hour)); !slices.Equal(got, both) {
			t.Errorf("once the complete one is due, ListExpired = %v, want both", got)
		}
		ok(t, st.Forget(t.Context(), aborted, t0.Add(time.Hour)), "Forget")
		if got := list(t0.Add(2 * time.Hour)); !slices.Equal(got, []string{complete.ID}) {
			t.Errorf("after Forget, ListExpired = %v, want the complete session alone", got)
		}
	}},
}

var boundCases = []sessionCase{
	{"bound/a session over 400 KB is refused and not stored", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		s.Name = strings.Repeat("n", 410_000)
		refused(t, st.CreateSession(t.Context(), s), "CreateSession of a session over 400 KB")
		if _, err := st.GetSession(t.Context(), s.ID); err == nil {
			t.Errorf("a refused session was stored")
		}
		s.Name = strings.Repeat("n", 390_000)
		ok(t, st.CreateSession(t.Context(), s), "CreateSession of a session under 400 KB")
	}},
	{"bound/a part record over 400 KB is refused and left as it was", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		create(t, st, s)
		record(t, st, s.ID, 0, chunk(0, strings.Repeat("a", 250_000)), "a", t0)
		_, err := st.RecordChunk(t.Context(), s.ID, 0, chunk(1, strings.Repeat("b", 250_000)), upload.Lease{Token: "b", Until: t0.Add(time.Hour)})
		refused(t, err, "RecordChunk that makes the part over 400 KB")
		p := getPart(t, st, s.ID, 0)
		if _, has := p.Chunks[1]; has || len(p.Chunks) != 1 || p.Claim.Token != "a" {
			t.Errorf("a refused RecordChunk changed the part: %d chunks, claim %q", len(p.Chunks), p.Claim.Token)
		}
	}},
	{"bound/a session that a step would grow over 400 KB is left as it was", func(t *testing.T, st upload.Sessions) {
		s := newSequential(t)
		create(t, st, s)
		for i := range 3 {
			c := step(s, int64(i)<<20, strings.Repeat(fmt.Sprint(i), 150_000))
			err := st.CommitAppend(t.Context(), s.ID, c, t0)
			if i < 2 {
				ok(t, err, "CommitAppend")
				continue
			}
			refused(t, err, "CommitAppend that makes the session over 400 KB")
		}
		if got := get(t, st, s.ID); got.Offset != 2<<20 || len(got.Pending) != 2 {
			t.Errorf("after a refused step: offset %d, %d pieces; want 2 MiB, 2", got.Offset, len(got.Pending))
		}
	}},
	{"bound/an identifier over DynamoDB's key limit is refused", func(t *testing.T, st upload.Sessions) {
		s := newIndexed(t)
		s.Identifier = strings.Repeat("i", 3000)
		create(t, st, s)
		refused(t, st.BindIdentifier(t.Context(), s, ""), "BindIdentifier")
		_, err := st.LookupBinding(t.Context(), s.Owner, s.Identifier)
		refused(t, err, "LookupBinding")
	}},
}
