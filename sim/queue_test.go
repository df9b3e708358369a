package sim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// poisson feeds a tandem of stations with Poisson arrivals and records
// each customer's wait at the first station and its time through them all.
type poisson struct {
	e        *Engine
	rng      *rand.Rand
	rate     float64 // per second
	stations []*Station
	limit    int // customers to send

	sent      int
	customers []*customer // by Visit.Tag
	free      []*customer
	waits     []float64 // seconds, at stations[0], in arrival order of service start
	stays     []float64 // seconds, through the tandem
}

type customer struct {
	Visit
	at    int // station index
	start time.Duration
}

func (p *poisson) Act(now time.Duration, _ uint64) {
	if p.sent >= p.limit {
		return
	}
	p.sent++
	var c *customer
	if n := len(p.free); n > 0 {
		c, p.free = p.free[n-1], p.free[:n-1]
	} else {
		c = &customer{}
		c.Client, c.Tag = p, uint64(len(p.customers))
		p.customers = append(p.customers, c)
	}
	c.at, c.start = 0, now
	p.stations[0].Arrive(&c.Visit)
	p.e.After(time.Duration(p.rng.ExpFloat64()/p.rate*float64(time.Second)), p, 0)
}

func (p *poisson) Done(v *Visit, now time.Duration, verdict Verdict) {
	c := p.customers[v.Tag]
	if c.at == 0 {
		p.waits = append(p.waits, v.Wait().Seconds())
	}
	if c.at++; c.at < len(p.stations) {
		p.stations[c.at].Arrive(v)
		return
	}
	p.stays = append(p.stays, (now - c.start).Seconds())
	p.free = append(p.free, c)
}

// simulate runs customers through stations (each with servers servers and
// the given service) at arrival rate lambda and returns the waits at the
// first and the stays through all.
func simulate(seed uint64, lambda float64, customers, servers int, services ...Service) (waits, stays []float64) {
	var e Engine
	p := &poisson{e: &e, rng: rand.New(rand.NewPCG(seed, 1)), rate: lambda, limit: customers,
		waits: make([]float64, 0, customers), stays: make([]float64, 0, customers)}
	for i, s := range services {
		p.stations = append(p.stations, NewStation(&e, "s", servers, -1, 0, &s, rand.NewPCG(seed, uint64(2+i))))
	}
	e.At(0, p, 0)
	e.Run(math.MaxInt64)
	return p.waits, p.stays
}

// erlangC is the probability that an arrival waits at an M/M/c station with
// offered load a = λ/μ, and the mean wait in units of 1/μ.
func erlangC(c int, a float64) (pWait, wq float64) {
	rho := a / float64(c)
	term, sum := 1.0, 0.0
	for k := range c {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	top := term * a / float64(c) / (1 - rho) // a^c / c! / (1-ρ)
	pWait = top / (sum + top)
	return pWait, pWait / (float64(c) - a)
}

func ms(d float64) Service {
	return Service{Distribution: Exponential, Mean: time.Duration(d * float64(time.Second))}
}

func TestQueuesAgreeWithTheory(t *testing.T) {
	const mean = 0.1 // seconds of service
	tests := []struct {
		name      string
		servers   int
		rho       float64
		customers int
		service   Service
		wq        float64 // theory, seconds
	}{
		{"M/M/1 0.5", 1, 0.5, 300_000, ms(mean), 0.5 / (1 / mean * 0.5)},
		{"M/M/1 0.8", 1, 0.8, 1_000_000, ms(mean), 0.8 / (1/mean - 0.8/mean)},
		{"M/M/1 0.9", 1, 0.9, 2_000_000, ms(mean), 0.9 / (1/mean - 0.9/mean)},
		{"M/D/1 0.8", 1, 0.8, 600_000, Service{Distribution: Constant, Value: 100 * time.Millisecond}, 0.8 * mean / (2 * (1 - 0.8))},
		{"M/D/1 0.9", 1, 0.9, 1_000_000, Service{Distribution: Constant, Value: 100 * time.Millisecond}, 0.9 * mean / (2 * (1 - 0.9))},
	}
	for _, c := range []float64{0.5, 0.8, 0.9} {
		_, wq := erlangC(4, 4*c)
		n := map[float64]int{0.5: 300_000, 0.8: 800_000, 0.9: 2_000_000}[c]
		tests = append(tests, struct {
			name      string
			servers   int
			rho       float64
			customers int
			service   Service
			wq        float64
		}{"M/M/4 " + strconv.FormatFloat(c, 'f', 1, 64), 4, c, n, ms(mean), wq * mean})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lambda := tc.rho * float64(tc.servers) / mean
			waits, _ := simulate(7, lambda, tc.customers, tc.servers, tc.service)
			warm := MSER5(waits)
			est := BatchMeans(waits[warm:], 30)
			if rel := math.Abs(est.Mean-tc.wq) / tc.wq; rel > 0.03 {
				t.Errorf("mean wait %.5fs ± %.5f (warm-up %d dropped), theory %.5fs: off by %.1f%%, want within 3%%",
					est.Mean, est.HalfWidth, warm, tc.wq, 100*rel)
			}
			t.Logf("mean wait %.5fs ± %.5f, theory %.5fs", est.Mean, est.HalfWidth, tc.wq)
			if !est.Covers(tc.wq) {
				t.Logf("interval %.5f ± %.5f misses %.5f (allowed in 1 of 20)", est.Mean, est.HalfWidth, tc.wq)
			}
		})
	}
}

func TestErlangCProbabilityOfWaiting(t *testing.T) {
	const mean = 0.1
	for _, rho := range []float64{0.5, 0.8, 0.9} {
		pWait, _ := erlangC(4, 4*rho)
		waits, _ := simulate(11, rho*4/mean, 400_000, 4, ms(mean))
		waited := 0
		for _, w := range waits[10_000:] {
			if w > 0 {
				waited++
			}
		}
		got := float64(waited) / float64(len(waits)-10_000)
		if math.Abs(got-pWait) > 0.01 {
			t.Errorf("ρ=%.1f: %.4f of arrivals waited, Erlang C says %.4f", rho, got, pWait)
		}
	}
}

// TestTandemIsJackson checks a two-station tandem of M/M/1 stations: by
// Jackson's theorem each behaves as an M/M/1 fed at λ, so the mean time
// through both is 1/(μ1-λ) + 1/(μ2-λ).
func TestTandemIsJackson(t *testing.T) {
	lambda := 7.0
	mu1, mu2 := 10.0, 8.5
	_, stays := simulate(5, lambda, 800_000, 1, ms(1/mu1), ms(1/mu2))
	want := 1/(mu1-lambda) + 1/(mu2-lambda)
	est := BatchMeans(stays[MSER5(stays):], 30)
	if rel := math.Abs(est.Mean-want) / want; rel > 0.03 {
		t.Errorf("mean time through the tandem %.4fs ± %.4f, Jackson %.4fs: off by %.1f%%", est.Mean, est.HalfWidth, want, 100*rel)
	}
}

// TestIntervalsCoverTheTruth runs 100 seeds of a shorter M/M/1 at ρ=0.5
// and counts how often the batch-means 95% interval holds the true mean
// wait: at least 90 of 100.
func TestIntervalsCoverTheTruth(t *testing.T) {
	const mean, rho = 0.1, 0.5
	want := rho / (1/mean - rho/mean)
	covered := 0
	for seed := range uint64(100) {
		waits, _ := simulate(1000+seed, rho/mean, 40_000, 1, ms(mean))
		if BatchMeans(waits[MSER5(waits):], 20).Covers(want) {
			covered++
		}
	}
	if covered < 90 || covered == 100 {
		t.Errorf("the 95%% interval covered the true mean wait in %d of 100 seeds, want 90 to 99", covered)
	}
}
