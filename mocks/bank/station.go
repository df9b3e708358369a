package bank

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// The ways a station refuses a request before serving it.
var (
	ErrRateLimited  = errors.New("rate limited")                // over the station's rate limit: 429
	ErrOutage       = errors.New("station outage")              // an outage fault is active: the request fails on arrival
	ErrQueueFull    = errors.New("queue full")                  // every slot busy and the queue full: 503 QUEUE_FULL or a reset
	ErrQueueTimeout = errors.New("queued longer than max wait") // waited MaxWait without a slot: 503 QUEUE_TIMEOUT
)

// Station kinds, as reported by Station.Kind and the metrics' kind label.
const (
	KindProcessor = "processor"
	KindIBAN      = "iban"
	KindBank      = "bank"
)

// Station is one simulated bank or processor: Servers slots, a bounded FIFO
// queue in front of them, an optional rate limiter, and its faults. Latency
// grows with load only because requests wait in the queue. A Station is
// safe for concurrent use; its configuration can be changed while it serves.
type Station struct {
	name     string
	kind     string
	header   []string  // X-Station's value, shared by every answer
	start    time.Time // origin of fault windows
	overHTTP bool      // answers over HTTP itself (banks do not)

	mu      sync.Mutex
	cfg     StationConfig
	faults  []activeFault
	src     *rand.PCG
	rng     *rand.Rand
	service sampler
	limiter tokenBucket
	busy    int // slots in use
	queue   waitQueue

	stats stationStats
}

// newStation builds a station that starts at start (the origin of its fault
// windows). Its random draws are seeded by seed and its name.
func newStation(name, kind string, cfg StationConfig, seed int64, start time.Time) (*Station, error) {
	s := &Station{name: name, kind: kind, header: []string{name}, start: start, overHTTP: kind != KindBank}
	p := newProblems("", nil)
	cfg.validate(p, name, s.overHTTP)
	if err := p.err(); err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	s.src = rand.NewPCG(uint64(seed), h.Sum64())
	s.rng = rand.New(s.src)
	s.cfg = cfg.clone()
	s.faults = compileFaults(newProblems("", nil), "", cfg.Faults, s.overHTTP)
	s.service = newSampler(cfg.Service, s.src)
	s.limiter = newBucket(cfg.RateLimit, start)
	return s, nil
}

// Name returns the station's name: a processor's name, "iban", or a bank's
// ABI code.
func (s *Station) Name() string { return s.name }

// Kind returns KindProcessor, KindIBAN or KindBank.
func (s *Station) Kind() string { return s.kind }

// Config returns the station's current configuration.
func (s *Station) Config() StationConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.clone()
}

// SetConfig changes the station's configuration live, or returns the
// problems with cfg (matching ErrInvalidConfig) and changes nothing. More
// servers start on the queue at once; with fewer, requests in service
// finish and the queue waits until a slot is free under the new count. A
// shorter queue keeps the requests already in it. Fault windows stay
// offsets from the server's start.
func (s *Station) SetConfig(cfg StationConfig) error {
	p := newProblems("", nil)
	cfg.validate(p, s.name, s.overHTTP)
	if err := p.err(); err != nil {
		return err
	}
	faults := compileFaults(newProblems("", nil), "", cfg.Faults, s.overHTTP)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.Service != s.cfg.Service {
		s.service = newSampler(cfg.Service, s.src)
	}
	if cfg.RateLimit != s.cfg.RateLimit {
		s.limiter = newBucket(cfg.RateLimit, now)
	}
	s.cfg = cfg.clone()
	s.faults = faults
	s.dispatchLocked(now)
	return nil
}

// waiter is one request's place at a station: in the queue, then in a slot.
type waiter struct {
	arrived  time.Time
	started  time.Time     // when it got a slot
	service  time.Duration // drawn when it got a slot
	slowdown float64       // service-time multiplier from a degradation fault
	granted  bool
	queued   bool
	ready    chan struct{} // closed when granted, for a request that blocks
	prev     *waiter
	next     *waiter
}

// waitQueue is a FIFO of waiters that can also drop one from the middle
// (a request that gave up) in constant time.
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) push(w *waiter) {
	w.queued, w.prev, w.next = true, q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue) pop() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

func (q *waitQueue) remove(w *waiter) {
	if !w.queued {
		return
	}
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.queued, w.prev, w.next = false, nil, nil
	q.n--
}

// admission is what a station does with an arriving request.
type admission uint8

const (
	admitted   admission = iota // got a slot at once
	queued                      // waits in the queue
	turnedAway                  // queue full
)

// admit places w at the station at time now. The queue logic is kept apart
// from goroutines and clocks so a discrete-event test can drive it with
// virtual time.
func (s *Station) admit(w *waiter, now time.Time) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admitLocked(w, now)
}

func (s *Station) admitLocked(w *waiter, now time.Time) admission {
	if s.busy < s.cfg.Servers && s.queue.n == 0 {
		s.grantLocked(w, now)
		return admitted
	}
	if s.queue.n >= s.cfg.Queue {
		return turnedAway
	}
	s.queue.push(w)
	return queued
}

// release frees the slot of a request that finished at now, and gives it
// to the head of the queue.
func (s *Station) release(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	s.dispatchLocked(now)
}

// dispatchLocked gives free slots to waiting requests in arrival order.
func (s *Station) dispatchLocked(now time.Time) {
	for s.busy < s.cfg.Servers {
		w := s.queue.pop()
		if w == nil {
			return
		}
		s.grantLocked(w, now)
	}
}

// grantLocked gives w a slot and draws its service time.
func (s *Station) grantLocked(w *waiter, now time.Time) {
	s.busy++
	w.granted, w.started = true, now
	d := s.service.draw()
	if w.slowdown > 1 {
		d = time.Duration(math.Min(float64(d)*w.slowdown, float64(maxServiceTime)))
	}
	w.service = d
	if w.ready != nil {
		close(w.ready)
	}
}

// abandon takes a request that gave up out of the queue. It reports false
// when the request was granted a slot meanwhile (and so holds it).
func (s *Station) abandon(w *waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		return false
	}
	s.queue.remove(w)
	return true
}

// visit is one request's passage through a station. Every visit that was
// passed to arrive ends with exactly one call to leave.
type visit struct {
	st         *Station
	w          waiter
	effect     effect
	retryAfter time.Duration // for ErrRateLimited
	onFull     OnFull
}

// arrive brings a request to the station and waits for a slot. It returns
// nil once the request holds a slot, ErrRateLimited, ErrOutage (the outage
// to carry out is in v.effect.reject), ErrQueueFull, ErrQueueTimeout, or the
// context's error when the client gave up in the queue.
func (s *Station) arrive(ctx context.Context, v *visit) error {
	now := time.Now()
	v.st = s
	v.w.arrived = now
	s.stats.inFlight.Add(1)
	s.mu.Lock()
	v.effect = s.drawFaultsLocked(now)
	v.w.slowdown = v.effect.slowdown
	v.onFull = s.cfg.OnFull
	if ok, wait := s.limiter.take(now); !ok {
		s.mu.Unlock()
		v.retryAfter = wait
		return ErrRateLimited
	}
	if v.effect.reject.kind != failNone {
		s.mu.Unlock()
		return ErrOutage
	}
	switch s.admitLocked(&v.w, now) {
	case admitted:
		s.mu.Unlock()
		return nil
	case turnedAway:
		s.mu.Unlock()
		return ErrQueueFull
	}
	// Queued: nobody can grant the slot before the lock is released.
	v.w.ready = make(chan struct{})
	maxWait := s.cfg.MaxWait
	s.mu.Unlock()

	var timeout <-chan time.Time
	if maxWait > 0 {
		t := time.NewTimer(maxWait)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-v.w.ready:
		return nil
	case <-timeout:
		err = ErrQueueTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	if !s.abandon(&v.w) {
		return nil // granted as it gave up: it holds the slot
	}
	return err
}

// serve holds the slot for the request's service time, or until ctx ends.
func (v *visit) serve(ctx context.Context) error {
	if v.w.service <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(v.w.service)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave ends the visit with outcome o: it frees the slot if the request
// held one and records the outcome and times.
func (v *visit) leave(o Outcome) {
	s := v.st
	now := time.Now()
	if v.w.granted {
		s.release(now)
		s.stats.wait.observe(v.w.started.Sub(v.w.arrived))
	}
	s.stats.inFlight.Add(-1)
	s.stats.outcomes[o].Add(1)
	s.stats.latency.observe(now.Sub(v.w.arrived))
}

// count records a request that never entered the station (a bad request).
func (s *Station) count(o Outcome) { s.stats.outcomes[o].Add(1) }

// drawFaultsLocked draws the faults that hit a request arriving at now.
func (s *Station) drawFaultsLocked(now time.Time) effect {
	var e effect
	if len(s.faults) == 0 {
		return e
	}
	t := now.Sub(s.start)
	for i := range s.faults {
		f := &s.faults[i]
		if !f.active(t) {
			continue
		}
		if f.Probability < 1 && s.rng.Float64() >= f.Probability {
			continue
		}
		f.fault.apply(&e)
	}
	return e
}

// maxServiceTime caps a drawn service time, so a heavy lognormal tail
// cannot overflow a time.Duration.
const maxServiceTime = 24 * time.Hour

// sampler draws service times from a distribution.
type sampler struct {
	dist  distuv.Rander // nil for a constant
	value time.Duration
}

// z99 is the standard normal's 99th percentile.
var z99 = distuv.UnitNormal.Quantile(0.99)

// newSampler builds a sampler for a validated ServiceTime; the
// distributions work in nanoseconds.
func newSampler(s ServiceTime, src rand.Source) sampler {
	switch s.Distribution {
	case ExponentialTime:
		return sampler{dist: distuv.Exponential{Rate: 1 / float64(s.Mean), Src: src}}
	case LogNormalTime:
		mu := math.Log(float64(s.Median))
		sigma := (math.Log(float64(s.P99)) - mu) / z99
		return sampler{dist: distuv.LogNormal{Mu: mu, Sigma: sigma, Src: src}}
	case UniformTime:
		if s.Min == s.Max {
			return sampler{value: s.Min}
		}
		return sampler{dist: distuv.Uniform{Min: float64(s.Min), Max: float64(s.Max), Src: src}}
	default:
		return sampler{value: s.Value}
	}
}

func (s sampler) draw() time.Duration {
	if s.dist == nil {
		return s.value
	}
	return time.Duration(math.Min(s.dist.Rand(), float64(maxServiceTime)))
}

// tokenBucket is a station's rate limiter.
type tokenBucket struct {
	rate   float64 // tokens per second; 0 means no limit
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rl RateLimit, now time.Time) tokenBucket {
	burst := float64(rl.Burst)
	if burst == 0 {
		burst = math.Max(1, math.Ceil(rl.PerSecond))
	}
	return tokenBucket{rate: rl.PerSecond, burst: burst, tokens: burst, last: now}
}

// take spends a token at now, or says how long until one is due.
func (b *tokenBucket) take(now time.Time) (bool, time.Duration) {
	if b.rate == 0 {
		return true, 0
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
