package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/stampede-load/stampede/internal/yamlconf"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// Options configure one simulated run. Scenario and Model are required.
type Options struct {
	Scenario *scenarios.Scenario
	Model    *Model
	// Seed seeds the stations' service draws and the stack's jitter; the
	// users' behaviour comes from the scenario's seed, as in a replay.
	Seed uint64
	// Sinks receive every simulated result in the order results end in
	// virtual time, as a replay's sinks do.
	Sinks []reports.Sink
	// Start is the virtual wall-clock time of the run's start, stamped on
	// results; zero means 8 December 2020, 08:00 CET.
	Start time.Time
	// Grace is how long journeys under way may go on after the last
	// arrival, as a replay's grace period (default 10s).
	Grace time.Duration
}

// Outcome is what a simulated run leaves: the summary, as a replay's
// ("source": "sim"), and what the model saw of its stations.
type Outcome struct {
	Summary  *reports.Summary
	Events   uint64          // events the engine fired
	Stations []StationReport // in the model's order
}

// StationReport is how a station fared: the first time it turned a request
// away or let one wait out its max wait (its saturation), and its peaks.
type StationReport struct {
	Name         string
	Kind         string // the station's kind; "" for the stack's own admission limit and pool
	Servers      int
	Arrivals     int64
	Full         int64         // turned away: queue full
	TimedOut     int64         // waited out the max wait
	Down         int64         // refused while the station was down (a scenario outage)
	Cancelled    int64         // given up by the caller (the stack's call timeout)
	Shed         int64         // refused by the stack before reaching the station: bulkhead full, circuit open
	FirstFailure time.Duration // first visit turned away, timed out in the queue or given up; -1 when none
	FirstWait    time.Duration // first visit that found every server busy and waited; -1 when none
	PeakQueue    int
	PeakBusy     int     // the most servers busy at once
	Granted      int64   // visits given a server
	Waited       float64 // seconds those visits waited for one, in all
	Busy         float64 // server-seconds its servers were busy
	Utilisation  float64 // Busy over servers × the run's span
}

// LaunchDay is the virtual start of a simulation: 8 December 2020, 08:00
// in Rome.
var LaunchDay = time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)

// Run simulates o.Scenario's users walking their journeys through
// o.Model, from the first arrival to the end of the profile plus the grace
// period, and returns the summary the sinks' results make. Cancelling ctx
// stops it early: the summary then covers what was simulated.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Scenario == nil || o.Model == nil {
		return nil, fmt.Errorf("%w: simulation needs a scenario and a model", ErrInvalidModel)
	}
	if err := o.Model.Validate(); err != nil {
		return nil, err
	}
	if o.Start.IsZero() {
		o.Start = LaunchDay
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	r, err := newRun(o)
	if err != nil {
		return nil, err
	}
	acc := reports.NewAccumulator(reports.WithStart(o.Start))
	r.out = reports.NewPipe(append(reports.Sinks{acc}, o.Sinks...))
	r.e.At(0, &r.arrivals, 0)
	interrupted := false
	for r.e.Pending() > 0 {
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		until := r.e.Now() + time.Second
		if r.lastArrival >= 0 && until > r.lastArrival+o.Grace {
			until = r.lastArrival + o.Grace
			r.e.Run(until)
			break
		}
		r.e.Run(until)
	}
	r.cutOff()
	r.out.Close()
	planned := o.Scenario.Profile.Duration()
	if interrupted {
		planned = 0
	}
	sum := acc.Summary(reports.SummaryMeta{
		Scenario: o.Scenario.Name, Source: "sim", Interrupted: interrupted, Duration: planned,
		Gates: o.Scenario.Gates, SLO: o.Scenario.SLO, Series: true,
	})
	return &Outcome{Summary: sum, Events: r.e.Events(), Stations: r.report()}, nil
}

// run is the state of one simulation.
type run struct {
	o   Options
	sc  *scenarios.Scenario
	m   *Model
	e   Engine
	out *reports.Pipe
	rng *rand.Rand // the stack's own draws (retry jitter)

	arrivals    arrivalSource
	lastArrival time.Duration // -1 until the profile has ended
	routes      map[*scenarios.Step]*route
	stations    map[string]*downstream
	order       []*downstream
	bankList    []*downstream // the banks behind the IBAN service
	bankCum     []float64     // cumulative weights of bankList
	callTimeout *Delay
	dbTimeout   *Delay
	dbRead      *Station
	dbWrite     *Station
	pool        *Station      // the naive shared connection pool, or nil
	poolD       *downstream   // its statistics
	overhead    *sampler      // the stack's own time per request, or nil
	inFlight    int           // requests the stack handles now
	admission   StationReport // the stack's admission limit: its sheds and the first
	active      []*citizen
	free        []*citizen
}

// route is a model route made ready for one scenario step.
type route struct {
	*Route
	ops     []op
	needs   uint64        // user variables the step's request needs, one bit each
	gives   uint64        // user variables its success extracts
	timeout time.Duration // the app's timeout for the step
}

type op struct {
	kind     OpKind
	stations []*downstream
}

// downstream is a station as the stack reaches it.
type downstream struct {
	spec    *StationSpec
	st      *Station
	bulk    int // calls in flight, for the bulkhead
	breaker *breaker
	stats   StationReport
	// bankTimeout is the IBAN service's wait for a bank.
	bankTimeout *Delay
}

func newRun(o Options) (*run, error) {
	r := &run{o: o, sc: o.Scenario, m: o.Model, lastArrival: -1,
		rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), stations: map[string]*downstream{},
		routes: map[*scenarios.Step]*route{}}
	r.arrivals.r = r
	r.admission = StationReport{Name: "stack", Servers: o.Model.Stack.Workers, FirstFailure: -1, FirstWait: -1}
	for i := range r.m.Stations {
		spec := &r.m.Stations[i]
		h := fnv.New64a()
		h.Write([]byte(spec.Name))
		svc := spec.Service
		d := &downstream{spec: spec, st: NewStation(&r.e, spec.Name, spec.Servers, spec.Queue, spec.MaxWait, &svc, rand.NewPCG(o.Seed, h.Sum64()))}
		d.stats = StationReport{Name: spec.Name, Kind: spec.Kind, Servers: spec.Servers, FirstFailure: -1, FirstWait: -1}
		if b := r.m.Stack.Breaker; b != nil && spec.Kind != KindDB {
			d.breaker = &breaker{policy: *b}
		}
		r.stations[spec.Name] = d
		r.order = append(r.order, d)
		switch spec.Kind {
		case KindBank:
			w := max(spec.Weight, 0)
			if len(r.bankCum) > 0 {
				w += r.bankCum[len(r.bankCum)-1]
			}
			r.bankList, r.bankCum = append(r.bankList, d), append(r.bankCum, w)
		case KindIBAN:
			d.bankTimeout = r.e.Delay(spec.BankTimeout)
		case KindDB:
			if spec.Name == "db-read" {
				r.dbRead = d.st
			} else {
				r.dbWrite = d.st
			}
		}
	}
	for _, o := range r.sc.Outages {
		d := r.stations[o.Station]
		if d == nil || d.spec.Kind == KindDB {
			return nil, &modelError{fmt.Sprintf("%s:%d: outage: model %s has no bank mock station %q%s", r.sc.Source, o.Line, r.m.Name,
				o.Station, yamlconf.Suggest(o.Station, r.m.stationNames()))}
		}
		d.st.AddOutage(Outage{From: o.Start, To: o.Start + o.Duration})
	}
	if n := len(r.bankCum); n > 0 && r.bankCum[n-1] == 0 {
		for i := range r.bankCum {
			r.bankCum[i] = float64(i + 1) // no weights: equal shares
		}
	}
	r.callTimeout, r.dbTimeout = r.e.Delay(r.m.Stack.CallTimeout), r.e.Delay(r.m.Stack.DBTimeout)
	if ov := r.m.Stack.Overhead; ov != nil {
		smp := newSampler(*ov, rand.NewPCG(o.Seed, 0x0e4))
		r.overhead = &smp
	}
	if r.m.Stack.Pool > 0 {
		r.pool = NewStation(&r.e, "pool", r.m.Stack.Pool, -1, 0, nil, nil)
		spec := &StationSpec{Name: "pool", Servers: r.m.Stack.Pool, Queue: -1}
		r.poolD = &downstream{spec: spec, st: r.pool, stats: StationReport{Name: "pool", Servers: spec.Servers, FirstFailure: -1, FirstWait: -1}}
		r.order = append([]*downstream{r.poolD}, r.order...)
	}
	steps := []*scenarios.Step{}
	if r.sc.Login != nil {
		steps = append(steps, r.sc.Login)
	}
	for _, j := range r.sc.Journeys {
		steps = append(steps, j.Steps...)
	}
	bits := varBits{}
	for _, st := range steps {
		if r.routes[st] != nil {
			continue
		}
		mr := r.m.Route(st.Name)
		if mr == nil {
			return nil, fmt.Errorf("%w: model %s has no route for step %s of scenario %s", ErrInvalidModel, r.m.Name, st.Name, r.sc.Name)
		}
		timeout := st.Timeout
		if timeout <= 0 {
			timeout = r.sc.HTTP.Timeout
		}
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		rt := &route{Route: mr, timeout: timeout}
		for _, v := range st.Vars() {
			rt.needs |= bits.bit(v)
		}
		for _, x := range st.Extract {
			rt.gives |= bits.bit(x.Var)
		}
		if len(bits) > 64 {
			return nil, fmt.Errorf("%w: scenario %s uses %d user variables; the simulator tracks at most 64", ErrInvalidModel, r.sc.Name, len(bits))
		}
		for _, mo := range mr.Ops {
			o := op{kind: mo.Kind}
			names := mo.Stations
			if mo.Kind == OpCall && len(names) == 0 {
				names = []string{r.m.Stack.CardProcessor}
			}
			for _, n := range names {
				o.stations = append(o.stations, r.stations[n])
			}
			if len(o.stations) > maxFanOut {
				return nil, fmt.Errorf("%w: route %s fans out to %d stations, at most %d", ErrInvalidModel, mr.Step, len(o.stations), maxFanOut)
			}
			rt.ops = append(rt.ops, o)
		}
		r.routes[st] = rt
	}
	return r, nil
}

// varBits numbers the scenario's user variables.
type varBits map[string]uint

func (b varBits) bit(name string) uint64 {
	i, ok := b[name]
	if !ok {
		i = uint(len(b))
		b[name] = i
	}
	return 1 << (i % 64)
}

// arrivalSource paces the profile's arrivals, as the replay does.
type arrivalSource struct {
	r   *run
	n   uint64
	due time.Duration
}

// Act brings in the arrival due now (the run's first event only paces the
// first), then paces the next.
func (a *arrivalSource) Act(now time.Duration, tag uint64) {
	r := a.r
	if tag == arrivalDue {
		r.arrive(a.n, now)
		a.n++
	}
	a.schedule()
}

// schedule paces arrival a.n as the replay does: Pace(due, n) is the wait
// from the previous arrival's due time to arrival n's.
func (a *arrivalSource) schedule() {
	r := a.r
	wait, stop := r.sc.Profile.Pace(a.due, a.n)
	if stop {
		r.lastArrival = max(a.due, 0)
		return
	}
	a.due += wait
	r.e.At(a.due, a, arrivalDue)
}

// arrivalDue tags the event of an arrival; the run's first event only
// schedules the first.
const arrivalDue = 1

// arrive starts arrival n's walk at now.
func (r *run) arrive(n uint64, now time.Duration) {
	u, err := r.sc.NewUser(n)
	if err != nil {
		*r.out.Next() = reports.Result{Seq: n, User: n, Attempt: 1, Intended: r.o.Start.Add(now), Sent: r.o.Start.Add(now),
			Error: "data: " + err.Error(), Arrival: true}
		return
	}
	c := r.citizen()
	c.n = n
	r.sc.StartWalk(&c.walk, u, r.o.Start.Add(now))
	c.next()
}

func (r *run) citizen() *citizen {
	var c *citizen
	if n := len(r.free); n > 0 {
		c, r.free = r.free[n-1], r.free[:n-1]
	} else {
		c = &citizen{r: r}
		c.db.Client = c
		for i := range c.calls {
			cl := &c.calls[i]
			cl.c, cl.idx = c, i
			cl.station.Client, cl.bank.Client, cl.conn.Client = cl, cl, cl
			cl.station.Tag, cl.bank.Tag, cl.conn.Tag = visitStation, visitBank, visitConn
		}
	}
	c.slot = len(r.active)
	r.active = append(r.active, c)
	return c
}

func (r *run) release(c *citizen) {
	last := r.active[len(r.active)-1]
	r.active[c.slot], last.slot = last, c.slot
	r.active = r.active[:len(r.active)-1]
	c.walk = scenarios.Walk{}
	c.searches = [maxFanOut]time.Duration{}
	c.vars = 0
	r.free = append(r.free, c)
}

// cutOff ends the requests still open at the end of the grace period, as
// the replay cancels them.
func (r *run) cutOff() {
	for len(r.active) > 0 {
		c := r.active[len(r.active)-1]
		if c.busy {
			c.abort()
			c.emit(0, "", "", "", "interrupted: cancelled at the end of the grace period", r.e.Now(), false)
		}
		r.release(c)
	}
}

func (r *run) report() []StationReport {
	out := make([]StationReport, 0, len(r.order)+1)
	if r.m.Stack.Workers > 0 {
		out = append(out, r.admission)
	}
	span := r.e.Now().Seconds()
	for _, d := range r.order {
		s := d.stats
		s.Busy = d.st.BusyTime(r.e.Now())
		s.Granted, s.Waited, s.PeakBusy = d.st.Served()
		if span > 0 {
			s.Utilisation = s.Busy / (float64(s.Servers) * span)
		}
		out = append(out, s)
	}
	return out
}

// arrive brings a visit to the station, keeping its statistics.
func (d *downstream) arrive(v *Visit, now time.Duration) {
	d.stats.Arrivals++
	before := d.st.Waiting()
	d.st.Arrive(v)
	if q := d.st.Waiting(); q > before && d.stats.FirstWait < 0 {
		d.stats.FirstWait = now
	}
	if q := d.st.Waiting(); q > d.stats.PeakQueue {
		d.stats.PeakQueue = q
	}
}

func (d *downstream) refused(verdict Verdict, now time.Duration) {
	switch verdict {
	case QueueFull:
		d.stats.Full++
	case Down:
		d.stats.Down++
	default:
		d.stats.TimedOut++
	}
	d.failedAt(now)
}

// shed counts a call the stack refused before it reached the station.
func (d *downstream) shed(now time.Duration) {
	d.stats.Shed++
	d.failedAt(now)
}

// gaveUp counts a visit its caller gave up on (the call timed out).
func (d *downstream) gaveUp(now time.Duration) {
	d.stats.Cancelled++
	d.failedAt(now)
}

func (d *downstream) failedAt(now time.Duration) {
	if d.stats.FirstFailure < 0 {
		d.stats.FirstFailure = now
	}
}

// failKind is how a downstream call failed, as the reference stack sorts
// failures: it decides the answer's status and whether to retry.
type failKind uint8

const (
	failNone        failKind = iota
	failTimeout              // no answer within the call timeout: 504
	failUnavailable          // shed by the station (503) or by the stack itself (bulkhead, breaker): 503
)

func (k failKind) status() int {
	if k == failTimeout {
		return 504
	}
	return 503
}

// maxFanOut bounds the processors of one fan-out.
const maxFanOut = 4

// clientTimeoutError is the transport error of a request the user's app
// gave up on, in the words net/http uses.
const clientTimeoutError = "context deadline exceeded"

func durationSeconds(d time.Duration) float64 { return math.Max(0, d.Seconds()) }
