package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// verdicts records how visits ended.
type verdicts struct {
	got []string
}

func (r *verdicts) Done(v *Visit, now time.Duration, verdict Verdict) {
	r.got = append(r.got, []string{"served", "full", "timeout", "down"}[verdict]+"@"+now.String()+"#"+string(rune('a'+v.Tag)))
}

func TestStationQueueLimitMaxWaitCancelAndHold(t *testing.T) {
	var e Engine
	r := &verdicts{}
	svc := Service{Distribution: Constant, Value: 10 * time.Second}
	st := NewStation(&e, "bank", 1, 2, 15*time.Second, &svc, rand.NewPCG(1, 1))
	v := make([]*Visit, 6)
	for i := range v {
		v[i] = &Visit{Client: r, Tag: uint64(i)}
	}
	st.Arrive(v[0]) // served 0-10s
	st.Arrive(v[1]) // waits, served 10-20s
	st.Arrive(v[2]) // waits; cancelled at 1s
	e.Run(time.Second)
	v[2].Cancel()
	st.Arrive(v[3]) // waits; would be served 20-30 but times out at 16s
	st.Arrive(v[4]) // the queue holds two: full
	e.Run(time.Hour)
	want := []string{"full@1s#e", "served@10s#a", "timeout@16s#d", "served@20s#b"}
	if !slices.Equal(r.got, want) {
		t.Fatalf("got %v, want %v", r.got, want)
	}
	if st.Busy() != 0 || st.Waiting() != 0 {
		t.Fatalf("busy %d waiting %d after all left", st.Busy(), st.Waiting())
	}

	// A held visit keeps its server past its service until released; a
	// cancelled one in service frees it at once.
	r.got = nil
	v[0].Hold = true
	st.Arrive(v[0])
	st.Arrive(v[1])
	e.Run(e.Now() + 12*time.Second)
	if st.Busy() != 1 || st.Waiting() != 1 {
		t.Fatalf("held: busy %d waiting %d, want 1 and 1", st.Busy(), st.Waiting())
	}
	v[0].Release()
	e.Run(e.Now() + time.Second)
	v[1].Cancel()
	if st.Busy() != 0 {
		t.Fatalf("cancelled in service: busy %d, want 0", st.Busy())
	}
	e.Run(time.Duration(math.MaxInt64))
	if len(r.got) != 1 || r.got[0] != "served@30s#a" {
		t.Fatalf("got %v, want only a's service", r.got)
	}
}

func TestPoolWithoutServiceIsHeldUntilReleased(t *testing.T) {
	var e Engine
	r := &verdicts{}
	pool := NewStation(&e, "pool", 2, -1, 0, nil, nil)
	v := make([]*Visit, 3)
	for i := range v {
		v[i] = &Visit{Client: r, Tag: uint64(i)}
		pool.Arrive(v[i])
	}
	if !slices.Equal(r.got, []string{"served@0s#a", "served@0s#b"}) || pool.Waiting() != 1 {
		t.Fatalf("got %v waiting %d", r.got, pool.Waiting())
	}
	v[0].Release()
	if len(r.got) != 3 || pool.Busy() != 2 {
		t.Fatalf("after a release: %v busy %d", r.got, pool.Busy())
	}
}

// TestBoundedQueueLosesAsMM1K checks the loss probability of an M/M/1
// station with room for K in all: (1-ρ)ρ^K / (1-ρ^(K+1)).
func TestBoundedQueueLosesAsMM1K(t *testing.T) {
	var e Engine
	const rho, k = 0.9, 5
	svc := ms(0.1)
	st := NewStation(&e, "s", 1, k-1, 0, &svc, rand.NewPCG(3, 3))
	c := &lossCounter{}
	src := &arrivals{e: &e, st: st, c: c, rng: rand.New(rand.NewPCG(4, 4)), rate: rho / 0.1, limit: 400_000}
	e.At(0, src, 0)
	e.Run(time.Duration(math.MaxInt64))
	want := (1 - rho) * math.Pow(rho, k) / (1 - math.Pow(rho, k+1))
	got := float64(c.full) / float64(c.full+c.served)
	if math.Abs(got-want) > 0.005 {
		t.Fatalf("loss %.4f, M/M/1/K says %.4f", got, want)
	}
}

type lossCounter struct{ full, served int }

func (c *lossCounter) Done(v *Visit, _ time.Duration, verdict Verdict) {
	if verdict == QueueFull {
		c.full++
	} else {
		c.served++
	}
	v.Tag = 0 // free again
}

// arrivals sends Poisson arrivals to a station, each in a fresh visit.
type arrivals struct {
	e     *Engine
	st    *Station
	c     Client
	rng   *rand.Rand
	rate  float64
	limit int
}

func (a *arrivals) Act(time.Duration, uint64) {
	if a.limit == 0 {
		return
	}
	a.limit--
	a.st.Arrive(&Visit{Client: a.c})
	a.e.After(time.Duration(a.rng.ExpFloat64()/a.rate*float64(time.Second)), a, 0)
}

// A station down for [5s, 8s) refuses on arrival what comes then, and
// counts what it served: visits given a server, their waits, the most
// servers busy at once, busy server-seconds.
func TestStationOutageAndServedStatistics(t *testing.T) {
	var e Engine
	r := &verdicts{}
	svc := Service{Distribution: Constant, Value: 10 * time.Second}
	st := NewStation(&e, "nexi", 2, -1, 0, &svc, rand.NewPCG(1, 1))
	st.AddOutage(Outage{From: 5 * time.Second, To: 8 * time.Second})
	v := make([]*Visit, 5)
	for i := range v {
		v[i] = &Visit{Client: r, Tag: uint64(i)}
	}
	st.Arrive(v[0]) // served 0-10s
	st.Arrive(v[1]) // served 0-10s
	st.Arrive(v[2]) // waits, served 10-20s
	e.Run(6 * time.Second)
	st.Arrive(v[3]) // down
	e.Run(8 * time.Second)
	st.Arrive(v[4]) // up again: waits, served 10-20s
	e.Run(time.Hour)
	want := []string{"down@6s#d", "served@10s#a", "served@10s#b", "served@20s#c", "served@20s#e"}
	if !slices.Equal(r.got, want) {
		t.Fatalf("got %v, want %v", r.got, want)
	}
	grants, wait, peak := st.Served()
	if grants != 4 || wait != 12 || peak != 2 || st.BusyTime(20*time.Second) != 40 {
		t.Fatalf("%d served, %vs waited, peak %d, %v server-seconds busy: want 4, 12 (10 + 2), 2, 40", grants, wait, peak, st.BusyTime(20*time.Second))
	}
}
