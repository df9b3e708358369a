package stack

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// The hardened profile's defences, each small and clock-injected so tests
// drive them with a fake clock: a semaphore (the admission limit and the
// per-station bulkheads), a circuit breaker, and a jittered retry pause.

// semaphore bounds concurrent work and never queues: tryAcquire fails at once
// when every slot is taken.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

func (s semaphore) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s semaphore) release() { <-s }

// breakerState is where a circuit breaker is in its cycle.
type breakerState int

const (
	breakerClosed   breakerState = iota // calls flow; outcomes are counted
	breakerOpen                         // calls fail at once until OpenFor has passed
	breakerHalfOpen                     // one probe call is in flight
)

func (s breakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// breakerBuckets is the resolution of the rolling window.
const breakerBuckets = 10

// breaker is a circuit breaker over a rolling window of call outcomes.
type breaker struct {
	policy BreakerPolicy
	now    func() time.Time

	mu       sync.Mutex
	state    breakerState
	openedAt time.Time
	buckets  [breakerBuckets]struct{ slot, calls, failures int64 }
}

func newBreaker(p BreakerPolicy, now func() time.Time) *breaker {
	return &breaker{policy: p, now: now}
}

// allow reports whether a call may go ahead; probe is true for the one call
// that decides whether a half-open breaker closes. The caller reports the
// outcome of every allowed call to record with the same probe value.
func (b *breaker) allow() (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return true, false
	case breakerOpen:
		if b.now().Sub(b.openedAt) < b.policy.OpenFor {
			return false, false
		}
		b.state = breakerHalfOpen
		return true, true
	default: // half-open: the probe is in flight
		return false, false
	}
}

// record counts the outcome of an allowed call.
func (b *breaker) record(probe, success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if probe {
		if success {
			b.state = breakerClosed
			b.buckets = [breakerBuckets]struct{ slot, calls, failures int64 }{}
		} else {
			b.state = breakerOpen
			b.openedAt = now
		}
		return
	}
	if b.state != breakerClosed {
		return // a call let through before the breaker opened
	}
	width := int64(b.policy.Window / breakerBuckets)
	if width <= 0 {
		width = 1
	}
	slot := now.UnixNano() / width
	bk := &b.buckets[slot%breakerBuckets]
	if bk.slot != slot {
		bk.slot, bk.calls, bk.failures = slot, 0, 0
	}
	bk.calls++
	if !success {
		bk.failures++
	}
	var calls, failures int64
	for _, x := range b.buckets {
		if x.slot > slot-breakerBuckets {
			calls += x.calls
			failures += x.failures
		}
	}
	if !success && calls >= int64(b.policy.MinCalls) && float64(failures) >= b.policy.FailureRatio*float64(calls) {
		b.state = breakerOpen
		b.openedAt = now
	}
}

// current returns the breaker's state as a caller would find it now.
func (b *breaker) current() breakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == breakerOpen && b.now().Sub(b.openedAt) >= b.policy.OpenFor {
		return breakerHalfOpen
	}
	return b.state
}

// jitter draws the pause before a retry uniformly from [max/2, max]
// ("equal jitter"): retries of calls that failed together spread out
// instead of returning together.
type jitter struct {
	max time.Duration

	mu  sync.Mutex
	rnd *rand.Rand
}

func newJitter(max time.Duration, seed uint64) *jitter {
	return &jitter{max: max, rnd: rand.New(rand.NewPCG(seed, 0x5eed))}
}

func (j *jitter) next() time.Duration {
	half := j.max / 2
	if half <= 0 {
		return j.max
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return half + time.Duration(j.rnd.Int64N(int64(j.max-half)+1))
}

// sleep pauses for d or until ctx is done, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
