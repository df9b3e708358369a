package reports

import (
	"math"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Summary is a run's outcome: the summary.json contract of DESIGN.md, the
// same for a measured run ("replay") and a simulated one ("sim"). Rates are
// per second, times in milliseconds, ratios in [0, 1]. Fields are added
// freely and never renamed; see Accumulator for the definitions of
// requests, success, retries and latency.
type Summary struct {
	// Verdict is the run's outcome in words, as reports open with it; set
	// by the renderers (stampede report --format json), absent from the
	// summary.json a run writes.
	Verdict string `json:"verdict,omitempty"`

	Scenario    string      `json:"scenario"`
	Source      string      `json:"source"`               // "replay" or "sim"
	StartedAt   time.Time   `json:"started_at,omitzero"`  // the run's start (UTC)
	Interrupted bool        `json:"interrupted,omitzero"` // the run was stopped early: rates and counts cover what ran
	Aborted     *GateResult `json:"aborted,omitempty"`    // the abort_on_fail gate that stopped the run early, as judged then

	// SLO is the objective the run's seconds were judged by, as --slo
	// takes it: "p99=800ms,errors=1%".
	SLO string `json:"slo,omitempty"`
	// TimeScale and RateScale say how the run was scaled from the real
	// one (run.json's time_scale and rate_scale): real-scale times are
	// times × TimeScale, real-scale rates are rates / RateScale. Absent
	// when the run was not scaled.
	TimeScale float64 `json:"time_scale,omitempty"`
	RateScale float64 `json:"rate_scale,omitempty"`

	DurationS float64 `json:"duration_s"` // span of the intended times: the offered load's duration
	WaitS     float64 `json:"wait_s"`     // from the last intended time to the last response

	Requests          int64 `json:"requests"` // every request, dropped arrivals included
	OK                int64 `json:"ok"`       // successful requests
	Arrivals          int64 `json:"arrivals"` // journey arrivals
	JourneysCompleted int64 `json:"journeys_completed"`

	OfferedRate    float64 `json:"offered_rate"`    // requests / duration
	ArrivalRate    float64 `json:"arrival_rate"`    // journey arrivals / duration
	AchievedRate   float64 `json:"achieved_rate"`   // requests sent and ended / (duration + wait)
	Goodput        float64 `json:"goodput"`         // successful requests / (duration + wait)
	JourneyGoodput float64 `json:"journey_goodput"` // journeys completed / (duration + wait)
	SuccessRatio   float64 `json:"success_ratio"`   // successful requests / requests
	Dropped        int64   `json:"dropped"`         // arrivals the generator could not send in time
	Retries        int64   `json:"retries"`         // requests that were a user's retry
	RetryShare     float64 `json:"retry_share"`     // retries / requests
	BytesIn        uint64  `json:"bytes_in"`
	BytesOut       uint64  `json:"bytes_out"`

	Latency     LatencyMs `json:"latency_ms"`      // from the intended time: what users waited
	LatencyHDR  string    `json:"latency_hdr"`     // the latency_ms histogram itself: HdrHistogram V2 compressed, base64, µs (1 µs to 1 h, 3 digits); compare bootstraps from it
	SendLatency LatencyMs `json:"send_latency_ms"` // from the moment of sending: what the target took
	Queue       LatencyMs `json:"queue_ms"`        // from the intended time to sending: waiting inside the generator

	// LatencySpectrum is the latency distribution (from the intended time)
	// at SpectrumPercentiles: what an HDR percentile plot draws.
	LatencySpectrum []PercentileMs `json:"latency_spectrum,omitempty"`

	Steps      []StepSummary  `json:"steps"`
	Errors     []ErrorSummary `json:"errors"` // most frequent first
	Saturation *Saturation    `json:"saturation,omitempty"`
	Gates      []GateResult   `json:"gates"`

	RetryAmplification *RetryAmplification `json:"retry_amplification,omitempty"` // only when users retried
	Metastability      *Metastability      `json:"metastability,omitempty"`       // only when the load went past saturation and came back down
	Series             []SeriesPoint       `json:"series,omitempty"`              // only when SummaryMeta.Series asks
	Outputs            []OutputStatus      `json:"outputs,omitempty"`             // live outputs the run pushed to, and how they fared
	Generator          *Generator          `json:"generator,omitempty"`           // the load generator's own health; measured runs only
	Replications       *Replications       `json:"replications,omitempty"`        // a simulation replicated with other seeds: intervals across them
}

// OutputStatus is how a live output of a run fared: an endpoint the run
// pushed its metrics to while it ran (Prometheus remote write). A failing
// output never stops or slows a run; it is reported here instead.
type OutputStatus struct {
	Kind      string `json:"kind"`                 // "prometheus-remote-write"
	URL       string `json:"url"`                  // the endpoint, without credentials
	Pushes    int64  `json:"pushes"`               // pushes attempted, each with its retries
	Failed    int64  `json:"failed"`               // pushes that still failed after their retries
	Retries   int64  `json:"retries"`              // retried attempts
	Down      bool   `json:"down"`                 // the last push failed: the endpoint was down when the run ended
	LastError string `json:"last_error,omitempty"` // why the last failed push failed
}

// LatencyMs are latency quantiles in milliseconds (HDR histogram values:
// each within 0.1% of the true one, 1% in a series).
type LatencyMs struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// StepSummary is one step of one journey.
type StepSummary struct {
	Name         string      `json:"name"` // the step
	Journey      string      `json:"journey"`
	Requests     int64       `json:"requests"`
	OK           int64       `json:"ok"`
	Dropped      int64       `json:"dropped"`
	Retries      int64       `json:"retries"`
	SuccessRatio float64     `json:"success_ratio"`
	OfferedRate  float64     `json:"offered_rate"`  // the step's requests / the run's duration
	AchievedRate float64     `json:"achieved_rate"` // the step's requests that ended / (duration + wait)
	Goodput      float64     `json:"goodput"`       // the step's successes / (duration + wait)
	Latency      LatencyMs   `json:"latency_ms"`
	LatencyHDR   string      `json:"latency_hdr"` // as Summary.LatencyHDR, for the step
	Errors       []ModeCount `json:"errors"`      // the step's top error modes (at most 3), share of the step's requests
	// Series is the step's own time series (when the run's is kept): the
	// per-second samples compare tests steps on.
	Series []SeriesPoint `json:"series,omitempty"`

	Spectrum []PercentileMs `json:"spectrum,omitempty"` // the step's latency at SpectrumPercentiles
}

// PercentileMs is one point of a latency spectrum: the latency, in
// milliseconds, that a percentile of the requests stayed within.
type PercentileMs struct {
	Percentile float64 `json:"p"`  // 0 to 100
	Ms         float64 `json:"ms"` // HDR value, within 0.1%
}

// SpectrumPercentiles are the percentiles of a latency spectrum: halving
// the share of requests above at each step, as an HDR percentile plot's
// log axis does, up to 99.9999% and the maximum.
var SpectrumPercentiles = []float64{0, 50, 75, 87.5, 93.75, 96.875, 98.4375, 99, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 99.9999, 100}

// ErrorSummary is one error mode from one upstream.
type ErrorSummary struct {
	Mode             ErrorMode `json:"mode"`
	Count            int64     `json:"count"`
	Share            float64   `json:"share"`              // of all requests
	OnsetS           float64   `json:"onset_s"`            // first intended time failing this way, seconds from the start
	OnsetOfferedRate float64   `json:"onset_offered_rate"` // requests due per second around the onset (5 s centred on it)
	Upstream         string    `json:"upstream"`           // X-Upstream: the downstream the target blamed, "" when none
	Step             string    `json:"step"`               // journey/step of the first occurrence
	Example          string    `json:"example"`            // the first occurrence's message or error text
	Status           int       `json:"status,omitempty"`   // HTTP status of an HTTP mode
	Code             string    `json:"code,omitempty"`     // application error code of an HTTP mode, from the JSON body
	Message          string    `json:"message,omitempty"`  // the user-facing message of the first occurrence, from the JSON body
}

// Saturation is where the run stopped keeping up: the offered rate at which
// goodput stopped following the offered load, p99 crossed the SLO, or errors
// crossed the budget, and the component that crossed first. A saturation
// search (replay.Saturate) fills it; see AnalyzeSaturation.
type Saturation struct {
	OfferedRate float64 `json:"offered_rate"` // requests/s of the highest step that held; a lower bound when Saturated is false
	Reason      string  `json:"reason"`       // why the next step did not hold, e.g. "p99 over SLO: 1.20s > 800ms at 180.0/s"
	Component   string  `json:"component"`    // what crossed first, e.g. "add-card via nexi"
	KneeRate    float64 `json:"knee_rate"`    // requests/s at the knee of the median latency curve, 0 when there is none
	USL         *USL    `json:"usl,omitempty"`

	Saturated   bool    `json:"saturated"`             // a step failed; false when the search ended first
	ArrivalRate float64 `json:"arrival_rate"`          // journey arrivals/s of the highest step that held, 0 when none did
	FailedRate  float64 `json:"failed_rate,omitempty"` // requests/s of the lowest step that did not hold
	Step        string  `json:"step,omitempty"`        // the journey step that crossed first
	Upstream    string  `json:"upstream,omitempty"`    // the upstream (X-Upstream, or a bank mock station) that crossed first
}

// USL is a Universal Scalability Law fit X(N) = λN / (1 + σ(N-1) + κN(N-1)):
// throughput X against concurrency N (requests in flight). See FitUSL.
type USL struct {
	Sigma           float64 `json:"sigma"`            // contention
	Kappa           float64 `json:"kappa"`            // coherency
	Lambda          float64 `json:"lambda"`           // throughput of one unit of concurrency, per second
	PeakRate        float64 `json:"peak_rate"`        // the fit's maximum throughput, per second (its asymptote λ/σ when κ is 0)
	PeakConcurrency float64 `json:"peak_concurrency"` // where the peak is reached, 0 when the curve only flattens
	R2              float64 `json:"r2"`               // coefficient of determination of the fit
}

// SummaryMeta is what a summary needs beyond the results.
type SummaryMeta struct {
	Scenario    string
	Source      string        // "replay" or "sim"
	Interrupted bool          // the run was stopped before its profile ended
	Aborted     *GateResult   // the abort_on_fail gate that stopped the run early (see Abort), nil for none
	Duration    time.Duration // the offered load's planned span; 0 to use the span of intended times
	Gates       []Gate        // evaluated into Summary.Gates
	Series      bool          // include the time series

	// TimeScale and RateScale are the run's scales (see Summary); 0 or 1
	// when it was not scaled.
	TimeScale, RateScale float64

	// SLO judges each second for the metastability check; the zero value
	// means DefaultSLO.
	SLO SLO
	// SaturationRate is the first-attempt request rate, per second, past
	// which the target is known not to keep up (from a saturation search);
	// 0 to estimate it from the run's own ramp. See AnalyzeMetastability.
	SaturationRate float64
}

// Summary computes the run's summary from everything added so far. It may
// be called while another goroutine calls Add.
func (a *Accumulator) Summary(meta SummaryMeta) *Summary {
	a.mu.Lock()
	defer a.mu.Unlock()

	t := &a.total
	start := a.start()
	var dur, wait time.Duration
	if !start.IsZero() && a.lastDue.After(start) {
		dur = a.lastDue.Sub(start)
	}
	if a.lastEnd.After(a.lastDue) {
		wait = a.lastEnd.Sub(a.lastDue)
	}
	if meta.Duration > 0 {
		dur = meta.Duration
	}
	long := dur + wait

	slo := meta.SLO
	if slo == (SLO{}) {
		slo = DefaultSLO
	}
	s := &Summary{
		Scenario:          meta.Scenario,
		Source:            meta.Source,
		Interrupted:       meta.Interrupted,
		Aborted:           meta.Aborted,
		DurationS:         round(dur.Seconds(), 1e3),
		WaitS:             round(wait.Seconds(), 1e3),
		Requests:          t.requests,
		OK:                t.ok,
		Arrivals:          t.arrivals,
		JourneysCompleted: t.journeysDone,
		OfferedRate:       rate(t.requests, dur),
		ArrivalRate:       rate(t.arrivals, dur),
		AchievedRate:      rate(t.requests-t.dropped, long),
		Goodput:           rate(t.ok, long),
		JourneyGoodput:    rate(t.journeysDone, long),
		SuccessRatio:      ratio(t.ok, t.requests),
		Dropped:           t.dropped,
		Retries:           t.retries,
		RetryShare:        ratio(t.retries, t.requests),
		BytesIn:           t.bytesIn,
		BytesOut:          t.bytesOut,
		Latency:           histLatency(a.latency),
		LatencyHDR:        encodeHist(a.latency),
		SendLatency:       histLatency(a.send),
		Queue:             histLatency(a.queue),
		LatencySpectrum:   spectrum(a.latency),
		Steps:             []StepSummary{},
		Errors:            []ErrorSummary{},
		Gates:             []GateResult{},
		SLO:               slo.String(),
	}
	if !start.IsZero() {
		s.StartedAt = start.UTC()
	}
	if meta.TimeScale > 0 && meta.TimeScale != 1 {
		s.TimeScale = meta.TimeScale
	}
	if meta.RateScale > 0 && meta.RateScale != 1 {
		s.RateScale = meta.RateScale
	}

	// Journeys by name, steps in the order users reach them (by their
	// earliest intended time): the same whatever order results came in.
	steps := append([]*stepTally(nil), a.stepOrder...)
	sort.SliceStable(steps, func(i, j int) bool {
		si, sj := steps[i], steps[j]
		if si.key.journey != sj.key.journey {
			return si.key.journey < sj.key.journey
		}
		if !si.first.Equal(sj.first) {
			return si.first.Before(sj.first)
		}
		return si.key.step < sj.key.step
	})
	for _, st := range steps {
		c := &st.counts
		ss := StepSummary{
			Name:         st.key.step,
			Journey:      st.key.journey,
			Requests:     c.requests,
			OK:           c.ok,
			Dropped:      c.dropped,
			Retries:      c.retries,
			SuccessRatio: ratio(c.ok, c.requests),
			OfferedRate:  rate(c.requests, dur),
			AchievedRate: rate(c.requests-c.dropped, long),
			Goodput:      rate(c.ok, long),
			Latency:      histLatency(st.latency),
			LatencyHDR:   encodeHist(st.latency),
			Errors:       []ModeCount{},
			Spectrum:     spectrum(st.latency),
		}
		for k, n := range st.modes {
			ss.Errors = append(ss.Errors, ModeCount{Mode: a.modes[k].mode, Upstream: k.upstream, Count: n, Share: ratio(n, c.requests)})
		}
		sortModeCounts(ss.Errors)
		if len(ss.Errors) > 3 {
			ss.Errors = ss.Errors[:3]
		}
		s.Steps = append(s.Steps, ss)
	}

	a.series.flushAll()
	for _, mt := range a.modeOrder {
		es := ErrorSummary{
			Mode:     mt.mode,
			Count:    mt.count,
			Share:    ratio(mt.count, t.requests),
			Upstream: mt.key.upstream,
			Step:     stepName(mt.step),
			Example:  mt.example,
			Status:   mt.key.code,
			Code:     mt.key.app,
			Message:  mt.message,
		}
		if !mt.onset.IsZero() && !start.IsZero() {
			es.OnsetS = round(mt.onset.Sub(start).Seconds(), 1e3)
			es.OnsetOfferedRate = round(a.series.offeredRate(mt.onset.Unix(), start, a.lastDue), 1e3)
		}
		s.Errors = append(s.Errors, es)
	}
	sort.SliceStable(s.Errors, func(i, j int) bool {
		ei, ej := &s.Errors[i], &s.Errors[j]
		if ei.Count != ej.Count {
			return ei.Count > ej.Count
		}
		if ei.OnsetS != ej.OnsetS {
			return ei.OnsetS < ej.OnsetS
		}
		if ei.Mode != ej.Mode {
			return ei.Mode < ej.Mode
		}
		return ei.Upstream < ej.Upstream
	})

	if !start.IsZero() {
		series := a.exportSeries(start)
		if meta.Series {
			s.Series = series
			for i, st := range steps {
				s.Steps[i].Series = st.series.exportAtMost(start, MaxStepSeriesPoints)
			}
		}
		if t.retries > 0 {
			s.RetryAmplification = AnalyzeRetryAmplification(series, maxAmplificationWindows)
		}
		s.Metastability = AnalyzeMetastability(series, slo, meta.SaturationRate)
	}
	if len(meta.Gates) > 0 {
		s.Gates = a.judge(s, meta.Gates)
		for i := range s.Gates {
			if g := &s.Gates[i]; meta.Aborted != nil && g.Expr == meta.Aborted.Expr {
				// Lost then, whatever the responses that came in after.
				g.Aborted, g.Pass = true, false
				if g.Reason == "" {
					g.Reason = meta.Aborted.Reason
				} else {
					g.Reason += "; abort_on_fail stopped the run"
				}
			}
		}
	}
	return s
}

// FullName is "journey/step", or the step alone when it has no journey.
func (s *StepSummary) FullName() string { return stepName(stepKey{s.Journey, s.Name}) }

// exportSeries renders the (flushed) series relative to start.
func (a *Accumulator) exportSeries(start time.Time) []SeriesPoint {
	return a.series.export(start, func(idx int32) (ErrorMode, string) {
		mt := a.modeOrder[idx]
		return mt.mode, mt.key.upstream
	})
}

// stepName is "journey/step", or the step alone when it has no journey.
func stepName(k stepKey) string {
	if k.journey == "" {
		return k.step
	}
	return k.journey + "/" + k.step
}

// Passed reports whether every gate passed (true when there are none).
func (s *Summary) Passed() bool {
	for _, g := range s.Gates {
		if !g.Pass {
			return false
		}
	}
	return true
}

// rate is n per second over d, 0 when d is not positive.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round(float64(n)/d.Seconds(), 1e3)
}

// DroppedShare is the share of requests that were dropped arrivals.
func (s *Summary) DroppedShare() float64 { return ratio(s.Dropped, s.Requests) }

// ratio is n/of, 0 when of is 0.
func ratio(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return round(float64(n)/float64(of), 1e6)
}

// round rounds v to 1/scale, keeping JSON and golden files tidy. NaN and
// infinities, which JSON cannot carry, become 0.
func round(v, scale float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*scale) / scale
}

// percentiles are the quantiles of LatencyMs, as HDR percentiles.
var percentiles = []float64{50, 90, 95, 99, 99.9, 100}

func usToMs(us int64) float64 { return round(float64(us)/1e3, 1e3) }

func histLatency(h *hdr.Histogram) LatencyMs {
	if h.TotalCount() == 0 {
		return LatencyMs{}
	}
	v := h.ValueAtPercentilesSlice(percentiles)
	return LatencyMs{
		P50: usToMs(v[0]), P90: usToMs(v[1]), P95: usToMs(v[2]), P99: usToMs(v[3]), P999: usToMs(v[4]),
		Max: usToMs(v[5]), Mean: round(h.Mean()/1e3, 1e3),
	}
}

// spectrum is h at SpectrumPercentiles, nil when h is empty.
func spectrum(h *hdr.Histogram) []PercentileMs {
	if h.TotalCount() == 0 {
		return nil
	}
	v := h.ValueAtPercentilesSlice(SpectrumPercentiles)
	out := make([]PercentileMs, len(v))
	for i, us := range v {
		out[i] = PercentileMs{Percentile: SpectrumPercentiles[i], Ms: usToMs(us)}
	}
	return out
}

func packedLatency(h *hdr.PackedHistogram) LatencyMs {
	if h.TotalCount() == 0 {
		return LatencyMs{}
	}
	v := h.ValueAtPercentilesSlice(percentiles)
	return LatencyMs{
		P50: usToMs(v[0]), P90: usToMs(v[1]), P95: usToMs(v[2]), P99: usToMs(v[3]), P999: usToMs(v[4]),
		Max: usToMs(v[5]), Mean: round(h.Mean()/1e3, 1e3),
	}
}
