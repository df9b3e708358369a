package reports

import (
	"fmt"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Tally is everything an Accumulator holds except the latencies of its
// series, as plain data: a run's counters. With the run's interval latency
// histograms (one per step and due second, see AddStepLatencies) it
// rebuilds the Accumulator exactly, so a shard's merge inputs stay small
// whatever the run's length: the counters, the per-second series without
// their latencies, and the whole-run histograms (each step's latencies,
// send and queue times), which are small.
type Tally struct {
	Start    time.Time    `json:"start,omitzero"` // the run's configured start
	First    time.Time    `json:"first,omitzero"` // earliest intended time
	LastDue  time.Time    `json:"last_due,omitzero"`
	LastEnd  time.Time    `json:"last_end,omitzero"`
	Totals   Counts       `json:"totals"`
	Send     string       `json:"send_latency"` // HdrHistogram V2 compressed, base64, µs: from Sent
	Queue    string       `json:"queue"`        // same encoding: Sent - Intended
	Steps    []StepCounts `json:"steps"`
	Modes    []ModeTally  `json:"modes"`
	Series   SeriesTally  `json:"series"`
	InFlight int64        `json:"in_flight"` // the last in-flight gauge, -1 before any
}

// Counts are a run's or a step's counters (see Accumulator for what each
// means).
type Counts struct {
	Requests     int64  `json:"requests"`
	OK           int64  `json:"ok"`
	Dropped      int64  `json:"dropped"`
	Retries      int64  `json:"retries"`
	Sent         int64  `json:"sent"`
	Arrivals     int64  `json:"arrivals"`
	JourneysDone int64  `json:"journeys_done"`
	BytesIn      uint64 `json:"bytes_in"`
	BytesOut     uint64 `json:"bytes_out"`
}

// StepCounts are one step's counters.
type StepCounts struct {
	Journey string       `json:"journey"`
	Step    string       `json:"step"`
	First   time.Time    `json:"first,omitzero"` // earliest intended time: orders steps within a journey
	Counts  Counts       `json:"counts"`
	Latency string       `json:"latency"` // HdrHistogram V2 compressed, base64, µs: the step's latencies from Intended
	Modes   []ModeNumber `json:"modes,omitempty"`
	Series  SeriesTally  `json:"series"` // the step's own series, without latencies
}

// ModeKey identifies an error mode from one upstream.
type ModeKey struct {
	Kind     ErrorMode `json:"kind,omitempty"`   // a transport or generator mode; empty for an HTTP one
	Status   int       `json:"status,omitempty"` // HTTP status of an HTTP mode
	App      string    `json:"app,omitempty"`    // application error code of an HTTP mode
	Upstream string    `json:"upstream,omitempty"`
}

// ModeNumber is how many of a step's requests failed in one mode.
type ModeNumber struct {
	ModeKey
	Count int64 `json:"count"`
}

// ModeTally is one error mode over the run, with its onset.
type ModeTally struct {
	ModeKey
	Count   int64     `json:"count"`
	Onset   time.Time `json:"onset,omitzero"` // earliest intended time of a request failing this way
	Example string    `json:"example"`
	Message string    `json:"message,omitempty"`
	Journey string    `json:"journey,omitempty"` // of the onset request
	Step    string    `json:"step,omitempty"`
}

// SeriesTally is the time series without its latencies: point i covers
// Width seconds from (Base+i)*Width Unix seconds.
type SeriesTally struct {
	Width  int64         `json:"width_s"`
	Base   int64         `json:"base"`
	Points []PointCounts `json:"points"`
}

// PointCounts are one interval's counters (see SeriesPoint).
type PointCounts struct {
	Offered  int64 `json:"offered,omitempty"`
	Arrivals int64 `json:"arrivals,omitempty"`
	Dropped  int64 `json:"dropped,omitempty"`
	Retries  int64 `json:"retries,omitempty"`
	OK       int64 `json:"ok,omitempty"`
	Failed   int64 `json:"failed,omitempty"`
	Sent     int64 `json:"sent,omitempty"`
	Ended    int64 `json:"ended,omitempty"`
	Good     int64 `json:"good,omitempty"`
	InFlight int64 `json:"in_flight,omitempty"`
	// Via counts the failures by the upstream blamed (run series only).
	Via map[string]int64 `json:"via,omitempty"`
	// BusyNs is the nanoseconds of requests in flight within the interval
	// (SeriesPoint.Concurrency × width; run series only).
	BusyNs int64 `json:"busy_ns,omitempty"`
	// Modes are the failures due in the interval by error mode (run series only).
	Modes []PointMode `json:"modes,omitempty"`
}

// PointMode is how many of an interval's failures were of one error mode.
type PointMode struct {
	Mode  int   `json:"mode"` // index into Tally.Modes
	Count int64 `json:"count"`
}

// NewSeriesHistogram returns an empty histogram with the geometry of the
// latencies of the Accumulator's series, per step and per run: µs from
// 1 µs to 1 h, 2 significant digits.
func NewSeriesHistogram() *hdr.Histogram { return newHist(pointSigFigs) }

// HistogramValue returns the value r's latency enters the latency
// histograms with, in µs clamped to their range, and false when r enters
// none (a dropped arrival is counted, not timed).
func HistogramValue(r *Result) (us int64, timed bool) {
	if r.Dropped {
		return 0, false
	}
	return micros(r.Latency), true
}

// maxSeriesSec bounds a restored series' Unix seconds (some 35,000 years).
const maxSeriesSec = 1 << 40

// Tally returns a's content without its latency histograms.
func (a *Accumulator) Tally() *Tally {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.series.flushAll()
	t := &Tally{
		Start: a.cfg.start, First: a.first, LastDue: a.lastDue, LastEnd: a.lastEnd,
		Totals:   exportCounts(&a.total),
		Send:     encodeHist(a.send),
		Queue:    encodeHist(a.queue),
		Steps:    make([]StepCounts, 0, len(a.stepOrder)),
		Modes:    make([]ModeTally, 0, len(a.modeOrder)),
		Series:   exportSeries(&a.series),
		InFlight: a.inFlight,
	}
	for _, st := range a.stepOrder {
		sc := StepCounts{Journey: st.key.journey, Step: st.key.step, First: st.first, Counts: exportCounts(&st.counts),
			Latency: encodeHist(st.latency), Series: exportSeries(&st.series)}
		for k, n := range st.modes {
			sc.Modes = append(sc.Modes, ModeNumber{exportKey(k), n})
		}
		sortModeNumbers(sc.Modes)
		t.Steps = append(t.Steps, sc)
	}
	for _, mt := range a.modeOrder {
		t.Modes = append(t.Modes, ModeTally{ModeKey: exportKey(mt.key), Count: mt.count, Onset: mt.onset,
			Example: mt.example, Message: mt.message, Journey: mt.step.journey, Step: mt.step.step})
	}
	return t
}

// exportSeries is s without its latencies.
func exportSeries(s *series) SeriesTally {
	t := SeriesTally{Width: s.width, Base: s.base, Points: make([]PointCounts, len(s.points))}
	for i := range s.points {
		p := &s.points[i]
		t.Points[i] = PointCounts{Offered: p.offered, Arrivals: p.arrivals, Dropped: p.dropped, Retries: p.retries, OK: p.ok,
			Failed: p.failed, Sent: p.sent, Ended: p.ended, Good: p.good, InFlight: p.inFlight, BusyNs: p.busy}
		for _, m := range p.modes {
			t.Points[i].Modes = append(t.Points[i].Modes, PointMode{Mode: int(m.idx), Count: m.n})
		}
		for _, v := range p.via {
			if t.Points[i].Via == nil {
				t.Points[i].Via = map[string]int64{}
			}
			t.Points[i].Via[v.upstream] += v.n
		}
	}
	return t
}

// importSeries restores a series exported by exportSeries into s; its
// points' modes index the run's modes, of which there are modes.
func importSeries(s *series, t *SeriesTally, maxPoints, modes int, field string) error {
	w := t.Width
	if len(t.Points) == 0 {
		return nil
	}
	if w < 1 || w&(w-1) != 0 {
		return fmt.Errorf("%s: width %d s is not a power of two", field, w)
	}
	if b := t.Base; b < -maxSeriesSec/w || b > maxSeriesSec/w {
		return fmt.Errorf("%s: base %d is not a time", field, b)
	}
	if len(t.Points) > maxPoints {
		return fmt.Errorf("%s: %d points, more than the %d an accumulator keeps", field, len(t.Points), maxPoints)
	}
	s.width, s.base = w, t.Base
	s.points = make([]point, len(t.Points))
	for i, p := range t.Points {
		s.points[i] = point{offered: p.Offered, arrivals: p.Arrivals, dropped: p.Dropped, retries: p.Retries,
			ok: p.OK, failed: p.Failed, sent: p.Sent, ended: p.Ended, good: p.Good, inFlight: p.InFlight, busy: p.BusyNs}
		for _, m := range p.Modes {
			if m.Mode < 0 || m.Mode >= modes {
				return fmt.Errorf("%s: points[%d]: mode %d is not among the run's %d modes", field, i, m.Mode, modes)
			}
			s.points[i].addMode(int32(m.Mode), m.Count)
		}
		names := make([]string, 0, len(p.Via))
		for name := range p.Via {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			s.points[i].addVia(name, p.Via[name])
		}
	}
	return nil
}

// RestoreAccumulator rebuilds the Accumulator t was taken from, without
// the latencies of its series: add every interval histogram of the run
// with AddStepLatencies, then call CompleteLatencies. opts apply as to NewAccumulator (WithStart
// is taken from t).
func RestoreAccumulator(t *Tally, opts ...Option) (*Accumulator, error) {
	a := NewAccumulator(opts...)
	a.cfg.start, a.first, a.lastDue, a.lastEnd, a.inFlight = t.Start, t.First, t.LastDue, t.LastEnd, t.InFlight
	a.total = importCounts(&t.Totals)
	var err error
	if a.send, err = decodeHist(t.Send, "send_latency"); err != nil {
		return nil, err
	}
	if a.queue, err = decodeHist(t.Queue, "queue"); err != nil {
		return nil, err
	}
	for i := range t.Modes {
		m := &t.Modes[i]
		k := importKey(m.ModeKey)
		if a.modes[k] != nil {
			return nil, fmt.Errorf("modes[%d]: mode %q from %q appears twice", i, k.mode(), k.upstream)
		}
		mt := &modeTally{key: k, mode: k.mode(), count: m.Count, onset: m.Onset, example: m.Example,
			message: m.Message, step: stepKey{m.Journey, m.Step}, idx: int32(i)}
		a.modes[k] = mt
		a.modeOrder = append(a.modeOrder, mt)
	}
	for i := range t.Steps {
		s := &t.Steps[i]
		k := stepKey{s.Journey, s.Step}
		if a.steps[k] != nil {
			return nil, fmt.Errorf("steps[%d]: step %q appears twice", i, stepName(k))
		}
		st := newStepTally(k, a.cfg.maxPoints)
		st.first, st.counts = s.First, importCounts(&s.Counts)
		field := fmt.Sprintf("steps[%d]", i)
		if st.latency, err = decodeHist(s.Latency, field+".latency"); err != nil {
			return nil, err
		}
		if n, want := st.latency.TotalCount(), st.counts.requests-st.counts.dropped; n != want {
			return nil, fmt.Errorf("%s: %d latencies for %d requests sent", field, n, want)
		}
		a.latency.Merge(st.latency)
		if err := importSeries(&st.series, &s.Series, a.cfg.maxPoints, 0, field+".series"); err != nil {
			return nil, err
		}
		for _, m := range s.Modes {
			mk := importKey(m.ModeKey)
			if a.modes[mk] == nil {
				return nil, fmt.Errorf("steps[%d]: mode %q from %q is not among the run's modes", i, mk.mode(), mk.upstream)
			}
			st.modes[mk] += m.Count
		}
		a.steps[k] = st
		a.stepOrder = append(a.stepOrder, st)
	}
	if err := importSeries(&a.series, &t.Series, a.cfg.maxPoints, len(a.modeOrder), "series"); err != nil {
		return nil, err
	}
	for _, p := range t.Series.Points {
		for name, n := range p.Via {
			if up := a.upstream(name); up != nil {
				up.failed += n
			}
		}
	}
	return a, nil
}

// Bucket is one bucket of a latency histogram: the lowest value it holds
// (µs) and how many latencies it counts.
type Bucket struct {
	Value, Count int64
}

// AddStepLatencies adds to a restored accumulator the latencies of one
// step's requests due in Unix second dueSec, as the ascending buckets of
// one or more histograms of the geometry of NewSeriesHistogram (the
// entries of the shards of a run for that step and second, say): to the
// step's series, exactly as recording them one by one would have; the
// run's series follows from the steps' in CompleteLatencies. It reports an
// error for a step the tally does not know, so latencies never land where
// no counter accounts for them.
func (a *Accumulator) AddStepLatencies(journey, step string, dueSec int64, hists ...[]Bucket) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := stepKey{journey, step}
	st := a.steps[k]
	switch {
	case st == nil:
		return fmt.Errorf("latencies of step %q, which the counters do not have", stepName(k))
	case dueSec < -maxSeriesSec || dueSec > maxSeriesSec:
		return fmt.Errorf("latencies of second %d: not a time", dueSec)
	}
	if a.restoring == nil {
		a.restoring = newHist(pointSigFigs)
	}
	sum := a.restoring
	sum.Reset()
	for _, buckets := range hists {
		for _, b := range buckets {
			if sum.RecordValues(b.Value, b.Count) != nil {
				return fmt.Errorf("latencies of %q: %d values of %d µs out of range", stepName(k), b.Count, b.Value)
			}
		}
	}
	if sum.TotalCount() > 0 {
		st.series.packedAt(dueSec).MergeFrom(sum)
	}
	return nil
}

func exportCounts(c *counts) Counts {
	return Counts{c.requests, c.ok, c.dropped, c.retries, c.sent, c.arrivals, c.journeysDone, c.bytesIn, c.bytesOut}
}

func importCounts(c *Counts) counts {
	return counts{c.Requests, c.OK, c.Dropped, c.Retries, c.Sent, c.Arrivals, c.JourneysDone, c.BytesIn, c.BytesOut}
}

func exportKey(k modeKey) ModeKey { return ModeKey{k.kind, k.code, k.app, k.upstream} }
func importKey(k ModeKey) modeKey { return modeKey{k.Kind, k.Status, k.App, k.Upstream} }

func sortModeNumbers(m []ModeNumber) {
	less := func(a, b ModeNumber) bool {
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		if a.App != b.App {
			return a.App < b.App
		}
		return a.Upstream < b.Upstream
	}
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && less(m[j], m[j-1]); j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

func encodeHist(h *hdr.Histogram) string {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		panic(err) // encoding into memory fails only on a broken histogram
	}
	return string(b)
}

func decodeHist(s, field string) (*hdr.Histogram, error) {
	h := newHist(histSigFigs)
	if s == "" {
		return h, nil
	}
	d, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if d.SignificantFigures() != histSigFigs || d.LowestTrackableValue() != histLowestUs {
		return nil, fmt.Errorf("%s: histogram of %d significant figures from %d, want %d from %d",
			field, d.SignificantFigures(), d.LowestTrackableValue(), histSigFigs, histLowestUs)
	}
	if dropped := h.Merge(d); dropped > 0 {
		return nil, fmt.Errorf("%s: %d values out of range", field, dropped)
	}
	return h, nil
}

// CompleteLatencies ends a restore (RestoreAccumulator, then
// AddStepLatencies for every interval of the run): it sets the latencies
// of the run's series from its steps', and reports the first second of a
// step's series, or of the run's, whose latencies are not exactly one per
// request sent: a sign that the latencies and the counters are not of the
// same run, or that one of them was cut short.
func (a *Accumulator) CompleteLatencies() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.stepOrder {
		if err := st.series.checkLatencies(); err != nil {
			return fmt.Errorf("step %q: %w", stepName(st.key), err)
		}
	}
	if err := a.series.sumLatencies(a.stepOrder, a.restoring); err != nil {
		return err
	}
	a.restoring = nil
	return a.series.checkLatencies()
}
