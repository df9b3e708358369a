// Package metrics shows a replay live to Prometheus. Its Sink counts the
// run's results into Prometheus series on a private registry (never the
// global one), serves them on an HTTP endpoint for Prometheus to scrape,
// and pushes the same series to a Prometheus remote-write endpoint.
//
// It classifies error modes with reports.ClassifyKey, the code the summary
// uses, and folds (mode, upstream) pairs past reports.DefaultMaxErrorModes
// into "other" exactly as the accumulator does, so a scrape agrees with the
// run's summary.json. Labels come from the scenario (journeys, steps) and
// the summary's taxonomy (status class, mode, upstream), each bounded; never
// URLs or user ids.
//
// It imports replay (for Live) and reports; neither of them imports it, and
// the engine knows it only as a sink.
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
)

// Info describes the run in stampede_run_info and the shard label.
type Info struct {
	Scenario  string
	Seed      int64
	Shard     string // "k/n"; empty for a run that is not sharded ("1/1")
	TimeScale float64
	RateScale float64
}

// Bounds on label values; past them new values count as "other".
const (
	// MaxSteps is how many distinct journey/step pairs get their own
	// series.
	MaxSteps = 64
	// MaxModes is how many distinct (mode, upstream) pairs get their own
	// series: the accumulator's bound, so the two fold alike.
	MaxModes = reports.DefaultMaxErrorModes
)

// OtherLabel is the label value that stands for the values past a bound.
const OtherLabel = "other"

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histograms: 1 ms to 60 s, roughly 1-2.5-5 per decade.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60}

// Sink is a reports.Sink (and a replay.LiveSink) that keeps a run's live
// figures as Prometheus series. Add is for one goroutine at a time, as the
// engine calls it; ObserveLive, scrapes and pushes may run at the same time.
// Create it with New; Start adds the endpoint and the pusher.
type Sink struct {
	reg     *prometheus.Registry
	wrapped prometheus.Registerer // reg, adding the shard label

	requests  *prometheus.CounterVec   // journey, step, status_class, mode, upstream
	latency   *prometheus.HistogramVec // journey, step
	retries   *prometheus.CounterVec   // journey, step
	arrivals  *prometheus.CounterVec   // journey
	dropped   *prometheus.CounterVec   // journey
	completed *prometheus.CounterVec   // journey
	queue     prometheus.Histogram
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	inFlight  prometheus.Gauge
	capacity  prometheus.Gauge

	// The generator's health, from replay.Live.
	limited prometheus.Gauge
	cores   prometheus.Gauge
	lagP99  prometheus.Gauge
	lagMax  prometheus.Gauge
	late    prometheus.Counter

	liveMu   sync.Mutex // ObserveLive's, for the runs one after another of a saturation search
	liveRun  time.Time  // Live.Start of the run last observed
	lateSeen int64      // that run's late arrivals already added to late

	// Owned by Add's goroutine.
	steps    map[stepKey]*stepSeries
	journeys map[string]*journeySeries
	modes    map[reports.ModeKey]int // mode id: index into modeLabels
	labels   []modeLabels            // 0 is success, 1 is "other"

	added atomic.Bool // a result has been added: Linger has figures to wait for

	push *pusher // nil without remote write
	srv  *server // nil without an endpoint
}

type stepKey struct{ journey, step string }

// stepSeries are one step's children, looked up once per result.
type stepSeries struct {
	journey  *journeySeries
	name     stepKey // label values, OtherLabel when folded
	latency  prometheus.Observer
	retries  prometheus.Counter
	requests [][numClasses]prometheus.Counter // by mode id, then status class; created on first use
}

type journeySeries struct {
	arrivals, dropped, completed prometheus.Counter
}

type modeLabels struct{ mode, upstream string }

// Mode ids of success and of the fold.
const (
	modeOK    = 0
	modeOther = 1
)

// Status classes of the status_class label.
const (
	classNone  = iota // no response: a transport error, or a dropped arrival
	class1xx          // 1xx
	class2xx          // 2xx
	class3xx          // 3xx
	class4xx          // 4xx
	class5xx          // 5xx
	classOther        // any other status
	numClasses
)

var classNames = [numClasses]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"}

func statusClass(code int) int {
	switch {
	case code == 0:
		return classNone
	case code >= 100 && code < 600:
		return class1xx + code/100 - 1
	}
	return classOther
}

// New returns a sink whose series describe the run in info. It serves and
// pushes nothing until Start.
func New(info Info) *Sink {
	shard := info.Shard
	if shard == "" {
		shard = "1/1"
	}
	s := &Sink{
		reg:      prometheus.NewRegistry(),
		steps:    make(map[stepKey]*stepSeries),
		journeys: make(map[string]*journeySeries),
		modes:    make(map[reports.ModeKey]int),
		labels:   []modeLabels{{}, {mode: OtherLabel}},
	}
	// Every series carries the shard, so a fleet's series sum.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"shard": shard}, s.reg)
	s.wrapped = reg
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stampede", Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	s.requests = counter("requests_total", "Requests that ended, dropped arrivals included, by journey step, status class and error mode (empty on success) with the upstream blamed.",
		"journey", "step", "status_class", "mode", "upstream")
	s.retries = counter("retries_total", "Requests that were a user's retry of a failed step.", "journey", "step")
	s.arrivals = counter("arrivals_total", "Journey arrivals (users), dropped ones included.", "journey")
	s.dropped = counter("arrivals_dropped_total", "Arrivals dropped: the in-flight cap stayed full past the maximum wait.", "journey")
	s.completed = counter("journeys_completed_total", "Journeys whose last step succeeded.", "journey")
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "stampede", Name: "request_duration_seconds",
		Help: "Request latency from the moment it was due (not when it was sent) to the end of the response, by journey step.", Buckets: LatencyBuckets},
		[]string{"journey", "step"})
	s.queue = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "stampede", Name: "generator_queue_seconds",
		Help: "Time from a request being due to being sent: waiting inside the generator.", Buckets: LatencyBuckets})
	s.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stampede", Name: "response_bytes_total", Help: "Response body bytes received."})
	s.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stampede", Name: "request_bytes_total", Help: "Request body bytes sent."})
	s.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "stampede", Name: "journeys_in_flight", Help: "Journeys in flight: holding a slot, walking their steps."})
	s.capacity = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "stampede", Name: "journeys_in_flight_max", Help: "The cap on journeys in flight (--max-inflight)."})
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "stampede", Subsystem: "generator", Name: name, Help: help})
	}
	s.limited = gauge("limited", "1 while the generator itself is the limit (CPU or late arrivals over the latest second), 0 otherwise.")
	s.cores = gauge("cores", "Cores the generator may use (GOMAXPROCS): divide process_cpu_seconds_total's rate by it.")
	s.lagP99 = gauge("pacer_lag_p99_seconds", "How late the pacer dispatched arrivals against their intended time, 99th percentile over the run so far (bucket bound).")
	s.lagMax = gauge("pacer_lag_max_seconds", "The latest dispatch of an arrival against its intended time, over the run so far.")
	s.late = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stampede", Subsystem: "generator", Name: "late_arrivals_total",
		Help: "Arrivals dispatched more than 20 ms after their intended time: their latency carries the generator's delay."})
	reg.MustRegister(s.limited, s.cores, s.lagP99, s.lagMax, s.late)
	runInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "stampede", Name: "run_info", Help: "The run: scenario, seed and scales (1)."},
		[]string{"scenario", "seed", "time_scale", "rate_scale"})
	reg.MustRegister(s.latency, s.queue, s.bytesIn, s.bytesOut, s.inFlight, s.capacity, runInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	runInfo.WithLabelValues(info.Scenario, strconv.FormatInt(info.Seed, 10), formatScale(info.TimeScale), formatScale(info.RateScale)).Set(1)
	return s
}

func formatScale(f float64) string {
	if f == 0 {
		f = 1
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Registry is the sink's private registry, for tests and for callers that
// add series of their own.
func (s *Sink) Registry() *prometheus.Registry { return s.reg }

// Add counts one result. After the first result of each step, journey and
// error mode it touches only precomputed series and does not allocate.
func (s *Sink) Add(r *reports.Result) {
	if !s.added.Load() {
		s.added.Store(true)
	}
	st := s.step(r.Journey, r.Step)
	k := reports.ClassifyKey(r)
	id := modeOK
	if !k.OK() {
		id = s.mode(k)
	}
	class := statusClass(r.Code)
	if id >= len(st.requests) {
		st.requests = append(st.requests, make([][numClasses]prometheus.Counter, id+1-len(st.requests))...)
	}
	c := st.requests[id][class]
	if c == nil {
		l := s.labels[id]
		c = s.requests.WithLabelValues(st.name.journey, st.name.step, classNames[class], l.mode, l.upstream)
		st.requests[id][class] = c
	}
	c.Inc()

	if r.Attempt > 1 {
		st.retries.Inc()
	}
	if r.Arrival {
		st.journey.arrivals.Inc()
	}
	if r.Dropped {
		st.journey.dropped.Inc()
	} else {
		st.latency.Observe(r.Latency.Seconds())
		if !r.Sent.IsZero() && !r.Intended.IsZero() {
			s.queue.Observe(r.Sent.Sub(r.Intended).Seconds())
		}
	}
	if r.JourneyDone && k.OK() {
		st.journey.completed.Inc()
	}
	if r.BytesIn > 0 {
		s.bytesIn.Add(float64(r.BytesIn))
	}
	if r.BytesOut > 0 {
		s.bytesOut.Add(float64(r.BytesOut))
	}
}

// step returns the series of a journey step, folding steps past MaxSteps
// (and names that are not UTF-8) into "other".
func (s *Sink) step(journey, step string) *stepSeries {
	key := stepKey{journey, step}
	if st := s.steps[key]; st != nil {
		return st
	}
	if len(s.steps) >= MaxSteps || !utf8.ValidString(journey) || !utf8.ValidString(step) {
		// Past the bound, or not a label value Prometheus accepts.
		key = stepKey{OtherLabel, OtherLabel}
		if st := s.steps[key]; st != nil {
			return st
		}
	}
	st := &stepSeries{
		journey: s.journey(key.journey),
		name:    key,
		latency: s.latency.WithLabelValues(key.journey, key.step),
		retries: s.retries.WithLabelValues(key.journey, key.step),
	}
	s.steps[key] = st
	return st
}

func (s *Sink) journey(name string) *journeySeries {
	if j := s.journeys[name]; j != nil {
		return j
	}
	j := &journeySeries{
		arrivals:  s.arrivals.WithLabelValues(name),
		dropped:   s.dropped.WithLabelValues(name),
		completed: s.completed.WithLabelValues(name),
	}
	s.journeys[name] = j
	return j
}

// mode returns the id of a failure's (mode, upstream) pair: its own while
// fewer than MaxModes pairs have been seen, "other" after, as the
// accumulator counts them.
func (s *Sink) mode(k reports.ModeKey) int {
	if id, ok := s.modes[k]; ok {
		return id
	}
	if len(s.modes) >= MaxModes {
		return modeOther
	}
	id := len(s.labels)
	s.labels = append(s.labels, modeLabels{mode: string(k.Mode()), upstream: k.Upstream})
	s.modes[k] = id
	return id
}

// ObserveLive implements replay.LiveSink: the engine's in-flight gauge and
// the generator's health.
func (s *Sink) ObserveLive(l replay.Live) {
	s.inFlight.Set(float64(l.InFlight))
	s.capacity.Set(float64(l.MaxInflight))
	g := &l.Generator
	limited := 0.0
	if l.Limited != "" {
		limited = 1
	}
	s.limited.Set(limited)
	s.cores.Set(float64(g.Cores))
	s.lagP99.Set(g.PacerLagP99 / 1e3)
	s.lagMax.Set(g.PacerLagMax / 1e3)
	// Each run (each step of a saturation search) has its own meter,
	// counting from 0: add what it counted since the last sample.
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if !l.Start.Equal(s.liveRun) {
		s.liveRun, s.lateSeen = l.Start, 0
	}
	if d := g.LateArrivals - s.lateSeen; d > 0 {
		s.late.Add(float64(d))
		s.lateSeen = g.LateArrivals
	}
}

// NoteSummary implements reports.SummaryNoter: with remote write, it
// pushes the final figures (waiting a few seconds at most) and reports how
// the pushes fared in s.Outputs.
func (s *Sink) NoteSummary(sum *reports.Summary) {
	if s.push == nil {
		return
	}
	sum.Outputs = append(sum.Outputs, s.push.final(finalPushBudget))
}

// finalPushBudget bounds the last push at the end of a run.
const finalPushBudget = 5 * time.Second
