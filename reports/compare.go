package reports

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/gonum/stat/distuv"
)

// ErrNotComparable marks two runs, or a file, that compare cannot take:
// runs of different scenarios, or a file that is no summary.json. The CLI
// maps it to exit code 2.
var ErrNotComparable = errors.New("cannot compare")

// Verdicts of a comparison, worst first.
const (
	Regression   = "regression"
	Improvement  = "improvement"
	NoChange     = "no change"
	Inconclusive = "inconclusive"
)

// CompareOptions tune Compare; the zero value picks the defaults.
type CompareOptions struct {
	Floor     float64 // practical-effect floor: smaller relative changes are no change (default 0.05)
	Alpha     float64 // family-wise significance over all the metrics compared, Holm-corrected (default 0.05)
	Resamples int     // bootstrap resamples of each quantile difference (default 2000)
	Seed      uint64  // the bootstrap's seed (default 1), so a comparison repeats exactly
}

// Comparison is the change from a base run to a new one, metric by metric.
type Comparison struct {
	Scenario string         `json:"scenario"`
	Floor    float64        `json:"floor"`
	Alpha    float64        `json:"alpha"`
	Changes  []MetricChange `json:"changes"`  // the run's metrics, then each step's
	Verdicts map[string]int `json:"verdicts"` // how many changes got each verdict
	Notes    []string       `json:"notes,omitempty"`
	Options  CompareOptions `json:"-"`
}

// MetricChange is one metric of the run or of one step, compared.
//
// The test is Mann–Whitney U (two-sided, normal approximation with tie
// and continuity corrections) on the per-second samples of both runs, as
// benchstat does: seconds, not requests, are the independent units, since
// requests close in time share the target's state. For the latency
// quantiles an interval on the relative change comes from a bootstrap of
// the runs' HDR histograms (the k-th order statistic of a resample of n
// values is the empirical quantile at a Beta(k, n+1-k) draw, so a
// resample costs two draws, whatever n). P-values are Holm-corrected over
// every metric of the comparison.
type MetricChange struct {
	Step   string  `json:"step,omitempty"` // "" for the whole run, else journey/step
	Metric string  `json:"metric"`         // p50 p90 p99 (ms), mean (ms), errors (ratio), goodput (per s)
	Unit   string  `json:"unit"`
	Base   float64 `json:"base"`   // over the whole base run
	New    float64 `json:"new"`    // over the whole new run
	Change float64 `json:"change"` // relative: (new - base) / base; for errors over max(base, 1%)
	// Shift is the per-second samples' typical change, relative to the
	// base's median second: the Hodges–Lehmann estimate (the median of
	// every new-minus-base difference), the effect the rank test measures
	// and the one the floor applies to. A whole-run p99 can move with one
	// bad second; the typical second cannot.
	Shift float64 `json:"shift"`

	BaseSeconds int     `json:"base_seconds"` // per-second samples
	NewSeconds  int     `json:"new_seconds"`
	P           float64 `json:"p"`                  // Mann–Whitney U, two-sided
	PAdjusted   float64 `json:"p_adjusted"`         // Holm-corrected
	Low         float64 `json:"low,omitempty"`      // 95% bootstrap interval on Change (quantiles only)
	High        float64 `json:"high,omitempty"`     //
	Interval    bool    `json:"interval,omitempty"` // Low and High are set

	Verdict     string  `json:"verdict"`
	lowerWorse  bool    // goodput: a fall is the regression
	MoreSeconds float64 `json:"more_seconds,omitempty"` // inconclusive: seconds more of each run that would decide, 0 when none would
	Why         string  `json:"why"`                    // the verdict in words
}

// errorsFloor is the error share relative changes of errors are measured
// against when the base's is smaller: 0 to 0.5% is +50%, not infinite.
const errorsFloor = 0.01

// compared are the metrics Compare tests, with the direction that is worse.
var compared = []struct {
	metric        string
	higherIsWorse bool
}{{"p50", true}, {"p90", true}, {"p99", true}, {"mean", true}, {"errors", true}, {"goodput", false}}

// Compare compares a new run with a base run of the same scenario. The
// summaries must hold their series (as every run's summary.json does).
func Compare(base, next *Summary, o CompareOptions) (*Comparison, error) {
	if base.Scenario != next.Scenario {
		return nil, fmt.Errorf("%w: runs of different scenarios, %q and %q", ErrNotComparable, base.Scenario, next.Scenario)
	}
	if o.Floor <= 0 {
		o.Floor = 0.05
	}
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = 0.05
	}
	if o.Resamples <= 0 {
		o.Resamples = 2000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	c := &Comparison{Scenario: base.Scenario, Floor: o.Floor, Alpha: o.Alpha, Options: o, Verdicts: map[string]int{}}
	if len(base.Series) == 0 || len(next.Series) == 0 {
		return nil, fmt.Errorf("%w: a summary without its per-second series (a summary.json of this version has them)", ErrNotComparable)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	c.scope("", &base.Latency, &next.Latency, base.LatencyHDR, next.LatencyHDR, base.Series, next.Series,
		[2]float64{1 - base.SuccessRatio, 1 - next.SuccessRatio}, [2]float64{base.Goodput, next.Goodput}, rng)
	for i := range base.Steps {
		if len(base.Steps) == 1 && len(next.Steps) == 1 {
			// The one step is the run: testing it again would only
			// dilute the correction.
			break
		}
		bs := &base.Steps[i]
		for j := range next.Steps {
			ns := &next.Steps[j]
			if ns.Journey != bs.Journey || ns.Name != bs.Name {
				continue
			}
			c.scope(stepName(stepKey{bs.Journey, bs.Name}), &bs.Latency, &ns.Latency, bs.LatencyHDR, ns.LatencyHDR, bs.Series, ns.Series,
				[2]float64{1 - bs.SuccessRatio, 1 - ns.SuccessRatio}, [2]float64{bs.Goodput, ns.Goodput}, rng)
		}
	}
	c.decide()
	return c, nil
}

// scope adds the metrics of the run (step "") or of one step.
func (c *Comparison) scope(step string, bl, nl *LatencyMs, bh, nh string, bs, ns []SeriesPoint, errs, good [2]float64, rng *rand.Rand) {
	if len(bs) == 0 || len(ns) == 0 {
		if step != "" {
			c.Notes = append(c.Notes, "step "+step+": no per-second series in one of the summaries; not compared")
		}
		return
	}
	baseHist, errB := decodeHist(bh, "latency_hdr")
	newHist, errN := decodeHist(nh, "latency_hdr")
	haveHist := errB == nil && errN == nil && bh != "" && nh != "" && baseHist.TotalCount() > 0 && newHist.TotalCount() > 0
	for _, m := range compared {
		mc := MetricChange{Step: step, Metric: m.metric, Unit: gateUnits[gateMetrics[m.metric]]}
		if m.metric == "mean" {
			mc.Unit = "ms"
		}
		switch m.metric {
		case "errors":
			mc.Base, mc.New = round(errs[0], 1e6), round(errs[1], 1e6)
			mc.Change = relChange(mc.Base, mc.New, errorsFloor)
		case "goodput":
			mc.Base, mc.New = good[0], good[1]
			mc.Change = relChange(mc.Base, mc.New, 0)
		default:
			mc.Base, mc.New = bl.ms(m.metric), nl.ms(m.metric)
			mc.Change = relChange(mc.Base, mc.New, 0)
		}
		b, n := perSecond(bs, m.metric), perSecond(ns, m.metric)
		mc.BaseSeconds, mc.NewSeconds = len(b), len(n)
		mc.P = mannWhitney(b, n)
		denom := 0.0
		if m.metric == "errors" {
			denom = errorsFloor
		}
		mc.Shift = shift(b, n, denom)
		if q := quantileOf(m.metric); q > 0 && haveHist {
			mc.Low, mc.High = bootstrapChange(baseHist, newHist, q, c.Options.Resamples, rng)
			mc.Interval = true
		}
		mc.lowerWorse = !m.higherIsWorse
		c.Changes = append(c.Changes, mc)
	}
}

// maxPairs bounds the differences the Hodges–Lehmann estimate sorts;
// past it, the difference of the medians stands in for it.
const maxPairs = 1 << 18

// shift is the Hodges–Lehmann shift of next from base relative to the
// base's median, or to floor when that is larger (errors: 0 to 0.5% is
// +50%).
func shift(base, next []float64, floor float64) float64 {
	if len(base) == 0 || len(next) == 0 {
		return 0
	}
	med := func(v []float64) float64 {
		c := append([]float64(nil), v...)
		sort.Float64s(c)
		if len(c)%2 == 1 {
			return c[len(c)/2]
		}
		return (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	var d float64
	if len(base)*len(next) <= maxPairs {
		diffs := make([]float64, 0, len(base)*len(next))
		for _, n := range next {
			for _, b := range base {
				diffs = append(diffs, n-b)
			}
		}
		d = med(diffs)
	} else {
		d = med(next) - med(base)
	}
	if m := math.Max(med(base), floor); m > 0 {
		d /= m
	}
	return round(d, 1e6)
}

// relChange is (n - b) / max(b, floor); 0 when both are 0.
func relChange(b, n, floor float64) float64 {
	d := math.Max(b, floor)
	if d <= 0 {
		if n == b {
			return 0
		}
		return math.Inf(1)
	}
	return round((n-b)/d, 1e6)
}

// perSecond is one sample per point of the series that holds requests.
func perSecond(series []SeriesPoint, metric string) []float64 {
	var out []float64
	for _, p := range series {
		if p.Offered == 0 || p.Width <= 0 {
			continue
		}
		switch metric {
		case "errors":
			out = append(out, float64(p.Failed)/float64(p.Offered))
		case "goodput":
			out = append(out, float64(p.Goodput)/p.Width)
		default:
			if p.Latency == (LatencyMs{}) {
				continue // nothing sent in this second
			}
			out = append(out, p.Latency.ms(metric))
		}
	}
	return out
}

// mannWhitney is the two-sided p-value of the Mann–Whitney U test of a
// against b: normal approximation, ties corrected, continuity corrected.
// 1 when either is empty or every value ties.
func mannWhitney(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	if n1 == 0 || n2 == 0 {
		return 1
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var r1, ties float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1 .. j, averaged
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	n := n1 + n2
	u := r1 - n1*(n1+1)/2
	mu := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if !(sigma > 0) {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	if z < 0 {
		z = 0
	}
	return math.Min(1, 2*distuv.UnitNormal.Survival(z))
}

// bootstrapChange is the 95% percentile interval of the relative change
// of the q-quantile from base to next, resampling each histogram's values.
func bootstrapChange(base, next *hdr.Histogram, q float64, resamples int, rng *rand.Rand) (low, high float64) {
	draws := make([]float64, 0, resamples)
	for range resamples {
		b := resampledQuantile(base, q, rng)
		n := resampledQuantile(next, q, rng)
		if b > 0 {
			draws = append(draws, n/b-1)
		}
	}
	if len(draws) == 0 {
		return 0, 0
	}
	sort.Float64s(draws)
	at := func(p float64) float64 { return round(draws[min(int(p*float64(len(draws))), len(draws)-1)], 1e6) }
	return at(0.025), at(0.975)
}

// resampledQuantile is the q-quantile of a resample of h's values with
// replacement: the k-th smallest of n uniform draws is Beta(k, n+1-k).
func resampledQuantile(h *hdr.Histogram, q float64, rng *rand.Rand) float64 {
	n := float64(h.TotalCount())
	k := math.Max(1, math.Ceil(q*n))
	u := distuv.Beta{Alpha: k, Beta: n + 1 - k, Src: rng}.Rand()
	return float64(h.ValueAtPercentile(100 * u))
}

// decide Holm-corrects the p-values and gives each change its verdict.
func (c *Comparison) decide() {
	m := len(c.Changes)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return c.Changes[order[i]].P < c.Changes[order[j]].P })
	running := 0.0
	for rank, i := range order {
		adj := math.Min(1, float64(m-rank)*c.Changes[i].P)
		running = math.Max(running, adj)
		c.Changes[i].PAdjusted = round(running, 1e6)
	}
	for i := range c.Changes {
		mc := &c.Changes[i]
		mc.P = round(mc.P, 1e6)
		c.verdict(mc, !mc.lowerWorse, m)
		c.Verdicts[mc.Verdict]++
	}
}

// verdict judges one change. A regression (or an improvement) is a
// typical per-second shift past the floor, in the bad (good) direction,
// significant after Holm, whose bootstrap interval, when there is one,
// does not rule out a change of the floor's size that way. No change is a
// shift within the floor whose interval, when there is one, lies inside
// ±floor. Anything else is inconclusive: the test says how many more
// seconds of each run would make the shift significant, if it held.
func (c *Comparison) verdict(mc *MetricChange, higherIsWorse bool, m int) {
	floor := c.Floor
	effect := mc.Shift
	worse := effect > 0
	if !higherIsWorse {
		worse = effect < 0
	}
	significant := mc.PAdjusted < c.Alpha
	allowed := !mc.Interval || (effect > 0 && mc.High >= floor) || (effect < 0 && mc.Low <= -floor)
	inside := !mc.Interval || (mc.Low > -floor && mc.High < floor)
	switch {
	case math.Abs(effect) >= floor && significant && allowed:
		mc.Verdict = Improvement
		if worse {
			mc.Verdict = Regression
		}
		mc.Why = fmt.Sprintf("%+.1f%% (typical second %+.1f%%), p=%.2g after Holm", 100*mc.Change, 100*effect, mc.PAdjusted)
	case math.Abs(effect) < floor && inside:
		mc.Verdict = NoChange
		mc.Why = fmt.Sprintf("%+.1f%% (typical second %+.1f%%), within the %.0f%% floor", 100*mc.Change, 100*effect, 100*floor)
	default:
		mc.Verdict = Inconclusive
		mc.MoreSeconds = moreSeconds(mc, c.Alpha/float64(m))
		switch {
		case mc.MoreSeconds > 0:
			mc.Why = fmt.Sprintf("%+.1f%% (typical second %+.1f%%), p=%.2g after Holm: about %.0f s more of each run would decide", 100*mc.Change, 100*effect, mc.PAdjusted, mc.MoreSeconds)
		case !significant:
			mc.Why = fmt.Sprintf("%+.1f%% (typical second %+.1f%%), p=%.2g after Holm: the samples do not separate", 100*mc.Change, 100*effect, mc.PAdjusted)
		default:
			mc.Why = fmt.Sprintf("%+.1f%% (typical second %+.1f%%), but the bootstrap interval [%+.1f%%, %+.1f%%] disagrees", 100*mc.Change, 100*effect, 100*mc.Low, 100*mc.High)
		}
	}
}

// moreSeconds estimates the seconds more of each run that would bring the
// test to the corrected significance alpha if the effect stayed as it is:
// the z statistic of a rank test grows as the square root of the samples.
// 0 when no length would (no effect at all), or when it is significant.
func moreSeconds(mc *MetricChange, alpha float64) float64 {
	n := float64(min(mc.BaseSeconds, mc.NewSeconds))
	if n == 0 || mc.P >= 1 || mc.PAdjusted < alpha {
		return 0
	}
	z := distuv.UnitNormal.Quantile(1 - mc.P/2)
	want := distuv.UnitNormal.Quantile(1 - alpha/2)
	if !(z > 0.05) {
		return 0
	}
	need := n * (want / z) * (want / z)
	return math.Ceil(math.Max(need-n, 1))
}

// Failed reports whether any change is a regression.
func (c *Comparison) Failed() bool { return c.Verdicts[Regression] > 0 }
