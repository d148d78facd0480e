// Package emftest reads CloudWatch Embedded Metric Format records out of
// a log, for tests, and holds each to the format's specification: a JSON
// object whose "_aws" member has a Timestamp (milliseconds since the
// epoch) and CloudWatchMetrics, directives of a Namespace, Dimensions
// (sets of at most 30 keys, each naming a string member at the top
// level) and Metrics (at most 100, each a Name, naming a number member at
// the top level, and a Unit CloudWatch knows).
package emftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// Record is one EMF record: its directives and its top-level members.
type Record struct {
	Timestamp  time.Time
	Namespace  string     // of its one directive
	Dimensions [][]string // of its one directive
	Units      map[string]string
	Members    map[string]any
}

// Value is the record's value of metric name, and whether it has one.
func (r Record) Value(name string) (float64, bool) {
	if _, ok := r.Units[name]; !ok {
		return 0, false
	}
	v, ok := r.Members[name].(float64)
	return v, ok
}

// units are the units CloudWatch takes (MetricDatum's StandardUnit).
var units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Parse returns the EMF records among log's lines (those with an "_aws"
// member), failing the test at once if one breaks the format. Records
// with more than one directive are refused: chunkup writes one.
func Parse(t testing.TB, log []byte) []Record {
	t.Helper()
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var members map[string]any
		if json.Unmarshal(line, &members) != nil {
			continue // not a JSON line: not a record
		}
		if _, ok := members["_aws"]; !ok {
			continue
		}
		r, err := check(line, members)
		if err != nil {
			t.Fatalf("not an EMF record: %v\n%s", err, line)
		}
		out = append(out, r)
	}
	return out
}

func check(line []byte, members map[string]any) (Record, error) {
	var doc struct {
		AWS *struct {
			Timestamp         *int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string     `json:"Namespace"`
				Dimensions [][]string `json:"Dimensions"`
				Metrics    []struct {
					Name string `json:"Name"`
					Unit string `json:"Unit"`
				} `json:"Metrics"`
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&doc); err != nil || doc.AWS == nil {
		return Record{}, fmt.Errorf("_aws is not the metadata object: %v", err)
	}
	aws := doc.AWS
	if aws.Timestamp == nil || *aws.Timestamp < time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() {
		return Record{}, fmt.Errorf("the Timestamp %v is not milliseconds since the epoch", aws.Timestamp)
	}
	if len(aws.CloudWatchMetrics) != 1 {
		return Record{}, fmt.Errorf("%d directives, want 1", len(aws.CloudWatchMetrics))
	}
	d := aws.CloudWatchMetrics[0]
	if d.Namespace == "" || len(d.Namespace) > 1024 {
		return Record{}, fmt.Errorf("the Namespace %q is empty or over 1024 characters", d.Namespace)
	}
	if len(d.Dimensions) == 0 {
		return Record{}, fmt.Errorf("no dimension sets")
	}
	for _, set := range d.Dimensions {
		if len(set) == 0 || len(set) > 30 {
			return Record{}, fmt.Errorf("dimension set %q has %d keys (1 to 30)", set, len(set))
		}
		for _, k := range set {
			if v, ok := members[k].(string); !ok || v == "" {
				return Record{}, fmt.Errorf("dimension %q has no string value at the top level", k)
			}
		}
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > 100 {
		return Record{}, fmt.Errorf("%d metrics (1 to 100)", len(d.Metrics))
	}
	r := Record{Timestamp: time.UnixMilli(*aws.Timestamp), Namespace: d.Namespace, Dimensions: d.Dimensions, Units: map[string]string{}, Members: members}
	for _, m := range d.Metrics {
		if m.Name == "" || !slices.Contains(units, m.Unit) {
			return Record{}, fmt.Errorf("metric %q of unit %q", m.Name, m.Unit)
		}
		if _, ok := members[m.Name].(float64); !ok {
			return Record{}, fmt.Errorf("metric %q has no number value at the top level", m.Name)
		}
		if _, dup := r.Units[m.Name]; dup {
			return Record{}, fmt.Errorf("metric %q named twice", m.Name)
		}
		r.Units[m.Name] = m.Unit
	}
	return r, nil
}
