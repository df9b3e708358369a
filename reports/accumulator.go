package reports

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Accumulator consumes a run's results one at a time and keeps what the
// reports need, in memory bounded whatever the length of the run: HDR
// histograms (1 µs to 1 h, 3 significant digits) of the whole run and of
// each step, a time series that coarsens instead of growing past its
// maximum number of points, and counts by error mode (at most a maximum
// number of modes; the rest count as "other").
//
// Definitions used throughout:
//
//   - A request is one Result, dropped arrivals included: a dropped arrival
//     is a request that was due and never sent.
//   - Offered requests are all requests; the offered rate is their number
//     over the span of their intended times (vegeta's "rate").
//   - A journey arrival is a Result with Arrival set.
//   - A request succeeds when it was sent, got a response, had no transport
//     error and OK is set; success ratio is successes over all requests.
//   - A retry is a request with Attempt > 1 (polls are not retries).
//   - Latency is measured from the intended time and covers every request
//     that was sent, failed ones included; dropped arrivals never got a
//     response and are counted, not timed.
//
// Add is meant for one goroutine (the one draining the engine's results);
// Snapshot, Summary and ObserveInFlight may be called from others at the
// same time. The zero value is not usable: call NewAccumulator.
type Accumulator struct {
	mu sync.Mutex

	cfg       config
	first     time.Time // earliest intended time
	lastDue   time.Time // latest intended time
	lastEnd   time.Time // latest end (intended + latency)
	total     counts
	latency   *hdr.Histogram // from Intended, sent requests
	send      *hdr.Histogram // from Sent, sent requests
	queue     *hdr.Histogram // Sent - Intended: waiting inside the generator
	steps     map[stepKey]*stepTally
	stepOrder []*stepTally
	modes     map[modeKey]*modeTally
	modeOrder []*modeTally
	series    series
	upstreams map[string]*upstreamTally // failures by the upstream the target blamed, at most cfg.maxModes
	live      liveRing
	inFlight  int64          // last gauge from ObserveInFlight, -1 before any
	restoring *hdr.Histogram // AddStepLatencies' sum of one step's second, until CompleteLatencies
}

// counts are a run's or a step's counters.
type counts struct {
	requests, ok, dropped, retries, sent, arrivals, journeysDone int64
	bytesIn, bytesOut                                            uint64
}

func (c *counts) merge(o *counts) {
	c.requests += o.requests
	c.ok += o.ok
	c.dropped += o.dropped
	c.retries += o.retries
	c.sent += o.sent
	c.arrivals += o.arrivals
	c.journeysDone += o.journeysDone
	c.bytesIn += o.bytesIn
	c.bytesOut += o.bytesOut
}

type stepKey struct{ journey, step string }

type stepTally struct {
	key     stepKey
	first   time.Time // earliest intended time: orders steps within a journey
	counts  counts
	latency *hdr.Histogram
	modes   map[modeKey]int64
	series  series // the step's own series: windowed gates on a step, per-step samples for compare
}

func newStepTally(k stepKey, maxPoints int) *stepTally {
	return &stepTally{key: k, latency: newHist(histSigFigs), modes: make(map[modeKey]int64),
		series: series{width: 1, max: maxPoints, packed: true}}
}

// upstreamTally counts the failed requests the target blamed on one
// upstream (X-Upstream); the series' points count them by due second.
type upstreamTally struct {
	name   string
	failed int64
}

type modeTally struct {
	key     modeKey
	mode    ErrorMode
	count   int64
	onset   time.Time // earliest intended time of a request failing this way
	example string    // from the onset request
	message string    // the onset request's user-facing message
	step    stepKey   // of the onset request
	idx     int32     // position in modeOrder, which the series' points refer to
}

type config struct {
	start     time.Time
	maxPoints int
	window    time.Duration
	maxModes  int
}

// DefaultMaxErrorModes is how many distinct (mode, upstream) pairs an
// Accumulator keeps before new ones count as ModeOther. Sinks that count by
// mode (metrics) fold the same way, so their counts agree with the summary.
const DefaultMaxErrorModes = 64

// Option configures an Accumulator.
type Option func(*config)

// WithStart sets the run's start. Without it the start is the earliest
// intended time seen. Engines know it; set it so the first second counts
// from the real start.
func WithStart(t time.Time) Option { return func(c *config) { c.start = t } }

// WithMaxSeriesPoints bounds the time series (default 16384, 4.5 hours at
// one point a second; at least 16). Past it, intervals double in width.
func WithMaxSeriesPoints(n int) Option { return func(c *config) { c.maxPoints = max(n, 16) } }

// WithLiveWindow sets the span Snapshot's rates and p99 cover, in whole
// seconds from 1 s to 15 s (default 5 s).
func WithLiveWindow(d time.Duration) Option {
	return func(c *config) { c.window = min(max(d.Truncate(time.Second), time.Second), (liveSlots-1)*time.Second) }
}

// WithMaxErrorModes bounds the number of distinct (mode, upstream) pairs
// kept (default DefaultMaxErrorModes); later new pairs count as ModeOther.
func WithMaxErrorModes(n int) Option { return func(c *config) { c.maxModes = max(n, 1) } }

// NewAccumulator returns an empty Accumulator.
func NewAccumulator(opts ...Option) *Accumulator {
	cfg := config{maxPoints: 16384, window: 5 * time.Second, maxModes: DefaultMaxErrorModes}
	for _, o := range opts {
		o(&cfg)
	}
	a := &Accumulator{
		cfg:       cfg,
		latency:   newHist(histSigFigs),
		send:      newHist(histSigFigs),
		queue:     newHist(histSigFigs),
		steps:     make(map[stepKey]*stepTally),
		upstreams: make(map[string]*upstreamTally),
		modes:     make(map[modeKey]*modeTally),
		inFlight:  -1,
	}
	a.series = series{width: 1, max: cfg.maxPoints}
	return a
}

// Add accounts for one result. It does not keep r.
func (a *Accumulator) Add(r *Result) {
	a.mu.Lock()
	a.add(r)
	a.mu.Unlock()
}

func (a *Accumulator) add(r *Result) {
	k := classifyKey(r)
	ok := k == (modeKey{})
	us, sent := HistogramValue(r)

	var c counts
	c.requests = 1
	if ok {
		c.ok = 1
	}
	if r.Dropped {
		c.dropped = 1
	}
	if r.Attempt > 1 {
		c.retries = 1
	}
	if !r.Sent.IsZero() && sent {
		c.sent = 1
	}
	if r.Arrival {
		c.arrivals = 1
	}
	if r.JourneyDone && ok {
		c.journeysDone = 1
	}
	c.bytesIn, c.bytesOut = r.BytesIn, r.BytesOut
	a.total.merge(&c)

	if sent {
		_ = a.latency.RecordValue(us)
		if c.sent == 1 {
			_ = a.send.RecordValue(micros(r.SendLatency))
			if !r.Intended.IsZero() {
				_ = a.queue.RecordValue(micros(r.Sent.Sub(r.Intended)))
			}
		}
	}

	sk := stepKey{r.Journey, r.Step}
	st := a.steps[sk]
	if st == nil {
		st = newStepTally(sk, a.cfg.maxPoints)
		a.steps[sk] = st
		a.stepOrder = append(a.stepOrder, st)
	}
	st.counts.merge(&c)
	if sent {
		_ = st.latency.RecordValue(us)
	}
	if !r.Intended.IsZero() && (st.first.IsZero() || r.Intended.Before(st.first)) {
		st.first = r.Intended
	}

	var modeIdx int32 // the failure's mode, for the series
	if !ok {
		mt := a.modes[k]
		if mt == nil {
			if len(a.modes) >= a.cfg.maxModes {
				k = modeKey{kind: ModeOther}
				mt = a.modes[k]
			}
			if mt == nil {
				mt = &modeTally{key: k, mode: k.mode(), idx: int32(len(a.modeOrder))}
				a.modes[k] = mt
				a.modeOrder = append(a.modeOrder, mt)
			}
		}
		mt.count++
		if mt.count == 1 || (!r.Intended.IsZero() && (mt.onset.IsZero() || r.Intended.Before(mt.onset))) {
			mt.onset, mt.example, mt.message, mt.step = r.Intended, exampleOf(r), printableClip(r.Message, maxExampleBytes), sk
		}
		st.modes[k]++
		modeIdx = mt.idx
	}

	if r.Intended.IsZero() {
		return // untimed: counted, but nowhere in time
	}
	due, end := r.Intended, r.End()
	if a.first.IsZero() || due.Before(a.first) {
		a.first = due
	}
	if due.After(a.lastDue) {
		a.lastDue = due
	}
	if end.After(a.lastEnd) {
		a.lastEnd = end
	}

	dueSec, endSec := due.Unix(), end.Unix()
	p := a.series.addDue(dueSec, &c, ok)
	if !ok {
		p.addMode(modeIdx, 1)
	}
	if up := a.upstream(r.Upstream); up != nil && !ok {
		up.failed++
		p.addVia(up.name, 1)
	}
	st.series.addDue(dueSec, &c, ok)
	if sent {
		a.series.addEnd(endSec, c.ok)
		a.series.recordLatency(dueSec, us)
		a.series.addBusy(due.UnixNano(), end.UnixNano())
		st.series.addEnd(endSec, c.ok)
		st.series.recordLatency(dueSec, us)
	}
	if c.sent == 1 {
		a.series.at(r.Sent.Unix()).sent++
		st.series.at(r.Sent.Unix()).sent++
	}
	a.live.add(dueSec, endSec, sent, ok, us)
}

// upstream returns the tally of the named upstream, creating it while
// fewer than the error-mode bound exist; nil for "" or past the bound.
func (a *Accumulator) upstream(name string) *upstreamTally {
	if name == "" {
		return nil
	}
	up := a.upstreams[name]
	if up == nil && len(a.upstreams) < a.cfg.maxModes {
		up = &upstreamTally{name: strings.Clone(name)}
		a.upstreams[up.name] = up
	}
	return up
}

// maxExampleBytes bounds an error mode's example text.
const maxExampleBytes = 200

// exampleOf describes a failed request for a human: the message the user
// saw, else the transport error, else the request.
func exampleOf(r *Result) string {
	s := r.Message
	if s == "" {
		s = r.Error
	}
	if s == "" && r.Dropped {
		s = DroppedError
	}
	if s == "" {
		s = r.Method + " " + r.URL
	}
	return printableClip(s, maxExampleBytes)
}

// ObserveInFlight records the engine's in-flight gauge at time at: the
// number of requests sent and not yet answered (plus arrivals waiting for
// a slot, if the engine counts them). Snapshot shows the last value; the
// series keeps each interval's largest.
func (a *Accumulator) ObserveInFlight(at time.Time, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight = n
	if !at.IsZero() {
		p := a.series.at(at.Unix())
		p.inFlight = max(p.inFlight, n)
	}
}

// Merge adds everything other accumulated to a, exactly: counters add up,
// histograms merge bucket by bucket, series line up on Unix seconds, and
// each error mode keeps its earliest onset. Use it to combine shards of
// one run. other is left as it was in content, but must not be in use, nor
// merging a into itself at the same time.
func (a *Accumulator) Merge(other *Accumulator) error {
	switch other {
	case nil:
		return errors.New("merge: nil accumulator")
	case a:
		return errors.New("merge: an accumulator into itself")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	other.mu.Lock()
	defer other.mu.Unlock()

	if s := other.cfg.start; !s.IsZero() && (a.cfg.start.IsZero() || s.Before(a.cfg.start)) {
		a.cfg.start = s
	}
	if !other.first.IsZero() && (a.first.IsZero() || other.first.Before(a.first)) {
		a.first = other.first
	}
	if other.lastDue.After(a.lastDue) {
		a.lastDue = other.lastDue
	}
	if other.lastEnd.After(a.lastEnd) {
		a.lastEnd = other.lastEnd
	}
	a.total.merge(&other.total)
	a.latency.Merge(other.latency)
	a.send.Merge(other.send)
	a.queue.Merge(other.queue)

	for _, ost := range other.stepOrder {
		st := a.steps[ost.key]
		if st == nil {
			st = newStepTally(ost.key, a.cfg.maxPoints)
			a.steps[ost.key] = st
			a.stepOrder = append(a.stepOrder, st)
		}
		st.counts.merge(&ost.counts)
		st.latency.Merge(ost.latency)
		if !ost.first.IsZero() && (st.first.IsZero() || ost.first.Before(st.first)) {
			st.first = ost.first
		}
		for k, n := range ost.modes {
			st.modes[k] += n
		}
		st.series.mergeFrom(&ost.series, nil) // step series are packed: nothing to flush
	}
	for name, ou := range other.upstreams {
		if up := a.upstream(name); up != nil {
			up.failed += ou.failed
		}
	}
	remap := make([]int32, len(other.modeOrder))
	for i, omt := range other.modeOrder {
		mt := a.modes[omt.key]
		if mt == nil {
			mt = &modeTally{key: omt.key, mode: omt.mode, idx: int32(len(a.modeOrder))}
			a.modes[omt.key] = mt
			a.modeOrder = append(a.modeOrder, mt)
		}
		remap[i] = mt.idx
		first := mt.count == 0
		mt.count += omt.count
		if first || (!omt.onset.IsZero() && (mt.onset.IsZero() || omt.onset.Before(mt.onset))) {
			mt.onset, mt.example, mt.message, mt.step = omt.onset, omt.example, omt.message, omt.step
		}
	}

	a.series.flushAll()
	other.series.flushAll()
	a.series.mergeFrom(&other.series, remap)
	a.live.merge(&other.live)
	if other.inFlight >= 0 {
		a.inFlight = max(a.inFlight, 0) + other.inFlight
	}
	return nil
}

// start returns the run's start: the configured one, else the earliest
// intended time.
func (a *Accumulator) start() time.Time {
	if !a.cfg.start.IsZero() {
		return a.cfg.start
	}
	return a.first
}

// Snapshot is the live view of a run in progress, for progress lines.
//
// Results reach the accumulator when requests end, so the offered rate of
// the last seconds counts only the requests due in them that have already
// ended: it is a lower bound while a slow target holds requests in flight.
// InFlight, when the engine reports it, shows how many those are.
type Snapshot struct {
	Elapsed      time.Duration // from the run's start to the latest end seen
	Requests     int64         // results so far, dropped arrivals included
	OK           int64
	Dropped      int64
	Retries      int64
	Arrivals     int64
	Window       time.Duration // the span the rates and P99 cover: whole seconds before the latest, still-filling one
	OfferedRate  float64       // requests due per second in the window (see above)
	AchievedRate float64       // requests that ended per second in the window, dropped excluded
	Goodput      float64       // successful requests that ended per second in the window
	P99          time.Duration // of the requests that ended in the window
	InFlight     int64         // the engine's last in-flight gauge, -1 when it reports none
	Errors       []ModeCount   // every error mode so far, most frequent first
}

// Snapshot returns the live view. It may be called while another goroutine
// calls Add.
func (a *Accumulator) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Snapshot{
		Requests: a.total.requests,
		OK:       a.total.ok,
		Dropped:  a.total.dropped,
		Retries:  a.total.retries,
		Arrivals: a.total.arrivals,
		InFlight: a.inFlight,
	}
	start := a.start()
	if !start.IsZero() && a.lastEnd.After(start) {
		s.Elapsed = a.lastEnd.Sub(start)
	}
	win := a.live.window(int64(a.cfg.window/time.Second), start.Unix())
	s.Window = win.span
	s.OfferedRate = rate(win.offered, win.span)
	s.AchievedRate = rate(win.ended, win.span)
	s.Goodput = rate(win.good, win.span)
	s.P99 = time.Duration(win.p99) * time.Microsecond
	s.Errors = a.modeCounts(a.total.requests)
	return s
}

// ModeCount is how often one error mode (from one upstream) occurred.
type ModeCount struct {
	Mode     ErrorMode `json:"mode"`
	Upstream string    `json:"upstream,omitempty"`
	Count    int64     `json:"count"`
	Share    float64   `json:"share"` // of all requests in scope
}

// modeCounts lists every mode, most frequent first.
func (a *Accumulator) modeCounts(of int64) []ModeCount {
	out := make([]ModeCount, 0, len(a.modeOrder))
	for _, mt := range a.modeOrder {
		out = append(out, ModeCount{Mode: mt.mode, Upstream: mt.key.upstream, Count: mt.count, Share: ratio(mt.count, of)})
	}
	sortModeCounts(out)
	return out
}

func sortModeCounts(m []ModeCount) {
	sort.SliceStable(m, func(i, j int) bool {
		if m[i].Count != m[j].Count {
			return m[i].Count > m[j].Count
		}
		if m[i].Mode != m[j].Mode {
			return m[i].Mode < m[j].Mode
		}
		return m[i].Upstream < m[j].Upstream
	})
}

// liveSlots is the live ring's length in seconds.
const liveSlots = 16

// liveRing keeps the last seconds of the run, keyed by Unix second, for
// Snapshot: requests due (by intended time) and requests that ended (by end
// time) with their latencies.
type liveRing struct {
	slots   [liveSlots]liveSlot
	newest  int64 // latest end second seen
	started bool
	scratch *hdr.Histogram
}

type liveSlot struct {
	sec                  int64
	valid                bool
	offered, ended, good int64
	lat                  *hdr.Histogram
}

// slot returns the slot for Unix second sec, or nil when sec is older than
// the ring.
func (l *liveRing) slot(sec int64) *liveSlot {
	if l.started && sec <= l.newest-liveSlots {
		return nil
	}
	s := &l.slots[floorMod(sec, liveSlots)]
	if !s.valid || s.sec != sec {
		if s.valid && s.sec > sec {
			return nil
		}
		s.sec, s.valid = sec, true
		s.offered, s.ended, s.good = 0, 0, 0
		if s.lat != nil {
			s.lat.Reset()
		}
	}
	return s
}

func (l *liveRing) add(dueSec, endSec int64, sent, ok bool, us int64) {
	if !l.started || endSec > l.newest {
		l.newest, l.started = endSec, true
	}
	if s := l.slot(dueSec); s != nil {
		s.offered++
	}
	if !sent {
		return
	}
	if s := l.slot(endSec); s != nil {
		s.ended++
		if ok {
			s.good++
		}
		if s.lat == nil {
			s.lat = newHist(pointSigFigs)
		}
		_ = s.lat.RecordValue(us)
	}
}

func (l *liveRing) merge(o *liveRing) {
	if !o.started {
		return
	}
	if !l.started || o.newest > l.newest {
		l.newest, l.started = o.newest, true
	}
	for i := range o.slots {
		os := &o.slots[i]
		if !os.valid {
			continue
		}
		s := l.slot(os.sec)
		if s == nil {
			continue
		}
		s.offered += os.offered
		s.ended += os.ended
		s.good += os.good
		if os.lat != nil {
			if s.lat == nil {
				s.lat = newHist(pointSigFigs)
			}
			s.lat.Merge(os.lat)
		}
	}
}

type liveWindow struct {
	span                 time.Duration
	offered, ended, good int64
	p99                  int64 // µs
}

// window sums the n whole seconds before the newest one (which is still
// filling), not reaching before startSec; a run younger than that gets its
// newest second alone.
func (l *liveRing) window(n, startSec int64) liveWindow {
	var w liveWindow
	if !l.started {
		return w
	}
	lo, hi := max(l.newest-n, startSec), l.newest-1
	if hi < lo {
		lo, hi = l.newest, l.newest
	}
	w.span = time.Duration(hi-lo+1) * time.Second
	if l.scratch == nil {
		l.scratch = newHist(pointSigFigs)
	}
	l.scratch.Reset()
	for sec := lo; sec <= hi; sec++ {
		s := &l.slots[floorMod(sec, liveSlots)]
		if !s.valid || s.sec != sec {
			continue
		}
		w.offered += s.offered
		w.ended += s.ended
		w.good += s.good
		if s.lat != nil {
			l.scratch.Merge(s.lat)
		}
	}
	w.p99 = l.scratch.ValueAtQuantile(99)
	return w
}
