package reports

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/internal/golden"
)

// stormSeries is a run of `seconds` one-second points: first attempts at
// first(t) a second against a target that holds `capacity` of them. Past
// capacity every request fails and users retry; after the peak, failing
// lasts `sticky` seconds past the moment first attempts fall back under
// capacity (forever when negative), and retries go on while it fails.
func stormSeries(seconds, capacity int, first func(t int) int, sticky int) []SeriesPoint {
	var pts []SeriesPoint
	failing, below := false, -1
	peak := 0
	for t := range seconds {
		if first(t) > first(peak) {
			peak = t
		}
	}
	for t := range seconds {
		f := first(t)
		if f > capacity {
			failing = true
		}
		if t > peak && f < capacity && below < 0 {
			below = t
		}
		if below >= 0 && sticky >= 0 && t >= below+sticky {
			failing = false
		}
		p := SeriesPoint{T: float64(t), Width: 1, Offered: int64(f), OK: int64(f), Latency: LatencyMs{P50: 20, P99: 90}}
		if failing {
			p.Retries = int64(f) // every user retries once
			p.Offered += p.Retries
			p.OK = p.Offered / 10
			p.Latency = LatencyMs{P50: 900, P99: 5000}
		}
		pts = append(pts, p)
	}
	return pts
}

// triangle rises from 10 to 100 first attempts a second over 10 s, then
// falls back to 10 over the next 10 s, then stays at 10.
func triangle(t int) int {
	switch {
	case t <= 10:
		return 10 + 9*t
	case t <= 20:
		return 100 - 9*(t-10)
	}
	return 10
}

func TestAnalyzeMetastability(t *testing.T) {
	slo := DefaultSLO
	tests := []struct {
		name       string
		series     []SeriesPoint
		saturation float64
		nil_       bool
		recovered  bool
		recoveryS  float64
		estimated  bool
		verdict    string // prefix
	}{
		{name: "retry storm", series: stormSeries(40, 60, triangle, -1), recovered: false, recoveryS: 24, estimated: true,
			verdict: "did not recover for 24 s after the offered load fell under 55.0/s (retries 50.00% of requests meanwhile): the signature of a retry storm"},
		// Estimated from the ramp, the saturation rate is 55/s (the last
		// healthy second, before 64/s failed): the load falls under it a
		// second after it falls under the true 60/s.
		{name: "recovers after 4 s", series: stormSeries(40, 60, triangle, 5), recovered: true, recoveryS: 4, estimated: true,
			verdict: "recovered 4 s after the offered load fell under 55.0/s"},
		{name: "recovers at once", series: stormSeries(40, 60, triangle, 0), recovered: true, recoveryS: 0, estimated: true,
			verdict: "recovered at once"},
		{name: "given saturation rate", series: stormSeries(40, 60, triangle, 5), saturation: 60, recovered: true, recoveryS: 5,
			verdict: "recovered 5 s after the offered load fell under 60.0/s"},
		{name: "never saturated", series: stormSeries(40, 200, triangle, 0), nil_: true},
		{name: "peak under the given rate", series: stormSeries(40, 200, triangle, 0), saturation: 150, nil_: true},
		{name: "load never comes back down", series: stormSeries(40, 60, func(t int) int { return 10 + 5*t }, -1), nil_: true},
		{name: "too short", series: stormSeries(4, 60, triangle, -1), nil_: true},
		{name: "failing from the start", series: stormSeries(40, 5, triangle, -1), nil_: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := AnalyzeMetastability(tt.series, slo, tt.saturation)
			if tt.nil_ {
				if m != nil {
					t.Fatalf("got %+v, want none", m)
				}
				return
			}
			if m == nil {
				t.Fatal("no metastability analysis")
			}
			if m.Recovered != tt.recovered || m.RecoveryS != tt.recoveryS || m.Estimated != tt.estimated || m.PeakS != 10 || m.PeakRate != 100 {
				t.Errorf("got %+v", m)
			}
			if !strings.HasPrefix(m.Verdict, tt.verdict) {
				t.Errorf("verdict %q, want %q…", m.Verdict, tt.verdict)
			}
		})
	}
}

func TestAnalyzeRetryAmplification(t *testing.T) {
	series := stormSeries(40, 60, triangle, 5)
	ra := AnalyzeRetryAmplification(series, 8)
	if len(ra.Windows) != 8 || ra.Windows[0].Width != 5 || ra.Windows[7].T != 35 {
		t.Fatalf("windows %+v, want 8 of 5 s", ra.Windows)
	}
	if ra.Windows[0].Factor != 1 || ra.PeakFactor != 2 || ra.PeakS != 10 {
		t.Errorf("amplification %+v, want 1 at first and 2 from the overload on", ra)
	}
	var requests, retries int64
	for _, p := range series {
		requests += p.Offered
		retries += p.Retries
	}
	if want := round(float64(requests)/float64(requests-retries), 1e4); ra.Factor != want {
		t.Errorf("factor %v, want %v", ra.Factor, want)
	}
	if AnalyzeRetryAmplification(nil, 10) != nil {
		t.Error("amplification of nothing")
	}
	lone := AnalyzeRetryAmplification([]SeriesPoint{{Width: 1, Offered: 2, Retries: 2}}, 10)
	if lone.PeakFactor != 2 {
		t.Errorf("a window of retries alone: %+v", lone)
	}
}

// stormResults replays stormSeries as results, so the whole summary path
// (accumulator, series, metastability, table) is exercised.
func stormResults() []Result {
	var out []Result
	var seq uint64
	for _, p := range stormSeries(40, 60, triangle, -1) {
		sec := t0.Add(time.Duration(p.T) * time.Second)
		for i := range p.Offered {
			seq++
			due := sec.Add(time.Duration(i) * time.Second / time.Duration(p.Offered))
			r := Result{Seq: seq, Journey: "enroll", Step: "add-card", Attempt: 1, Intended: due, Sent: due, Method: "POST",
				URL: "http://stack/api/v1/wallet/cards", Code: 201, OK: true, Latency: 20 * time.Millisecond, SendLatency: 20 * time.Millisecond,
				Arrival: true, JourneyDone: true}
			if i < p.Retries {
				r.Attempt, r.Arrival = 2, false
			}
			if i >= p.OK {
				r.Code, r.OK, r.JourneyDone, r.Upstream, r.ErrorCode = 503, false, false, "nexi", "CARD_SAVE_FAILED"
				r.Message = "Si è verificato un errore temporaneo nel salvataggio di questa carta"
				r.Latency, r.SendLatency = 900*time.Millisecond, 900*time.Millisecond
			}
			out = append(out, r)
		}
	}
	sortByEnd(out)
	return out
}

func TestStormSummaryGolden(t *testing.T) {
	s := accumulate(stormResults(), WithStart(t0)).Summary(SummaryMeta{Scenario: "launch-day", Source: "replay"})
	if s.Metastability == nil || s.Metastability.Recovered {
		t.Fatalf("metastability %+v, want a failure to recover", s.Metastability)
	}
	if s.RetryAmplification == nil || s.RetryAmplification.PeakFactor != 2 {
		t.Fatalf("retry amplification %+v", s.RetryAmplification)
	}
	if !strings.HasPrefix(s.Metastability.Verdict, "did not recover for") {
		t.Errorf("verdict %q, want a failure to recover", s.Metastability.Verdict)
	}
	// The renderers' tests read this summary back and draw it.
	var buf bytes.Buffer
	if err := EncodeSummary(&buf, s); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "storm.json", buf.Bytes())
	if back, err := DecodeSummary(&buf); err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("decoding the JSON back: %v", err)
	}

	// A known saturation point (from a search) replaces the estimate.
	s = accumulate(stormResults(), WithStart(t0)).Summary(SummaryMeta{SaturationRate: 60, SLO: SLO{Quantile: 0.99, Latency: time.Second, ErrorBudget: 0.01}})
	if m := s.Metastability; m == nil || m.Estimated || m.SaturationRate != 60 {
		t.Errorf("with a known saturation rate: %+v", m)
	}
}
