package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// DefaultMinGoodput is the goodput, as a share of the offered load, below
// which a step of a saturation search has not kept up.
const DefaultMinGoodput = 0.95

// Criteria decide whether a step of a saturation search held: goodput at
// least MinGoodput of the offered load, latency at the SLO's quantile
// within the SLO, and the failed share of requests within its error budget.
type Criteria struct {
	SLO        SLO
	MinGoodput float64 // 0 means DefaultMinGoodput
}

func (c Criteria) minGoodput() float64 {
	if c.MinGoodput > 0 {
		return c.MinGoodput
	}
	return DefaultMinGoodput
}

// Failing is "clearly failing" past these multiples of a criterion: one such
// step confirms saturation on its own, without waiting for a second one.
const (
	clearGoodput = 0.80 // goodput under 80% of the offered load
	clearLatency = 2.0  // latency over twice the SLO
	clearErrors  = 5.0  // errors over five times the budget (and at least 5%)
)

// StepPlan is what one step of a saturation search was asked to do.
type StepPlan struct {
	Index    int           // 1-based, in the order the steps ran
	Rate     float64       // journey arrivals per second held through the step
	Duration time.Duration // how long the rate was held
	Start    time.Duration // when the step began, from the start of the search
	Refine   bool          // a bisection step between the last good and the first bad one
}

// StepPoint is one measured step of a saturation search. Rates are per
// second; offered and error rates count every request (retries and poll
// rounds included), goodput counts journeys.
type StepPoint struct {
	Index     int     `json:"index"`
	Refine    bool    `json:"refine,omitempty"`
	StartS    float64 `json:"start_s"`    // from the start of the search
	DurationS float64 `json:"duration_s"` // of the arrivals
	Rate      float64 `json:"rate"`       // planned journey arrivals per second

	Requests     int64   `json:"requests"`
	Arrivals     int64   `json:"arrivals"`
	Journeys     int64   `json:"journeys_completed"`
	OfferedRate  float64 `json:"offered_rate"`  // requests due per second in the steady window
	ArrivalRate  float64 `json:"arrival_rate"`  // journey arrivals / duration
	AchievedRate float64 `json:"achieved_rate"` // requests that ended per second in the steady window
	// Goodput is successful journeys per second: the arrival rate × the
	// share of journeys that completed × the share of the offered requests
	// the target got through per second in the steady window (at most 1).
	// Journeys outlast a short step, so their completions cannot simply be
	// counted per second; the two shares can.
	Goodput        float64   `json:"goodput"`
	GoodputRatio   float64   `json:"goodput_ratio"`   // Goodput / ArrivalRate
	RequestGoodput float64   `json:"request_goodput"` // successful requests that ended per second in the steady window
	ErrorRate      float64   `json:"error_rate"`      // failed share of requests, dropped included
	Latency        LatencyMs `json:"latency_ms"`      // from the intended time
	// InFlight is the mean number of requests in flight over the steady
	// window, measured from each request's intended time to its end;
	// LittleInFlight is what Little's law predicts from the throughput and
	// the mean latency of the requests that ended in the window. They agree
	// when the step reached a steady state; LittleInFlight falls short of
	// InFlight when a queue was still growing.
	InFlight       float64 `json:"in_flight"`
	LittleInFlight float64 `json:"little_in_flight"`
	Steady         bool    `json:"steady"` // the two agree within 10% (or both are under one request)

	Components []ComponentPoint `json:"components"`         // per journey step
	Stations   []StationPoint   `json:"stations,omitempty"` // bank mock stations, when their metrics were read
	Errors     []ModeCount      `json:"errors"`             // every error mode of the step, most frequent first

	Pass    bool     `json:"pass"`              // every criterion held
	Clear   bool     `json:"clear,omitempty"`   // failed by a wide margin: confirms saturation alone
	Reasons []string `json:"reasons,omitempty"` // the criteria that failed, worst first
}

// ComponentPoint is one journey step within a step of a saturation search.
type ComponentPoint struct {
	Step      string  `json:"step"` // journey/step, or the step alone in a one-journey scenario
	Requests  int64   `json:"requests"`
	ErrorRate float64 `json:"error_rate"`
	LatencyMs float64 `json:"latency_ms"`         // at the SLO's quantile
	Upstream  string  `json:"upstream,omitempty"` // the upstream the step's most frequent error blamed
}

// littleTolerance is how far the in-flight count Little's law predicts may
// stray from the measured one in a steady step.
const littleTolerance = 0.10

// StepTiming is how a step's load went through the target, measured over
// its steady window: the middle 90% of its requests' intended times, which
// leaves out the ramp-up of the first requests and the drain of the last.
type StepTiming struct {
	Window         time.Duration // the steady window's length
	Offered        float64       // requests due per second in the window
	Achieved       float64       // requests that ended per second in the window, dropped ones excluded
	Goodput        float64       // successful requests that ended per second in the window
	InFlight       float64       // mean requests in flight over the window
	LittleInFlight float64       // Achieved × the mean latency of the requests that ended in the window
}

// StepMeter measures a step's StepTiming from its results. It keeps 24
// bytes per result, so a step of 6,000 requests/s for a minute needs about
// 9 MB; the zero value is ready to use.
type StepMeter struct {
	samples []stepSample
}

type stepSample struct {
	due, end int64 // Unix nanoseconds
	sent, ok bool
}

// Add accounts for one result of the step. Results without an intended
// time are ignored.
func (m *StepMeter) Add(r *Result) {
	if r.Intended.IsZero() {
		return
	}
	m.samples = append(m.samples, stepSample{due: r.Intended.UnixNano(), end: r.End().UnixNano(), sent: !r.Dropped, ok: Classify(r) == ModeNone})
}

// Len returns how many results were added.
func (m *StepMeter) Len() int { return len(m.samples) }

// minSteadySamples is the fewest results for which the middle 90% of the
// intended times makes a window; fewer use the whole step.
const minSteadySamples = 20

// Timing computes the step's timing.
func (m *StepMeter) Timing() StepTiming {
	n := len(m.samples)
	if n == 0 {
		return StepTiming{}
	}
	dues := make([]int64, n)
	for i, s := range m.samples {
		dues[i] = s.due
	}
	sort.Slice(dues, func(i, j int) bool { return dues[i] < dues[j] })
	var a, b int64
	if n >= minSteadySamples {
		// Whole indexes, so that the window holds exactly as many gaps
		// between dues as dues: evenly paced arrivals give their rate.
		i := int(0.05 * float64(n-1))
		a, b = dues[i], dues[n-1-i]
	}
	if b <= a {
		a, b = dues[0], dues[n-1]
		for _, s := range m.samples {
			b = max(b, s.end)
		}
	}
	if b <= a {
		b = a + 1
	}
	span := float64(b-a) / 1e9
	var due, ended, good int64
	var overlap, latency float64 // seconds
	for _, s := range m.samples {
		if s.due >= a && s.due < b { // half open, so n evenly spaced dues make n-1 gaps
			due++
		}
		if !s.sent {
			continue
		}
		if lo, hi := max(s.due, a), min(s.end, b); hi > lo {
			overlap += float64(hi-lo) / 1e9
		}
		if s.end >= a && s.end < b {
			ended++
			latency += float64(s.end-s.due) / 1e9
			if s.ok {
				good++
			}
		}
	}
	t := StepTiming{
		Window:   time.Duration(b - a),
		Offered:  float64(due) / span,
		Achieved: float64(ended) / span,
		Goodput:  float64(good) / span,
		InFlight: overlap / span,
	}
	if ended > 0 {
		t.LittleInFlight = t.Achieved * latency / float64(ended)
	}
	return t
}

// MeasureStep builds a step's point from the plan, the step's summary (its
// run's Summary, with the planned duration) and its timing, and judges it
// by c.
func MeasureStep(plan StepPlan, s *Summary, t StepTiming, c Criteria) StepPoint {
	p := StepPoint{
		Index:        plan.Index,
		Refine:       plan.Refine,
		StartS:       round(plan.Start.Seconds(), 1e3),
		DurationS:    round(plan.Duration.Seconds(), 1e3),
		Rate:         plan.Rate,
		Requests:     s.Requests,
		Arrivals:     s.Arrivals,
		Journeys:     s.JourneysCompleted,
		OfferedRate:  round(t.Offered, 1e3),
		ArrivalRate:  rate(s.Arrivals, plan.Duration),
		AchievedRate: round(t.Achieved, 1e3),
		ErrorRate:    round(1-s.SuccessRatio, 1e6),
		Latency:      s.Latency,
		InFlight:     round(t.InFlight, 1e3),

		LittleInFlight: round(t.LittleInFlight, 1e3),
		RequestGoodput: round(t.Goodput, 1e3),
		Components:     []ComponentPoint{},
		Errors:         []ModeCount{},
	}
	if s.Requests == 0 {
		p.ErrorRate = 0
	}
	p.Steady = math.Abs(t.InFlight-t.LittleInFlight) <= littleTolerance*t.InFlight || (t.InFlight < 1 && t.LittleInFlight < 1)
	through := 1.0 // the share of the offered requests the target got through per second
	if t.Offered > 0 {
		through = math.Min(1, t.Achieved/t.Offered)
	}
	if s.Arrivals > 0 {
		p.GoodputRatio = round(float64(s.JourneysCompleted)/float64(s.Arrivals)*through, 1e6)
		p.Goodput = round(p.ArrivalRate*p.GoodputRatio, 1e3)
	} else if s.Requests > 0 { // an engine that marks no arrivals: judge requests
		p.GoodputRatio = round(s.SuccessRatio*through, 1e6)
		p.Goodput = round(p.OfferedRate*p.GoodputRatio, 1e3)
	}

	journeys := map[string]int{}
	for _, st := range s.Steps {
		journeys[st.Name]++
	}
	for _, st := range s.Steps {
		name := st.Name
		if journeys[st.Name] > 1 {
			name = stepName(stepKey{st.Journey, st.Name})
		}
		cp := ComponentPoint{Step: name, Requests: st.Requests, ErrorRate: round(1-st.SuccessRatio, 1e6),
			LatencyMs: st.Latency.At(c.SLO.Quantile)}
		if st.Requests == 0 {
			cp.ErrorRate = 0
		}
		for _, e := range st.Errors {
			if e.Upstream != "" {
				cp.Upstream = e.Upstream
				break
			}
		}
		p.Components = append(p.Components, cp)
	}
	for _, e := range s.Errors {
		p.Errors = append(p.Errors, ModeCount{Mode: e.Mode, Upstream: e.Upstream, Count: e.Count, Share: e.Share})
	}
	p.Pass, p.Clear, p.Reasons = c.Judge(&p)
	return p
}

// verdict is one failed criterion of a step.
type verdict struct {
	severity float64 // how far past the criterion: > 1 failed, > clear limit clearly
	clear    bool
	reason   string
}

// Judge applies the criteria to a step: pass when all hold; clear when one
// fails by a wide margin (goodput under 80% of the offered load, latency
// over twice the SLO, or errors over five times the budget and at least
// 5%); and the reasons, worst first. A step without requests fails.
func (c Criteria) Judge(p *StepPoint) (pass, clear bool, reasons []string) {
	vs := c.verdicts(p)
	for _, v := range vs {
		clear = clear || v.clear
		reasons = append(reasons, v.reason)
	}
	return len(vs) == 0, clear, reasons
}

func (c Criteria) verdicts(p *StepPoint) []verdict {
	if p.Requests == 0 {
		return []verdict{{severity: math.Inf(1), clear: true, reason: "no requests"}}
	}
	var vs []verdict
	minGood := c.minGoodput()
	if p.GoodputRatio < minGood {
		vs = append(vs, verdict{
			severity: minGood / math.Max(p.GoodputRatio, 1e-9),
			clear:    p.GoodputRatio < clearGoodput,
			reason: fmt.Sprintf("goodput below %s of offered: %s (%s of %s)", FormatPercentShort(minGood), FormatPercent(p.GoodputRatio),
				FormatRate(p.Goodput), FormatRate(p.ArrivalRate)),
		})
	}
	if slo := float64(c.SLO.Latency) / 1e6; slo > 0 && p.Requests > p.Untimed() {
		if l := p.Latency.At(c.SLO.Quantile); l > slo {
			q := QuantileName(c.SLO.Quantile)
			vs = append(vs, verdict{
				severity: l / slo,
				clear:    l > clearLatency*slo,
				reason:   fmt.Sprintf("%s over SLO: %s > %s", q, FormatMillis(l), FormatMillis(slo)),
			})
		}
	}
	if p.ErrorRate > c.SLO.ErrorBudget {
		budget := math.Max(c.SLO.ErrorBudget, 1e-9)
		vs = append(vs, verdict{
			severity: p.ErrorRate / budget,
			clear:    p.ErrorRate > clearErrors*c.SLO.ErrorBudget && p.ErrorRate >= 0.05,
			reason:   fmt.Sprintf("errors over budget: %s > %s", FormatPercent(p.ErrorRate), FormatPercent(c.SLO.ErrorBudget)),
		})
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].severity > vs[j].severity })
	return vs
}

// Untimed is the number of the step's requests that were never timed
// (dropped arrivals), read from its error modes.
func (p *StepPoint) Untimed() int64 {
	for _, e := range p.Errors {
		if e.Mode == ModeDropped {
			return e.Count
		}
	}
	return 0
}

// AnalyzeSaturation finds the saturation point of a search's steps: the
// highest offered rate that held below the lowest step that did not, the
// reason that step failed (its worst criterion), the component that
// crossed first, the knee of the median latency against the offered rate,
// and a Universal Scalability Law fit of throughput against concurrency
// when there are enough steps. Steps are ordered by their planned rate, so
// bisection steps fall into place. It returns nil without steps.
//
// A journey step crosses when its own error rate passes the budget or its
// latency the SLO; a bank mock station when more than the budget of its
// requests were refused or failed, when its requests queued longer on
// average than they took to be served, or when more than 90% of its slots
// were in use on average. When no station crossed before the search
// failed, the one under most pressure at the failing step is named, if it
// was close (see stationPressed). The component is the
// first to cross (the lowest rate, then the farthest past its limit),
// named "step via upstream" when the step's errors blamed an upstream or a
// station crossed by then.
func AnalyzeSaturation(points []StepPoint, c Criteria) *Saturation {
	if len(points) == 0 {
		return nil
	}
	pts := append([]StepPoint(nil), points...)
	sort.SliceStable(pts, func(i, j int) bool {
		if pts[i].Rate != pts[j].Rate {
			return pts[i].Rate < pts[j].Rate
		}
		return pts[i].Index < pts[j].Index
	})
	bad := -1
	for i := range pts {
		if !pts[i].Pass {
			bad = i
			break
		}
	}
	good := -1
	for i := range pts {
		if pts[i].Pass && (bad < 0 || pts[i].Rate < pts[bad].Rate) {
			good = i
		}
	}
	sat := &Saturation{Saturated: bad >= 0}
	if good >= 0 {
		sat.OfferedRate, sat.ArrivalRate = pts[good].OfferedRate, pts[good].Rate
	}
	switch {
	case bad < 0:
		sat.Reason = "not reached: every step up to " + FormatRate(pts[len(pts)-1].OfferedRate) + " offered held"
	default:
		sat.FailedRate = pts[bad].OfferedRate
		vs := c.verdicts(&pts[bad])
		sat.Reason = vs[0].reason + " at " + FormatRate(pts[bad].OfferedRate)
	}
	sat.Step, sat.Upstream = attribute(pts, bad, c)
	switch {
	case sat.Step != "" && sat.Upstream != "":
		sat.Component = sat.Step + " via " + sat.Upstream
	case sat.Step != "":
		sat.Component = sat.Step
	default:
		sat.Component = sat.Upstream
	}

	xs, ys := make([]float64, 0, len(pts)), make([]float64, 0, len(pts))
	var usl []USLPoint
	for _, p := range pts {
		if p.Requests == 0 {
			continue
		}
		xs, ys = append(xs, p.OfferedRate), append(ys, p.Latency.P50)
		usl = append(usl, USLPoint{N: p.InFlight, X: p.RequestGoodput})
	}
	if k, ok := Knee(xs, ys); ok {
		sat.KneeRate = round(k, 1e3)
	}
	if u, err := FitUSL(usl); err == nil && u.R2 > 0 {
		sat.USL = roundUSL(u)
	}
	return sat
}

func roundUSL(u *USL) *USL {
	sig := func(v float64) float64 { // six significant digits
		if v == 0 || !isFinite(v) {
			return 0
		}
		e := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(v))))
		return math.Round(v*e) / e
	}
	return &USL{Sigma: sig(u.Sigma), Kappa: sig(u.Kappa), Lambda: sig(u.Lambda), PeakRate: round(u.PeakRate, 1e3),
		PeakConcurrency: round(u.PeakConcurrency, 1e3), R2: round(u.R2, 1e4)}
}

// attribute names the journey step and the upstream that crossed first, in
// steps sorted by rate, looking no further than the first failing one
// (bad, or all of them when bad is -1).
func attribute(pts []StepPoint, bad int, c Criteria) (step, upstream string) {
	last := len(pts) - 1
	if bad >= 0 {
		last = bad
	}
	slo := float64(c.SLO.Latency) / 1e6
	budget := math.Max(c.SLO.ErrorBudget, 1e-9)
	componentSeverity := func(cp *ComponentPoint) float64 {
		s := cp.ErrorRate / budget
		if slo > 0 {
			s = math.Max(s, cp.LatencyMs/slo)
		}
		return s
	}
	stepAt := -1
	for i := 0; i <= last && stepAt < 0; i++ {
		best := 1.0
		for j := range pts[i].Components {
			cp := &pts[i].Components[j]
			if s := componentSeverity(cp); cp.Requests > 0 && s > best {
				best, step, upstream, stepAt = s, cp.Step, cp.Upstream, i
			}
		}
	}
	if stepAt < 0 && bad >= 0 {
		// Nothing crossed on its own: name the part of the failing step
		// closest to its limits.
		best := -1.0
		for j := range pts[bad].Components {
			cp := &pts[bad].Components[j]
			if s := componentSeverity(cp); cp.Requests > 0 && s > best {
				best, step, upstream = s, cp.Step, cp.Upstream
			}
		}
	}
	if upstream != "" {
		return step, upstream
	}

	// The bank mocks' own view, when their metrics were read: the first
	// station past its limit, else the one under most pressure when the
	// search failed.
	for i := 0; i <= last; i++ {
		best := 1.0
		for _, st := range pts[i].Stations {
			if s := stationSeverity(&st, budget); s > best {
				best, upstream = s, st.Name
			}
		}
		if upstream != "" {
			return step, upstream
		}
	}
	if bad >= 0 {
		best := stationPressed
		for _, st := range pts[bad].Stations {
			if s := stationSeverity(&st, budget); s >= best {
				best, upstream = s, st.Name
			}
		}
	}
	return step, upstream
}

// stationPressed is the severity at which a station that has not crossed
// is still named for a failing step: 72% busy, or queueing for 80% of its
// service time. A station under less pressure is not what failed: the
// limit is elsewhere (inside the target, in front of its upstreams).
const stationPressed = 0.8

// stationNearFull is the utilisation past which a station counts as
// saturating: queueing delays grow steeply beyond it.
const stationNearFull = 0.9

// stationSeverity is how far a station is past its limits in one step:
// the share of its requests it refused or failed over the error budget,
// the time its requests queued over the time they were served (queueing
// that outlasts service), or its utilisation over 90%. Past 1 it has
// crossed.
func stationSeverity(st *StationPoint, budget float64) float64 {
	if st.Requests == 0 {
		return 0
	}
	s := math.Max(st.Failed/budget, st.Utilisation/stationNearFull)
	if service := st.MeanLatencyMs - st.MeanWaitMs; service > 0 {
		s = math.Max(s, st.MeanWaitMs/service)
	}
	return s
}

// String writes the SLO as ParseSLO reads it: "p99=800ms,errors=1%".
func (s SLO) String() string {
	return QuantileName(s.Quantile) + "=" + s.Latency.String() + ",errors=" + FormatPercentShort(s.ErrorBudget)
}

// SaturationReport is a saturation search's record, saturation.json in
// its run folder: the plan, every step measured, the saturation found and
// why the search stopped.
type SaturationReport struct {
	Scenario      string    `json:"scenario"`
	Target        string    `json:"target"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	SLO           string    `json:"slo"`         // as --slo takes it: "p99=800ms,errors=1%"
	MinGoodput    float64   `json:"min_goodput"` // share of the offered load
	StartRate     float64   `json:"start_rate"`  // journey arrivals per second
	StepRate      float64   `json:"step_rate"`
	MaxRate       float64   `json:"max_rate"` // 0 when the plan had no maximum
	StepDurationS float64   `json:"step_duration_s"`
	Refine        bool      `json:"refine"`

	Steps       []StepPoint `json:"steps"` // in the order they ran
	Saturation  *Saturation `json:"saturation"`
	Stopped     string      `json:"stopped"` // why the search ended
	Interrupted bool        `json:"interrupted,omitzero"`

	// GeneratorLimit says, when the search stopped because the load
	// generator itself was the limit, at which step rate and why. That
	// step is not among Steps: its figures are the generator's, not the
	// target's, so it never counts as the target saturating.
	GeneratorLimit string `json:"generator_limit,omitempty"`
}

// WriteSaturationJSON writes r as indented JSON.
func WriteSaturationJSON(w io.Writer, r *SaturationReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write saturation report: %w", err)
	}
	return nil
}

// DecodeSaturationReport reads a report written by WriteSaturationJSON.
func DecodeSaturationReport(r io.Reader) (*SaturationReport, error) {
	var rep SaturationReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("read saturation report: %w", err)
	}
	return &rep, nil
}

// SetStepOnsets dates each error mode of a saturation search's combined
// summary by the steps: OnsetOfferedRate becomes the offered rate of the
// lowest-rate step in which the mode occurred. The time-window estimate
// Summary makes would mix neighbouring steps, and bisection steps run
// after higher ones, so the first step in time is not the lowest rate.
func SetStepOnsets(s *Summary, points []StepPoint) {
	type key struct {
		mode     ErrorMode
		upstream string
	}
	lowest := map[key]float64{}
	for _, p := range points {
		for _, e := range p.Errors {
			k := key{e.Mode, e.Upstream}
			if r, ok := lowest[k]; !ok || p.OfferedRate < r {
				lowest[k] = p.OfferedRate
			}
		}
	}
	for i := range s.Errors {
		if r, ok := lowest[key{s.Errors[i].Mode, s.Errors[i].Upstream}]; ok {
			s.Errors[i].OnsetOfferedRate = r
		}
	}
}

// Verdict is a step's verdict for a table: "ok", or its reasons.
func (p *StepPoint) Verdict() string {
	if p.Pass {
		return "ok"
	}
	short := make([]string, 0, len(p.Reasons))
	for _, r := range p.Reasons {
		head, _, _ := strings.Cut(r, ":")
		short = append(short, head)
	}
	return strings.Join(short, "; ")
}
