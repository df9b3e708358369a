package render

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/stampede-load/stampede/reports"
)

// maxChartPoints bounds the points a time-series chart draws: a long run
// (a simulated day has 11,000 seconds) is grouped into wider intervals,
// so the page stays small and quick to open.
const maxChartPoints = 1000

// chartPoints returns pts, grouped into at most maxChartPoints intervals:
// counts add up, latencies keep each group's worst (so a spike stays
// visible), concurrency is the group's mean and the in-flight gauge its
// peak.
func chartPoints(pts []reports.SeriesPoint) []reports.SeriesPoint {
	if len(pts) <= maxChartPoints {
		return pts
	}
	per := (len(pts) + maxChartPoints - 1) / maxChartPoints
	out := make([]reports.SeriesPoint, 0, maxChartPoints)
	for i := 0; i < len(pts); i += per {
		out = append(out, groupPoints(pts[i:min(i+per, len(pts))]))
	}
	return out
}

func groupPoints(g []reports.SeriesPoint) reports.SeriesPoint {
	out := reports.SeriesPoint{T: g[0].T}
	var busy float64
	type key struct {
		mode     reports.ErrorMode
		upstream string
	}
	errs := map[key]int64{}
	var order []key
	for i := range g {
		p := &g[i]
		out.Width += p.Width
		out.Offered += p.Offered
		out.Arrivals += p.Arrivals
		out.Sent += p.Sent
		out.Ended += p.Ended
		out.Goodput += p.Goodput
		out.OK += p.OK
		out.Failed += p.Failed
		out.Dropped += p.Dropped
		out.Retries += p.Retries
		out.InFlight = max(out.InFlight, p.InFlight)
		busy += p.Concurrency * p.Width
		l := &out.Latency
		l.P50, l.P90, l.P95 = max(l.P50, p.Latency.P50), max(l.P90, p.Latency.P90), max(l.P95, p.Latency.P95)
		l.P99, l.P999, l.Max = max(l.P99, p.Latency.P99), max(l.P999, p.Latency.P999), max(l.Max, p.Latency.Max)
		for _, e := range p.Errors {
			k := key{e.Mode, e.Upstream}
			if _, ok := errs[k]; !ok {
				order = append(order, k)
			}
			errs[k] += e.Count
		}
	}
	if out.Width > 0 {
		out.Concurrency = busy / out.Width
	}
	for _, k := range order {
		out.Errors = append(out.Errors, reports.ModeCount{Mode: k.mode, Upstream: k.upstream, Count: errs[k]})
	}
	return out
}

// frame places a run's series on a chart's axes: its own seconds and
// rates, or the real day's when runs of different scales are overlaid (a
// scaled measured run beside a real-scale simulation).
type frame struct {
	time float64 // multiplies seconds
	rate float64 // multiplies rates and counts in flight
}

// frames returns each run's frame and the time axis's label.
func frames(runs []*Run) ([]frame, string) {
	fs := make([]frame, len(runs))
	same := true
	for i, r := range runs {
		sc := scaleOf(r.Summary)
		fs[i] = frame{time: sc.time, rate: 1 / sc.rate}
		same = same && fs[i] == fs[0]
	}
	if same {
		for i := range fs {
			fs[i] = frame{1, 1}
		}
		return fs, "seconds from the start"
	}
	return fs, "seconds from the start, at real scale"
}

// seriesXYs maps each point with requests due to (seconds from the
// start, f(point)).
func seriesXYs(pts []reports.SeriesPoint, f func(p *reports.SeriesPoint) float64) plotter.XYs {
	return framedXYs(pts, frame{1, 1}, false, f)
}

// framedXYs is seriesXYs in frame fr; rates says whether f's values are
// rates (or counts in flight) that the frame scales.
func framedXYs(pts []reports.SeriesPoint, fr frame, rates bool, f func(p *reports.SeriesPoint) float64) plotter.XYs {
	xys := make(plotter.XYs, 0, len(pts))
	for i := range pts {
		p := &pts[i]
		if p.Width <= 0 {
			continue
		}
		y := f(p)
		if rates {
			y *= fr.rate
		}
		xys = append(xys, plotter.XY{X: p.T * fr.time, Y: y})
	}
	return xys
}

func perWidth(n int64, p *reports.SeriesPoint) float64 { return float64(n) / p.Width }

// throughputChart: offered, achieved and goodput per second over time,
// with the arrivals the generator dropped.
func throughputChart(runs []*Run) (*Chart, error) {
	fs, xlabel := frames(runs)
	p := newPlot("Offered, achieved and goodput", xlabel, "requests per second")
	drew := false
	banded := false
	for i, r := range runs {
		pts := chartPoints(r.Summary.Series)
		if len(pts) == 0 {
			continue
		}
		drew = true
		if reps := r.Summary.Replications; reps != nil {
			for _, b := range []struct {
				name string
				c    int
				f    func(p *reports.BandPoint) reports.Band
			}{
				{"offered", 0, func(p *reports.BandPoint) reports.Band { return p.Offered }},
				{"achieved", 1, func(p *reports.BandPoint) reports.Band { return p.Achieved }},
				{"goodput", 2, func(p *reports.BandPoint) reports.Band { return p.Goodput }},
			} {
				ok, err := band(p, runLabel(runs, i, bandLabel(b.name, reps.N)), reps.Series, fs[i], true, colour(b.c), b.f)
				if err != nil {
					return nil, err
				}
				banded = banded || ok
			}
		}
		d := runDashes(i)
		for _, l := range []struct {
			name string
			c    int
			f    func(p *reports.SeriesPoint) float64
		}{
			{"offered", 0, func(p *reports.SeriesPoint) float64 { return perWidth(p.Offered, p) }},
			{"achieved", 1, func(p *reports.SeriesPoint) float64 { return perWidth(p.Ended, p) }},
			{"goodput", 2, func(p *reports.SeriesPoint) float64 { return perWidth(p.Goodput, p) }},
			{"dropped", 3, func(p *reports.SeriesPoint) float64 { return perWidth(p.Dropped, p) }},
		} {
			if err := line(p, runLabel(runs, i, l.name), framedXYs(pts, fs[i], true, l.f), colour(l.c), d, vg.Points(1.2)); err != nil {
				return nil, err
			}
		}
	}
	if !drew {
		return nil, nil
	}
	p.Y.Min = 0
	svg, err := svgOf(p)
	caption := "Requests due per second (offered, by intended time), answered per second (achieved) and answered successfully (goodput, by end time); dropped arrivals never left the generator."
	if banded {
		caption += bandCaption
	}
	return &Chart{ID: "throughput", Title: "Throughput", SVG: svg, Caption: caption}, err
}

// bandCaption says what a chart's shaded bands are.
const bandCaption = " Shaded: the 95% confidence band of the mean over the replications of a simulation (lines: the first replication)."

// bandLabel names a band in a legend.
func bandLabel(name string, n int) string {
	return name + ": 95% band, " + strconv.Itoa(n) + " replications"
}

// band shades the area between the mean less and plus its half-width of
// f over pts, in frame fr (rates: f's values are rates the frame scales),
// and names it in the legend. Intervals where f has no mean are left out
// of a latency band; it reports whether it drew. A latency band's lower
// edge stays above zero, for a log axis.
func band(p *figure, name string, pts []reports.BandPoint, fr frame, rates bool, c color.RGBA, f func(*reports.BandPoint) reports.Band) (bool, error) {
	upper := make(plotter.XYs, 0, len(pts))
	lower := make(plotter.XYs, 0, len(pts))
	for i := range pts {
		b := f(&pts[i])
		if !rates && b.Mean <= 0 {
			continue
		}
		k := 1.0
		if rates {
			k = fr.rate
		}
		lo := b.Mean - b.HalfWidth
		if !rates {
			lo = max(lo, b.Mean/10)
		}
		x := pts[i].T * fr.time
		upper = append(upper, plotter.XY{X: x, Y: (b.Mean + b.HalfWidth) * k})
		lower = append(lower, plotter.XY{X: x, Y: max(lo, 0) * k})
	}
	if len(upper) < 2 {
		return false, nil
	}
	slices.Reverse(lower)
	poly, err := plotter.NewPolygon(append(upper, lower...))
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	poly.Color = fade(c, 64)
	poly.LineStyle.Width = 0
	p.Add(poly)
	p.legend(name, poly)
	return true, nil
}

// latencyChart: p50, p90 and p99 of the requests due each second, on a
// log scale, with the SLO.
func latencyChart(runs []*Run) (*Chart, error) {
	fs, xlabel := frames(runs)
	p := newPlot("Latency from the intended time", xlabel, "latency")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	drew := false
	xmin, xmax := math.Inf(1), math.Inf(-1)
	var sloMs float64
	banded := false
	for i, r := range runs {
		pts := chartPoints(r.Summary.Series)
		if reps := r.Summary.Replications; reps != nil {
			ok, err := band(p, runLabel(runs, i, bandLabel("p99", reps.N)), reps.Series, fs[i], false, colour(3),
				func(p *reports.BandPoint) reports.Band { return p.P99 })
			if err != nil {
				return nil, err
			}
			banded = banded || ok
		}
		for _, l := range []struct {
			name string
			c    int
			f    func(p *reports.SeriesPoint) float64
		}{
			{"p50", 0, func(p *reports.SeriesPoint) float64 { return p.Latency.P50 }},
			{"p90", 1, func(p *reports.SeriesPoint) float64 { return p.Latency.P90 }},
			{"p99", 3, func(p *reports.SeriesPoint) float64 { return p.Latency.P99 }},
		} {
			xys := logFloor(framedXYs(pts, fs[i], false, l.f))
			if len(xys) == 0 {
				continue
			}
			drew = true
			xmin, xmax = math.Min(xmin, xys[0].X), math.Max(xmax, xys[len(xys)-1].X)
			if err := line(p, runLabel(runs, i, l.name), xys, colour(l.c), runDashes(i), vg.Points(1.2)); err != nil {
				return nil, err
			}
		}
		if slo, err := reports.ParseSLO(r.Summary.SLO, reports.DefaultSLO); err == nil && sloMs == 0 {
			sloMs = float64(slo.Latency) / 1e6
		}
	}
	if !drew {
		return nil, nil
	}
	if sloMs > 0 {
		if err := line(p, "SLO "+reports.FormatMillis(sloMs), plotter.XYs{{X: xmin, Y: sloMs}, {X: xmax, Y: sloMs}}, colour(7),
			[]vg.Length{vg.Points(4), vg.Points(2)}, vg.Points(1)); err != nil {
			return nil, err
		}
	}
	svg, err := svgOf(p)
	caption := "Percentiles of the requests due each second, counted from when each was due (no coordinated omission), on a log scale."
	if banded {
		caption += bandCaption
	}
	return &Chart{ID: "latency", Title: "Latency", SVG: svg, Caption: caption}, err
}

// maxStackedModes is how many error modes the stacked chart draws apart;
// the rest are summed as "other modes".
const maxStackedModes = 6

// errorsChart: failures per second by error mode, stacked, with each
// mode's onset marked. One run.
func errorsChart(r *Run, id string) (*Chart, error) {
	s := r.Summary
	pts := chartPoints(s.Series)
	if len(pts) == 0 || len(s.Errors) == 0 {
		return nil, nil
	}
	type key struct {
		mode     reports.ErrorMode
		upstream string
	}
	totals := map[key]int64{}
	for i := range pts {
		for _, e := range pts[i].Errors {
			totals[key{e.Mode, e.Upstream}] += e.Count
		}
	}
	if len(totals) == 0 {
		return nil, nil
	}
	keys := make([]key, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if totals[keys[i]] != totals[keys[j]] {
			return totals[keys[i]] > totals[keys[j]]
		}
		if keys[i].mode != keys[j].mode {
			return keys[i].mode < keys[j].mode
		}
		return keys[i].upstream < keys[j].upstream
	})
	bands := keys
	other := false
	if len(bands) > maxStackedModes {
		bands, other = bands[:maxStackedModes], true
	}
	index := map[key]int{}
	for i, k := range bands {
		index[k] = i
	}
	n := len(bands)
	if other {
		n++
	}
	// cum[b][i]: failures per second of bands 0..b at point i.
	cum := make([]plotter.XYs, n)
	for b := range cum {
		cum[b] = make(plotter.XYs, 0, len(pts))
	}
	for i := range pts {
		p := &pts[i]
		if p.Width <= 0 {
			continue
		}
		rates := make([]float64, n)
		for _, e := range p.Errors {
			b, ok := index[key{e.Mode, e.Upstream}]
			if !ok {
				b = n - 1
			}
			rates[b] += float64(e.Count) / p.Width
		}
		sum := 0.0
		for b := range n {
			sum += rates[b]
			cum[b] = append(cum[b], plotter.XY{X: p.T, Y: sum})
		}
	}
	pl := newPlot("Error modes", "seconds from the start", "failed requests per second")
	name := func(b int) string {
		if b == len(bands) {
			return "other modes"
		}
		k := bands[b]
		if k.upstream != "" {
			return string(k.mode) + " via " + k.upstream
		}
		return string(k.mode)
	}
	// Widest band first, so each narrower one is painted over it.
	for b := n - 1; b >= 0; b-- {
		l, err := plotter.NewLine(cum[b])
		if err != nil {
			return nil, err
		}
		l.Color = colour(b + 3)
		l.Width = vg.Points(0.5)
		l.FillColor = fade(colour(b+3), 200)
		pl.Add(l)
	}
	for b := range n {
		l, _ := plotter.NewLine(plotter.XYs{{}})
		l.Color = colour(b + 3)
		l.Width = vg.Points(4)
		pl.legend(name(b), l)
	}
	marks := newVline(colour(7), []vg.Length{vg.Points(2), vg.Points(2)})
	for _, e := range s.Errors {
		if _, ok := index[key{e.Mode, e.Upstream}]; ok && e.OnsetS > 0 {
			marks.xs = append(marks.xs, e.OnsetS)
			label := string(e.Mode)
			if e.Upstream != "" {
				label += " via " + e.Upstream
			}
			marks.labels = append(marks.labels, "onset "+label)
		}
	}
	sort.Sort(byX{marks})
	pl.Add(marks)
	pl.Y.Min = 0
	svg, err := svgOf(pl)
	title := "Error modes"
	if id != "errors" {
		title += " · " + r.Name
	}
	return &Chart{ID: id, Title: title, SVG: svg,
		Caption: "Failed requests per second by error mode and upstream, stacked, by when they were due; dashed lines mark each mode's onset."}, err
}

// inFlightChart: requests in flight (mean per second, from the results)
// and the engine's journeys-in-flight gauge.
func inFlightChart(runs []*Run) (*Chart, error) {
	fs, xlabel := frames(runs)
	p := newPlot("In flight", xlabel, "in flight")
	drew := false
	for i, r := range runs {
		pts := chartPoints(r.Summary.Series)
		if len(pts) == 0 {
			continue
		}
		conc := framedXYs(pts, fs[i], true, func(p *reports.SeriesPoint) float64 { return p.Concurrency })
		if err := line(p, runLabel(runs, i, "requests in flight (mean)"), conc, colour(0), runDashes(i), vg.Points(1.2)); err != nil {
			return nil, err
		}
		var gauge plotter.XYs
		for _, pt := range pts {
			if pt.InFlight > 0 {
				gauge = append(gauge, plotter.XY{X: pt.T * fs[i].time, Y: float64(pt.InFlight) * fs[i].rate})
			}
		}
		if err := line(p, runLabel(runs, i, "journeys in flight (engine gauge, peak)"), gauge, colour(1), runDashes(i), vg.Points(1.2)); err != nil {
			return nil, err
		}
		drew = true
	}
	if !drew {
		return nil, nil
	}
	p.Y.Min = 0
	svg, err := svgOf(p)
	return &Chart{ID: "inflight", Title: "In flight", SVG: svg,
		Caption: "Requests in flight, each counted from when it was due to its end (what Little's law relates to throughput and latency), and the journeys the engine had running."}, err
}

// minAmplificationRequests keeps nearly empty seconds out of the
// amplification line.
const minAmplificationRequests = 10

// retryChart: retry amplification, requests per first attempt, each
// second.
func retryChart(runs []*Run) (*Chart, error) {
	fs, xlabel := frames(runs)
	p := newPlot("Retry amplification", xlabel, "requests per first attempt")
	drew := false
	for i, r := range runs {
		var xys plotter.XYs
		for _, pt := range chartPoints(r.Summary.Series) {
			if pt.Offered >= minAmplificationRequests && pt.Offered > pt.Retries {
				xys = append(xys, plotter.XY{X: pt.T * fs[i].time, Y: float64(pt.Offered) / float64(pt.Offered-pt.Retries)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		drew = true
		if err := line(p, runLabel(runs, i, "per second"), xys, colour(4), runDashes(i), vg.Points(1.2)); err != nil {
			return nil, err
		}
		if ra := r.Summary.RetryAmplification; ra != nil {
			overall := plotter.XYs{{X: xys[0].X, Y: ra.Factor}, {X: xys[len(xys)-1].X, Y: ra.Factor}}
			if err := line(p, runLabel(runs, i, "over the run"), overall, colour(7), []vg.Length{vg.Points(4), vg.Points(2)}, vg.Points(1)); err != nil {
				return nil, err
			}
		}
	}
	if !drew {
		return nil, nil
	}
	p.Y.Min = 1
	svg, err := svgOf(p)
	return &Chart{ID: "retries", Title: "Retry amplification", SVG: svg,
		Caption: "Requests due per first attempt each second: 1 when nobody retried; above it, users' retries multiplied the load."}, err
}

// byX orders a vline's marks by x, so clustered labels thin out left to right.
type byX struct{ *vline }

func (b byX) Len() int           { return len(b.xs) }
func (b byX) Less(i, j int) bool { return b.xs[i] < b.xs[j] }
func (b byX) Swap(i, j int) {
	b.xs[i], b.xs[j] = b.xs[j], b.xs[i]
	b.labels[i], b.labels[j] = b.labels[j], b.labels[i]
}
