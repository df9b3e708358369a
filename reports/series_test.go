package reports

import (
	"testing"
	"time"
)

// TestSeriesConcurrencyAndErrors pins the two per-interval measures the
// report's charts draw beyond the counters: the mean number of requests in
// flight (from due to end) and the failures by error mode.
func TestSeriesConcurrencyAndErrors(t *testing.T) {
	rs := []Result{
		{Journey: "enroll", Step: "login", Attempt: 1, Intended: t0, Sent: t0, Latency: 500 * time.Millisecond, Code: 200, OK: true},
		{Journey: "enroll", Step: "add-card", Attempt: 1, Intended: t0.Add(500 * time.Millisecond), Sent: t0.Add(500 * time.Millisecond),
			Latency: 1500 * time.Millisecond, Code: 503, ErrorCode: "QUEUE_FULL", Upstream: "nexi"},
		{Journey: "enroll", Step: "add-card", Attempt: 2, Intended: t0.Add(1200 * time.Millisecond), Sent: t0.Add(1200 * time.Millisecond),
			Latency: 100 * time.Millisecond, Code: 503, ErrorCode: "QUEUE_FULL", Upstream: "nexi"},
		{Journey: "enroll", Step: "search", Attempt: 1, Intended: t0.Add(1300 * time.Millisecond), Sent: t0.Add(1300 * time.Millisecond),
			Latency: 200 * time.Millisecond, Error: "read: connection reset by peer"},
	}
	s := accumulate(rs, WithStart(t0)).Summary(SummaryMeta{Series: true})
	if len(s.Series) != 3 {
		t.Fatalf("%d points, want 3", len(s.Series))
	}
	// Second 0: 0.5 s of login, 0.5 s of the first card add. Second 1: the
	// card add's whole second, 0.1 s of the retry, 0.2 s of the search.
	for i, want := range []float64{1.0, 1.3, 0} {
		if got := s.Series[i].Concurrency; got != want {
			t.Errorf("second %d: concurrency %v, want %v", i, got, want)
		}
	}
	if e := s.Series[0].Errors; len(e) != 1 || e[0].Mode != "http 503 QUEUE_FULL" || e[0].Upstream != "nexi" || e[0].Count != 1 || e[0].Share != 0.5 {
		t.Errorf("second 0 errors %+v, want one http 503 QUEUE_FULL via nexi, half the requests", e)
	}
	e := s.Series[1].Errors
	if len(e) != 2 || e[0].Mode != "http 503 QUEUE_FULL" || e[0].Count != 1 || e[1].Mode != ModeReset || e[1].Count != 1 {
		t.Errorf("second 1 errors %+v, want the retry's 503 and the reset", e)
	}
	if len(s.Series[2].Errors) != 0 {
		t.Errorf("second 2 errors %+v, want none (nothing was due)", s.Series[2].Errors)
	}
}

// TestSpectrum pins the latency spectrum: one point per
// SpectrumPercentiles, rising, ending at the maximum.
func TestSpectrum(t *testing.T) {
	var rs []Result
	for i := range 1000 {
		rs = append(rs, Result{Journey: "j", Step: "s", Attempt: 1, Intended: t0, Sent: t0, Code: 200, OK: true,
			Latency: time.Duration(i+1) * time.Millisecond})
	}
	s := accumulate(rs).Summary(SummaryMeta{})
	sp := s.LatencySpectrum
	if len(sp) != len(SpectrumPercentiles) || len(s.Steps[0].Spectrum) != len(sp) {
		t.Fatalf("%d and %d points, want %d", len(sp), len(s.Steps[0].Spectrum), len(SpectrumPercentiles))
	}
	for i, want := range map[int]float64{0: 1, 1: 500, 2: 750, len(sp) - 1: 1000} {
		if !near(sp[i].Ms, want, 0.001) {
			t.Errorf("p%v = %v ms, want %v within 0.1%%", sp[i].Percentile, sp[i].Ms, want)
		}
	}
	for i := 1; i < len(sp); i++ {
		if sp[i].Ms < sp[i-1].Ms {
			t.Errorf("spectrum falls at p%v", sp[i].Percentile)
		}
	}
	if sp[len(sp)-1].Ms != s.Latency.Max {
		t.Errorf("spectrum ends at %v, max is %v", sp[len(sp)-1].Ms, s.Latency.Max)
	}
}

// TestSummaryScaleAndSLO pins what a report needs to give figures at real
// scale and judge seconds: the scales when the run was scaled, absent
// otherwise, and the SLO it was judged by.
func TestSummaryScaleAndSLO(t *testing.T) {
	rs := []Result{{Journey: "j", Step: "s", Attempt: 1, Intended: t0, Sent: t0, Code: 200, OK: true, Latency: time.Millisecond}}
	s := accumulate(rs).Summary(SummaryMeta{TimeScale: 10, RateScale: 0.1, SLO: SLO{Quantile: 0.95, Latency: 300 * time.Millisecond, ErrorBudget: 0.02}})
	if s.TimeScale != 10 || s.RateScale != 0.1 || s.SLO != "p95=300ms,errors=2%" {
		t.Errorf("time scale %v, rate scale %v, SLO %q; want 10, 0.1, p95=300ms,errors=2%%", s.TimeScale, s.RateScale, s.SLO)
	}
	s = accumulate(rs).Summary(SummaryMeta{TimeScale: 1, RateScale: 1})
	if s.TimeScale != 0 || s.RateScale != 0 || s.SLO != DefaultSLO.String() {
		t.Errorf("unscaled run: time scale %v, rate scale %v, SLO %q; want 0, 0 and the default SLO", s.TimeScale, s.RateScale, s.SLO)
	}
}

// TestStepSeriesInTheSummaryIsBounded pins the bound on each step's series
// in summary.json: a long run's step series is coarsened to at most
// MaxStepSeriesPoints, keeping every request, while the run's own series
// keeps one point a second and the in-memory step series is untouched (a
// second summary exports the same thing).
func TestStepSeriesInTheSummaryIsBounded(t *testing.T) {
	const seconds = 3000
	var rs []Result
	for i := range seconds {
		at := t0.Add(time.Duration(i) * time.Second)
		rs = append(rs, Result{Journey: "j", Step: "s", Attempt: 1, Intended: at, Sent: at, Code: 200, OK: true,
			Latency: time.Duration(i%50+1) * time.Millisecond})
	}
	acc := accumulate(rs, WithStart(t0))
	s := acc.Summary(SummaryMeta{Series: true})
	if len(s.Series) != seconds {
		t.Errorf("run series: %d points, want %d (one a second)", len(s.Series), seconds)
	}
	step := s.Steps[0].Series
	if len(step) > MaxStepSeriesPoints || len(step) < MaxStepSeriesPoints/2 {
		t.Fatalf("step series: %d points, want between %d and %d", len(step), MaxStepSeriesPoints/2, MaxStepSeriesPoints)
	}
	var offered, good int64
	for _, p := range step {
		if p.Width != 4 {
			t.Fatalf("step point width %v s, want 4 (3000 s coarsened twice)", p.Width)
		}
		offered += p.Offered
		good += p.Goodput
	}
	if offered != seconds || good != seconds {
		t.Errorf("step series holds %d offered, %d good; want %d of each", offered, good, seconds)
	}
	again := acc.Summary(SummaryMeta{Series: true}).Steps[0].Series
	if len(again) != len(step) || again[0].Latency != step[0].Latency {
		t.Errorf("a second summary exported %d points (first %+v), want the same %d (first %+v)", len(again), again[0].Latency, len(step), step[0].Latency)
	}
}
