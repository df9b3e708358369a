package sim

import "time"

// Actor is an entity that events happen to: a station, a request in a
// stack, a user. Act is called when an event it scheduled falls due, with
// the tag it was scheduled with; an actor tells its events apart (and
// ignores stale ones, such as a timeout that lost the race) by tag.
type Actor interface {
	Act(now time.Duration, tag uint64)
}

// event is one scheduled call of an actor.
type event struct {
	at  time.Duration
	seq uint64 // ties at the same instant fire in scheduling order
	a   Actor
	tag uint64
}

// Engine is a discrete-event engine: a virtual clock and a heap of events.
// Run pops events in time order (scheduling order among ties) and calls
// their actors, which schedule more. Nothing runs concurrently, so a run is
// a function of its inputs and seeds. Events further ahead than the next
// sixteenth of a second wait in buckets and join the heap when their
// bucket comes up. The memory of the heap and the buckets is reused: once
// it has grown to the peak number of pending events, scheduling allocates
// nothing. A bucket is a list of fixed-size chunks from one shared free
// list, so the buckets hold about as much memory as they hold events (an
// array per bucket would keep the largest burst's size in every bucket it
// is reused for). The zero value is ready to use.
type Engine struct {
	now    time.Duration
	seq    uint64
	heap   []event
	delays []*Delay
	events uint64

	// Events due from bucket (moved+1) on wait in buckets of
	// bucketWidth, a ring of farBuckets, and join the heap when their
	// bucket comes up, so the heap holds only the near future (think
	// times of a hundred thousand users would make it deep and cold).
	// Events past the ring go to the heap at once. The order events fire
	// in is the heap's either way: (at, seq).
	far     [farBuckets]bucket
	farN    int    // events in far
	spare   *chunk // emptied buckets' chunks, for the next buckets to fill
	chunks  int    // chunks made
	moved   int64  // the bucket whose events are all in the heap
	started bool   // moved has been set from the clock
}

// bucket is a list of chunks, filled in scheduling order.
type bucket struct{ head, tail *chunk }

// chunk holds up to chunkEvents events of a bucket.
type chunk struct {
	events [chunkEvents]event
	n      int
	next   *chunk
}

// Far-future buckets: 1/16 s wide, 4,096 of them (256 s ahead).
const (
	bucketWidth = time.Second / 16
	farBuckets  = 4096
	chunkEvents = 32
)

// Delay is a queue of events that all fall due a fixed time after they
// are scheduled (a timeout, a poll interval): they fall due in the order
// they are scheduled, so a FIFO replaces the heap for them. Most timeouts
// never fire; in a FIFO their stale events cost nothing to keep.
type Delay struct {
	d      time.Duration
	e      *Engine
	events []event // a ring
	head   int
	n      int
}

// Delay returns the engine's queue of events due d after they are
// scheduled, making it on first use.
func (e *Engine) Delay(d time.Duration) *Delay {
	for _, q := range e.delays {
		if q.d == d {
			return q
		}
	}
	q := &Delay{d: d, e: e, events: make([]event, 64)}
	e.delays = append(e.delays, q)
	return q
}

// After schedules a.Act(now+d, tag), d being the queue's delay.
func (q *Delay) After(a Actor, tag uint64) {
	e := q.e
	e.seq++
	if q.n == len(q.events) {
		grown := make([]event, 2*len(q.events))
		for i := range q.n {
			grown[i] = q.events[(q.head+i)%len(q.events)]
		}
		q.events, q.head = grown, 0
	}
	q.events[(q.head+q.n)%len(q.events)] = event{at: e.now + q.d, seq: e.seq, a: a, tag: tag}
	q.n++
}

func (q *Delay) popFront() event {
	x := q.events[q.head]
	q.events[q.head] = event{}
	q.head = (q.head + 1) % len(q.events)
	q.n--
	return x
}

// Now returns the virtual time, from the start of the run.
func (e *Engine) Now() time.Duration { return e.now }

// Events returns how many events have fired.
func (e *Engine) Events() uint64 { return e.events }

// Pending returns how many events are scheduled and not yet fired.
func (e *Engine) Pending() int {
	n := len(e.heap) + e.farN
	for _, q := range e.delays {
		n += q.n
	}
	return n
}

// At schedules a.Act(at, tag). A time in the past fires at the current
// instant, after the events already due then.
func (e *Engine) At(at time.Duration, a Actor, tag uint64) {
	if at < e.now {
		at = e.now
	}
	e.seq++
	if !e.started {
		e.moved, e.started = int64(e.now/bucketWidth), true
	}
	if k := int64(at / bucketWidth); k > e.moved && k-e.moved < farBuckets {
		b := &e.far[k%farBuckets]
		if b.tail == nil || b.tail.n == chunkEvents {
			c := e.spare
			if c != nil {
				e.spare, c.next = c.next, nil
			} else {
				c = new(chunk)
				e.chunks++
			}
			if b.tail == nil {
				b.head = c
			} else {
				b.tail.next = c
			}
			b.tail = c
		}
		b.tail.events[b.tail.n] = event{at: at, seq: e.seq, a: a, tag: tag}
		b.tail.n++
		e.farN++
		return
	}
	e.push(event{at: at, seq: e.seq, a: a, tag: tag})
}

func (e *Engine) push(x event) {
	e.heap = append(e.heap, x)
	e.up(len(e.heap) - 1)
}

// advance moves the next bucket's events into the heap, which then
// orders them with the others, and keeps the bucket's chunks for reuse.
func (e *Engine) advance() {
	e.moved++
	b := &e.far[e.moved%farBuckets]
	for c := b.head; c != nil; {
		for i := range c.n {
			e.push(c.events[i])
			c.events[i] = event{}
		}
		e.farN -= c.n
		next := c.next
		c.n, c.next, e.spare = 0, e.spare, c
		c = next
	}
	*b = bucket{}
}

// After schedules a.Act(now+d, tag).
func (e *Engine) After(d time.Duration, a Actor, tag uint64) { e.At(e.now+d, a, tag) }

// Run fires events until none is left or the next one is after until, and
// returns the number fired. The clock stops at the last event fired (or at
// until when events remain beyond it).
func (e *Engine) Run(until time.Duration) uint64 {
	start := e.events
	for {
		// The next event is the heap's top or the head of a delay queue.
		var next *event
		var from *Delay
		if len(e.heap) > 0 {
			next = &e.heap[0]
		}
		for _, q := range e.delays {
			if q.n > 0 && (next == nil || before(&q.events[q.head], next)) {
				next, from = &q.events[q.head], q
			}
		}
		if e.farN > 0 && (next == nil || next.at >= time.Duration(e.moved+1)*bucketWidth) {
			// The next bucket may hold an earlier event than any pending.
			if time.Duration(e.moved+1)*bucketWidth > until {
				e.now = until
				break
			}
			e.advance()
			continue
		}
		if next == nil {
			break
		}
		if next.at > until {
			e.now = until
			break
		}
		var x event
		if from != nil {
			x = from.popFront()
		} else {
			x = e.heap[0]
			e.pop()
		}
		e.now = x.at
		e.events++
		x.a.Act(x.at, x.tag)
	}
	return e.events - start
}

// The heap is 4-ary: shallower than a binary heap, and the four children
// share a cache line or two.
const arity = 4

func before(a, b *event) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

// up moves the event at i towards the root, shifting parents down into the
// hole instead of swapping.
func (e *Engine) up(i int) {
	h := e.heap
	x := h[i]
	for i > 0 {
		p := (i - 1) / arity
		if !before(&x, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// pop removes the root: the last event sinks from the root into the hole.
func (e *Engine) pop() {
	h := e.heap
	n := len(h) - 1
	x := h[n]
	h[n] = event{} // let the actor go
	h = h[:n]
	e.heap = h
	if n == 0 {
		return
	}
	i := 0
	for {
		first := i*arity + 1
		if first >= n {
			break
		}
		m := first
		last := min(first+arity, n)
		for c := first + 1; c < last; c++ {
			if before(&h[c], &h[m]) {
				m = c
			}
		}
		if !before(&h[m], &x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
