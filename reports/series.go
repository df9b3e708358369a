package reports

import (
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram geometry. Values are recorded in microseconds, from
// 1 µs to 1 h; longer latencies are recorded as 1 h.
const (
	histLowestUs  = 1
	histHighestUs = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3 // run and step histograms: 0.1% precision
	pointSigFigs  = 2 // per-second histograms: 1% precision, 1/7 the memory
)

func newHist(sigFigs int) *hdr.Histogram { return hdr.New(histLowestUs, histHighestUs, sigFigs) }

// micros converts d to the histogram's unit, clamped to its range.
func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	switch {
	case us < 0:
		return 0
	case us > histHighestUs:
		return histHighestUs
	}
	return us
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// floorMod is the non-negative remainder of a by b (b > 0).
func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// point is one interval of the series. Counters say which clock they are
// keyed by: the request's intended time ("due"), when it was sent, or when
// it ended.
type point struct {
	offered  int64 // due: requests, dropped included
	arrivals int64 // due: journey arrivals
	dropped  int64 // due
	retries  int64 // due
	ok       int64 // due: outcome of the requests due here
	failed   int64 // due: failed or dropped
	sent     int64 // sent
	ended    int64 // end: requests that ended (not dropped)
	good     int64 // end: successful requests that ended here
	inFlight int64 // the largest in-flight gauge observed (ObserveInFlight)
	lat      *hdr.PackedHistogram
	via      []viaCount  // due: failures by the upstream blamed (X-Upstream), run series only
	busy     int64       // due to end: nanoseconds of requests in flight within the interval, run series only
	modes    []pointMode // due: failures by error mode, run series only
}

// pointMode counts the failures of one error mode (the index of its tally
// in the accumulator's modeOrder) due in a point.
type pointMode struct {
	idx int32
	n   int64
}

// addMode counts n failures of mode idx.
func (p *point) addMode(idx int32, n int64) {
	for i := range p.modes {
		if p.modes[i].idx == idx {
			p.modes[i].n += n
			return
		}
	}
	p.modes = append(p.modes, pointMode{idx, n})
}

// viaCount is how many of a point's failures blamed one upstream.
type viaCount struct {
	upstream string
	n        int64
}

// addVia counts n failures blamed on upstream.
func (p *point) addVia(upstream string, n int64) {
	for i := range p.via {
		if p.via[i].upstream == upstream {
			p.via[i].n += n
			return
		}
	}
	p.via = append(p.via, viaCount{upstream, n})
}

// failedVia is how many of the point's failures blamed upstream.
func (p *point) failedVia(upstream string) int64 {
	for _, v := range p.via {
		if v.upstream == upstream {
			return v.n
		}
	}
	return 0
}

// empty reports whether nothing was recorded in p.
func (p *point) empty() bool {
	return p.offered == 0 && p.sent == 0 && p.ended == 0 && p.inFlight == 0 && p.lat == nil && len(p.via) == 0 &&
		p.busy == 0 && len(p.modes) == 0
}

// merge adds o to p; remap translates o's mode indexes into p's (nil when
// they share them).
func (p *point) merge(o *point, remap []int32) {
	p.offered += o.offered
	p.arrivals += o.arrivals
	p.dropped += o.dropped
	p.retries += o.retries
	p.ok += o.ok
	p.failed += o.failed
	p.sent += o.sent
	p.ended += o.ended
	p.good += o.good
	p.inFlight = max(p.inFlight, o.inFlight)
	for _, v := range o.via {
		p.addVia(v.upstream, v.n)
	}
	p.busy += o.busy
	for _, m := range o.modes {
		idx := m.idx
		if remap != nil {
			idx = remap[idx]
		}
		p.addMode(idx, m.n)
	}
	if o.lat != nil && o.lat.TotalCount() > 0 {
		if p.lat == nil {
			p.lat = o.lat.Clone()
		} else {
			p.lat.Merge(o.lat)
		}
	}
}

// openSlots is how many due seconds keep a dense histogram before their
// latencies are packed: results arrive in completion order, up to the
// slowest latency after their due second.
const openSlots = 32

type openSlot struct {
	sec   int64
	valid bool
	h     *hdr.Histogram
}

// series is the run cut into intervals of width seconds, aligned to Unix
// time so shards' series line up. When it would exceed max points, pairs of
// intervals merge and the width doubles: memory stays bounded whatever the
// run length, and everything in it (counters, packed histograms) merges
// exactly.
type series struct {
	width  int64 // seconds per point, a power of two
	base   int64 // index of points[0]: its start is base*width Unix seconds
	points []point
	max    int
	open   [openSlots]openSlot
	packed bool // record latencies straight into the points' packed histograms: no open slots (per-step series)
}

// addDue counts a request due in Unix second sec by its outcome, and
// returns its point (valid until the next call).
func (s *series) addDue(sec int64, c *counts, ok bool) *point {
	p := s.at(sec)
	p.offered++
	p.arrivals += c.arrivals
	p.dropped += c.dropped
	p.retries += c.retries
	if ok {
		p.ok++
	} else {
		p.failed++
	}
	return p
}

// addEnd counts a sent request that ended in Unix second sec.
func (s *series) addEnd(sec int64, good int64) {
	p := s.at(sec)
	p.ended++
	p.good += good
}

// at returns the point holding Unix second sec, growing or coarsening the
// series as needed. The pointer is valid until the next call.
func (s *series) at(sec int64) *point {
	idx := floorDiv(sec, s.width)
	if len(s.points) == 0 {
		s.base = idx
		s.points = append(s.points, point{})
		return &s.points[0]
	}
	for {
		lo, hi := min(s.base, idx), max(s.base+int64(len(s.points))-1, idx)
		if hi-lo+1 <= int64(s.max) {
			break
		}
		s.coarsen()
		idx = floorDiv(sec, s.width)
	}
	if idx < s.base {
		n := s.base - idx
		grown := make([]point, int64(len(s.points))+n, int64(cap(s.points))+n)
		copy(grown[n:], s.points)
		s.points, s.base = grown, idx
	}
	for idx >= s.base+int64(len(s.points)) {
		s.points = append(s.points, point{})
	}
	return &s.points[idx-s.base]
}

// coarsen doubles the width, merging pairs of points.
func (s *series) coarsen() {
	newBase := floorDiv(s.base, 2)
	last := floorDiv(s.base+int64(len(s.points))-1, 2)
	merged := make([]point, last-newBase+1)
	for i := range s.points {
		merged[floorDiv(s.base+int64(i), 2)-newBase].merge(&s.points[i], nil)
	}
	s.points, s.base, s.width = merged, newBase, s.width*2
}

// recordLatency records a latency (µs) of a request due in Unix second sec.
func (s *series) recordLatency(sec, us int64) {
	if h := s.openSlot(sec); h != nil {
		_ = h.RecordValue(us)
		return
	}
	_ = s.packedAt(sec).RecordValue(us)
}

// sumLatencies adds the latencies of the steps' series to s, point by
// point: each of its points' share of the steps' points summed in the
// dense scratch (of the points' geometry; nil for a new one) and packed
// once. s must be at least as coarse as each step's series and span them.
func (s *series) sumLatencies(steps []*stepTally, scratch *hdr.Histogram) error {
	if scratch == nil {
		scratch = newHist(pointSigFigs)
	}
	s.flushAll()
	next := make([]int, len(steps)) // each step's first point not yet added
	for _, st := range steps {
		ss := &st.series
		if len(ss.points) == 0 {
			continue
		}
		first, last := ss.base*ss.width, (ss.base+int64(len(ss.points)))*ss.width-1
		if ss.width > s.width || len(s.points) == 0 || first < s.base*s.width || last >= (s.base+int64(len(s.points)))*s.width {
			return fmt.Errorf("step %q has a series (%d s wide, seconds %d to %d) the run's does not hold", stepName(st.key), ss.width, first, last)
		}
	}
	for i := range s.points {
		end := (s.base + int64(i) + 1) * s.width // first second past the point
		scratch.Reset()
		for j, st := range steps {
			ss := &st.series
			for ; next[j] < len(ss.points) && (ss.base+int64(next[j]))*ss.width < end; next[j]++ {
				if lat := ss.points[next[j]].lat; lat != nil {
					lat.MergeInto(scratch)
				}
			}
		}
		if scratch.TotalCount() > 0 {
			s.packedAt((s.base + int64(i)) * s.width).MergeFrom(scratch)
		}
	}
	return nil
}

// openSlot returns the dense histogram open for second sec, opening it
// (and packing the second it held) as needed; nil when sec's latencies go
// straight into its point: in a packed series, or for a second earlier
// than every open one.
func (s *series) openSlot(sec int64) *hdr.Histogram {
	if s.packed {
		return nil
	}
	slot := &s.open[floorMod(sec, openSlots)]
	switch {
	case slot.valid && slot.sec == sec:
	case !slot.valid || slot.sec < sec:
		s.flush(slot)
		if slot.h == nil {
			slot.h = newHist(pointSigFigs)
		}
		slot.sec, slot.valid = sec, true
	default:
		return nil
	}
	return slot.h
}

// packedAt returns the packed histogram of the point holding second sec.
func (s *series) packedAt(sec int64) *hdr.PackedHistogram {
	p := s.at(sec)
	if p.lat == nil {
		p.lat = hdr.NewPacked(histLowestUs, histHighestUs, pointSigFigs)
	}
	return p.lat
}

// flush moves an open slot's histogram into its point.
func (s *series) flush(slot *openSlot) {
	if !slot.valid {
		return
	}
	slot.valid = false
	if slot.h.TotalCount() == 0 {
		return
	}
	s.packedAt(slot.sec).MergeFrom(slot.h)
	slot.h.Reset()
}

// flushAll packs every open slot, so the points alone hold all latencies.
func (s *series) flushAll() {
	for i := range s.open {
		s.flush(&s.open[i])
	}
}

// checkLatencies reports the first point (flushed) whose latencies are
// not exactly one per request sent.
func (s *series) checkLatencies() error {
	for i := range s.points {
		p := &s.points[i]
		var n int64
		if p.lat != nil {
			n = p.lat.TotalCount()
		}
		if want := p.offered - p.dropped; n != want {
			return fmt.Errorf("second %d has %d latencies for %d requests sent", (s.base+int64(i))*s.width, n, want)
		}
	}
	return nil
}

// mergeFrom adds o's points to s, translating o's mode indexes through
// remap (nil when they share them). Both must be flushed.
func (s *series) mergeFrom(o *series, remap []int32) {
	for i := range o.points {
		p := &o.points[i]
		if p.empty() {
			continue
		}
		startSec := (o.base + int64(i)) * o.width
		// o's point covers [startSec, startSec+o.width): make s at least as
		// coarse so it fits in one of s's points.
		for s.width < o.width {
			s.coarsen()
		}
		s.at(startSec).merge(p, remap)
	}
}

// SeriesPoint is one interval of a run's time series (one second until a
// long run makes the series coarser). Counts are keyed by the clock that
// gives them meaning: Offered, Arrivals, OK, Failed, Dropped, Retries and
// Latency by when the requests were due; Sent by when they were sent; Ended
// and Goodput by when they ended. So a saturated second shows its offered
// load, its goodput, and the latency the load due in it suffered.
type SeriesPoint struct {
	T        float64   `json:"t_s"`     // start of the interval, seconds from the run's start (negative for an interval that began before it)
	Width    float64   `json:"width_s"` // seconds
	Offered  int64     `json:"offered"` // requests due, dropped included
	Arrivals int64     `json:"arrivals"`
	Sent     int64     `json:"sent"`
	Ended    int64     `json:"ended"`   // requests that ended (dropped excluded)
	Goodput  int64     `json:"goodput"` // successful requests that ended
	OK       int64     `json:"ok"`
	Failed   int64     `json:"failed"` // dropped included
	Dropped  int64     `json:"dropped"`
	Retries  int64     `json:"retries"`
	InFlight int64     `json:"in_flight,omitempty"` // largest gauge observed, when the engine reports one
	Latency  LatencyMs `json:"latency_ms"`          // of the sent requests due in the interval, 1% precision

	// Concurrency is the mean number of requests in flight over the
	// interval, each counted from its intended time to its end: what
	// Little's law relates to throughput and latency. Unlike InFlight it
	// is measured from the results, so a report rebuilt from a results
	// file has it too.
	Concurrency float64 `json:"concurrency"`
	// Errors are the failed requests due in the interval by error mode,
	// most frequent first; Share is of the interval's requests.
	Errors []ModeCount `json:"errors,omitempty"`
}

// MaxStepSeriesPoints bounds each step's series in a summary: past it
// the exported copy is coarsened (width doubled, pairs merged) until it
// fits, so a real-scale simulated day's summary.json stays a few MB
// instead of a hundred. The in-memory series, which windowed step gates
// judge, keeps its own resolution.
const MaxStepSeriesPoints = 1024

// exportAtMost exports a copy of the series coarsened to at most n points.
// Coarsening builds new points (histograms are cloned), so s is untouched.
func (s *series) exportAtMost(start time.Time, n int) []SeriesPoint {
	c := *s
	for len(c.points) > n {
		c.coarsen()
	}
	return c.export(start, nil)
}

// export renders the (flushed) series relative to start; mode names a
// mode index (nil for a series that counts no modes).
func (s *series) export(start time.Time, mode func(idx int32) (ErrorMode, string)) []SeriesPoint {
	out := make([]SeriesPoint, 0, len(s.points))
	for i := range s.points {
		p := &s.points[i]
		at := time.Unix((s.base+int64(i))*s.width, 0)
		sp := SeriesPoint{
			T:        round(at.Sub(start).Seconds(), 1e3),
			Width:    float64(s.width),
			Offered:  p.offered,
			Arrivals: p.arrivals,
			Sent:     p.sent,
			Ended:    p.ended,
			Goodput:  p.good,
			OK:       p.ok,
			Failed:   p.failed,
			Dropped:  p.dropped,
			Retries:  p.retries,
			InFlight: p.inFlight,

			Concurrency: round(float64(p.busy)/(float64(s.width)*1e9), 1e3),
		}
		if p.lat != nil {
			sp.Latency = packedLatency(p.lat)
		}
		if mode != nil {
			for _, m := range p.modes {
				md, up := mode(m.idx)
				sp.Errors = append(sp.Errors, ModeCount{Mode: md, Upstream: up, Count: m.n, Share: ratio(m.n, p.offered)})
			}
			sortModeCounts(sp.Errors)
		}
		out = append(out, sp)
	}
	return out
}

// addBusy spreads a request's time in flight, from Unix nanosecond due to
// end, over the points it spans. Like the histograms it counts at most an
// hour of one request.
func (s *series) addBusy(due, end int64) {
	const sec = int64(time.Second)
	end = min(end, due+histHighestUs*1e3)
	for t := due; t < end; {
		secStart := floorDiv(t, sec)
		next := min((secStart+1)*sec, end)
		s.at(secStart).busy += next - t
		t = next
	}
}

// offeredRate returns the rate of requests due around Unix second sec: the
// points overlapping the five seconds centred on it, over the part of that
// span inside the run [start, end] (end is the last due time).
func (s *series) offeredRate(sec int64, start, end time.Time) float64 {
	if len(s.points) == 0 {
		return 0
	}
	lo := floorDiv(sec-2, s.width)
	hi := floorDiv(sec+2, s.width)
	lo, hi = max(lo, s.base), min(hi, s.base+int64(len(s.points))-1)
	if lo > hi {
		return 0
	}
	var n int64
	for i := lo; i <= hi; i++ {
		n += s.points[i-s.base].offered
	}
	from := time.Unix(lo*s.width, 0)
	to := time.Unix((hi+1)*s.width, 0)
	if start.After(from) {
		from = start
	}
	if end.Before(to) {
		to = end
	}
	// A sliver of a second at either end of the run would inflate the rate:
	// count at least a second, unless the whole run is shorter.
	span := max(to.Sub(from), min(time.Second, end.Sub(start)))
	return rate(n, span)
}
