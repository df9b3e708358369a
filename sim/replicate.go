package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/stampede-load/stampede/reports"
)

// WideInterval is the relative half-width past which a figure's interval
// is too wide to decide on: it is flagged instead of quoted as exact.
const WideInterval = 0.05

// Replications are the headline figures of independent replications of
// one simulation (different seeds), each a mean with its 95% interval.
type Replications struct {
	N       int
	Figures []Figure
	Bands   []reports.BandPoint // per interval across the replications' series (see bands)
}

// Figure is one headline figure across replications.
type Figure struct {
	Name     string
	Unit     string // "%", "/s", "ms", "s" or "" for a count
	Estimate Estimate
}

// Wide reports whether the figure's interval is too wide to decide on.
// A figure that did not vary (no retries in any replication) is not.
func (f Figure) Wide() bool {
	return f.Estimate.N > 1 && f.Estimate.HalfWidth > 0 && f.Estimate.RelativeHalfWidth() > WideInterval
}

// Replicate runs the simulation n times, replication i with the users'
// seed (Scenario.Seed) and the stations' seed (Options.Seed) both moved on
// by i, and estimates each headline figure; the steady-state success of
// each replication comes from its per-second series with the warm-up cut
// by MSER-5 and batch means. The scenario's seed is restored after.
func Replicate(ctx context.Context, o Options, n int) (*Replications, []*Outcome, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("%w: %d replications: want at least 1", ErrInvalidModel, n)
	}
	seed := o.Scenario.Seed
	defer func() { o.Scenario.Seed = seed }()
	samples := map[string][]float64{}
	var outs []*Outcome
	for i := range n {
		o.Scenario.Seed = seed + int64(i)
		ro := o
		ro.Seed = o.Seed + uint64(i)
		out, err := Run(ctx, ro)
		if err != nil {
			return nil, outs, err
		}
		outs = append(outs, out)
		s := out.Summary
		add := func(name string, v float64) { samples[name] = append(samples[name], v) }
		add("journeys completed", 100*ratio(s.JourneysCompleted, s.Arrivals))
		add("request success", 100*s.SuccessRatio)
		add("requests", float64(s.Requests))
		add("goodput", s.Goodput)
		add("p99 latency", s.Latency.P99)
		add("retry share", 100*s.RetryShare)
		steady, _ := SteadySuccess(s.Series)
		add("steady-state success", 100*steady.Mean)
		if s.Metastability != nil {
			add("recovery after the peak", s.Metastability.RecoveryS)
		}
		if len(s.Errors) > 0 {
			add("onset of the first error", firstOnset(s.Errors))
		}
		if out.Summary.Interrupted {
			break
		}
	}
	series := make([][]reports.SeriesPoint, len(outs))
	for i, out := range outs {
		series[i] = out.Summary.Series
	}
	r := &Replications{N: len(outs), Bands: bands(series)}
	for _, f := range []struct{ name, unit string }{
		{"journeys completed", "%"}, {"request success", "%"}, {"requests", ""}, {"goodput", "/s"},
		{"p99 latency", "ms"}, {"retry share", "%"}, {"steady-state success", "%"},
		{"recovery after the peak", "s"}, {"onset of the first error", "s"},
	} {
		if xs := samples[f.name]; len(xs) > 0 {
			r.Figures = append(r.Figures, Figure{Name: f.name, Unit: f.unit, Estimate: MeanCI(xs)})
		}
	}
	return r, outs, nil
}

// Summary is the replications as summary.json holds them.
func (r *Replications) Summary() *reports.Replications {
	out := &reports.Replications{N: r.N, Series: r.Bands}
	for _, f := range r.Figures {
		b := reports.NewBand(f.Estimate.Mean, f.Estimate.HalfWidth)
		out.Figures = append(out.Figures, reports.ReplicatedFigure{Name: f.Name, Unit: f.Unit, Mean: b.Mean, HalfWidth: b.HalfWidth, Wide: f.Wide()})
	}
	return out
}

// bands returns, per interval, the mean over the replications' series and
// its 95% half-width of offered, achieved and goodput per second and of
// p99, at most reports.MaxStepSeriesPoints intervals (wider ones past
// that, each keeping its worst p99, as the charts group seconds). A
// replication with nothing in an interval counts as none offered; its
// p99 counts only where it timed a request.
func bands(series [][]reports.SeriesPoint) []reports.BandPoint {
	lo, hi, w := math.Inf(1), math.Inf(-1), 0.0
	for _, ps := range series {
		for _, p := range ps {
			if p.Width > 0 {
				lo, hi, w = min(lo, p.T), max(hi, p.T+p.Width), max(w, p.Width)
			}
		}
	}
	if w == 0 {
		return nil
	}
	per := math.Ceil(math.Ceil((hi-lo)/w) / reports.MaxStepSeriesPoints)
	width := w * per
	n := int(math.Ceil((hi - lo) / width))
	type tally struct {
		offered, ended, goodput int64
		p99                     float64
		seen                    bool
	}
	reps := make([][]tally, len(series))
	for r, ps := range series {
		reps[r] = make([]tally, n)
		for _, p := range ps {
			if p.Width <= 0 {
				continue
			}
			t := &reps[r][min(int((p.T-lo)/width), n-1)]
			t.offered, t.ended, t.goodput = t.offered+p.Offered, t.ended+p.Ended, t.goodput+p.Goodput
			t.p99, t.seen = max(t.p99, p.Latency.P99), true
		}
	}
	out := make([]reports.BandPoint, 0, n)
	band := func(xs []float64) reports.Band {
		if len(xs) == 0 {
			return reports.Band{}
		}
		e := MeanCI(xs)
		return reports.NewBand(e.Mean, e.HalfWidth)
	}
	for b := range n {
		t := lo + float64(b)*width
		span := min(width, hi-t)
		var offered, achieved, goodput, p99 []float64
		seen := false
		for r := range reps {
			x := &reps[r][b]
			seen = seen || x.seen
			offered = append(offered, float64(x.offered)/span)
			achieved = append(achieved, float64(x.ended)/span)
			goodput = append(goodput, float64(x.goodput)/span)
			if x.p99 > 0 {
				p99 = append(p99, x.p99)
			}
		}
		if !seen {
			continue
		}
		out = append(out, reports.BandPoint{T: t, Width: span, Offered: band(offered), Achieved: band(achieved), Goodput: band(goodput), P99: band(p99)})
	}
	return out
}

func ratio(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func firstOnset(errs []reports.ErrorSummary) float64 {
	first := errs[0].OnsetS
	for _, e := range errs {
		first = min(first, e.OnsetS)
	}
	return first
}

// SteadySuccess estimates the steady-state share of requests that
// succeed from a per-second series: the warm-up MSER-5 picks is cut (its
// seconds are returned), and batch means give the interval.
func SteadySuccess(series []reports.SeriesPoint) (Estimate, int) {
	xs := make([]float64, 0, len(series))
	for _, p := range series {
		if p.Ended > 0 {
			xs = append(xs, float64(p.OK)/float64(p.Ended))
		}
	}
	warm := MSER5(xs)
	return BatchMeans(xs[warm:], 10), warm
}

// Write prints the figures, mean ± half-width, flagging the wide ones.
func (r *Replications) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d replications: mean ± 95%% confidence half-width\n", r.N)
	for _, f := range r.Figures {
		e := f.Estimate
		flag := ""
		if f.Wide() {
			flag = fmt.Sprintf("   WIDE: ±%.0f%% of the mean, too wide to decide on; run more replications", 100*e.RelativeHalfWidth())
		}
		if r.N < 2 {
			flag = "   (one replication: no interval)"
		}
		fmt.Fprintf(&b, "  %-26s %12.2f ± %-10.2f %-2s%s\n", f.Name, e.Mean, e.HalfWidth, f.Unit, flag)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
