package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"chunkup/internal/local/faultproxy"
)

// Report is what a soak run did and found.
type Report struct {
	Config Config
	st     *stats

	started, finishedSoak atomic.Int64

	SoakTime, Total time.Duration
	ClockJumps      int
	SweepsDuring    int
	SweepErrors     int
	SweepAtEnd      struct{ Runs, Expired, Completed, Released, Errors int }

	Uploads        map[string]int // by dialect
	FinishedSoak   int
	FinishedResume int
	Abandoned      int
	Ended          int // uploads their clients ended themselves, checked to have left nothing
	Verified       int
	VerifiedBy     map[string]int // by dialect
	Lost           []Loss
	// Wrong lists answers that broke a protocol, or told a client what
	// is not so: a duplicate completion naming another object, a
	// checksum that is not the object's, an ended upload that left
	// something behind.
	Wrong []Loss

	// OpenBeforeSweep counts the multipart uploads open on S3 before the
	// final sweep, of direct uploads and of the others; none may be
	// left after it (Orphans.Multipart).
	OpenBeforeSweep struct{ Direct, Other int }

	Orphans struct {
		Staged, Multipart, InIndex, NoTTL, Parts, Identifiers []string
	}
	// Unclaimed lists finished objects that no client knows of: an
	// upload done again after the answer that finished it was lost.
	Unclaimed []string

	// S3 and DynamoDB are the faults between the service and its
	// backends; ClientS3 those between the clients and S3 (the parts of
	// direct uploads).
	S3, DynamoDB, ClientS3 faultproxy.Stats
}

// Loss is a file the service lost: finished by its client but not in S3
// as sent, or left in a state that no retry could finish.
type Loss struct {
	File    string
	Dialect string
	Reason  string
}

func (r *Report) lose(f *file, reason string) {
	r.Lost = append(r.Lost, Loss{File: f.name, Dialect: f.dialect, Reason: reason})
}

// count tallies the files' outcomes.
func (r *Report) count(files []*file) {
	r.Uploads = map[string]int{}
	for _, f := range files {
		r.Uploads[f.dialect]++
		switch {
		case f.finished && f.phase == "soak":
			r.FinishedSoak++
		case f.finished:
			r.FinishedResume++
		case errors.Is(f.lastErr, errAbandoned):
			r.Abandoned++
		case errors.Is(f.lastErr, errEnded):
			r.Ended++
		}
	}
}

// Orphaned counts what was left behind after the sweep.
func (r *Report) Orphaned() int {
	o := r.Orphans
	return len(o.Staged) + len(o.Multipart) + len(o.InIndex) + len(o.NoTTL) + len(o.Parts) + len(o.Identifiers)
}

// Failed reports whether the soak found a file lost or anything orphaned.
func (r *Report) Failed() bool { return len(r.Lost) > 0 || len(r.Wrong) > 0 || r.Orphaned() > 0 }

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "chunkup soak (seed %d): %s of uploads, %d at once, faults on %.1f%% of S3 and DynamoDB requests",
		c.Seed, r.SoakTime.Round(time.Second), c.Concurrency, 100*c.FaultRate)
	if c.ClockJump > 0 {
		fmt.Fprintf(w, ", clock jumps every %s", c.ClockJump)
	}
	if c.SweepEvery > 0 {
		fmt.Fprintf(w, ", sweeps every %s", c.SweepEvery)
	}
	fmt.Fprintf(w, "; %s in all\n", r.Total.Round(time.Second))

	total := 0
	var by []string
	for _, d := range allDialects() {
		if n := r.Uploads[d]; n > 0 {
			total += n
			by = append(by, fmt.Sprintf("%s %d", d, n))
		}
	}
	row(w, "uploads", "%d (%s)", total, strings.Join(by, ", "))
	row(w, "  finished", "%d by the clients during the soak, %d resumed without faults afterwards; %d abandoned on purpose",
		r.FinishedSoak, r.FinishedResume, r.Abandoned)
	st := r.st
	row(w, "  ended", "%d by their clients (tus DELETE, direct abort), each checked to leave nothing behind", r.Ended)
	row(w, "  completions", "direct: %d answers lost on purpose and sent again, %d sent a second time (each answer checked to name the same object)",
		st.lostCompletions.Load(), st.dupCompletions.Load())
	row(w, "chunks", "%d chunk requests (%d sent twice on purpose); %d retries", st.chunks.Load(), st.duplicates.Load(), st.retries.Load())
	row(w, "requests", "%d; dropped by the client: %d midway, %d unanswered; network errors %d",
		st.requests.Load(), st.drops["midway"].Load(), st.drops["unread"].Load(), st.netErrors.Load())
	st.mu.Lock()
	var answers []string
	for _, code := range slices.Sorted(maps.Keys(st.statuses)) {
		answers = append(answers, fmt.Sprintf("%d×%d", st.statuses[code], code))
	}
	st.mu.Unlock()
	row(w, "answers", "%s", strings.Join(answers, ", "))
	row(w, "faults injected", "%s", faults("s3", r.S3))
	row(w, "", "%s", faults("dynamodb", r.DynamoDB))
	row(w, "", "%s", faults("clients' s3", r.ClientS3))
	if c.ClockJump > 0 {
		row(w, "clock jumps", "%d (each past the claim timeout)", r.ClockJumps)
	}
	row(w, "sweeps", "%d during the soak (%d errors); at the end %d runs: %d expired, %d completed, %d released, %d errors",
		r.SweepsDuring, r.SweepErrors, r.SweepAtEnd.Runs, r.SweepAtEnd.Expired, r.SweepAtEnd.Completed, r.SweepAtEnd.Released, r.SweepAtEnd.Errors)
	row(w, "files verified", "%d (byte for byte, SHA-256 of the object against the client's; S3's CRC64NVME against the file's and what the client was told)", r.Verified)
	row(w, "files lost", "%d", len(r.Lost))
	row(w, "wrong answers", "%d", len(r.Wrong))
	row(w, "multipart uploads", "%d open before the final sweep (%d of direct uploads, %d of the others), %d after it",
		r.OpenBeforeSweep.Direct+r.OpenBeforeSweep.Other, r.OpenBeforeSweep.Direct, r.OpenBeforeSweep.Other, len(r.Orphans.Multipart))
	o := r.Orphans
	row(w, "orphaned", "%d (staged objects %d, open multipart uploads %d, sessions in the sweep index %d, sessions without TTL %d, part records %d, identifier records %d)",
		r.Orphaned(), len(o.Staged), len(o.Multipart), len(o.InIndex), len(o.NoTTL), len(o.Parts), len(o.Identifiers))
	row(w, "unclaimed objects", "%d (finished files no client knows of: sent again after the answer that finished them was lost)", len(r.Unclaimed))
	for _, k := range r.Unclaimed {
		row(w, "", "%s", k)
	}

	for _, l := range r.Lost {
		fmt.Fprintf(w, "\nLOST %s %q: %s\n", l.Dialect, l.File, l.Reason)
	}
	for _, l := range r.Wrong {
		fmt.Fprintf(w, "\nWRONG %s %q: %s\n", l.Dialect, l.File, l.Reason)
	}
	for _, g := range []struct {
		what string
		list []string
	}{
		{"staged object", o.Staged}, {"open multipart upload", o.Multipart}, {"session in the sweep index", o.InIndex},
		{"session without TTL", o.NoTTL}, {"part record", o.Parts}, {"identifier record", o.Identifiers},
	} {
		for i, s := range g.list {
			if i == 10 {
				fmt.Fprintf(w, "ORPHANED %s: … %d more\n", g.what, len(g.list)-10)
				break
			}
			fmt.Fprintf(w, "ORPHANED %s: %s\n", g.what, s)
		}
	}
}

func row(w io.Writer, label, format string, args ...any) {
	fmt.Fprintf(w, "%-18s %s\n", label, fmt.Sprintf(format, args...))
}

// faults describes one proxy's faults, by kind, with errors by code.
func faults(name string, s faultproxy.Stats) string {
	var parts []string
	for _, k := range faultproxy.Kinds() {
		n := s.Faults[k]
		if n == 0 {
			continue
		}
		p := fmt.Sprintf("%s %d", k, n)
		if k == faultproxy.Error && len(s.Codes) > 0 {
			codes := slices.Collect(maps.Keys(s.Codes))
			sort.Strings(codes)
			var cs []string
			for _, code := range codes {
				cs = append(cs, fmt.Sprintf("%s %d", code, s.Codes[code]))
			}
			p += " (" + strings.Join(cs, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return fmt.Sprintf("%s, %d of %d requests: %s", name, s.Total(), s.Requests, strings.Join(parts, ", "))
}
