package reports

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestMannWhitney(t *testing.T) {
	seq := func(from, to float64) []float64 {
		var out []float64
		for v := from; v <= to; v++ {
			out = append(out, v)
		}
		return out
	}
	tests := []struct {
		name string
		a, b []float64
		want float64 // scipy.stats.mannwhitneyu(a, b, method="asymptotic"): worked by hand from the textbook formula
	}{
		{"separated", seq(1, 10), seq(11, 20), 0.000182672},
		{"interleaved", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, 0.676103},
		{"ties", []float64{1, 1, 2, 2, 3}, []float64{2, 3, 3, 4, 4}, 0.0524116},
		{"all tie", []float64{5, 5, 5}, []float64{5, 5}, 1},
		{"empty", nil, []float64{1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mannWhitney(tt.a, tt.b); !near(got, tt.want, 1e-4*tt.want+1e-9) {
				t.Errorf("p = %v, want %v", got, tt.want)
			}
			if got, rev := mannWhitney(tt.a, tt.b), mannWhitney(tt.b, tt.a); got != rev {
				t.Errorf("not symmetric: %v and %v", got, rev)
			}
		})
	}
}

func TestHolm(t *testing.T) {
	c := &Comparison{Floor: 0.05, Alpha: 0.05, Verdicts: map[string]int{}}
	for _, p := range []float64{0.01, 0.04, 0.03, 0.005} {
		c.Changes = append(c.Changes, MetricChange{P: p})
	}
	c.decide()
	// Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> max so far 0.06.
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i, mc := range c.Changes {
		if !near(mc.PAdjusted, want[i], 1e-9) {
			t.Errorf("p %v adjusted to %v, want %v", mc.P, mc.PAdjusted, want[i])
		}
	}
}

// syntheticRun is a summary of a minute of two steps at 40 requests a
// second each, with log-normal latencies (median 20 ms times slower,
// spread 0.5) and 1% of failures.
func syntheticRun(seed uint64, slower float64) *Summary { return spreadRun(seed, slower, 0.5) }

// spreadRun is syntheticRun with log-normal latencies of the given spread.
func spreadRun(seed uint64, slower, spread float64) *Summary {
	rng := rand.New(rand.NewPCG(seed, 7))
	runNoise := 1.0
	var rs []Result
	for sec := range 60 {
		for i := range 40 {
			for _, step := range []string{"add-card", "search"} {
				due := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*25*time.Millisecond)
				lat := time.Duration(float64(20*time.Millisecond) * slower * runNoise * math.Exp(spread*rng.NormFloat64()))
				r := Result{Journey: "enroll", Step: step, Attempt: 1, Intended: due, Sent: due, Latency: lat, SendLatency: lat, Code: 200, OK: true}
				if rng.Float64() < 0.01 {
					r.Code, r.OK = 503, false
				}
				rs = append(rs, r)
			}
		}
	}
	sortByEnd(rs)
	return accumulate(rs, WithStart(t0)).Summary(SummaryMeta{Scenario: "synthetic", Source: "replay", Series: true})
}

func TestCompareCallsLikeRunsNoise(t *testing.T) {
	regressions, improvements := 0, 0
	for pair := range 20 {
		base, next := syntheticRun(uint64(2*pair+1), 1), syntheticRun(uint64(2*pair+2), 1)
		c, err := Compare(base, next, CompareOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Failed() {
			regressions++
		}
		if c.Failed() || c.Verdicts[Improvement] > 0 {
			for _, mc := range c.Changes {
				if mc.Verdict == Regression || mc.Verdict == Improvement {
					t.Logf("pair %d: %s %s: %s", pair, mc.Step, mc.Metric, mc.Why)
				}
			}
		}
		if c.Verdicts[Improvement] > 0 {
			improvements++
		}
	}
	if regressions > 1 || improvements > 1 {
		t.Errorf("%d of 20 pairs of like runs called a regression, %d an improvement; want at most 1", regressions, improvements)
	}
}

func TestCompareFlagsASlowerRun(t *testing.T) {
	base, next := syntheticRun(1, 1), syntheticRun(2, 1.3)
	c, err := Compare(base, next, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, mc := range c.Changes {
		got[mc.Step+" "+mc.Metric] = mc.Verdict
	}
	for _, key := range []string{" p50", " p90", " p99", " mean", "enroll/add-card p50", "enroll/search p99"} {
		if got[key] != Regression {
			t.Errorf("%s: %s, want a regression", key, got[key])
		}
	}
	// The failures did not change: 1% in both.
	if got[" errors"] == Regression || got[" goodput"] == Regression {
		t.Errorf("errors %s, goodput %s: want neither a regression", got[" errors"], got[" goodput"])
	}
	if !c.Failed() {
		t.Error("Failed() is false")
	}
	back, err := Compare(next, base, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mc := range back.Changes {
		if mc.Metric == "p50" && mc.Verdict != Improvement {
			t.Errorf("the other way round, %s p50 is %s, want an improvement", mc.Step, mc.Verdict)
		}
	}
}

func TestCompareFloorsSmallChanges(t *testing.T) {
	// 3% slower, latencies within ±10%: significant over a minute, but
	// under the 5% floor, so no change; with a 2% floor, a regression.
	base, next := spreadRun(11, 1, 0.1), spreadRun(12, 1.03, 0.1)
	for _, tt := range []struct {
		floor float64
		want  string
	}{{0, NoChange}, {0.02, Regression}} {
		c, err := Compare(base, next, CompareOptions{Floor: tt.floor})
		if err != nil {
			t.Fatal(err)
		}
		if mc := c.Changes[0]; mc.Metric != "p50" || mc.Verdict != tt.want || mc.PAdjusted > 1e-6 {
			t.Errorf("floor %v: %+v, want %s", tt.floor, mc, tt.want)
		}
	}
}

func TestCompareInconclusiveSaysHowLong(t *testing.T) {
	// Ten seconds of each, 12% slower: past the floor, not yet significant
	// after correcting for 18 metrics.
	short := func(s *Summary) *Summary {
		c := *s
		c.Series = c.Series[:4]
		c.Steps = nil
		return &c
	}
	base, next := short(syntheticRun(5, 1)), short(syntheticRun(6, 1.12))
	c, err := Compare(base, next, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p50 := c.Changes[0]
	if p50.Metric != "p50" || p50.Verdict != Inconclusive || p50.MoreSeconds <= 0 {
		t.Fatalf("p50 %+v, want inconclusive with the seconds that would decide", p50)
	}
	// Running that much longer, at the same effect, does decide.
	more := int(p50.MoreSeconds) + 4
	longB, longN := syntheticRun(5, 1), syntheticRun(6, 1.12)
	longB.Series, longN.Series = longB.Series[:min(more, 60)], longN.Series[:min(more, 60)]
	longB.Steps, longN.Steps = nil, nil
	c2, err := Compare(longB, longN, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := c2.Changes[0].Verdict; v != Regression {
		t.Errorf("with %d s: %s (%s), want a regression", more, v, c2.Changes[0].Why)
	}
}

func TestCompareRefusesOtherScenarios(t *testing.T) {
	a, b := syntheticRun(1, 1), syntheticRun(2, 1)
	b.Scenario = "launch-day"
	if _, err := Compare(a, b, CompareOptions{}); !errors.Is(err, ErrNotComparable) {
		t.Fatalf("err %v, want ErrNotComparable", err)
	}
}

func TestShift(t *testing.T) {
	tests := []struct {
		name        string
		base, next  []float64
		floor, want float64
	}{
		{"30% slower", []float64{10, 10, 10}, []float64{13, 13, 13}, 0, 0.3},
		{"one bad second does not move it", []float64{10, 10, 10, 10, 10}, []float64{10, 10, 10, 10, 500}, 0, 0},
		{"errors from none, against the 1% floor", []float64{0, 0, 0}, []float64{0.005, 0.005, 0.005}, errorsFloor, 0.5},
		{"faster", []float64{20, 20}, []float64{15, 15}, 0, -0.25},
	}
	for _, tt := range tests {
		if got := shift(tt.base, tt.next, tt.floor); !near(got, tt.want, 1e-9) {
			t.Errorf("%s: shift %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzCompare feeds compare summaries as a file could hold them: it must
// never panic, and every change gets one of the four verdicts with a
// p-value in [0, 1].
func FuzzCompare(f *testing.F) {
	// Small seeds: the fuzzer crawls on inputs of tens of kilobytes.
	run := `{"scenario":"s","latency_ms":{"p50":2,"p99":9},"latency_hdr":"%s","series":[
		{"width_s":1,"offered":4,"failed":1,"goodput":3,"latency_ms":{"p50":2,"p90":4,"p99":9,"mean":3}},
		{"width_s":1,"offered":5,"goodput":5,"latency_ms":{"p50":3,"p90":5,"p99":8,"mean":3}}],
		"steps":[{"name":"a","journey":"j","series":[{"width_s":1,"offered":2,"latency_ms":{"p50":2}}]}]}`
	h := newHist(histSigFigs)
	for _, v := range []int64{1500, 2000, 9000} {
		_ = h.RecordValue(v)
	}
	seed := []byte(fmt.Sprintf(run, encodeHist(h)))
	f.Add(seed, seed)
	f.Add([]byte(`{"scenario":"s","series":[{"width_s":1,"offered":3,"failed":1,"latency_ms":{"p50":1e308}}],"latency_hdr":"x"}`),
		[]byte(`{"scenario":"s","series":[{"width_s":-1,"offered":-3}],"steps":[{"name":"a","series":[{"width_s":1,"offered":1}]}]}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		base, err := DecodeSummary(bytes.NewReader(a))
		if err != nil {
			return
		}
		next, err := DecodeSummary(bytes.NewReader(b))
		if err != nil {
			return
		}
		began := time.Now()
		c, err := Compare(base, next, CompareOptions{Resamples: 50})
		if d := time.Since(began); d > 5*time.Second {
			t.Fatalf("Compare took %v", d) // not a timing assertion: a guard against a hang on bad input
		}
		if err != nil {
			if !errors.Is(err, ErrNotComparable) {
				t.Fatalf("error %v is not ErrNotComparable", err)
			}
			return
		}
		for _, mc := range c.Changes {
			switch mc.Verdict {
			case Regression, Improvement, NoChange, Inconclusive:
			default:
				t.Fatalf("verdict %q", mc.Verdict)
			}
			if !(mc.P >= 0 && mc.P <= 1) || !(mc.PAdjusted >= 0 && mc.PAdjusted <= 1) {
				t.Fatalf("p %v, adjusted %v", mc.P, mc.PAdjusted)
			}
		}
	})
}
