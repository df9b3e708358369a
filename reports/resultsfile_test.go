package reports_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// These tests hold the results file to what the accumulator and vegeta
// make of it; the codec's own tests are in package resultsfile.

// writeFile writes rs to a results file in a fresh folder and returns its path.
func writeFile(t *testing.T, rs []reports.Result) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := resultsfile.NewWriter(f, resultsfile.WithAttack("launch-day"))
	for i := range rs {
		w.Add(&rs[i])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVegetaReadsOurFile checks the promise that `vegeta report` and
// `vegeta plot` read a results file: vegeta's own decoder sees the same
// code, latency, timestamp, bytes and error, and its Metrics count every
// request, dropped arrivals as errors.
func TestVegetaReadsOurFile(t *testing.T) {
	rs := reports.LaunchFixture()
	data := writeFile(t, rs)
	f, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewJSONDecoder(f)
	var m vegeta.Metrics
	for i := range rs {
		var v vegeta.Result
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("result %d: vegeta cannot decode: %v", i, err)
		}
		r := &rs[i]
		wantErr := r.Error
		if r.Dropped {
			wantErr = reports.DroppedError
		}
		if v.Attack != "launch-day" || v.Seq != r.Seq || int(v.Code) != r.Code || v.Latency != r.Latency ||
			!v.Timestamp.Equal(r.Intended) || v.BytesIn != r.BytesIn || v.BytesOut != r.BytesOut ||
			v.Error != wantErr || v.Method != r.Method || v.URL != r.URL {
			t.Fatalf("result %d: vegeta decoded %+v from %+v", i, v, *r)
		}
		m.Add(&v)
	}
	if err := dec.Decode(&vegeta.Result{}); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last result: %v, want io.EOF", err)
	}
	m.Close()

	s := reports.Accumulate(rs).Summary(reports.SummaryMeta{})
	if m.Requests != uint64(len(rs)) || int64(m.Requests) != s.Requests {
		t.Errorf("vegeta counts %d requests, summary %d, file %d", m.Requests, s.Requests, len(rs))
	}
	if !reports.Near(m.Rate, s.OfferedRate, 1e-4) || !reports.Near(m.Duration.Seconds(), s.DurationS, 1e-4) || !reports.Near(m.Wait.Seconds(), s.WaitS, 1e-3) {
		t.Errorf("vegeta rate %.3f duration %v wait %v; summary offered %.3f duration %.3f wait %.3f",
			m.Rate, m.Duration, m.Wait, s.OfferedRate, s.DurationS, s.WaitS)
	}
	found := false
	for _, e := range m.Errors {
		found = found || e == reports.DroppedError
	}
	if s.Dropped == 0 || !found {
		t.Errorf("dropped arrivals invisible to vegeta: summary %d dropped, vegeta errors %q", s.Dropped, m.Errors)
	}
}

// TestReadFileIntoAccumulator reads an interrupted run's file into an
// accumulator: every whole line counts, the cut one does not.
func TestReadFileIntoAccumulator(t *testing.T) {
	rs := reports.LaunchFixture()
	path := writeFile(t, rs)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)-20], 0o644); err != nil { // an interrupted run
		t.Fatal(err)
	}
	a := reports.NewAccumulator()
	info, err := resultsfile.ReadFile(path, a)
	if err != nil {
		t.Fatal(err)
	}
	n := info.Results
	if n != int64(len(rs)-1) || !info.Truncated {
		t.Errorf("added %d of %d, truncated %v", n, len(rs), info.Truncated)
	}
	if got := a.Summary(reports.SummaryMeta{}).Requests; got != n {
		t.Errorf("the accumulator counted %d requests, ReadFile %d", got, n)
	}
}
