package sim

import (
	"slices"
	"time"
)

// call is one downstream call of a request: through the bulkhead and the
// breaker, the shared connection pool (naive), the station, and for the
// IBAN check the account's bank behind it; bounded by the call timeout per
// attempt, retried once when the model says so.
type call struct {
	c   *citizen
	idx int // place in the citizen's calls
	seq int // the processor's place in a sequential fan-out
	d   *downstream

	iban    bool
	gen     uint64
	attempt int
	probe   bool
	inBulk  bool
	phase   callPhase
	station Visit // at d
	bank    Visit // at the bank behind the IBAN service
	conn    Visit // a connection of the shared pool
	bankAt  *downstream
}

type callPhase uint8

const (
	phaseIdle callPhase = iota
	phaseConn
	phaseStation
	phaseBank
	phasePause // before the retry
)

// visit tags
const (
	visitStation = iota
	visitBank
	visitConn
)

// event tags of a call, below its generation
const (
	tagCallTimeout = iota
	tagBankTimeout
	tagRetry
	callTags = 4
)

// start begins a call to d at now.
func (cl *call) start(d *downstream, iban bool, now time.Duration) {
	k := &cl.c.r.m.Stack
	cl.d, cl.iban, cl.attempt = d, iban, 1
	if k.Bulkhead > 0 {
		if d.bulk >= k.Bulkhead {
			d.shed(now)
			cl.c.callDone(cl, failUnavailable, now)
			return
		}
		d.bulk++
		cl.inBulk = true
	}
	cl.try(now)
}

// try makes one attempt.
func (cl *call) try(now time.Duration) {
	r := cl.c.r
	if b := cl.d.breaker; b != nil {
		ok, probe := b.allow(now)
		if !ok {
			cl.d.shed(now)
			cl.finish(failUnavailable, now)
			return
		}
		cl.probe = probe
	}
	cl.gen++
	gen := cl.gen
	if r.pool != nil {
		cl.phase = phaseConn
		r.poolD.arrive(&cl.conn, now)
	} else {
		cl.toStation(now)
	}
	// Only an attempt that waits (for a connection, in the station's
	// queue), asks a bank behind it, or is served too slowly can time out;
	// the others need no timer.
	if cl.gen == gen && (cl.phase != phaseStation || cl.iban || !cl.station.ServedBy(now+r.m.Stack.CallTimeout)) {
		r.callTimeout.After(cl, gen*callTags+tagCallTimeout)
	}
}

func (cl *call) toStation(now time.Duration) {
	cl.phase = phaseStation
	cl.station.Hold = cl.iban
	cl.d.arrive(&cl.station, now)
}

// Done takes the end of one of the call's visits.
func (cl *call) Done(v *Visit, now time.Duration, verdict Verdict) {
	switch v.Tag {
	case visitConn:
		cl.toStation(now)
	case visitStation:
		if verdict != Served {
			cl.d.refused(verdict, now)
			cl.attemptDone(failUnavailable, now)
			return
		}
		if !cl.iban {
			cl.attemptDone(failNone, now)
			return
		}
		// The IBAN service asks the account's bank, holding its slot.
		cl.bankAt = cl.c.r.bankOf(cl.c)
		if cl.bankAt == nil {
			cl.station.Release() // unknown bank: UNKNOWN_PSP at once
			cl.attemptDone(failNone, now)
			return
		}
		cl.phase = phaseBank
		cl.d.bankTimeout.After(cl, cl.gen*callTags+tagBankTimeout)
		cl.bankAt.arrive(&cl.bank, now)
	case visitBank:
		if verdict != Served {
			cl.bankAt.refused(verdict, now)
		}
		// Any verdict is an answer: a bank that failed is UNKNOWN_PSP.
		cl.station.Release()
		cl.attemptDone(failNone, now)
	}
}

// Act fires the call's timers.
func (cl *call) Act(now time.Duration, tag uint64) {
	if tag/callTags != cl.gen {
		return
	}
	switch tag % callTags {
	case tagCallTimeout:
		if cl.phase == phaseIdle || cl.phase == phasePause {
			return
		}
		switch {
		case cl.phase == phaseConn:
			cl.c.r.poolD.gaveUp(now)
		case cl.c.r.pool != nil && cl.conn.Wait() > now-cl.conn.Started:
			// It spent most of its time waiting for a connection: the
			// pool, not the station, made it late.
			cl.c.r.poolD.gaveUp(now)
		case cl.phase == phaseStation:
			cl.d.gaveUp(now)
		case cl.phase == phaseBank:
			cl.bankAt.gaveUp(now)
		}
		cl.cancelVisits()
		cl.attemptDone(failTimeout, now)
	case tagBankTimeout:
		if cl.phase == phaseBank {
			cl.bank.Cancel()
			cl.station.Release()
			cl.attemptDone(failNone, now) // 502 BANK_TIMEOUT: UNKNOWN_PSP, an answer
		}
	case tagRetry:
		if cl.phase == phasePause {
			cl.try(now)
		}
	}
}

func (cl *call) cancelVisits() {
	cl.conn.Cancel()
	cl.station.Cancel()
	cl.bank.Cancel()
}

// attemptDone ends an attempt: the connection goes back, the breaker
// counts it, and a failed attempt may be retried once.
func (cl *call) attemptDone(kind failKind, now time.Duration) {
	r := cl.c.r
	cl.gen++ // its timers are stale
	cl.conn.Release()
	cl.phase = phaseIdle
	if b := cl.d.breaker; b != nil {
		b.record(cl.probe, kind == failNone, now)
	}
	if kind != failNone && r.m.Stack.Retry && cl.attempt == 1 {
		cl.attempt++
		cl.phase = phasePause
		half := r.m.Stack.RetryBackoff / 2
		pause := half + time.Duration(r.rng.Int64N(int64(r.m.Stack.RetryBackoff-half)+1))
		r.e.At(now+pause, cl, cl.gen*callTags+tagRetry)
		return
	}
	cl.finish(kind, now)
}

func (cl *call) finish(kind failKind, now time.Duration) {
	if cl.inBulk {
		cl.d.bulk--
		cl.inBulk = false
	}
	cl.phase = phaseIdle
	cl.c.callDone(cl, kind, now)
}

// abort drops the call: its request is gone.
func (cl *call) abort() {
	if cl.phase == phaseIdle && !cl.inBulk {
		return
	}
	cl.cancelVisits()
	cl.gen++
	cl.phase = phaseIdle
	if cl.inBulk {
		cl.d.bulk--
		cl.inBulk = false
	}
}

// bankOf draws the citizen's bank by the banks' weights (as synthetic
// identities are drawn), nil when the model has no bank.
func (r *run) bankOf(*citizen) *downstream {
	if len(r.bankCum) == 0 {
		return nil
	}
	x := r.rng.Float64() * r.bankCum[len(r.bankCum)-1]
	i, _ := slices.BinarySearch(r.bankCum, x)
	return r.bankList[min(i, len(r.bankList)-1)]
}

// breaker is the reference stack's circuit breaker in virtual time.
type breaker struct {
	policy   Breaker
	state    uint8 // closed, open, half-open
	openedAt time.Duration
	buckets  [10]struct{ slot, calls, failures int64 }
}

const (
	closed = iota
	open
	halfOpen
)

func (b *breaker) allow(now time.Duration) (ok, probe bool) {
	switch b.state {
	case closed:
		return true, false
	case open:
		if now-b.openedAt < b.policy.OpenFor {
			return false, false
		}
		b.state = halfOpen
		return true, true
	}
	return false, false
}

func (b *breaker) record(probe, success bool, now time.Duration) {
	if probe {
		if success {
			b.state = closed
			b.buckets = [10]struct{ slot, calls, failures int64 }{}
		} else {
			b.state, b.openedAt = open, now
		}
		return
	}
	if b.state != closed {
		return
	}
	width := int64(b.policy.Window / 10)
	if width <= 0 {
		width = 1
	}
	slot := int64(now) / width
	bk := &b.buckets[slot%10]
	if bk.slot != slot {
		bk.slot, bk.calls, bk.failures = slot, 0, 0
	}
	bk.calls++
	if !success {
		bk.failures++
	}
	var calls, failures int64
	for _, x := range b.buckets {
		if x.slot > slot-10 {
			calls += x.calls
			failures += x.failures
		}
	}
	if !success && calls >= int64(b.policy.MinCalls) && float64(failures) >= b.policy.FailureRatio*float64(calls) {
		b.state, b.openedAt = open, now
	}
}
