package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios"
)

// Files of a run folder.
const (
	ResultsFile = "results.jsonl" // one result per line, readable by `vegeta report` and `vegeta plot`
	SummaryFile = "summary.json"  // the summary.json contract of the README
)

// Outcome is what a finished run leaves behind.
type Outcome struct {
	Dir         string              // the run folder
	Results     string              // path of the results file
	Summary     *reports.Summary    // also written to SummaryFile
	Interrupted bool                // the run was stopped before its profile ended
	Aborted     *reports.GateResult // the abort_on_fail gate that ended the run early (Options.Abort), nil for none
}

// Run replays o.Scenario against o.Target until the profile ends or ctx is
// cancelled, and returns when every journey it started has ended (or was cut
// off after the grace period) and the results file and summary are written.
//
// Cancelling ctx is the clean interruption: arrivals stop at once, running
// journeys stop at their next step, requests still open after Grace are
// cancelled, and Run returns the outcome with Interrupted set and a nil
// error. Run returns an error only when the run could not happen or its
// files could not be written; failed requests are results, not errors.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := checkReachable(o.Target, 3*time.Second); err != nil {
		return nil, err
	}
	client, err := newClient(o.Scenario.HTTP, o.MaxInflight)
	if err != nil {
		return nil, err
	}
	if o.Dial != nil {
		client.Transport.(*http.Transport).DialContext = o.Dial
	}
	defer client.CloseIdleConnections()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	resultsPath := filepath.Join(o.Dir, ResultsFile)
	var f *os.File
	if o.Results != ResultsNone {
		if f, err = os.Create(resultsPath); err != nil {
			return nil, fmt.Errorf("results file: %w", err)
		}
		defer f.Close()
	} else {
		resultsPath = ""
	}
	hlogPath := filepath.Join(o.Dir, merge.IntervalsFile)
	hlog, err := os.Create(hlogPath)
	if err != nil {
		return nil, fmt.Errorf("latency log: %w", err)
	}
	defer hlog.Close()

	r := newRun(o, client)
	clock := time.Now()
	r.start = clock
	info := o.Info
	if !o.StartAt.IsZero() {
		late := clock.Sub(o.StartAt)
		if late > o.StartTolerance {
			return nil, fmt.Errorf("%w: --start-at %s: shard %s would start %s late (tolerance %s)",
				ErrBadInput, o.StartAt.UTC().Format(time.RFC3339Nano), o.Shard, late.Round(time.Millisecond), o.StartTolerance)
		}
		r.start = o.StartAt
		info.StartAt = o.StartAt.UTC()
		info.StartOffsetMs = float64(late) / float64(time.Millisecond)
	}
	info.Clock = clock.UTC()
	info.Scenario, info.Source, info.Seed, info.Target, info.StartedAt = o.Scenario.Name, o.Scenario.Source, o.Scenario.Seed, o.Target, r.start.UTC()
	if o.Shard.N > 1 {
		info.Shard = o.Shard.String()
	}
	for _, g := range o.Scenario.Gates {
		info.Gates = append(info.Gates, g.Expr)
	}
	if err := writeRunInfo(o.Dir, info); err != nil {
		return nil, err
	}
	r.gen.begin(o.MaxInflight)
	if o.PaceGC {
		defer paceGC()()
	}
	acc := reports.NewAccumulator(reports.WithStart(r.start))
	collected := make(chan error, 1)
	intervals := merge.NewIntervalWriter(hlog)
	var out io.Writer = io.Discard
	if f != nil {
		out = f
	}
	file := resultsfile.NewWriter(out, resultsfile.WithAttack(o.Scenario.Name))
	sinks := append(reports.Sinks{o.Results.filter(file), acc, intervals}, o.Sinks...)
	go func() { collected <- r.collect(sinks, file) }()
	stopProgress := r.startProgress(acc)
	stopLive := r.startLive(o.Sinks)

	actx, stopArrivals := context.WithCancel(ctx)
	defer stopArrivals()
	if o.Abort != nil {
		go func() {
			select {
			case <-o.Abort.Done():
				stopArrivals()
			case <-actx.Done():
			}
		}()
	}
	ended := r.arrivals(actx)
	interrupted := !ended && ctx.Err() != nil
	var aborted *reports.GateResult
	if !ended && !interrupted && o.Abort != nil {
		aborted = o.Abort.Lost()
	}
	r.drain()
	close(r.results)
	writeErr := <-collected
	stopProgress()
	stopLive()
	if f != nil {
		if err := f.Sync(); err != nil && writeErr == nil {
			writeErr = err
		}
	}
	if writeErr != nil {
		return nil, fmt.Errorf("results file %s: %w", resultsPath, writeErr)
	}
	if err := errors.Join(intervals.Close(), hlog.Sync()); err != nil {
		return nil, fmt.Errorf("latency log %s: %w", hlogPath, err)
	}

	planned := o.Scenario.Profile.Duration()
	if interrupted || aborted != nil {
		planned = 0 // the span of the intended times that were played
	}
	sum := acc.Summary(reports.SummaryMeta{
		Scenario:    o.Scenario.Name,
		Source:      "replay",
		Interrupted: interrupted,
		Aborted:     aborted,
		Duration:    planned,
		Gates:       o.Scenario.Gates,
		SLO:         o.Scenario.SLO, // judges each second for the metastability check
		Series:      true,           // per-second offered, dropped, errors, latency; bounded by coarsening
		TimeScale:   o.Info.TimeScale,
		RateScale:   o.Info.RateScale,
	})
	gen := r.gen.Snapshot()
	sum.Generator = &gen
	reports.Sinks(o.Sinks).NoteSummary(sum)
	if err := reports.WriteSummaryFile(filepath.Join(o.Dir, SummaryFile), sum); err != nil {
		return nil, err
	}
	if err := merge.WriteCounters(filepath.Join(o.Dir, merge.CountersFile), r.counters(info, interrupted || aborted != nil, acc)); err != nil {
		return nil, err
	}
	return &Outcome{Dir: o.Dir, Results: resultsPath, Summary: sum, Interrupted: interrupted, Aborted: aborted}, nil
}

// counters are the run's merge inputs besides its latency log.
func (r *run) counters(info RunInfo, interrupted bool, acc *reports.Accumulator) *merge.Counters {
	h := merge.Header{Scenario: info.Scenario, Source: "replay", Seed: info.Seed, Shard: info.Shard,
		StartAt: info.StartAt, Duration: r.sc.Profile.Duration(), Interrupted: interrupted}
	for _, g := range r.sc.Gates {
		h.Gates = append(h.Gates, g.Expr)
	}
	if r.sc.SLO != (reports.SLO{}) {
		slo := r.sc.SLO
		h.SLO = &slo
	}
	return &merge.Counters{Header: h, Tally: acc.Tally()}
}

// run is the state of one replay.
type run struct {
	o      Options
	sc     *scenarios.Scenario
	base   string
	client *http.Client
	start  time.Time

	slots   chan struct{}       // one token per journey in flight, up to MaxInflight
	results chan reports.Result // closed by Run once every journey has ended

	// arrivalsQ hands an arrival to an idle journey goroutine. Goroutines
	// are reused rather than started per arrival: a goroutine's stack grows
	// during its first request, and a fresh one would grow it again.
	arrivalsQ chan arrival
	idle      time.Duration  // how long an idle journey goroutine waits for work before it ends
	workers   sync.WaitGroup // journey goroutines, waited for before Run returns
	finished  chan struct{}  // closed once every journey has ended: idle goroutines end

	// steps is done when journeys must stop at their next step (interrupt,
	// or the grace period ran out); requests is done when open requests
	// must be cancelled (the grace period ran out).
	steps, requests          context.Context
	stopSteps, stopRequests  context.CancelFunc
	journeys                 sync.WaitGroup
	arrived, dropped, active atomic.Int64
	due                      atomic.Int64 // requests whose time has come, ended or not, dropped arrivals included
	gen                      *GeneratorMeter
}

func newRun(o Options, client *http.Client) *run {
	r := &run{
		o:         o,
		sc:        o.Scenario,
		base:      o.base(),
		client:    client,
		slots:     make(chan struct{}, o.MaxInflight),
		results:   make(chan reports.Result, 8192),
		arrivalsQ: make(chan arrival),
		idle:      time.Second,
		finished:  make(chan struct{}),
		gen:       o.Generator,
	}
	if r.gen == nil {
		r.gen = NewGeneratorMeter()
	}
	r.steps, r.stopSteps = context.WithCancel(context.Background())
	r.requests, r.stopRequests = context.WithCancel(context.Background())
	return r
}

// arrivals paces the profile's arrivals until it ends (true) or ctx is
// cancelled (false). Each arrival's intended time comes from the pacer alone,
// not from when this loop woke up, so a late wake-up is charged to the
// arrivals it delayed instead of shifting them. The schedule is the
// single-process one whatever the shard: a shard walks every global
// arrival and plays its own stripe of them.
func (r *run) arrivals(ctx context.Context) bool {
	p := r.sc.Profile
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due time.Duration
	for n := uint64(0); ; n++ {
		wait, stop := p.Pace(due, n)
		if stop {
			return ctx.Err() == nil
		}
		due += wait
		if !r.o.Shard.Plays(n) {
			continue
		}
		if d := due - time.Since(r.start); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				r.stopSteps()
				return false
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			r.stopSteps()
			return false
		}
		r.gen.observeLag(time.Since(r.start) - due)
		r.arrive(n, r.start.Add(due))
	}
}

// arrive starts arrival n's journey now if a slot is free, or lets it wait
// for one until MaxWait after its intended time, after which it is dropped.
func (r *run) arrive(n uint64, intended time.Time) {
	r.arrived.Add(1)
	r.journeys.Add(1)
	a := arrival{n: n, intended: intended}
	select {
	case r.slots <- struct{}{}:
		r.gen.observeInFlight(int64(len(r.slots)))
		r.start1(a)
		return
	default:
	}
	go func() {
		t := time.NewTimer(time.Until(intended.Add(r.o.MaxWait)))
		defer t.Stop()
		select {
		case r.slots <- struct{}{}:
			r.gen.observeInFlight(int64(len(r.slots)))
			r.start1(a)
		case <-t.C:
			r.drop(n, intended)
			r.journeys.Done()
		case <-r.steps.Done():
			r.journeys.Done()
		}
	}()
}

// arrival is one journey due to start.
type arrival struct {
	n        uint64
	intended time.Time
}

// start1 hands an arrival that holds a slot to an idle journey goroutine,
// or starts one.
func (r *run) start1(a arrival) {
	select {
	case r.arrivalsQ <- a:
	default:
		r.workers.Add(1)
		go r.worker(a)
	}
}

// worker walks journeys one after another, and ends after idling for
// r.idle with no arrival to take.
func (r *run) worker(a arrival) {
	defer r.workers.Done()
	t := time.NewTimer(r.idle)
	defer t.Stop()
	for {
		r.journey(a.n, a.intended)
		t.Reset(r.idle)
		select {
		case a = <-r.arrivalsQ:
		case <-t.C:
			return
		case <-r.finished:
			return
		}
	}
}

// drop records arrival n as dropped, attributed to the first step of the
// journey it would have walked.
func (r *run) drop(n uint64, intended time.Time) {
	r.dropped.Add(1)
	r.due.Add(1)
	res := reports.Result{Seq: n, User: r.userIndex(n), Attempt: 1, Intended: intended,
		Latency: r.o.MaxWait, Dropped: true, Error: reports.DroppedError, Arrival: true}
	if u, err := r.sc.NewUser(res.User); err == nil {
		w := r.sc.NewWalk(u, intended)
		res.Journey = w.Journey.Name
		if st := w.FirstStep(); st != nil {
			res.Step, res.Method = st.Name, st.Method
		}
	}
	r.results <- res
}

// userIndex is the user of global arrival n: the same user whichever
// shard plays it.
func (r *run) userIndex(n uint64) uint64 { return n }

// drain waits for the journeys under way; once the grace period has run out
// it tells them to stop and cancels their open requests.
func (r *run) drain() {
	grace := time.AfterFunc(r.o.Grace, func() {
		r.stopSteps()
		r.stopRequests()
	})
	r.journeys.Wait()
	grace.Stop()
	r.stopSteps()
	r.stopRequests()
	close(r.finished)
	r.workers.Wait()
}

// collect owns the sinks: it hands every result to each of them, and
// flushes the results file at least every second so an interrupted or
// killed run leaves a readable file.
func (r *run) collect(sinks reports.Sinks, file *resultsfile.Writer) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case res, ok := <-r.results:
			if !ok {
				return file.Flush()
			}
			sinks.Add(&res)
		case <-tick.C:
			if err := file.Flush(); err != nil {
				// Keep draining: the journeys must not block on a full
				// channel; the error is returned at the end.
				continue
			}
		}
	}
}
