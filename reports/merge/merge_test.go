package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

var t0 = time.Date(2020, 12, 8, 9, 0, 0, 0, time.UTC)

// synthetic returns n results of a two-step journey over about n/200
// seconds, in the order they end as an engine would emit them: some fail
// (timeouts, 503s from two upstreams, drops), some are retries, a few end
// far past their due second (later than the writer keeps an interval open)
// and one has no intended time.
func synthetic(n int, seed uint64) []reports.Result {
	rng := rand.New(rand.NewPCG(seed, 1))
	rs := make([]reports.Result, 0, n)
	for i := range n {
		r := reports.Result{Seq: uint64(i / 2), User: uint64(i / 2), Journey: "enroll", Step: []string{"login", "add-card"}[i%2],
			Attempt: 1, Method: "POST", URL: "http://127.0.0.1/x", Code: 200, OK: true, BytesIn: 40, BytesOut: 90,
			Intended: t0.Add(time.Duration(i) * 5 * time.Millisecond)}
		r.Arrival = i%2 == 0
		r.JourneyDone = i%2 == 1
		r.Latency = time.Duration(rng.ExpFloat64() * float64(30*time.Millisecond))
		r.Sent = r.Intended.Add(r.Latency / 10)
		r.SendLatency = r.Latency - r.Latency/10
		switch x := rng.IntN(100); {
		case x < 3:
			r.Code, r.OK, r.Error, r.JourneyDone = 0, false, "Post \"http://127.0.0.1/x\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", false
			r.Latency = 2 * time.Second
		case x < 6:
			r.Code, r.OK, r.ErrorCode, r.Upstream, r.JourneyDone = 503, false, "BANK_DOWN", []string{"nexi", "sia"}[x%2], false
		case x < 8:
			r.Dropped, r.OK, r.Code, r.Sent, r.SendLatency, r.Error, r.Latency = true, false, 0, time.Time{}, 0, reports.DroppedError, time.Second
		case x < 10:
			r.Attempt = 2
		case x == 10:
			r.Latency = 45 * time.Second
		}
		rs = append(rs, r)
	}
	rs = append(rs, reports.Result{Journey: "enroll", Step: "login", Attempt: 1, Code: 200, OK: true, Latency: 7 * time.Millisecond})
	slices.SortStableFunc(rs, func(a, b reports.Result) int { return a.End().Compare(b.End()) })
	return rs
}

// writeRun writes the merge inputs of results rs to a new run folder, as
// a run does: through the interval writer sink, and the accumulator's tally.
func writeRun(t testing.TB, dir string, h Header, rs []reports.Result) *reports.Accumulator {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, IntervalsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	acc := reports.NewAccumulator(reports.WithStart(t0))
	iw := NewIntervalWriter(f)
	sinks := reports.Sinks{acc, iw}
	for i := range rs {
		sinks.Add(&rs[i])
	}
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteCounters(filepath.Join(dir, CountersFile), &Counters{Header: h, Tally: acc.Tally()}); err != nil {
		t.Fatal(err)
	}
	return acc
}

func summaryJSON(t testing.TB, s *reports.Summary) string {
	t.Helper()
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var header = Header{Scenario: "launch-day", Source: "replay", Seed: 7, StartAt: t0, Duration: 20 * time.Second,
	Gates: []string{"p99<800ms", "errors<1%"}}

func meta() reports.SummaryMeta { return header.meta() }

func TestLoadRebuildsTheRunExactly(t *testing.T) {
	rs := synthetic(4000, 1)
	dir := t.TempDir()
	acc := writeRun(t, dir, header, rs)
	run, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, got := summaryJSON(t, acc.Summary(meta())), summaryJSON(t, run.Summary())
	if got != want {
		t.Fatalf("the loaded run's summary differs from the run's own:\n%s", firstDiff(got, want))
	}
	if !strings.Contains(want, `"mode": "timeout"`) || !strings.Contains(want, `"upstream": "sia"`) || !strings.Contains(want, `"t_s": 19`) {
		t.Fatalf("the fixture lacks the error modes and series it is meant to exercise:\n%s", want)
	}
}

func TestShardsMergeExactly(t *testing.T) {
	rs := synthetic(6000, 2)
	whole := reports.NewAccumulator(reports.WithStart(t0))
	for i := range rs {
		whole.Add(&rs[i])
	}
	want := summaryJSON(t, whole.Summary(meta()))
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n, " shards"), func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for k := range n {
				var part []reports.Result
				for _, r := range rs {
					if r.Seq%uint64(n) == uint64(k) {
						part = append(part, r)
					}
				}
				h := header
				h.Shard = fmt.Sprintf("%d/%d", k+1, n)
				dirs = append(dirs, filepath.Join(root, fmt.Sprint("shard-", k)))
				writeRun(t, dirs[k], h, part)
			}
			out := filepath.Join(root, "merged")
			run, err := Runs(dirs, out)
			if err != nil {
				t.Fatal(err)
			}
			if got := summaryJSON(t, run.Summary()); got != want {
				t.Fatalf("merged summary differs from the summary of all results:\n%s", firstDiff(got, want))
			}
			// The merged folder is a run in its own right.
			again, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := summaryJSON(t, again.Summary()); got != want {
				t.Fatalf("the merged folder reloads differently:\n%s", firstDiff(got, want))
			}
			onDisk, err := reports.ReadSummary(filepath.Join(out, SummaryFile))
			if err != nil || summaryJSON(t, onDisk) != want {
				t.Fatalf("merged summary.json: %v", err)
			}
			if again.Header.Shards != n || again.Header.Shard != "" {
				t.Fatalf("merged header %+v, want shards %d", again.Header, n)
			}
		})
	}
}

func TestRunsRefuseWhatIsNotOneRun(t *testing.T) {
	rs := synthetic(200, 3)
	shard := func(k, n int, edit func(*Header)) Header {
		h := header
		h.Shard = fmt.Sprintf("%d/%d", k, n)
		if edit != nil {
			edit(&h)
		}
		return h
	}
	tests := []struct {
		name    string
		headers []Header
		want    string
	}{
		{"different scenarios", []Header{shard(1, 2, nil), shard(2, 2, func(h *Header) { h.Scenario = "step-test" })}, `scenario "step-test"`},
		{"different seeds", []Header{shard(1, 2, nil), shard(2, 2, func(h *Header) { h.Seed = 8 })}, "seed 8"},
		{"different plans", []Header{shard(1, 2, nil), shard(2, 3, nil)}, "different shard plans"},
		{"different starts", []Header{shard(1, 2, nil), shard(2, 2, func(h *Header) { h.StartAt = t0.Add(time.Second) })}, "--start-at"},
		{"a missing shard", []Header{shard(1, 3, nil), shard(3, 3, nil)}, "shard 2/3 of launch-day missing"},
		{"a shard twice", []Header{shard(1, 2, nil), shard(1, 2, nil)}, "both shard 1/2"},
		{"not a shard", []Header{header, shard(2, 2, nil)}, "not a shard"},
		{"one shard alone", []Header{shard(2, 2, nil)}, "shard 1/2 of launch-day missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for i, h := range tt.headers {
				dirs = append(dirs, filepath.Join(root, fmt.Sprint(i)))
				writeRun(t, dirs[i], h, rs)
			}
			_, err := Runs(dirs, filepath.Join(root, "out"))
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v: want one line of bad input naming %q", err, tt.want)
			}
		})
	}
}

func TestLoadRefusesInputsThatDisagree(t *testing.T) {
	rs := synthetic(400, 4)
	tests := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"no counters", func(dir string) { os.Remove(filepath.Join(dir, CountersFile)) }, "no counters.json"},
		{"no latency log", func(dir string) { os.Remove(filepath.Join(dir, IntervalsFile)) }, IntervalsFile},
		{"latency log cut short", func(dir string) {
			p := filepath.Join(dir, IntervalsFile)
			b, _ := os.ReadFile(p)
			lines := strings.SplitAfter(string(b), "\n")
			os.WriteFile(p, []byte(strings.Join(lines[:len(lines)/2], "")), 0o644)
		}, "for 199 requests sent"},
		{"latencies a second late", func(dir string) {
			// Every step's total still matches its counters; its seconds do not.
			p := filepath.Join(dir, IntervalsFile)
			b, _ := os.ReadFile(p)
			for sec := t0.Unix() + 60; sec >= t0.Unix(); sec-- {
				b = bytes.ReplaceAll(b, fmt.Appendf(nil, ",%d.000000,", sec), fmt.Appendf(nil, ",%d.000000,", sec+1))
			}
			os.WriteFile(p, b, 0o644)
		}, "latencies for"},
		{"a step the counters lack", func(dir string) {
			p := filepath.Join(dir, IntervalsFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte("Tag=enroll/login,"), []byte("Tag=enroll/logout,"), 1), 0o644)
		}, `latencies of step "enroll/logout", which its counters.json does not count`},
		{"unknown counters field", func(dir string) {
			p := filepath.Join(dir, CountersFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte(`"seed"`), []byte(`"sead"`), 1), 0o644)
		}, `unknown field "sead"`},
		{"a garbled interval", func(dir string) {
			p := filepath.Join(dir, IntervalsFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, append(b, "Tag=enroll/login,1607418000.000,1.000,0.1,HISTnope\n"...), 0o644)
		}, IntervalsFile + ":"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRun(t, dir, header, rs)
			tt.edit(dir)
			_, err := Load(dir)
			_, lineErr := errors.AsType[*resultsfile.LineError](err)
			if (!errors.Is(err, ErrBadInput) && !lineErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v: want bad input naming %q", err, tt.want)
			}
		})
	}
}

// firstDiff shows where two texts first differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(g), len(w))
}

func TestGatesJudgeTheMergedRun(t *testing.T) {
	rs := synthetic(6000, 9)
	h := header
	h.Gates = []string{"dropped<60"} // each third of the run drops about 33
	root := t.TempDir()
	var dirs []string
	for k := range 3 {
		var part []reports.Result
		for _, r := range rs {
			if r.Seq%3 == uint64(k) {
				part = append(part, r)
			}
		}
		h.Shard = fmt.Sprintf("%d/3", k+1)
		dirs = append(dirs, filepath.Join(root, fmt.Sprint(k)))
		writeRun(t, dirs[k], h, part)
		one, err := Load(dirs[k])
		if err != nil {
			t.Fatal(err)
		}
		if s := one.Summary(); !s.Passed() {
			t.Fatalf("shard %d fails its gate alone (%d dropped): the test needs shards that pass", k+1, s.Dropped)
		}
	}
	run, err := Runs(dirs, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := run.Summary(); s.Passed() || len(s.Gates) != 1 || s.Gates[0].Actual != float64(s.Dropped) || s.Dropped < 60 {
		t.Fatalf("merged run: %d dropped, gates %+v: want the fleet-wide gate to fail", s.Dropped, s.Gates)
	}
}
