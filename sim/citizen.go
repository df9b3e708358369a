package sim

import (
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// citizen is one simulated user: the scenario's walk, and the request it
// has in the stack at most one at a time, with the calls that request
// makes.
type citizen struct {
	r    *run
	n    uint64 // arrival
	slot int    // index in run.active
	walk scenarios.Walk
	att  scenarios.Attempt

	gen      uint64 // request generation: events of an earlier request are stale
	dbSeq    uint64 // database operation: its timeout is stale once it ended
	busy     bool   // a request is in the stack
	admitted bool   // it holds an admission slot
	rt       *route
	op       int
	db       Visit
	calls    [maxFanOut]call
	waiting  int // calls of the current operation still running
	failed   []string
	worst    failKind
	pending  bool          // a poll found a search still pending
	vars     uint64        // the user variables extracted so far, one bit each (run.varBit)
	deadline time.Duration // when the app gives up on the current request
	armed    bool          // its timeout is scheduled

	overheadDone bool                     // the stack's own time was spent before the request's due event
	searches     [maxFanOut]time.Duration // when each processor took the co-badge search; 0: it did not
}

// event tags of a citizen, below its request generation
const (
	tagDue = iota
	tagClientTimeout
	tagDBTimeout
	tagOverhead
	citizenTags = 4
)

func (c *citizen) tag(kind uint64) uint64 { return c.gen*citizenTags + kind }

// next schedules the walk's next request, or ends the citizen.
func (c *citizen) next() {
	a, ok := c.walk.Next()
	if !ok {
		c.r.release(c)
		return
	}
	c.att = a
	c.gen++
	c.armed = false
	at := a.Due.Sub(c.r.o.Start)
	if r := c.r; r.overhead != nil && r.m.Stack.Workers == 0 {
		// With no worker limit to pass first, the stack's own time
		// can be drawn now: the request reaches its route that much
		// after it was due, one event instead of two.
		c.overheadDone = true
		at += r.overhead.draw()
	} else {
		c.overheadDone = false
	}
	c.r.e.At(at, c, c.tag(tagDue))
}

// Act fires the citizen's events: a request falls due, the app or the
// database gives up.
func (c *citizen) Act(now time.Duration, tag uint64) {
	if tag%citizenTags == tagDBTimeout {
		if tag/citizenTags == c.dbSeq && c.busy {
			c.dbSeq++
			c.db.Cancel()
			c.answer(503, c.rt.DBCode, c.rt.DBMessage, "db", now)
		}
		return
	}
	if tag/citizenTags != c.gen {
		return
	}
	switch tag % citizenTags {
	case tagDue:
		c.send(now)
	case tagOverhead:
		c.do(now)
	case tagClientTimeout:
		c.abort()
		c.emit(0, "", "", "", clientTimeoutError, now, false)
		c.observe(0, false, now)
	}
}

// send puts the due request into the stack.
func (c *citizen) send(now time.Duration) {
	r, st := c.r, c.att.Step
	c.rt = r.routes[st]
	if c.att.NewStep() {
		// The replay builds a step's request here; a variable an earlier
		// step failed to extract makes that impossible and ends the walk.
		if c.vars&c.rt.needs != c.rt.needs {
			c.walk.Stop()
			r.release(c)
			return
		}
	}
	c.busy = true
	c.deadline = c.att.Due.Sub(r.o.Start) + c.rt.timeout
	if now >= c.deadline {
		c.arm()
	}
	if adm := r.m.Stack.Workers; adm > 0 {
		if r.inFlight >= adm {
			if r.admission.Shed++; r.admission.FirstFailure < 0 {
				r.admission.FirstFailure = now
			}
			c.answer(503, "OVERLOADED", c.rt.ShedMessage, "stack", now)
			return
		}
		r.inFlight++
		c.admitted = true
	}
	c.op = 0
	c.pending = false
	if r.overhead != nil && !c.overheadDone {
		at := now + r.overhead.draw()
		if at >= c.deadline {
			c.arm()
		}
		r.e.At(at, c, c.tag(tagOverhead))
		return
	}
	c.do(now)
}

// do runs the route's operation c.op, or answers success past the last.
func (c *citizen) do(now time.Duration) {
	r := c.r
	if c.op >= len(c.rt.ops) {
		code := 200
		if e := c.att.Step.Expect; len(e) > 0 {
			code = e[0]
		}
		c.answer(code, "", "", "", now)
		return
	}
	o := &c.rt.ops[c.op]
	c.failed, c.worst = c.failed[:0], failNone
	switch o.kind {
	case OpRead, OpWrite:
		st := r.dbRead
		if o.kind == OpWrite {
			st = r.dbWrite
		}
		c.dbSeq++
		st.Arrive(&c.db)
		if c.busy && !c.db.ServedBy(now+r.m.Stack.DBTimeout) {
			// Only a visit that waits, or is served too slowly, can
			// time out: the others need no timer.
			r.dbTimeout.After(c, c.dbSeq*citizenTags+tagDBTimeout)
		}
		if c.busy && !c.db.ServedBy(c.deadline) {
			c.arm()
		}
	case OpCall, OpIBAN:
		c.arm()
		c.waiting = 1
		c.calls[0].start(o.stations[0], o.kind == OpIBAN, now)
	case OpFanOut, OpSearchStart, OpSearchPoll:
		c.arm()
		targets := o.stations
		if r.m.Stack.Sequential {
			c.waiting = 1
			c.calls[0].seq = 0
			c.startSequential(0, now)
			return
		}
		c.waiting = 0
		for i := range targets {
			if o.kind != OpSearchPoll || c.searches[i] > 0 {
				c.waiting++
			}
		}
		if c.waiting == 0 {
			c.opDone(now)
			return
		}
		for i, d := range targets {
			if o.kind != OpSearchPoll || c.searches[i] > 0 {
				c.calls[i].start(d, false, now)
			}
		}
	}
}

// arm sets the app's timeout of the current request, once it may be
// needed: before a downstream call, a database wait, or a stack overhead
// that could outlast it. A request that ends sooner, as most do, never
// schedules one.
func (c *citizen) arm() {
	if !c.armed {
		c.armed = true
		c.r.e.At(c.deadline, c, c.tag(tagClientTimeout))
	}
}

// startSequential calls the processors one after another from i, skipping
// those a poll has nothing to ask.
func (c *citizen) startSequential(i int, now time.Duration) {
	o := &c.rt.ops[c.op]
	for ; i < len(o.stations); i++ {
		if o.kind != OpSearchPoll || c.searches[i] > 0 {
			c.calls[0].seq = i
			c.calls[0].start(o.stations[i], false, now)
			return
		}
	}
	c.waiting = 0
	c.opDone(now)
}

// Done ends a database visit.
func (c *citizen) Done(_ *Visit, now time.Duration, _ Verdict) {
	c.dbSeq++ // its timeout is stale
	c.op++
	c.do(now)
}

// callDone takes the end of one call of the current operation.
func (c *citizen) callDone(cl *call, kind failKind, now time.Duration) {
	o := &c.rt.ops[c.op]
	i := cl.idx
	if c.r.m.Stack.Sequential {
		i = cl.seq
	}
	if kind != failNone {
		c.failed = append(c.failed, cl.d.spec.Name)
		if kind > c.worst {
			c.worst = kind
		}
	} else if o.kind == OpSearchStart {
		c.searches[i] = now
	} else if o.kind == OpSearchPoll && now-c.searches[i] < cl.d.spec.Pending {
		c.pending = true
	}
	if c.r.m.Stack.Sequential && (o.kind == OpFanOut || o.kind == OpSearchStart || o.kind == OpSearchPoll) {
		if kind != failNone {
			c.opFailed(now)
			return
		}
		c.startSequential(i+1, now)
		return
	}
	if c.waiting--; c.waiting > 0 {
		return
	}
	c.opDone(now)
}

// opDone joins the operation's calls: a fan-out fails when any call
// failed (sequential) or all did (partial results).
func (c *citizen) opDone(now time.Duration) {
	o := &c.rt.ops[c.op]
	switch {
	case len(c.failed) == 0:
	case o.kind == OpCall || o.kind == OpIBAN:
		c.opFailed(now)
		return
	case c.r.m.Stack.Sequential || len(c.failed) == c.callsMade(o):
		c.opFailed(now)
		return
	}
	c.op++
	c.do(now)
}

// callsMade counts the calls an operation made.
func (c *citizen) callsMade(o *op) int {
	if o.kind != OpSearchPoll {
		return len(o.stations)
	}
	n := 0
	for i := range o.stations {
		if c.searches[i] > 0 {
			n++
		}
	}
	return n
}

// opFailed answers the error of a failed operation.
func (c *citizen) opFailed(now time.Duration) {
	o := &c.rt.ops[c.op]
	status := 502
	if o.kind == OpCall || o.kind == OpIBAN {
		status = c.worst.status()
	}
	c.answer(status, c.rt.Code, c.rt.Message, strings.Join(c.failed, ","), now)
}

// answer ends the request with the stack's answer.
func (c *citizen) answer(status int, code, message, upstream string, now time.Duration) {
	c.leaveStack()
	ok := c.att.Step.Succeeded(status)
	c.emit(status, code, message, upstream, "", now, ok)
	c.observe(status, ok, now)
}

// leaveStack frees what the request held in the stack.
func (c *citizen) leaveStack() {
	c.busy = false
	c.gen++ // timers of this request are stale
	if c.admitted {
		c.r.inFlight--
		c.admitted = false
	}
}

// abort cancels everything the request has under way: its client gave up
// (the stack's context is cancelled, and with it its calls).
func (c *citizen) abort() {
	c.db.Cancel()
	c.dbSeq++
	for i := range c.calls {
		c.calls[i].abort()
	}
	c.leaveStack()
}

// observe feeds the outcome to the walk and moves on.
func (c *citizen) observe(status int, ok bool, now time.Duration) {
	pending := ok && c.pending
	if ok && c.att.Final(pending) {
		c.vars |= c.rt.gives
	}
	c.walk.Observe(scenarios.Outcome{OK: ok, Code: status, Pending: pending, End: c.r.o.Start.Add(now)})
	c.next()
}

// emit hands the request's result to the sinks.
func (c *citizen) emit(status int, code, message, upstream, transport string, now time.Duration, ok bool) {
	r, a := c.r, &c.att
	st := a.Step
	end := r.o.Start.Add(now)
	pending := ok && c.pending
	*r.out.Next() = reports.Result{Seq: c.n, Journey: c.walk.Journey.Name, Step: st.Name, User: c.walk.User.Index,
		Attempt: a.Attempt, Poll: a.Poll, Intended: a.Due, Sent: a.Due, Latency: end.Sub(a.Due), SendLatency: end.Sub(a.Due),
		Method: st.Method, Code: status, OK: ok, Error: transport, Upstream: upstream, ErrorCode: code, Message: message,
		Arrival: a.Arrival, JourneyDone: a.Completes(ok, pending)}
}
