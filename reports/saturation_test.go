package reports

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/internal/golden"
)

var testCriteria = Criteria{SLO: SLO{Quantile: 0.99, Latency: 800 * time.Millisecond, ErrorBudget: 0.01}}

// queueStep simulates one step of a saturation search against a FCFS
// server of `workers` workers with a fixed service time (capacity workers
// ÷ service), arrivals paced exactly at rate for d: the results an engine
// would emit, in end order.
func queueStep(start time.Time, rate float64, d time.Duration, workers int, service time.Duration) []Result {
	free := make([]time.Time, workers)
	n := int(rate * d.Seconds())
	out := make([]Result, 0, n)
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * 1e9))
		w := 0
		for j := range free {
			if free[j].Before(free[w]) {
				w = j
			}
		}
		begin := due
		if free[w].After(due) {
			begin = free[w]
		}
		end := begin.Add(service)
		free[w] = end
		out = append(out, Result{Seq: uint64(i), Journey: "quick", Step: "request", Attempt: 1, Intended: due, Sent: due,
			Latency: end.Sub(due), SendLatency: end.Sub(due), Method: "GET", Code: 200, OK: true, Arrival: true, JourneyDone: true})
	}
	sortByEnd(out)
	return out
}

// limitStep simulates a server that answers 429 past limit requests in
// any second (a sliding one-second window), in 5 ms.
func limitStep(start time.Time, rate float64, d time.Duration, limit int) []Result {
	var window []time.Time
	n := int(rate * d.Seconds())
	out := make([]Result, 0, n)
	for i := range n {
		due := start.Add(time.Duration(float64(i) / rate * 1e9))
		for len(window) > 0 && !window[0].After(due.Add(-time.Second)) {
			window = window[1:]
		}
		r := Result{Seq: uint64(i), Journey: "quick", Step: "request", Attempt: 1, Intended: due, Sent: due,
			Latency: 5 * time.Millisecond, SendLatency: 5 * time.Millisecond, Method: "GET", Code: 200, OK: true, Arrival: true, JourneyDone: true}
		if len(window) >= limit {
			r.Code, r.OK, r.JourneyDone, r.ErrorCode, r.Upstream = 429, false, false, "RATE_LIMITED", "gateway"
			r.Message = "Troppe richieste"
		} else {
			window = append(window, due)
		}
		out = append(out, r)
	}
	return out
}

// measure turns one step's results into its point, as replay.Saturate does.
func measure(t testing.TB, plan StepPlan, rs []Result) StepPoint {
	t.Helper()
	acc := NewAccumulator()
	var m StepMeter
	for i := range rs {
		acc.Add(&rs[i])
		m.Add(&rs[i])
	}
	if m.Len() != len(rs) {
		t.Fatalf("meter holds %d of %d results", m.Len(), len(rs))
	}
	s := acc.Summary(SummaryMeta{Duration: plan.Duration})
	return MeasureStep(plan, s, m.Timing(), testCriteria)
}

// search runs a simulated stepped search over rates.
func search(t testing.TB, rates []float64, d time.Duration, step func(time.Time, float64) []Result) []StepPoint {
	var pts []StepPoint
	for i, r := range rates {
		start := t0.Add(time.Duration(i) * 2 * d)
		pts = append(pts, measure(t, StepPlan{Index: i + 1, Rate: r, Duration: d, Start: time.Duration(i) * 2 * d}, step(start, r)))
	}
	return pts
}

func TestStepTiming(t *testing.T) {
	t.Run("under capacity: everything follows the offered rate", func(t *testing.T) {
		rs := queueStep(t0, 100, 2*time.Second, 4, 25*time.Millisecond) // capacity 160/s
		var m StepMeter
		for i := range rs {
			m.Add(&rs[i])
		}
		tm := m.Timing()
		if !near(tm.Offered, 100, 0.02) || !near(tm.Achieved, 100, 0.03) || !near(tm.Goodput, tm.Achieved, 1e-9) {
			t.Errorf("timing %+v, want 100/s offered and achieved", tm)
		}
		// Little: 100/s × 25 ms = 2.5 in flight, measured and predicted.
		if !near(tm.InFlight, 2.5, 0.03) || !near(tm.LittleInFlight, 2.5, 0.03) {
			t.Errorf("in flight %.3f (Little %.3f), want 2.5", tm.InFlight, tm.LittleInFlight)
		}
		if !near(tm.Window.Seconds(), 1.8, 0.01) {
			t.Errorf("window %s, want the middle 90%% of 2s", tm.Window)
		}
	})
	t.Run("over capacity: achieved is the capacity and the queue grows", func(t *testing.T) {
		rs := queueStep(t0, 200, 2*time.Second, 4, 25*time.Millisecond)
		var m StepMeter
		for i := range rs {
			m.Add(&rs[i])
		}
		tm := m.Timing()
		if !near(tm.Offered, 200, 0.02) || !near(tm.Achieved, 160, 0.02) {
			t.Errorf("timing %+v, want 200/s offered, 160/s achieved", tm)
		}
		if tm.LittleInFlight >= 0.9*tm.InFlight {
			t.Errorf("Little %.1f vs measured %.1f in flight: a growing queue must show as a shortfall", tm.LittleInFlight, tm.InFlight)
		}
	})
	t.Run("few results use the whole step", func(t *testing.T) {
		rs := queueStep(t0, 5, time.Second, 1, 10*time.Millisecond)
		var m StepMeter
		for i := range rs {
			m.Add(&rs[i])
		}
		if tm := m.Timing(); tm.Achieved <= 0 || tm.Offered <= 0 {
			t.Errorf("timing %+v", tm)
		}
		var empty StepMeter
		if tm := empty.Timing(); tm != (StepTiming{}) {
			t.Errorf("empty meter: %+v", tm)
		}
	})
}

func TestJudge(t *testing.T) {
	base := StepPoint{Requests: 1000, Arrivals: 1000, ArrivalRate: 100, Goodput: 100, GoodputRatio: 1,
		Latency: LatencyMs{P50: 20, P99: 100}}
	tests := []struct {
		name    string
		edit    func(*StepPoint)
		pass    bool
		clear   bool
		reasons []string // prefixes, worst first
	}{
		{"holds", func(*StepPoint) {}, true, false, nil},
		{"goodput short", func(p *StepPoint) { p.GoodputRatio, p.Goodput = 0.9, 90 }, false, false, []string{"goodput below 95% of offered: 90.00%"}},
		{"goodput far short", func(p *StepPoint) { p.GoodputRatio, p.Goodput = 0.7, 70 }, false, true, []string{"goodput below"}},
		{"p99 over", func(p *StepPoint) { p.Latency.P99 = 1200 }, false, false, []string{"p99 over SLO: 1.20s > 800ms"}},
		{"p99 far over", func(p *StepPoint) { p.Latency.P99 = 1700 }, false, true, []string{"p99 over SLO"}},
		{"errors over", func(p *StepPoint) { p.ErrorRate = 0.03 }, false, false, []string{"errors over budget: 3.00% > 1.00%"}},
		{"errors far over", func(p *StepPoint) { p.ErrorRate = 0.08 }, false, true, []string{"errors over budget"}},
		{"worst first", func(p *StepPoint) { p.ErrorRate, p.Latency.P99 = 0.02, 4000 }, false, true, []string{"p99 over SLO", "errors over budget"}},
		{"no requests", func(p *StepPoint) { *p = StepPoint{} }, false, true, []string{"no requests"}},
		{"all dropped: no latency to judge", func(p *StepPoint) {
			p.Errors = []ModeCount{{Mode: ModeDropped, Count: 1000}}
			p.ErrorRate, p.GoodputRatio, p.Latency = 1, 0, LatencyMs{}
		}, false, true, []string{"goodput below", "errors over budget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.edit(&p)
			pass, clear, reasons := testCriteria.Judge(&p)
			if pass != tt.pass || clear != tt.clear || len(reasons) != len(tt.reasons) {
				t.Fatalf("Judge = %v, %v, %q; want %v, %v, %q", pass, clear, reasons, tt.pass, tt.clear, tt.reasons)
			}
			for i := range reasons {
				if !strings.HasPrefix(reasons[i], tt.reasons[i]) {
					t.Errorf("reason %d = %q, want %q…", i, reasons[i], tt.reasons[i])
				}
			}
		})
	}
}

func TestAnalyzeSaturationFindsCapacity(t *testing.T) {
	// 4 workers × 25 ms: 160/s.
	rates := []float64{80, 100, 120, 140, 160, 180, 200}
	pts := search(t, rates, 2*time.Second, func(start time.Time, r float64) []Result {
		return queueStep(start, r, 2*time.Second, 4, 25*time.Millisecond)
	})
	for _, p := range pts {
		if want := p.Rate <= 160; p.Pass != want {
			t.Errorf("step at %v/s: pass %v (%q), want %v", p.Rate, p.Pass, p.Reasons, want)
		}
	}
	sat := AnalyzeSaturation(pts, testCriteria)
	if !sat.Saturated || sat.OfferedRate != 160 || sat.ArrivalRate != 160 || sat.FailedRate != 180 {
		t.Fatalf("saturation %+v, want 160/s, failing at 180/s", sat)
	}
	if !strings.HasPrefix(sat.Reason, "goodput below 95% of offered") || !strings.HasSuffix(sat.Reason, "at 180.0/s") {
		t.Errorf("reason %q", sat.Reason)
	}
	if sat.Component != "request" || sat.Step != "request" {
		t.Errorf("component %q", sat.Component)
	}
	if sat.KneeRate != 160 {
		t.Errorf("knee at %v/s, want 160", sat.KneeRate)
	}
	// A hard capacity is a corner the smooth USL rounds off: its peak
	// lands near the capacity, not on it.
	if sat.USL == nil || !near(sat.USL.PeakRate, 160, 0.20) || sat.USL.R2 < 0.7 {
		t.Errorf("USL %+v, want a peak near the 160/s capacity", sat.USL)
	}
	for _, p := range pts {
		if p.Rate <= 160 && (!near(p.InFlight, p.LittleInFlight, 0.05) || !p.Steady) {
			t.Errorf("step at %v/s: %.2f in flight, Little says %.2f", p.Rate, p.InFlight, p.LittleInFlight)
		}
		if p.Rate >= 180 && p.Steady {
			t.Errorf("step at %v/s is steady (%.2f in flight, Little %.2f): the queue grew", p.Rate, p.InFlight, p.LittleInFlight)
		}
	}
}

func TestAnalyzeSaturationAttribution(t *testing.T) {
	step := func(rate float64, pass bool, comps []ComponentPoint, stations []StationPoint) StepPoint {
		p := StepPoint{Index: int(rate / 100), Rate: rate, OfferedRate: rate * 10, Requests: 1000, Pass: pass, Components: comps, Stations: stations,
			GoodputRatio: 1, Latency: LatencyMs{P50: 10, P99: 100}}
		if !pass {
			p.Latency.P99 = 1000
		}
		return p
	}
	ok := func(name string) ComponentPoint { return ComponentPoint{Step: name, Requests: 100, LatencyMs: 50} }
	tests := []struct {
		name                      string
		pts                       []StepPoint
		component, step, upstream string
	}{
		{"step crossing first names its upstream", []StepPoint{
			step(100, true, []ComponentPoint{ok("login"), ok("add-card")}, nil),
			step(200, true, []ComponentPoint{ok("login"), {Step: "add-card", Requests: 100, ErrorRate: 0.05, LatencyMs: 90, Upstream: "nexi"}}, nil),
			step(300, false, []ComponentPoint{{Step: "login", Requests: 100, LatencyMs: 2000}, {Step: "add-card", Requests: 100, ErrorRate: 0.2, Upstream: "nexi"}}, nil),
		}, "add-card via nexi", "add-card", "nexi"},
		{"the worst of those crossing together", []StepPoint{
			step(100, false, []ComponentPoint{{Step: "login", Requests: 100, LatencyMs: 900}, {Step: "search", Requests: 100, LatencyMs: 3000}}, nil),
		}, "search", "search", ""},
		{"a station names the upstream", []StepPoint{
			step(100, true, []ComponentPoint{ok("add-card")}, []StationPoint{{Name: "nexi", Requests: 50, MeanLatencyMs: 40}, {Name: "sia", Requests: 50, MeanLatencyMs: 30}}),
			step(200, true, []ComponentPoint{ok("add-card")}, []StationPoint{{Name: "nexi", Requests: 100, MeanLatencyMs: 90, MeanWaitMs: 50}, {Name: "sia", Requests: 100, MeanLatencyMs: 31}}),
			step(300, false, []ComponentPoint{{Step: "add-card", Requests: 100, LatencyMs: 1500}}, []StationPoint{{Name: "nexi", Requests: 150, Failed: 0.3}, {Name: "sia", Requests: 150, Failed: 0.02}}),
		}, "add-card via nexi", "add-card", "nexi"},
		{"a station under pressure at the failing step", []StepPoint{
			step(100, true, []ComponentPoint{ok("add-card")}, []StationPoint{{Name: "nexi", Requests: 50, Utilisation: 0.4, MeanLatencyMs: 40}}),
			step(200, false, []ComponentPoint{{Step: "add-card", Requests: 100, LatencyMs: 1500}},
				[]StationPoint{{Name: "nexi", Requests: 100, Utilisation: 0.8, MeanLatencyMs: 45}, {Name: "sia", Requests: 100, Utilisation: 0.3}}),
		}, "add-card via nexi", "add-card", "nexi"},
		{"stations at half load are not what failed", []StepPoint{
			step(100, true, []ComponentPoint{ok("search")}, []StationPoint{{Name: "nexi", Requests: 50, Utilisation: 0.2, MeanLatencyMs: 40}}),
			step(200, false, []ComponentPoint{{Step: "search", Requests: 100, LatencyMs: 1500}},
				[]StationPoint{{Name: "nexi", Requests: 100, Utilisation: 0.45, PeakBusy: 1, MeanLatencyMs: 41, MeanWaitMs: 0.4}}),
		}, "search", "search", ""},
		{"nothing crossed: the failing step's closest part", []StepPoint{
			step(100, true, []ComponentPoint{ok("a"), ok("b")}, nil),
			{Index: 2, Rate: 200, OfferedRate: 2000, Requests: 1000, GoodputRatio: 0.5, Components: []ComponentPoint{ok("a"), {Step: "b", Requests: 100, LatencyMs: 700}}},
		}, "b", "b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sat := AnalyzeSaturation(tt.pts, testCriteria)
			if sat.Component != tt.component || sat.Step != tt.step || sat.Upstream != tt.upstream {
				t.Errorf("component %q (step %q, upstream %q), want %q", sat.Component, sat.Step, sat.Upstream, tt.component)
			}
		})
	}
}

func TestAnalyzeSaturationEdges(t *testing.T) {
	if AnalyzeSaturation(nil, testCriteria) != nil {
		t.Error("no steps gave a saturation")
	}
	held := []StepPoint{
		{Index: 1, Rate: 10, OfferedRate: 10, Requests: 10, Pass: true},
		{Index: 2, Rate: 20, OfferedRate: 20, Requests: 20, Pass: true},
	}
	sat := AnalyzeSaturation(held, testCriteria)
	if sat.Saturated || sat.OfferedRate != 20 || !strings.HasPrefix(sat.Reason, "not reached: every step up to 20.0/s") {
		t.Errorf("all held: %+v", sat)
	}

	first := []StepPoint{{Index: 1, Rate: 10, OfferedRate: 10, Requests: 10, ErrorRate: 0.5, GoodputRatio: 0.5}}
	sat = AnalyzeSaturation(first, testCriteria)
	if !sat.Saturated || sat.OfferedRate != 0 || !strings.HasPrefix(sat.Reason, "errors over budget: 50.00%") {
		t.Errorf("first step failed: %+v", sat)
	}

	// A bisection step that held between a good and a bad one raises the
	// point; steps are taken by rate, not by the order they ran.
	bisect := []StepPoint{
		{Index: 1, Rate: 100, OfferedRate: 100, Requests: 100, Pass: true},
		{Index: 2, Rate: 200, OfferedRate: 200, Requests: 100, GoodputRatio: 0.5},
		{Index: 3, Rate: 150, OfferedRate: 150, Requests: 100, Pass: true, Refine: true},
		{Index: 4, Rate: 175, OfferedRate: 175, Requests: 100, GoodputRatio: 0.9, Refine: true},
	}
	sat = AnalyzeSaturation(bisect, testCriteria)
	if sat.OfferedRate != 150 || sat.FailedRate != 175 {
		t.Errorf("bisection: %+v, want 150/s held, 175/s failed", sat)
	}
}

func TestRateLimitOnsetFromSteps(t *testing.T) {
	rates := []float64{70, 80, 90, 100, 110, 120}
	pts := search(t, rates, 2*time.Second, func(start time.Time, r float64) []Result { return limitStep(start, r, 2*time.Second, 100) })
	acc := NewAccumulator(WithStart(t0))
	for i, r := range rates {
		for _, res := range limitStep(t0.Add(time.Duration(i)*4*time.Second), r, 2*time.Second, 100) {
			acc.Add(&res)
		}
	}
	s := acc.Summary(SummaryMeta{Duration: 12 * time.Second})
	SetStepOnsets(s, pts)
	if len(s.Errors) != 1 || s.Errors[0].Mode != "http 429 RATE_LIMITED" {
		t.Fatalf("errors %+v", s.Errors)
	}
	e := s.Errors[0]
	if e.OnsetOfferedRate != 110 || e.Upstream != "gateway" || e.Message != "Troppe richieste" || e.Status != 429 || e.Code != "RATE_LIMITED" {
		t.Errorf("onset %+v, want 429 RATE_LIMITED first at the 110/s step", e)
	}
	sat := AnalyzeSaturation(pts, testCriteria)
	if sat.OfferedRate != 100 || !strings.HasPrefix(sat.Reason, "errors over budget") || sat.Component != "request via gateway" {
		t.Errorf("saturation %+v", sat)
	}
}

func TestSLOString(t *testing.T) {
	for _, slo := range []SLO{DefaultSLO, {Quantile: 0.999, Latency: 1500 * time.Millisecond, ErrorBudget: 0.005}, {Quantile: 0.5, Latency: time.Second}} {
		back, err := ParseSLO(slo.String(), SLO{})
		if err != nil || back != slo {
			t.Errorf("%+v -> %q -> %+v, %v", slo, slo.String(), back, err)
		}
	}
}

// saturationFixture is a small search: the simulated 160/s queue, one
// bisection step, bank station metrics on the last steps.
func saturationFixture(t testing.TB) *SaturationReport {
	rates := []float64{100, 140, 180, 220}
	pts := search(t, rates, 2*time.Second, func(start time.Time, r float64) []Result {
		return queueStep(start, r, 2*time.Second, 4, 25*time.Millisecond)
	})
	refine := measure(t, StepPlan{Index: 5, Rate: 160, Duration: 2 * time.Second, Start: 16 * time.Second, Refine: true},
		queueStep(t0.Add(16*time.Second), 160, 2*time.Second, 4, 25*time.Millisecond))
	pts = append(pts, refine)
	pts[2].Stations = []StationPoint{{Name: "nexi", Kind: "processor", Requests: 360, Failed: 0.05, Utilisation: 0.96, PeakBusy: 1, PeakQueue: 12, MeanLatencyMs: 40, MeanWaitMs: 15}}
	for i := range 9 { // quiet banks: the table shows the busiest eight
		pts[2].Stations = append(pts[2].Stations, StationPoint{Name: fmt.Sprintf("0%d00%d", 3+i%2, i), Kind: "bank", Requests: int64(10 + i),
			Utilisation: float64(i) / 100, PeakBusy: 0.25, MeanLatencyMs: 30})
	}
	rep := &SaturationReport{Scenario: "quick", Target: "http://127.0.0.1:8080", StartedAt: t0, SLO: DefaultSLO.String(),
		MinGoodput: DefaultMinGoodput, StartRate: 100, StepRate: 40, MaxRate: 300, StepDurationS: 2, Refine: true,
		Steps: pts, Stopped: "saturation confirmed: 2 failing steps in a row"}
	rep.Saturation = AnalyzeSaturation(pts, testCriteria)
	return rep
}

func TestSaturationReportGolden(t *testing.T) {
	rep := saturationFixture(t)
	// The renderers' tests read this report back and draw it.
	var buf bytes.Buffer
	if err := WriteSaturationJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "saturation.json", buf.Bytes())
	back, err := DecodeSaturationReport(&buf)
	if err != nil || !reflect.DeepEqual(back, rep) {
		t.Errorf("reading the report back: %v", err)
	}
	if _, err := DecodeSaturationReport(strings.NewReader("{")); err == nil {
		t.Error("a truncated report decoded")
	}
}

func BenchmarkStepMeter(b *testing.B) {
	rs := queueStep(t0, 2000, 2*time.Second, 64, 25*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		var m StepMeter
		for i := range rs {
			m.Add(&rs[i])
		}
		if tm := m.Timing(); math.IsNaN(tm.Achieved) {
			b.Fatal("NaN")
		}
	}
}

// An SLO on p90 or p99.9 is judged on that quantile, not on p99.
func TestJudgeUsesTheSLOQuantile(t *testing.T) {
	base := StepPoint{Requests: 1000, Arrivals: 1000, ArrivalRate: 100, Goodput: 100, GoodputRatio: 1}
	tests := []struct {
		name    string
		slo     SLO
		latency LatencyMs
		pass    bool
		reason  string
	}{
		{"p90 over, p99 under", SLO{Quantile: 0.9, Latency: 800 * time.Millisecond, ErrorBudget: 0.01}, LatencyMs{P90: 900, P99: 100}, false, "p90 over SLO"},
		{"p90 under, p99 over", SLO{Quantile: 0.9, Latency: 800 * time.Millisecond, ErrorBudget: 0.01}, LatencyMs{P90: 100, P99: 5000}, true, ""},
		{"p99.9 over, p99 under", SLO{Quantile: 0.999, Latency: 1500 * time.Millisecond, ErrorBudget: 0.01}, LatencyMs{P99: 100, P999: 2000}, false, "p999 over SLO"},
		{"p99.9 under, p99 over", SLO{Quantile: 0.999, Latency: 1500 * time.Millisecond, ErrorBudget: 0.01}, LatencyMs{P99: 5000, P999: 1000}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			p.Latency = tt.latency
			pass, _, reasons := Criteria{SLO: tt.slo}.Judge(&p)
			if pass != tt.pass || (tt.reason != "" && (len(reasons) == 0 || !strings.HasPrefix(reasons[0], tt.reason))) {
				t.Fatalf("Judge = %v, %q; want %v, %q", pass, reasons, tt.pass, tt.reason)
			}
		})
	}
}

// FuzzAnalyzeSaturation: whatever the steps' verdicts and order (bisection
// steps come last), the saturation point is the highest step that held
// below the first failing one, never above it.
func FuzzAnalyzeSaturation(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0, 0})
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 1, 0, 1})
	f.Add([]byte{3, 2, 9, 4})
	f.Fuzz(func(t *testing.T, steps []byte) {
		if len(steps) == 0 || len(steps) > 40 {
			return
		}
		var pts []StepPoint
		for i, b := range steps {
			rate := float64(10 * (int(b>>1)%20 + 1)) // rates repeat and arrive out of order
			p := StepPoint{Index: i + 1, Rate: rate, OfferedRate: rate, Requests: 100, Arrivals: 100, ArrivalRate: rate,
				Goodput: rate, GoodputRatio: 1, Pass: b&1 == 1, Latency: LatencyMs{P50: 1, P99: 2}}
			if !p.Pass {
				p.ErrorRate, p.Reasons = 0.5, []string{"errors over budget"}
			}
			pts = append(pts, p)
		}
		sat := AnalyzeSaturation(pts, testCriteria)
		firstBad, best := math.Inf(1), 0.0
		for _, p := range pts {
			if !p.Pass {
				firstBad = math.Min(firstBad, p.Rate)
			}
		}
		for _, p := range pts {
			if p.Pass && p.Rate < firstBad {
				best = math.Max(best, p.Rate)
			}
		}
		if sat.OfferedRate != best || sat.Saturated != !math.IsInf(firstBad, 1) {
			t.Fatalf("saturation at %v (saturated %v), want the highest step held below the first failure %v: %v", sat.OfferedRate, sat.Saturated, firstBad, best)
		}
		if sat.Saturated && (sat.OfferedRate >= firstBad || sat.FailedRate != firstBad) {
			t.Fatalf("saturation %v above or at the first failing step %v (failed rate %v)", sat.OfferedRate, firstBad, sat.FailedRate)
		}
	})
}
