package sim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// PlanOptions configure a capacity plan: which of Model's parameters may
// grow, over which ranges, at what cost, and the SLO a configuration must
// hold through the whole scenario.
type PlanOptions struct {
	// Scenario returns the scenario to simulate; each worker asks for its
	// own, so no simulation shares state with another.
	Scenario func() (*scenarios.Scenario, error)
	Model    *Model
	Vary     []Vary
	// Cost is the cost of one unit of a parameter (by Vary.Param); a
	// parameter it does not name costs 1 a unit.
	Cost    map[string]float64
	SLO     reports.SLO
	Seed    uint64 // the stations' seed, the same for every configuration
	Workers int    // simulations at once; 0 means 1
	// Progress, when set, is called after each simulation and about once a
	// second during one, from the worker that ran it (never two at once).
	Progress func(PlanProgress)
}

// PlanProgress is how far a plan has got.
type PlanProgress struct {
	Simulated int           // configurations simulated
	Bound     int           // simulations a plan this size needs at most
	Clock     time.Duration // the simulated clock of the latest simulation
	Span      time.Duration // the scenario's profile, the clock's end
	Elapsed   time.Duration // wall time since the plan began
}

// ETA estimates the wall time left if every remaining simulation of the
// bound were run; the plan usually ends sooner, as it skips dominated ones.
func (p PlanProgress) ETA() time.Duration {
	if p.Simulated == 0 {
		return 0
	}
	per := p.Elapsed / time.Duration(p.Simulated)
	return per * time.Duration(max(0, p.Bound-p.Simulated))
}

// Config is one configuration a plan simulated: a value per Vary, in
// order, and how the scenario fared.
type Config struct {
	Values   []int
	Cost     float64
	Latency  float64 // the SLO's quantile over the run, ms
	Errors   float64 // failed share of the requests
	Requests int64
	Holds    bool    // latency and errors within the SLO
	Margin   float64 // the smaller relative headroom: 1 - latency/target, 1 - errors/budget (an error budget of 0 met exactly counts as 1)
}

// Plan is the outcome of a capacity plan.
type Plan struct {
	Vary      []Vary
	SLO       reports.SLO
	Holding   []Config // the minimal configurations that hold, cheapest first
	Simulated int      // configurations simulated
	Grid      int      // configurations in the whole grid
	Largest   *Config  // the largest configuration, when it did not hold: how far from the SLO the ranges end
}

// PlanCapacity finds the configurations of o.Vary's parameters that hold
// o.SLO through the whole scenario, cheapest first. It takes the stack to
// be monotone in every parameter (more servers, workers or queue never
// make it fail the SLO where fewer held) and so searches the minimal
// frontier instead of the grid: for each combination of all but the last
// parameter, a binary search over the last one, bounded by configurations
// already known to hold or fail.
func PlanCapacity(ctx context.Context, o PlanOptions) (*Plan, error) {
	return planCapacity(ctx, o, nil)
}

func planCapacity(ctx context.Context, o PlanOptions, judge func(context.Context, []int) (*Config, error)) (*Plan, error) {
	if o.Model == nil || o.Scenario == nil || len(o.Vary) == 0 {
		return nil, fmt.Errorf("%w: a plan needs a scenario, a model and at least one --vary", ErrInvalidModel)
	}
	seen := map[string]bool{}
	for _, v := range o.Vary {
		if seen[v.Param] {
			return nil, fmt.Errorf("%w: parameter %s is varied twice", ErrInvalidModel, v.Param)
		}
		seen[v.Param] = true
		if err := v.Check(o.Model); err != nil {
			return nil, err
		}
	}
	for p, c := range o.Cost {
		if !seen[p] {
			return nil, fmt.Errorf("%w: cost of %s, which no --vary varies", ErrInvalidModel, p)
		}
		if !(c >= 0) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("%w: cost of %s: %v is not a cost", ErrInvalidModel, p, c)
		}
	}
	if o.SLO.Latency <= 0 || o.SLO.Quantile <= 0 {
		return nil, fmt.Errorf("%w: a plan needs an SLO latency target", ErrInvalidModel)
	}
	s := &planner{o: o, start: time.Now(), judge: judge}
	for _, v := range o.Vary {
		s.values = append(s.values, v.Values())
	}
	d := len(s.values)
	last := s.values[d-1]
	s.grid = 1
	for _, vs := range s.values {
		s.grid *= len(vs)
	}
	outers := [][]int{{}}
	for _, vs := range s.values[:d-1] {
		var next [][]int
		for _, prefix := range outers {
			for i := range vs {
				next = append(next, append(slices.Clone(prefix), i))
			}
		}
		outers = next
	}
	s.bound = len(outers) * (1 + bits(len(last)))

	// The largest configuration first: when it fails, every other one
	// does, and the plan is over in one simulation.
	top := make([]int, d)
	for i, vs := range s.values {
		top[i] = len(vs) - 1
	}
	workers := make([]*planWorker, max(1, o.Workers))
	for i := range workers {
		sc, err := o.Scenario()
		if err != nil {
			return nil, err
		}
		workers[i] = &planWorker{s: s, sc: sc}
	}
	if holds, err := workers[0].holds(ctx, top); err != nil || !holds {
		if err != nil {
			return nil, err
		}
		return s.plan(), nil
	}
	s.learn(workers[:1])
	// Waves of one search per worker: a search consults what the waves
	// before it learned and its own probes, never a concurrent search's,
	// so the plan depends on the number of workers but not on timing.
	for len(outers) > 0 {
		wave := outers[:min(len(workers), len(outers))]
		outers = outers[len(wave):]
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for i, outer := range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = workers[i].search(ctx, outer)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		s.learn(workers[:len(wave)])
	}
	return s.plan(), nil
}

// bits is the number of probes a binary search over n values needs.
func bits(n int) int {
	b := 0
	for ; n > 1; n = (n + 1) / 2 {
		b++
	}
	return b
}

// planner is a plan's shared bookkeeping: what is known to hold or fail.
// The simulations themselves share nothing.
type planner struct {
	o      PlanOptions
	start  time.Time
	values [][]int // per Vary, its values
	grid   int
	bound  int

	holds [][]int // indexes of configurations that held, as the waves before learned
	fails [][]int // of those that did not

	mu        sync.Mutex
	results   map[string]*Config
	minimal   [][]int // per search, the least configuration that held
	simulated int
	report    sync.Mutex // serialises Progress

	// judge, in tests, stands in for the simulation of a configuration.
	judge func(ctx context.Context, idx []int) (*Config, error)
}

// learn adds what the workers' searches found to what every later search
// knows.
func (s *planner) learn(workers []*planWorker) {
	for _, w := range workers {
		s.holds = append(s.holds, w.held...)
		s.fails = append(s.fails, w.failed...)
		w.held, w.failed = nil, nil
	}
}

// known says whether idx is settled by monotonicity, from what earlier
// waves and this worker's own search found: held when a configuration
// with no more of anything held, failed when one with no less of anything
// failed.
func (w *planWorker) known(idx []int) (holds, ok bool) {
	for _, hs := range [][][]int{w.s.holds, w.held} {
		for _, h := range hs {
			if leq(h, idx) {
				return true, true
			}
		}
	}
	for _, fs := range [][][]int{w.s.fails, w.failed} {
		for _, f := range fs {
			if leq(idx, f) {
				return false, true
			}
		}
	}
	return false, false
}

// leq reports whether a has no more of anything than b.
func leq(a, b []int) bool {
	for i := range a {
		if a[i] > b[i] {
			return false
		}
	}
	return true
}

func key(idx []int) string {
	parts := make([]string, len(idx))
	for i, x := range idx {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

type planWorker struct {
	s            *planner
	sc           *scenarios.Scenario
	held, failed [][]int // what this wave's search found
}

// search finds, for the outer parameters at outer (indexes), the least
// value of the last parameter that holds, if any does.
func (w *planWorker) search(ctx context.Context, outer []int) error {
	s := w.s
	n := len(s.values[len(s.values)-1])
	at := func(i int) []int { return append(slices.Clone(outer), i) }
	hi := n - 1
	// A configuration already known to hold with no more of the outer
	// parameters bounds the search from above; one that holds at the
	// least value makes this whole search dominated.
	for _, h := range s.holds {
		if leq(h[:len(outer)], outer) {
			hi = min(hi, h[len(outer)])
		}
	}
	if holds, err := w.holds(ctx, at(hi)); err != nil || !holds {
		return err
	}
	lo := -1 // the largest index known to fail
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		holds, err := w.holds(ctx, at(mid))
		if err != nil {
			return err
		}
		if holds {
			hi = mid
		} else {
			lo = mid
		}
	}
	s.mu.Lock()
	s.minimal = append(s.minimal, at(hi))
	s.mu.Unlock()
	return nil
}

// holds says whether the configuration at idx holds the SLO, from what is
// known when monotonicity settles it, by simulating it otherwise.
func (w *planWorker) holds(ctx context.Context, idx []int) (bool, error) {
	if h, ok := w.known(idx); ok {
		return h, nil
	}
	judge := w.simulate
	if w.s.judge != nil {
		judge = w.s.judge
	}
	c, err := judge(ctx, idx)
	if err != nil {
		return false, err
	}
	s := w.s
	if c.Holds {
		w.held = append(w.held, idx)
	} else {
		w.failed = append(w.failed, idx)
	}
	s.mu.Lock()
	if s.results == nil {
		s.results = map[string]*Config{}
	}
	s.results[key(idx)] = c
	s.simulated++
	p := PlanProgress{Simulated: s.simulated, Bound: s.bound, Elapsed: time.Since(s.start)}
	s.mu.Unlock()
	w.progress(p, true)
	return c.Holds, nil
}

// progress reports p; after a simulation (done), its clock stands at the
// profile's end.
func (w *planWorker) progress(p PlanProgress, done bool) {
	s := w.s
	if s.o.Progress == nil {
		return
	}
	if p.Span == 0 {
		p.Span = w.sc.Profile.Duration()
	}
	if done {
		p.Clock = p.Span
	}
	s.report.Lock()
	s.o.Progress(p)
	s.report.Unlock()
}

// simulate runs the scenario on the model with idx's values.
func (w *planWorker) simulate(ctx context.Context, idx []int) (*Config, error) {
	s := w.s
	m := *s.o.Model
	m.Stations = slices.Clone(m.Stations)
	c := &Config{Values: make([]int, len(idx))}
	for i, v := range s.o.Vary {
		c.Values[i] = s.values[i][idx[i]]
		if err := v.Set(&m, c.Values[i]); err != nil {
			return nil, err
		}
		c.Cost += s.cost(v.Param) * float64(c.Values[i])
	}
	clock := &clockSink{}
	if s.o.Progress != nil {
		clock.tick = func(at time.Duration) {
			s.mu.Lock()
			p := PlanProgress{Simulated: s.simulated, Bound: s.bound, Clock: at, Elapsed: time.Since(s.start)}
			s.mu.Unlock()
			w.progress(p, false)
		}
	}
	out, err := Run(ctx, Options{Scenario: w.sc, Model: &m, Seed: s.o.Seed, Sinks: []reports.Sink{clock}})
	if err != nil {
		return nil, err
	}
	if out.Summary.Interrupted {
		return nil, ctx.Err()
	}
	sum := out.Summary
	slo := s.o.SLO
	c.Requests = sum.Requests
	c.Latency = sum.Latency.At(slo.Quantile)
	if sum.Requests > 0 {
		c.Errors = 1 - float64(sum.OK)/float64(sum.Requests)
	}
	target := float64(slo.Latency) / float64(time.Millisecond)
	c.Holds = sum.Requests > 0 && c.Latency <= target && c.Errors <= slo.ErrorBudget
	c.Margin = 1 - c.Latency/target
	switch {
	case slo.ErrorBudget > 0:
		c.Margin = min(c.Margin, 1-c.Errors/slo.ErrorBudget)
	case c.Errors > 0:
		c.Margin = math.Inf(-1)
	}
	return c, nil
}

func (s *planner) cost(param string) float64 {
	if c, ok := s.o.Cost[param]; ok {
		return c
	}
	return 1
}

// plan gathers the minimal configurations that held, cheapest first.
func (s *planner) plan() *Plan {
	p := &Plan{Vary: s.o.Vary, SLO: s.o.SLO, Simulated: s.simulated, Grid: s.grid}
	var minimal [][]int
	for _, a := range s.minimal {
		dominated := false
		for _, b := range s.minimal {
			if leq(b, a) && !slices.Equal(a, b) {
				dominated = true
				break
			}
		}
		if !dominated && !slices.ContainsFunc(minimal, func(m []int) bool { return slices.Equal(m, a) }) {
			minimal = append(minimal, a)
		}
	}
	for _, idx := range minimal {
		if c := s.results[key(idx)]; c != nil {
			p.Holding = append(p.Holding, *c)
		}
	}
	slices.SortFunc(p.Holding, func(a, b Config) int {
		return cmp.Or(cmp.Compare(a.Cost, b.Cost), slices.Compare(a.Values, b.Values))
	})
	if len(p.Holding) == 0 {
		top := make([]int, len(s.values))
		for i, vs := range s.values {
			top[i] = len(vs) - 1
		}
		if c := s.results[key(top)]; c != nil {
			p.Largest = c
		}
	}
	return p
}

// clockSink follows the simulated clock through the results, calling tick
// about every simulated minute.
type clockSink struct {
	start, next time.Time
	tick        func(time.Duration)
}

// Add implements reports.Sink.
func (c *clockSink) Add(r *reports.Result) {
	if c.tick == nil {
		return
	}
	if c.start.IsZero() {
		c.start, c.next = r.Intended, r.Intended
	}
	if !r.Intended.Before(c.next) {
		c.tick(r.Intended.Sub(c.start))
		c.next = r.Intended.Add(time.Minute)
	}
}

// Write prints the plan as a table, cheapest first.
func (p *Plan) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "SLO %s with errors at most %s, through the whole scenario\n\n", sloTarget(p.SLO), reports.FormatPercent(p.SLO.ErrorBudget))
	if len(p.Holding) == 0 {
		b.WriteString("no configuration in the ranges holds the SLO")
		if c := p.Largest; c != nil {
			fmt.Fprintf(&b, ": the largest (%s) ends at %s %.0f ms, errors %s", p.values(c), reports.QuantileName(p.SLO.Quantile), c.Latency, reports.FormatPercent(c.Errors))
		}
		b.WriteString("\n")
	} else {
		b.WriteString("  cost")
		for _, v := range p.Vary {
			b.WriteString("  " + v.Param)
		}
		fmt.Fprintf(&b, "  %s ms  errors  margin\n", reports.QuantileName(p.SLO.Quantile))
		for _, c := range p.Holding {
			fmt.Fprintf(&b, "  %s", strconv.FormatFloat(c.Cost, 'g', 6, 64))
			for i, v := range p.Vary {
				fmt.Fprintf(&b, "  %*d", len(v.Param), c.Values[i])
			}
			fmt.Fprintf(&b, "  %.0f  %s  %s\n", c.Latency, reports.FormatPercent(c.Errors), reports.FormatPercent(c.Margin))
		}
	}
	fmt.Fprintf(&b, "\n%d of the grid's %d configurations simulated; the others are dominated\n", p.Simulated, p.Grid)
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Plan) values(c *Config) string {
	parts := make([]string, len(p.Vary))
	for i, v := range p.Vary {
		parts[i] = fmt.Sprintf("%s=%d", v.Param, c.Values[i])
	}
	return strings.Join(parts, ", ")
}

func sloTarget(s reports.SLO) string {
	return reports.QuantileName(s.Quantile) + " ≤ " + s.Latency.String()
}
