package render

import (
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/stampede-load/stampede/reports"
)

// sortedSteps returns a search's steps by planned rate, as the analysis
// orders them.
func sortedSteps(rep *reports.SaturationReport) []reports.StepPoint {
	pts := append([]reports.StepPoint(nil), rep.Steps...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Rate < pts[j].Rate })
	return pts
}

// loadLatencyChart: a saturation search's latency against the offered
// rate, step by step, with the saturation point and the knee.
func loadLatencyChart(r *Run) (*Chart, error) {
	rep := r.Saturation
	if rep == nil || len(rep.Steps) == 0 {
		return nil, nil
	}
	slo, err := reports.ParseSLO(rep.SLO, reports.DefaultSLO)
	if err != nil {
		slo = reports.DefaultSLO
	}
	q := reports.QuantileName(slo.Quantile)
	p := newPlot("Latency against offered load", "offered requests per second", "latency")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	var p50, pq, failed plotter.XYs
	// Along the offered rate the steps achieved, which a bisection step can
	// fall short of: the curve must not double back.
	steps := sortedSteps(rep)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].OfferedRate < steps[j].OfferedRate })
	for _, st := range steps {
		if st.Requests == 0 {
			continue
		}
		p50 = append(p50, plotter.XY{X: st.OfferedRate, Y: st.Latency.P50})
		pq = append(pq, plotter.XY{X: st.OfferedRate, Y: st.Latency.At(slo.Quantile)})
		if !st.Pass {
			failed = append(failed, plotter.XY{X: st.OfferedRate, Y: st.Latency.At(slo.Quantile)})
		}
	}
	p50, pq, failed = logFloor(p50), logFloor(pq), logFloor(failed)
	if len(p50)+len(pq) == 0 {
		return nil, nil
	}
	for _, l := range []struct {
		name string
		xys  plotter.XYs
		c    int
	}{{"p50", p50, 0}, {q, pq, 3}} {
		if len(l.xys) == 0 {
			continue
		}
		ln, sc, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return nil, err
		}
		ln.Color, sc.Color = colour(l.c), colour(l.c)
		sc.Shape = draw.CircleGlyph{}
		p.Add(ln, sc)
		p.legend(l.name, ln, sc)
	}
	if len(failed) > 0 {
		sc, err := plotter.NewScatter(failed)
		if err != nil {
			return nil, err
		}
		sc.Shape, sc.Color, sc.Radius = draw.CrossGlyph{}, colour(3), vg.Points(5)
		p.Add(sc)
		p.legend("step failed", sc)
	}
	xmin, xmax := p50[0].X, p50[len(p50)-1].X
	if err := line(p, q+" SLO "+reports.FormatMillis(float64(slo.Latency)/1e6), plotter.XYs{{X: xmin, Y: float64(slo.Latency) / 1e6}, {X: xmax, Y: float64(slo.Latency) / 1e6}},
		colour(7), []vg.Length{vg.Points(4), vg.Points(2)}, vg.Points(1)); err != nil {
		return nil, err
	}
	if sat := rep.Saturation; sat != nil {
		marks := newVline(colour(2), []vg.Length{vg.Points(3), vg.Points(2)})
		if sat.Saturated && sat.OfferedRate > 0 {
			marks.xs, marks.labels = append(marks.xs, sat.OfferedRate), append(marks.labels, "saturation "+reports.FormatRate(sat.OfferedRate))
		}
		if sat.KneeRate > 0 {
			marks.xs, marks.labels = append(marks.xs, sat.KneeRate), append(marks.labels, "knee "+reports.FormatRate(sat.KneeRate))
		}
		p.Add(marks)
	}
	svg, err := svgOf(p)
	return &Chart{ID: "load-latency", Title: "Load and latency", SVG: svg,
		Caption: "Each step of the search: its offered rate and latency; crosses mark the steps that failed. The saturation point is the highest offered rate that held; the knee is where the median turns up."}, err
}

// uslChart: a saturation search's throughput against concurrency, with
// the Universal Scalability Law fit.
func uslChart(r *Run) (*Chart, error) {
	rep := r.Saturation
	if rep == nil || len(rep.Steps) == 0 {
		return nil, nil
	}
	var pts plotter.XYs
	maxN := 0.0
	for _, st := range sortedSteps(rep) {
		if st.Requests == 0 {
			continue
		}
		pts = append(pts, plotter.XY{X: st.InFlight, Y: st.RequestGoodput})
		maxN = math.Max(maxN, st.InFlight)
	}
	if len(pts) == 0 {
		return nil, nil
	}
	p := newPlot("Throughput against concurrency", "requests in flight (mean)", "successful requests per second")
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	sc.Shape, sc.Color = draw.CircleGlyph{}, colour(0)
	p.Add(sc)
	p.legend("steps", sc)
	var u *reports.USL
	if rep.Saturation != nil {
		u = rep.Saturation.USL
	}
	if u != nil {
		top := maxN * 1.25
		if u.PeakConcurrency > 0 {
			top = math.Max(top, u.PeakConcurrency*1.1)
		}
		var fit plotter.XYs
		for i := 0; i <= 100; i++ {
			n := top * float64(i) / 100
			x := u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
			if n < 1 {
				x = u.Lambda * n // the law holds from one unit of concurrency up
			}
			fit = append(fit, plotter.XY{X: n, Y: x})
		}
		if err := line(p, "USL fit (R² "+reports.FormatDecimal(u.R2, 2)+")", fit, colour(1), nil, vg.Points(1.2)); err != nil {
			return nil, err
		}
		if u.PeakConcurrency > 0 {
			marks := newVline(colour(1), []vg.Length{vg.Points(3), vg.Points(2)})
			marks.xs, marks.labels = []float64{u.PeakConcurrency}, []string{"USL peak " + reports.FormatRate(u.PeakRate)}
			p.Add(marks)
		}
	}
	p.X.Min, p.Y.Min = 0, 0
	svg, err := svgOf(p)
	return &Chart{ID: "usl", Title: "Scalability", SVG: svg,
		Caption: "Each step's goodput against the requests it kept in flight, and the Universal Scalability Law fitted to them: where the curve flattens or bends down, more load buys no more throughput."}, err
}
