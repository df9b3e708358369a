package reports

import (
	"fmt"
	"sort"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// A gate "over 10s" is judged on every 10-second window of the run:
// tumbling windows aligned to Unix time (so shards' windows line up, and a
// gate watched live sees the windows the summary will), built from whole
// points of the run's series, or of the step's own series for a step gate.
// The series already keep, per second, the counts by outcome, a packed
// latency histogram (1% precision) and the failures by upstream; so a
// windowed gate costs no memory of its own, and stays bounded as the
// series are: past their maximum number of points (4.5 hours at one a
// second) the points widen, and a window narrower than a point becomes
// the point.

// window is the data of one window of a windowed gate.
type window struct {
	key, width int64 // the window is [key*width, (key+1)*width) in Unix seconds
	c          point // counters summed over its points
	lat        *hdr.PackedHistogram
}

// windowsOf groups the points of the series that start at or after Unix
// second from into windows of w seconds, in time order; only windows
// holding requests are kept.
func windowsOf(w, from int64, all ...*series) []*window {
	width := w
	for _, s := range all {
		width = max(width, s.width)
	}
	byKey := map[int64]*window{}
	for _, s := range all {
		for i := range s.points {
			p := &s.points[i]
			if (p.offered == 0 && p.ended == 0) || (s.base+int64(i))*s.width < from {
				continue
			}
			key := floorDiv((s.base+int64(i))*s.width, width)
			win := byKey[key]
			if win == nil {
				win = &window{key: key, width: width}
				byKey[key] = win
			}
			lat := p.lat
			p.lat = nil // merged below, not shared
			win.c.merge(p, nil)
			p.lat = lat
			if lat != nil && lat.TotalCount() > 0 {
				if win.lat == nil {
					win.lat = hdr.NewPacked(histLowestUs, histHighestUs, pointSigFigs)
				}
				win.lat.Merge(lat)
			}
		}
	}
	out := make([]*window, 0, len(byKey))
	for _, win := range byKey {
		out = append(out, win)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// sample is the window's data as a gate judges it. Rates count over the
// part of the window inside the run (at least a second).
func (win *window) sample(upstream string, runStart, runEnd float64) gateSample {
	from, to := float64(win.key*win.width), float64((win.key+1)*win.width)
	span := min(to, runEnd) - max(from, runStart)
	span = max(span, min(1, float64(win.width)))
	smp := gateSample{requests: win.c.offered, ok: win.c.ok, dropped: win.c.dropped, retries: win.c.retries,
		span: span, offeredSpan: span}
	// A window's successes are counted by due time, like its offered load,
	// so that goodput and errors of a window speak of the same requests.
	if win.lat != nil {
		smp.lat = packedQuantiler{win.lat}
	}
	if upstream != "" {
		smp.via = win.c.failedVia(upstream)
	}
	return smp
}

// judgeWindows judges g over the windows that start at or after Unix
// second from and end at or before Unix second upTo, and fills gr: the
// worst window's value, how many windows held data and failed, and the
// first that failed. A gate with no window holding data fails for that.
func (a *Accumulator) judgeWindows(g Gate, gr *GateResult, upTo, from int64) {
	var src []*series
	switch {
	case g.Step != "":
		for _, st := range a.stepOrder {
			if stepMatches(g.Step, st.key.journey, st.key.step) {
				src = append(src, &st.series)
			}
		}
		if len(src) == 0 {
			gr.settle(g, 0, "no step "+g.Step+" ran")
			return
		}
	default:
		src = []*series{&a.series}
	}
	start := a.start()
	runStart := float64(start.UnixNano()) / 1e9
	runEnd := float64(max(a.lastEnd.UnixNano(), a.lastDue.UnixNano())) / 1e9
	var worst float64
	judged := 0
	for _, win := range windowsOf(int64(g.Window.Seconds()), from, src...) {
		if win.key*win.width < from || (win.key+1)*win.width > upTo {
			continue
		}
		smp := win.sample(g.Upstream, runStart, runEnd)
		v, noData := smp.value(g)
		if noData != "" {
			continue
		}
		if judged == 0 || g.worse(v, worst) {
			worst = v
		}
		judged++
		if !g.Holds(v) {
			gr.WindowsFailed++
			if gr.FailedWindow == nil {
				gr.FailedWindow = &GateWindow{T: round(float64(win.key*win.width)-runStart, 1e3), Width: float64(win.width),
					Actual: v, Requests: smp.requests}
			}
		}
	}
	gr.Windows = judged
	if judged == 0 {
		gr.settle(g, 0, fmt.Sprintf("no %s window holds data for %s", formatDuration(g.Window), g.Metric))
		return
	}
	gr.Actual, gr.Pass = worst, gr.WindowsFailed == 0
}
