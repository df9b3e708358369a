package reports

import (
	"fmt"
	"math"
	"time"
)

// DefaultRefineSteps is how many bisection steps a saturation search runs
// at most unless told otherwise.
const DefaultRefineSteps = 3

// RampRates returns the arrival rates (per second) of a stepped ramp:
// start, start+step, ... up to top, which is played last when the steps do
// not land on it; top 0 leaves the ramp open, maxSteps steps long. The
// caller checks that start and step are positive and top is 0 or at least
// start.
func RampRates(start, step, top float64, maxSteps int) []float64 {
	var rates []float64
	for i := 0; i < maxSteps; i++ {
		r := start + float64(i)*step
		if top > 0 && r > top*(1+1e-9) {
			if last := rates[len(rates)-1]; last < top*(1-1e-9) {
				rates = append(rates, top)
			}
			break
		}
		rates = append(rates, r)
	}
	return rates
}

// SearchPlan is how a saturation search climbs.
type SearchPlan struct {
	Rates  []float64 // the ramp's steps, arrival rates per second in order (RampRates)
	Capped bool      // the ramp ends at a maximum rate (--max), not at a step count
	// Refine bisects, after the ramp, between the highest step that held
	// and the lowest that did not, RefineSteps times at most (0 means
	// DefaultRefineSteps) or until they are within 2% of each other.
	Refine      bool
	RefineSteps int
}

// Search decides the steps of a saturation search from the steps measured
// so far: the ramp until saturation is confirmed (two failing steps in a
// row, or one failing clearly: see Criteria.Judge) or the plan ends, then
// the bisection steps. The engine that runs the steps asks Next for a rate,
// runs it, and gives the measured point to Record; the analysis of the
// points is AnalyzeSaturation.
type Search struct {
	plan    SearchPlan
	points  []StepPoint
	ramped  int     // ramp steps handed out
	failed  float64 // the rate of the last ramp step, when it failed
	stopped string  // why the ramp stopped; "" while it climbs
	refined int     // bisection steps handed out
}

// NewSearch starts a search of plan.
func NewSearch(plan SearchPlan) *Search { return &Search{plan: plan} }

// Next returns the arrival rate of the next step and whether it is a
// bisection step; ok is false once the search is over (Stopped says why).
func (s *Search) Next() (rate float64, refine, ok bool) {
	if s.stopped == "" {
		if s.ramped < len(s.plan.Rates) {
			s.ramped++
			return s.plan.Rates[s.ramped-1], false, true
		}
		s.stopped = s.endOfPlan()
	}
	if !s.plan.Refine {
		return 0, false, false
	}
	steps := s.plan.RefineSteps
	if steps == 0 {
		steps = DefaultRefineSteps
	}
	if s.refined >= steps {
		return 0, false, false
	}
	good, bad, ok := s.Bracket()
	if !ok || bad-good <= math.Max(0.02*good, 0.1) {
		return 0, false, false
	}
	s.refined++
	return math.Round((good+bad)/2*10) / 10, true, true
}

// Record adds the point measured at the rate Next gave, and applies the
// stop rule while the ramp climbs.
func (s *Search) Record(p StepPoint) {
	s.points = append(s.points, p)
	if s.stopped != "" || p.Refine {
		return
	}
	switch {
	case p.Pass:
		s.failed = 0
	case p.Clear:
		s.stopped = fmt.Sprintf("saturation confirmed: %s failed clearly (%s)", FormatRate(p.Rate), p.Reasons[0])
	case s.failed > 0:
		s.stopped = fmt.Sprintf("saturation confirmed: two failing steps in a row (%s and %s)", FormatRate(s.failed), FormatRate(p.Rate))
	default:
		s.failed = p.Rate
	}
}

// endOfPlan says why a ramp that never confirmed saturation stopped.
func (s *Search) endOfPlan() string {
	if len(s.plan.Rates) == 0 {
		return "the plan has no steps"
	}
	last := s.plan.Rates[len(s.plan.Rates)-1]
	if s.plan.Capped {
		return "reached --max " + FormatRate(last) + " without confirming saturation"
	}
	return fmt.Sprintf("no saturation after %d steps (up to %s)", len(s.plan.Rates), FormatRate(last))
}

// Bracket returns the highest rate that held below the lowest that failed,
// and that lowest failing rate: where saturation lies. ok is false until
// both are known.
func (s *Search) Bracket() (good, bad float64, ok bool) {
	good, bad = -1, -1
	for _, p := range s.points {
		if !p.Pass && (bad < 0 || p.Rate < bad) {
			bad = p.Rate
		}
	}
	for _, p := range s.points {
		if p.Pass && (bad < 0 || p.Rate < bad) {
			good = math.Max(good, p.Rate)
		}
	}
	return good, bad, good > 0 && bad > 0
}

// Points returns the points recorded, in the order the steps ran.
func (s *Search) Points() []StepPoint { return s.points }

// Stopped says why the ramp stopped: saturation confirmed, or the plan's
// end; "" while it climbs.
func (s *Search) Stopped() string { return s.stopped }

// SearchRecord is what a saturation search's engine knows besides its
// steps, for its record (Search.Finish).
type SearchRecord struct {
	Scenario  string
	Source    string // "replay" or "sim", as in summary.json
	Target    string
	StartedAt time.Time // zero for a simulated search
	Criteria  Criteria
	// Start, Step and Max are the plan's rates, journeys per second (Max
	// 0 for an open plan), as --start, --step and --max gave them.
	Start, Step, Max float64
	StepDuration     time.Duration
	Refine           bool
	StepsRun         int // steps that ran, an interrupted one included
	// Stopped is why the search ended; "" takes the search's own reason
	// (Search.Stopped).
	Stopped        string
	Interrupted    bool
	GeneratorLimit string
	TimeScale      float64
	RateScale      float64
	Gates          []Gate // judged over the whole search
}

// Finish analyses the search's points and builds its record
// (saturation.json) and the summary of every step's results, which all
// accumulated: with the saturation, each error mode dated by the lowest
// step it occurred in (SetStepOnsets), no metastability (the steps are
// separate runs at fixed rates: there is no decline to recover in) and
// the gates judged. Both engines finish a search with it.
func (s *Search) Finish(all *Accumulator, r SearchRecord) (*SaturationReport, *Summary) {
	stopped := r.Stopped
	if stopped == "" {
		stopped = s.Stopped()
	}
	rep := &SaturationReport{
		Scenario:       r.Scenario,
		Target:         r.Target,
		StartedAt:      r.StartedAt,
		SLO:            r.Criteria.SLO.String(),
		MinGoodput:     r.Criteria.minGoodput(),
		StartRate:      r.Start,
		StepRate:       r.Step,
		MaxRate:        r.Max,
		StepDurationS:  r.StepDuration.Seconds(),
		Refine:         r.Refine,
		Steps:          s.Points(),
		Saturation:     AnalyzeSaturation(s.Points(), r.Criteria),
		Stopped:        stopped,
		Interrupted:    r.Interrupted,
		GeneratorLimit: r.GeneratorLimit,
	}
	if rep.Steps == nil {
		rep.Steps = []StepPoint{}
	}
	sum := all.Summary(SummaryMeta{
		Scenario:    r.Scenario,
		Source:      r.Source,
		Interrupted: r.Interrupted,
		Duration:    time.Duration(r.StepsRun) * r.StepDuration,
		SLO:         r.Criteria.SLO,
		TimeScale:   r.TimeScale,
		RateScale:   r.RateScale,
	})
	SetStepOnsets(sum, s.Points())
	sum.Saturation = rep.Saturation
	sum.Metastability = nil
	if len(r.Gates) > 0 {
		sum.Gates = all.JudgeGates(sum, r.Gates)
	}
	return rep, sum
}
