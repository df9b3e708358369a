package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// GateResult is a gate judged against a run. Actual is in the metric's
// unit (ms, ratio, per second or count); a gate over windows reports the
// worst window's value and the first window that failed.
type GateResult struct {
	Expr      string  `json:"expr"`
	Metric    string  `json:"metric"`
	Threshold float64 `json:"threshold"` // in the metric's unit
	Actual    float64 `json:"actual"`    // in the metric's unit: ms, ratio, per second or count
	Pass      bool    `json:"pass"`
	Reason    string  `json:"reason,omitempty"` // why it failed, in words, when the comparison and the failed window do not say (no data, an abort), or a caution about a pass

	Unit          string      `json:"unit"`                     // ms, ratio, per_s or count
	Step          string      `json:"step,omitempty"`           // the gate's {step:NAME}
	Upstream      string      `json:"upstream,omitempty"`       // the gate's {upstream:NAME}
	NoData        bool        `json:"no_data,omitempty"`        // nothing to judge: the gate failed for that
	WindowS       float64     `json:"window_s,omitempty"`       // the gate's window, seconds; absent for the whole run
	Windows       int         `json:"windows,omitempty"`        // windows judged (those holding data)
	WindowsFailed int         `json:"windows_failed,omitempty"` // of them, those that did not hold
	FailedWindow  *GateWindow `json:"failed_window,omitempty"`  // the first window that did not hold
	Aborted       bool        `json:"aborted,omitempty"`        // this gate stopped the run early (abort_on_fail)
}

// GateWindow is one window of a windowed gate.
type GateWindow struct {
	T        float64 `json:"t_s"`     // start, seconds from the run's start
	Width    float64 `json:"width_s"` // seconds
	Actual   float64 `json:"actual"`  // the metric in the window
	Requests int64   `json:"requests"`
}

// gateUnits names each kind's unit in a GateResult.
var gateUnits = map[string]string{"duration": "ms", "ratio": "ratio", "rate": "per_s", "count": "count"}

// newGateResult starts a result for g.
func newGateResult(g Gate) GateResult {
	gr := GateResult{Expr: g.Expr, Metric: g.Metric, Threshold: g.Threshold, Unit: gateUnits[gateMetrics[g.Metric]],
		Step: g.Step, Upstream: g.Upstream}
	if gr.Expr == "" {
		gr.Expr = g.String()
	}
	if g.Window > 0 {
		gr.WindowS = g.Window.Seconds()
	}
	return gr
}

// settle records the judgement of a value, or the absence of one.
func (gr *GateResult) settle(g Gate, v float64, noData string) {
	gr.Actual = v
	if noData != "" {
		gr.Pass, gr.NoData, gr.Reason = false, true, noData
		return
	}
	gr.Pass = g.Holds(v)
}

// EvaluateGates judges each gate against a summary alone, as read back
// from summary.json: whole-run gates, on the run or on one step. Gates
// over windows need the run's per-window data (Accumulator.JudgeGates),
// and fail here saying so. A metric without data fails: a run without
// requests fails every gate, and one where no request ended fails its
// latency gates. No measurement is never a pass.
func EvaluateGates(s *Summary, gates []Gate) []GateResult {
	out := make([]GateResult, 0, len(gates))
	for _, g := range gates {
		gr := newGateResult(g)
		switch {
		case g.Window > 0:
			gr.settle(g, 0, "a gate over windows needs the run's per-window data, not a summary")
		case g.Step != "":
			var matched []*StepSummary
			for i := range s.Steps {
				if stepMatches(g.Step, s.Steps[i].Journey, s.Steps[i].Name) {
					matched = append(matched, &s.Steps[i])
				}
			}
			switch len(matched) {
			case 0:
				gr.settle(g, 0, "no step "+g.Step+" ran")
			case 1:
				st := matched[0]
				smp := gateSample{requests: st.Requests, ok: st.OK, dropped: st.Dropped, retries: st.Retries,
					span: s.DurationS + s.WaitS, offeredSpan: s.DurationS, lat: &st.Latency}
				v, noData := smp.value(g)
				gr.settle(g, v, noData)
			default:
				gr.settle(g, 0, fmt.Sprintf("step %s is in %d journeys: name one as JOURNEY/%s", g.Step, len(matched), g.Step))
			}
		default:
			via := func(up string) (int64, bool) {
				var n int64
				seen := false
				for _, e := range s.Errors {
					if e.Upstream == up {
						n, seen = n+e.Count, true
					}
				}
				return n, seen
			}
			v, noData := summaryValue(s, g, via)
			gr.settle(g, v, noData)
			gr.cautionUpstream(g, via)
		}
		out = append(out, gr)
	}
	return out
}

// JudgeGates judges each gate against the run: whole-run values as s
// shows them, steps, upstreams and windows from what a accumulated. s is
// a's Summary; a saturation search judges again once it has set
// s.Saturation.
func (a *Accumulator) JudgeGates(s *Summary, gates []Gate) []GateResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.series.flushAll()
	return a.judge(s, gates)
}

// judge is JudgeGates with a.mu held and the series flushed.
func (a *Accumulator) judge(s *Summary, gates []Gate) []GateResult {
	out := make([]GateResult, 0, len(gates))
	for _, g := range gates {
		gr := newGateResult(g)
		switch {
		case g.Window > 0:
			a.judgeWindows(g, &gr, math.MaxInt64, math.MinInt64)
		case g.Step != "":
			smp, found := a.stepSample(g.Step)
			smp.span, smp.offeredSpan = s.DurationS+s.WaitS, s.DurationS
			if !found {
				gr.settle(g, 0, "no step "+g.Step+" ran")
				break
			}
			v, noData := smp.value(g)
			gr.settle(g, v, noData)
		default:
			v, noData := summaryValue(s, g, a.failedVia)
			gr.settle(g, v, noData)
		}
		gr.cautionUpstream(g, a.failedVia)
		out = append(out, gr)
	}
	return out
}

// failedVia is how many requests failed blaming upstream, and whether any
// request named it at all.
func (a *Accumulator) failedVia(upstream string) (int64, bool) {
	up := a.upstreams[upstream]
	if up == nil {
		return 0, false
	}
	return up.failed, true
}

// cautionUpstream notes on a passing upstream gate that no request ever
// named its upstream: a misspelt name would pass unnoticed otherwise.
func (gr *GateResult) cautionUpstream(g Gate, failedVia func(string) (int64, bool)) {
	if _, seen := failedVia(g.Upstream); g.Upstream != "" && !seen && gr.Reason == "" {
		gr.Reason = "no request named upstream " + g.Upstream + " (X-Upstream): check the name"
	}
}

// stepMatches reports whether a gate's step filter (NAME or JOURNEY/NAME)
// names the step.
func stepMatches(filter, journey, step string) bool {
	if j, st, ok := strings.Cut(filter, "/"); ok && j == journey && st == step {
		return true
	}
	return filter == step
}

// stepSample gathers the steps a filter names; found is false when none ran.
func (a *Accumulator) stepSample(filter string) (smp gateSample, found bool) {
	var matched []*stepTally
	for _, st := range a.stepOrder {
		if stepMatches(filter, st.key.journey, st.key.step) {
			matched = append(matched, st)
		}
	}
	if len(matched) == 0 {
		return smp, false
	}
	lat := matched[0].latency
	if len(matched) > 1 {
		lat = newHist(histSigFigs)
	}
	for _, st := range matched {
		if len(matched) > 1 {
			lat.Merge(st.latency)
		}
		c := &st.counts
		smp.requests += c.requests
		smp.ok += c.ok
		smp.dropped += c.dropped
		smp.retries += c.retries
		smp.journeys += c.journeysDone
	}
	smp.lat = histQuantiler{lat}
	return smp, true
}

// summaryValue is a whole-run gate's value from the summary; failedVia
// counts an upstream's failures. noData says why there is none.
func summaryValue(s *Summary, g Gate, failedVia func(string) (int64, bool)) (v float64, noData string) {
	switch g.Metric {
	case "saturation_rate":
		if s.Saturation == nil {
			return 0, "no saturation point: saturation_rate is measured by stampede saturate"
		}
		return s.Saturation.OfferedRate, ""
	case "recovery":
		m := s.Metastability
		if m == nil {
			return 0, "no recovery to time: the load never went past the saturation point and back under it"
		}
		if !m.Recovered {
			return round(m.RecoveryS*1e3, 1e3), fmt.Sprintf("did not recover in the %.0f s to the end of the run", m.RecoveryS)
		}
		return round(m.RecoveryS*1e3, 1e3), ""
	}
	smp := gateSample{requests: s.Requests, ok: s.OK, dropped: s.Dropped, retries: s.Retries, journeys: s.JourneysCompleted,
		span: s.DurationS + s.WaitS, offeredSpan: s.DurationS, lat: &s.Latency}
	if g.Upstream != "" {
		smp.via, _ = failedVia(g.Upstream)
	}
	switch g.Metric {
	case "errors":
		if g.Upstream == "" && s.Requests > 0 {
			return round(1-s.SuccessRatio, 1e6), ""
		}
	case "success_ratio", "retry_share", "goodput", "achieved_rate", "offered_rate", "journey_goodput":
		if s.Requests > 0 {
			return map[string]float64{"success_ratio": s.SuccessRatio, "retry_share": s.RetryShare, "goodput": s.Goodput,
				"achieved_rate": s.AchievedRate, "offered_rate": s.OfferedRate, "journey_goodput": s.JourneyGoodput}[g.Metric], ""
		}
	}
	return smp.value(g)
}

// quantiler is a latency histogram, or the quantiles of one.
type quantiler interface {
	ms(metric string) float64
	count() int64
}

// gateSample is what a gate is judged on: the requests of the run, a
// step or a window.
type gateSample struct {
	requests, ok, dropped, retries, journeys int64
	via                                      int64   // failures blaming the gate's upstream
	span                                     float64 // seconds: the denominator of rates of ended requests
	offeredSpan                              float64 // seconds: the denominator of the offered rate
	lat                                      quantiler
}

// value is the gate's metric on the sample; noData says why there is none.
func (smp *gateSample) value(g Gate) (float64, string) {
	if smp.requests == 0 {
		return 0, "no requests"
	}
	if gateMetrics[g.Metric] == "duration" {
		if smp.lat == nil || smp.lat.count() == 0 || smp.requests == smp.dropped {
			return 0, "no request ended: nothing was timed"
		}
		return smp.lat.ms(g.Metric), ""
	}
	switch g.Metric {
	case "errors":
		if g.Upstream != "" {
			return ratio(smp.via, smp.requests), ""
		}
		return round(1-ratio(smp.ok, smp.requests), 1e6), ""
	case "success_ratio":
		return ratio(smp.ok, smp.requests), ""
	case "retry_share":
		return ratio(smp.retries, smp.requests), ""
	case "achieved/offered":
		return ratio(smp.requests-smp.dropped, smp.requests), ""
	case "dropped":
		return float64(smp.dropped), ""
	case "goodput":
		return rateOver(smp.ok, smp.span), ""
	case "achieved_rate":
		return rateOver(smp.requests-smp.dropped, smp.span), ""
	case "offered_rate":
		return rateOver(smp.requests, smp.offeredSpan), ""
	case "journey_goodput":
		return rateOver(smp.journeys, smp.span), ""
	}
	return 0, "no value for " + g.Metric
}

// rateOver is n per second over secs, 0 when secs is not positive.
func rateOver(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return round(float64(n)/secs, 1e3)
}

// ms reads a quantile from summary latencies.
func (l *LatencyMs) ms(metric string) float64 {
	switch metric {
	case "p50":
		return l.P50
	case "p90":
		return l.P90
	case "p95":
		return l.P95
	case "p99":
		return l.P99
	case "p999":
		return l.P999
	case "max":
		return l.Max
	}
	return l.Mean
}

// count is unknown for summary latencies: any is taken as some.
func (l *LatencyMs) count() int64 {
	if *l == (LatencyMs{}) {
		return 0
	}
	return 1
}

// gatePercentile maps a latency metric to its HDR percentile.
func gatePercentile(metric string) float64 {
	if metric == "max" {
		return 100
	}
	return quantileOf(metric) * 100
}

// histQuantiler adapts a dense histogram.
type histQuantiler struct{ h *hdr.Histogram }

func (q histQuantiler) ms(metric string) float64 {
	if metric == "mean" {
		return round(q.h.Mean()/1e3, 1e3)
	}
	return usToMs(q.h.ValueAtPercentile(gatePercentile(metric)))
}
func (q histQuantiler) count() int64 { return q.h.TotalCount() }

// packedQuantiler adapts a packed histogram.
type packedQuantiler struct{ h *hdr.PackedHistogram }

func (q packedQuantiler) ms(metric string) float64 {
	if metric == "mean" {
		return round(q.h.Mean()/1e3, 1e3)
	}
	return usToMs(q.h.ValueAtPercentile(gatePercentile(metric)))
}
func (q packedQuantiler) count() int64 {
	if q.h == nil {
		return 0
	}
	return q.h.TotalCount()
}

// CheckGate reports a gate that cannot be judged on the run s summarises,
// for gates given after the run (stampede report --gate): one narrowed to
// a step the run has no requests of, or one whose window is longer than
// the run. The run's own gates were checked against its scenario before it
// started.
func (s *Summary) CheckGate(g Gate) error {
	if run := time.Duration(s.DurationS * float64(time.Second)); g.Window > 0 && run > 0 && g.Window > run {
		return fmt.Errorf("gate %q: the %s window is longer than the run (%s)", g.Expr, g.Window, run.Round(time.Millisecond))
	}
	if g.Step == "" {
		return nil
	}
	var names []string
	for _, st := range s.Steps {
		if stepMatches(g.Step, st.Journey, st.Name) {
			return nil
		}
		names = append(names, st.FullName())
	}
	if len(names) == 0 {
		return fmt.Errorf("gate %q: no step %q in the run: it has no per-step figures", g.Expr, g.Step)
	}
	return fmt.Errorf("gate %q: no step %q in the run; its steps: %s", g.Expr, g.Step, strings.Join(names, ", "))
}
