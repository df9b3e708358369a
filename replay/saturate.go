package replay

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// SaturationFile is the saturation search's record in its run folder: the
// plan, every step measured, the saturation point and why the search
// stopped (reports.SaturationReport as JSON).
const SaturationFile = "saturation.json"

// Bounds of a saturation search's plan.
const (
	// MaxPlanSteps is the most steps a plan may have before refinement, and
	// how far a plan without a maximum rate goes.
	MaxPlanSteps = 100
	// MinStepDuration is the shortest step: less than a second of arrivals
	// is too little to measure a rate.
	MinStepDuration = time.Second
	// DefaultSaturateGrace is a step's grace period unless Run.Grace says
	// otherwise: longer than a Run's, because a journey the grace period
	// cuts short counts against the step's goodput.
	DefaultSaturateGrace = time.Minute
)

// SaturateOptions configure a saturation search: a stepped ramp of the
// scenario's journey mix that stops by itself once saturation is confirmed.
type SaturateOptions struct {
	// Run holds what every step's run shares: Scenario (its journeys,
	// HTTP options and SLO; its profile is replaced by each step's rate),
	// Target, MaxInflight, MaxWait, Grace (default DefaultSaturateGrace),
	// Progress, Terminal and Info. Dir is
	// the search's folder: each step runs in its own subfolder
	// DIR/step-NN-RATE (results.jsonl and summary.json, as any run), and
	// the search writes saturation.json and a summary.json of all the
	// steps' results beside them. Shard must be left zero.
	Run Options

	// Start, Step and Max are journey arrival rates per second: the steps
	// hold Start, Start+Step, ... up to Max, which is played last when the
	// steps do not land on it. Max 0 leaves the plan open (MaxPlanSteps
	// steps at most).
	Start, Step, Max scenarios.Rate
	StepDuration     time.Duration // how long each step holds its rate, at least MinStepDuration

	// Refine bisects between the highest step that held and the lowest
	// that did not, RefineSteps times at most (default reports.DefaultRefineSteps)
	// or until they are within 2% of each other (reports.Search).
	Refine      bool
	RefineSteps int

	// SLO and MinGoodput are the criteria a step must meet to hold; the
	// zero SLO means the scenario's, and MinGoodput 0 means
	// reports.DefaultMinGoodput.
	SLO        reports.SLO
	MinGoodput float64

	// Stations, when set, reads the bank mocks' station metrics (see
	// mocks/bank.StationScraper) before, during (every StationEvery, default 500ms)
	// and after each step, so the saturation can name the station that
	// crossed first. A failing read leaves that step without stations.
	Stations     func(context.Context) ([]reports.StationSample, error)
	StationEvery time.Duration

	// Gates judge the whole search once it has ended (saturation_rate,
	// p99 over every window, ...). The scenario's own gates do not: a
	// search goes past saturation on purpose.
	Gates []reports.Gate

	newMeter func() *GeneratorMeter // each step's generator meter; nil for NewGeneratorMeter (tests fake it)
}

// SaturateOutcome is what a saturation search leaves behind.
type SaturateOutcome struct {
	Dir         string                    // the search's folder
	Report      *reports.SaturationReport // also written to SaturationFile
	Summary     *reports.Summary          // all steps' results, with Saturation set; also written to SummaryFile
	Interrupted bool                      // ctx was cancelled before the search ended
}

// Saturate runs a saturation search: one Run per step, each holding one
// arrival rate of the scenario's journey mix for StepDuration (a copy of
// the scenario with its profile replaced, and its seed moved on by the
// step's index so that each step enrols new citizens). Saturate only runs
// the steps: which rate comes next, when saturation is confirmed and where
// to bisect is reports.Search's, each step's verdict reports.MeasureStep's
// (goodput at least MinGoodput of the offered load, latency within the SLO,
// errors within the budget), and the analysis reports.AnalyzeSaturation.
//
// Cancelling ctx interrupts the step under way as it would a Run; the
// search stops, the interrupted step is left out of the analysis (its
// folder stays), and the outcome is returned with Interrupted set and a
// nil error. Errors are for a plan or options that cannot work (wrapping
// ErrBadInput), a step that could not run, or files that could not be
// written.
func Saturate(ctx context.Context, o SaturateOptions) (*SaturateOutcome, error) {
	plan, err := o.Plan()
	if err != nil {
		return nil, err
	}
	if !(o.MinGoodput >= 0 && o.MinGoodput <= 1) {
		return nil, fmt.Errorf("%w: minimum goodput %v: want a share between 0 and 1", ErrBadInput, o.MinGoodput)
	}
	if o.Run.Grace <= 0 {
		o.Run.Grace = DefaultSaturateGrace
	}
	o.Run.setDefaults()
	if err := o.Run.validate(); err != nil {
		return nil, err
	}
	if o.Run.Shard != (Shard{K: 0, N: 1}) {
		return nil, fmt.Errorf("%w: a saturation search cannot be sharded", ErrBadInput)
	}
	if err := os.MkdirAll(o.Run.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	s := &search{o: o, start: time.Now(), crit: reports.Criteria{SLO: o.slo(), MinGoodput: o.MinGoodput}, newMeter: o.newMeter}
	if s.newMeter == nil {
		s.newMeter = NewGeneratorMeter
	}
	s.all = reports.NewAccumulator(reports.WithStart(s.start))
	s.search = reports.NewSearch(reports.SearchPlan{Rates: plan, Capped: o.Max > 0, Refine: o.Refine, RefineSteps: o.RefineSteps})
	for {
		rate, refine, ok := s.search.Next()
		if !ok {
			break
		}
		p, err := s.step(ctx, rate, refine)
		if err != nil {
			return nil, err
		}
		if s.interrupted || s.genLimit != "" {
			break
		}
		s.search.Record(p)
	}
	stopped := s.search.Stopped()
	switch {
	case s.interrupted:
		stopped = "interrupted"
	case s.genLimit != "":
		stopped = s.genLimit + "; " + reports.GeneratorAdvice
	}
	return s.finish(stopped)
}

// Plan checks the plan (Start, Step, Max, StepDuration, RefineSteps) and
// returns the arrival rates of its steps, per second, before refinement.
// Problems are errors wrapping ErrBadInput.
func (o *SaturateOptions) Plan() ([]float64, error) {
	start, step, top := float64(o.Start), float64(o.Step), float64(o.Max)
	switch {
	case o.StepDuration < MinStepDuration:
		return nil, fmt.Errorf("%w: --step-duration %s is shorter than %s: a step needs a second of arrivals to measure a rate",
			ErrBadInput, o.StepDuration, MinStepDuration)
	case !(start > 0) || start > float64(scenarios.MaxRate):
		return nil, fmt.Errorf("%w: --start %s: want a positive rate up to %s", ErrBadInput, o.Start, scenarios.MaxRate)
	case !(step > 0) || math.IsInf(step, 0):
		return nil, fmt.Errorf("%w: --step %s: want a positive rate, or the plan never climbs to --max", ErrBadInput, o.Step)
	case top < 0 || top > float64(scenarios.MaxRate) || math.IsNaN(top):
		return nil, fmt.Errorf("%w: --max %s: want a positive rate up to %s", ErrBadInput, o.Max, scenarios.MaxRate)
	case top > 0 && top < start:
		return nil, fmt.Errorf("%w: --max %s is below --start %s: the plan cannot reach it", ErrBadInput, o.Max, o.Start)
	case o.RefineSteps < 0:
		return nil, fmt.Errorf("%w: refine steps %d: want 0 or more", ErrBadInput, o.RefineSteps)
	}
	if top > 0 {
		// The steps to climb from start to top, plus top itself when the
		// steps pass it by.
		if n := math.Ceil((top-start)/step-1e-9) + 1; n > MaxPlanSteps {
			return nil, fmt.Errorf("%w: reaching --max %s from --start %s by --step %s takes %.0f steps, more than %d: raise --step or --start",
				ErrBadInput, o.Max, o.Start, o.Step, n, MaxPlanSteps)
		}
	}
	return reports.RampRates(start, step, top, MaxPlanSteps), nil
}

// slo is the search's SLO: the options', else the scenario's, else the
// default.
func (o *SaturateOptions) slo() reports.SLO {
	switch {
	case o.SLO != (reports.SLO{}):
		return o.SLO
	case o.Run.Scenario != nil && o.Run.Scenario.SLO != (reports.SLO{}):
		return o.Run.Scenario.SLO
	}
	return reports.DefaultSLO
}

// search is the state of one saturation search.
type search struct {
	o           SaturateOptions
	start       time.Time
	crit        reports.Criteria
	search      *reports.Search      // decides the steps, from the points measured so far
	dirs        []string             // each step's folder, the interrupted one included
	all         *reports.Accumulator // every step's results, as they happen
	interrupted bool
	newMeter    func() *GeneratorMeter // one per step; replaced in tests
	generator   *reports.Generator     // the latest step's health: the limited one once limited
	genLimit    string                 // why the generator was the limit, once it was
	probeErr    error                  // the first failed station read, reported once
}

// step runs one step at rate and records its point.
func (s *search) step(ctx context.Context, rate float64, refine bool) (reports.StepPoint, error) {
	index := len(s.dirs) + 1
	plan := reports.StepPlan{Index: index, Rate: rate, Duration: s.o.StepDuration, Start: time.Since(s.start), Refine: refine}
	sc := *s.o.Run.Scenario
	sc.Profile = &scenarios.Profile{Stages: []scenarios.Stage{{Kind: scenarios.Hold, From: scenarios.Rate(rate), To: scenarios.Rate(rate), Duration: s.o.StepDuration}}}
	sc.Seed += int64(index)
	sc.Gates = nil // a step is judged by the search, not by the scenario's gates
	ro := s.o.Run
	ro.Scenario = &sc
	ro.Generator = s.newMeter()
	ro.Dir = filepath.Join(s.o.Run.Dir, fmt.Sprintf("step-%02d-%s", index, strconv.FormatFloat(rate, 'f', -1, 64)))
	s.dirs = append(s.dirs, ro.Dir)
	if w := ro.Progress; w != nil {
		kind := "step"
		if refine {
			kind = "bisection step"
		}
		fmt.Fprintf(w, "%s %d: %s journeys for %s\n", kind, index, reports.FormatRate(rate), s.o.StepDuration)
	}

	var meter reports.StepMeter
	ro.Sinks = append(ro.Sinks[:len(ro.Sinks):len(ro.Sinks)], &meter, s.all)
	stopWatch := s.watchStations(ctx)
	out, err := Run(ctx, ro)
	stations := stopWatch()
	if err != nil {
		return reports.StepPoint{}, fmt.Errorf("step %d (%s): %w", index, reports.FormatRate(rate), err)
	}
	if out.Interrupted {
		s.interrupted = true
		return reports.StepPoint{}, nil
	}
	p := reports.MeasureStep(plan, out.Summary, meter.Timing(), s.crit)
	s.generator = out.Summary.Generator
	if !p.Pass && s.generatorFailed(plan, out.Summary, meter.Timing()) {
		// A step that failed because the generator was itself the limit
		// measured the generator's ceiling, not the target's: it is kept
		// out of the analysis, and the search stops. (A step that held
		// all the same stands: a starved generator only makes figures
		// worse.)
		g := out.Summary.Generator
		s.genLimit = fmt.Sprintf("the generator was the limit at %s (%s)", reports.FormatRate(rate), strings.Join(g.Limits, "; "))
		if w := ro.Progress; w != nil {
			fmt.Fprintf(w, "step %d: failed with the generator LIMITED, so not the target's saturation: %s\n", index, strings.Join(g.Limits, "; "))
		}
		return reports.StepPoint{}, nil
	}
	p.Stations = stations
	if w := ro.Progress; w != nil {
		verdict := "held"
		if !p.Pass {
			verdict = strings.Join(p.Reasons, "; ")
		}
		fmt.Fprintf(w, "step %d: offered %s, goodput %s (%s), p50 %s, errors %.2f%%: %s\n", index, reports.FormatRate(p.OfferedRate),
			reports.FormatRate(p.Goodput), fmt.Sprintf("%.1f%%", p.GoodputRatio*100), fmtMs(p.Latency.P50), p.ErrorRate*100, verdict)
	}
	return p, nil
}

// generatorFailed says whether a failed step failed because of the
// generator: it ran out of its own resources, or it only dispatched
// arrivals late and the step would have held judged on the target's own
// latency (from sending) instead of latency from the intended time.
func (s *search) generatorFailed(plan reports.StepPlan, sum *reports.Summary, timing reports.StepTiming) bool {
	g := sum.Generator
	switch {
	case !g.Limited():
		return false
	case g.OutOfResources():
		return true
	}
	own := *sum
	own.Latency = sum.SendLatency
	return reports.MeasureStep(plan, &own, timing, s.crit).Pass
}

// watchStations reads the stations before the step and every StationEvery
// during it; the returned function reads them once more after it, stops
// the reader and returns what the stations did. Without a Stations probe
// it does nothing.
func (s *search) watchStations(ctx context.Context) func() []reports.StationPoint {
	probe := s.o.Stations
	if probe == nil {
		return func() []reports.StationPoint { return nil }
	}
	every := s.o.StationEvery
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	var watch reports.StationWatch
	failed := false
	observe := func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		samples, err := probe(pctx)
		if err != nil {
			if s.probeErr == nil {
				s.probeErr = err
				if w := s.o.Run.Progress; w != nil {
					fmt.Fprintf(w, "bank mock metrics: %v (the steps go on without them)\n", err)
				}
			}
			failed = true
			return
		}
		watch.Observe(time.Now(), samples)
	}
	observe()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				observe()
			}
		}
	}()
	return func() []reports.StationPoint {
		close(done)
		<-finished
		observe()
		if failed {
			return nil
		}
		return watch.Points()
	}
}

// finish analyses the steps, builds the summary of all their results and
// writes saturation.json and summary.json.
func (s *search) finish(stopped string) (*SaturateOutcome, error) {
	rep, sum := s.search.Finish(s.all, reports.SearchRecord{
		Scenario:       s.o.Run.Scenario.Name,
		Source:         "replay",
		Target:         s.o.Run.Target,
		StartedAt:      s.start.UTC(),
		Criteria:       s.crit,
		Start:          float64(s.o.Start),
		Step:           float64(s.o.Step),
		Max:            float64(s.o.Max),
		StepDuration:   s.o.StepDuration,
		Refine:         s.o.Refine,
		StepsRun:       len(s.dirs),
		Stopped:        stopped,
		Interrupted:    s.interrupted,
		GeneratorLimit: s.genLimit,
		TimeScale:      s.o.Run.Info.TimeScale,
		RateScale:      s.o.Run.Info.RateScale,
		Gates:          s.o.Gates,
	})
	sum.Generator = s.generator
	reports.Sinks(s.o.Run.Sinks).NoteSummary(sum)

	if err := reports.WriteFileAtomic(filepath.Join(s.o.Run.Dir, SaturationFile), func(w io.Writer) error {
		return reports.WriteSaturationJSON(w, rep)
	}); err != nil {
		return nil, err
	}
	if err := reports.WriteSummaryFile(filepath.Join(s.o.Run.Dir, SummaryFile), sum); err != nil {
		return nil, err
	}
	return &SaturateOutcome{Dir: s.o.Run.Dir, Report: rep, Summary: sum, Interrupted: s.interrupted}, nil
}

// fmtMs formats milliseconds for a progress line.
func fmtMs(v float64) string {
	return fmtLatency(time.Duration(v * float64(time.Millisecond)))
}
