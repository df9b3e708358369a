package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// recorder notes when its events fire.
type recorder struct {
	e     *Engine
	fired []string
}

func (r *recorder) Act(now time.Duration, tag uint64) {
	r.fired = append(r.fired, now.String()+"#"+string(rune('a'+tag)))
	if tag == 0 {
		r.e.After(time.Second, r, 3) // an event scheduled by an event
	}
}

func TestEngineFiresInTimeThenSchedulingOrder(t *testing.T) {
	var e Engine
	r := &recorder{e: &e}
	e.At(2*time.Second, r, 1)
	e.At(time.Second, r, 0)
	e.At(2*time.Second, r, 2)
	e.At(5*time.Second, r, 4)
	if n := e.Run(4 * time.Second); n != 4 {
		t.Fatalf("Run fired %d events before 4s, want 4", n)
	}
	want := []string{"1s#a", "2s#b", "2s#c", "2s#d"}
	if !slices.Equal(r.fired, want) {
		t.Fatalf("fired %v, want %v", r.fired, want)
	}
	if e.Now() != 4*time.Second || e.Pending() != 1 {
		t.Fatalf("clock %s with %d pending, want 4s and 1", e.Now(), e.Pending())
	}
	e.At(0, r, 5) // in the past: fires now
	e.Run(time.Hour)
	if got := r.fired[4:]; !slices.Equal(got, []string{"4s#f", "5s#e"}) {
		t.Fatalf("then fired %v", got)
	}
}

func TestEngineOrdersManyEvents(t *testing.T) {
	var e Engine
	rng := rand.New(rand.NewPCG(1, 2))
	var got []time.Duration
	c := collector{&got}
	for range 10_000 {
		e.At(time.Duration(rng.IntN(1000)), c, 0)
	}
	e.Run(time.Hour)
	if len(got) != 10_000 || !slices.IsSorted(got) {
		t.Fatalf("%d events, sorted %v", len(got), slices.IsSorted(got))
	}
}

type collector struct{ at *[]time.Duration }

func (c collector) Act(now time.Duration, _ uint64) { *c.at = append(*c.at, now) }

// ticker reschedules itself after an exponential pause: a steady state of
// a fixed number of pending events, like users between requests.
type ticker struct {
	e   *Engine
	rng *rand.Rand
}

func (k *ticker) Act(now time.Duration, tag uint64) {
	k.e.After(time.Duration(k.rng.ExpFloat64()*float64(time.Millisecond)), k, tag+1)
}

// BenchmarkEngine measures events per second with 10,000 events pending
// (the launch day's peak holds about that many users between requests).
func BenchmarkEngine(b *testing.B) {
	var e Engine
	k := &ticker{e: &e, rng: rand.New(rand.NewPCG(1, 1))}
	for range 10_000 {
		e.After(time.Duration(k.rng.ExpFloat64()*float64(time.Millisecond)), k, 0)
	}
	e.Run(10 * time.Millisecond) // grow the heap first
	b.ReportAllocs()
	b.ResetTimer()
	start := e.Events()
	for e.Events()-start < uint64(b.N) {
		e.Run(e.Now() + time.Millisecond)
	}
	b.ReportMetric(float64(e.Events()-start)/b.Elapsed().Seconds(), "events/s")
}

func TestEngineDoesNotAllocatePerEvent(t *testing.T) {
	var e Engine
	k := &ticker{e: &e, rng: rand.New(rand.NewPCG(1, 1))}
	for range 1000 {
		e.After(0, k, 0)
	}
	e.Run(time.Second) // the heap and the far buckets' arrays grow to their steady size
	allocs := testing.AllocsPerRun(10, func() { e.Run(e.Now() + 10*time.Millisecond) })
	if allocs != 0 {
		t.Fatalf("%v allocations per 10ms of events, want 0", allocs)
	}
}

func TestDelayQueuesInterleaveWithTheHeap(t *testing.T) {
	var e Engine
	r := &recorder{e: &e}
	slow, fast := e.Delay(3*time.Second), e.Delay(time.Second)
	if e.Delay(time.Second) != fast {
		t.Fatal("Delay made a second queue for the same delay")
	}
	slow.After(r, 1)          // 3s
	e.At(2*time.Second, r, 2) // 2s
	fast.After(r, 4)          // 1s
	e.At(3*time.Second, r, 5) // 3s, scheduled after slow's
	e.Run(500 * time.Millisecond)
	fast.After(r, 6) // 1.5s
	for range 100 {
		slow.After(r, 7) // grows the ring: 3.5s each
	}
	e.Run(time.Hour)
	want := []string{"1s#e", "1.5s#g", "2s#c", "3s#b", "3s#f", "3.5s#h"}
	if !slices.Equal(r.fired[:6], want) || len(r.fired) != 105 || e.Pending() != 0 {
		t.Fatalf("fired %v (%d), want %v then 99 more at 3.5s", r.fired[:6], len(r.fired), want)
	}
}

// Events spread over ten minutes (past the far buckets' 256 s ring, so
// some wait in buckets and some go to the heap at once), scheduled from
// inside events too, fire in (time, scheduling order), exactly as one heap
// would fire them.
func TestEngineOrdersFarEvents(t *testing.T) {
	var e Engine
	rng := rand.New(rand.NewPCG(3, 4))
	type fired struct {
		at  time.Duration
		tag uint64
	}
	var got []fired
	var tag uint64
	var act actorFunc
	act = func(now time.Duration, t uint64) {
		got = append(got, fired{now, t})
		if rng.IntN(2) == 0 { // a follow-up, some at the same instant
			tag++
			e.At(now+time.Duration(rng.IntN(3))*time.Duration(rng.Int64N(int64(300*time.Second))), act, tag)
		}
	}
	for range 20_000 {
		tag++
		e.At(time.Duration(rng.Int64N(int64(600*time.Second)))/time.Millisecond*time.Millisecond, act, tag)
	}
	for e.Pending() > 0 {
		e.Run(e.Now() + time.Duration(rng.Int64N(int64(5*time.Second))))
	}
	if len(got) < 30_000 {
		t.Fatalf("%d events fired", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.at < a.at || b.at == a.at && b.tag < a.tag {
			t.Fatalf("event %d (%s, #%d) fired after (%s, #%d)", i, b.at, b.tag, a.at, a.tag)
		}
	}
}

// actorFunc adapts a function to Actor.
type actorFunc func(now time.Duration, tag uint64)

func (f actorFunc) Act(now time.Duration, tag uint64) { f(now, tag) }

type nop struct{}

func (nop) Act(time.Duration, uint64) {}

// TestFarBucketsHoldAboutTheirEvents pins the far buckets' memory: a burst
// through one bucket does not leave its size in the buckets that reuse its
// memory. Each round a burst of 1,000 events passes through a near bucket
// while one event waits 200 s ahead, so some 3,200 buckets hold one event
// each: chunks from the shared free list serve them, one partial chunk per
// bucket in use (an array per bucket, reused, would hold the burst's size
// in each).
func TestFarBucketsHoldAboutTheirEvents(t *testing.T) {
	var e Engine
	const burst = 1000
	for range 4000 {
		for range burst {
			e.After(2*bucketWidth, nop{}, 0)
		}
		e.After(200*time.Second, nop{}, 0)
		e.Run(e.Now() + bucketWidth)
	}
	inUse := 0
	for _, b := range e.far {
		if b.head != nil {
			inUse++
		}
	}
	burstChunks := (burst + chunkEvents - 1) / chunkEvents
	if want := inUse + 2*burstChunks; e.chunks > want || inUse < 3000 {
		t.Fatalf("%d chunks made for %d events in %d buckets, want at most %d (one partial chunk per bucket, two bursts)",
			e.chunks, e.farN, inUse, want)
	}
}
