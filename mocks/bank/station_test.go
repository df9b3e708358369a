package bank

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// mustStation builds a station starting now (inside a synctest bubble: on
// the bubble's clock).
func mustStation(t *testing.T, cfg StationConfig) *Station {
	t.Helper()
	if cfg.Service.Distribution == "" {
		cfg.Service = ConstantService(time.Second)
	}
	st, err := newStation("test", KindProcessor, cfg, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// arriveAsync starts a request arriving at st and returns where its
// result will be delivered.
func arriveAsync(ctx context.Context, st *Station, v *visit) <-chan error {
	done := make(chan error, 1)
	go func() { done <- st.arrive(ctx, v) }()
	return done
}

func TestStationQueueFullAndFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 1, Queue: 2})
		ctx := t.Context()
		var first visit
		if err := st.arrive(ctx, &first); err != nil {
			t.Fatalf("first arrival: %v", err)
		}
		var second, third visit
		secondDone := arriveAsync(ctx, st, &second)
		synctest.Wait()
		thirdDone := arriveAsync(ctx, st, &third)
		synctest.Wait()
		if s := st.Stats(); s.Busy != 1 || s.QueueLength != 2 || s.InFlight != 3 {
			t.Fatalf("busy %d, queue %d, in flight %d; want 1, 2, 3", s.Busy, s.QueueLength, s.InFlight)
		}
		var fourth visit
		if err := st.arrive(ctx, &fourth); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("fourth arrival: %v, want ErrQueueFull", err)
		}
		fourth.leave(OutcomeQueueFull)

		first.leave(OutcomeOK)
		synctest.Wait()
		select {
		case err := <-secondDone:
			if err != nil {
				t.Fatalf("second: %v", err)
			}
		default:
			t.Fatal("the head of the queue did not get the freed slot")
		}
		select {
		case <-thirdDone:
			t.Fatal("the third request jumped the queue")
		default:
		}
		second.leave(OutcomeOK)
		if err := <-thirdDone; err != nil {
			t.Fatalf("third: %v", err)
		}
		third.leave(OutcomeOK)
		s := st.Stats()
		if s.Requests["ok"] != 3 || s.Requests["queue_full"] != 1 || s.InFlight != 0 || s.Busy != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestStationMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 1, Queue: 4, MaxWait: 250 * time.Millisecond})
		var holder visit
		if err := st.arrive(t.Context(), &holder); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var v visit
		err := st.arrive(t.Context(), &v)
		if !errors.Is(err, ErrQueueTimeout) {
			t.Fatalf("arrive: %v, want ErrQueueTimeout", err)
		}
		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Fatalf("gave up after %v, want exactly the max wait", waited)
		}
		v.leave(OutcomeQueueTimeout)
		if s := st.Stats(); s.QueueLength != 0 || s.Busy != 1 {
			t.Fatalf("queue %d busy %d after the timeout; want 0 and 1", s.QueueLength, s.Busy)
		}
		holder.leave(OutcomeOK)
	})
}

func TestStationClientGivesUpInQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 1, Queue: 4})
		var holder visit
		if err := st.arrive(t.Context(), &holder); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		var v visit
		if err := st.arrive(ctx, &v); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("arrive: %v, want the context's deadline", err)
		}
		v.leave(OutcomeCanceled)
		holder.leave(OutcomeOK)
		// The slot must not have gone to the request that left.
		if s := st.Stats(); s.Busy != 0 || s.QueueLength != 0 || s.InFlight != 0 {
			t.Fatalf("stats after leaving: %+v", s)
		}
	})
}

func TestStationServiceTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 1, Service: ConstantService(80 * time.Millisecond)})
		var v visit
		if err := st.arrive(t.Context(), &v); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := v.serve(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 80*time.Millisecond {
			t.Fatalf("served in %v, want 80ms", d)
		}
		v.leave(OutcomeOK)
		if got := st.Stats().MeanLatency; got != 80*time.Millisecond {
			t.Fatalf("mean latency %v, want 80ms", got)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		var cut visit
		if err := st.arrive(ctx, &cut); err != nil {
			t.Fatal(err)
		}
		if err := cut.serve(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("serve past the client's deadline: %v", err)
		}
		cut.leave(OutcomeCanceled)
	})
}

func TestStationRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 100, Queue: 10, RateLimit: RateLimit{PerSecond: 10, Burst: 2},
			Service: ConstantService(0)})
		try := func() (error, time.Duration) {
			var v visit
			err := st.arrive(t.Context(), &v)
			v.leave(OutcomeOK)
			return err, v.retryAfter
		}
		for i := range 2 {
			if err, _ := try(); err != nil {
				t.Fatalf("burst request %d: %v", i, err)
			}
		}
		err, retry := try()
		if !errors.Is(err, ErrRateLimited) || retry != 100*time.Millisecond {
			t.Fatalf("third request: %v, retry after %v; want ErrRateLimited after 100ms", err, retry)
		}
		time.Sleep(retry)
		if err, _ := try(); err != nil {
			t.Fatalf("after waiting the retry time: %v", err)
		}
	})
}

func TestStationFaultWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 4, Queue: 4, Service: ConstantService(10 * time.Millisecond),
			Faults: []FaultSpec{
				{Type: "outage", Probability: 1, From: 60 * time.Second, To: 120 * time.Second},
				{Type: "degradation", Probability: 1, From: 180 * time.Second, Factor: 5},
			}})
		start := time.Now()
		tests := []struct {
			at      time.Duration
			err     error
			service time.Duration
		}{
			{0, nil, 10 * time.Millisecond},
			{59 * time.Second, nil, 10 * time.Millisecond},
			{60 * time.Second, ErrOutage, 0},
			{119 * time.Second, ErrOutage, 0},
			{120 * time.Second, nil, 10 * time.Millisecond},
			{180 * time.Second, nil, 50 * time.Millisecond},
			{time.Hour, nil, 50 * time.Millisecond},
		}
		for _, tt := range tests {
			time.Sleep(time.Until(start.Add(tt.at)))
			var v visit
			err := st.arrive(t.Context(), &v)
			if !errors.Is(err, tt.err) || v.w.service != tt.service {
				t.Errorf("at %v: %v with service %v; want %v with %v", tt.at, err, v.w.service, tt.err, tt.service)
			}
			v.leave(OutcomeOK)
		}
	})
}

func TestStationFaultProbability(t *testing.T) {
	st := mustStation(t, StationConfig{Servers: 1, Service: ConstantService(0),
		Faults: []FaultSpec{{Type: "error", Probability: 0.25, Status: 502}}})
	hit := 0
	const n = 20000
	for range n {
		var v visit
		if err := st.arrive(context.Background(), &v); err != nil {
			t.Fatal(err)
		}
		if v.effect.fail.kind == failStatus && v.effect.fail.status == 502 {
			hit++
		}
		v.leave(OutcomeOK)
	}
	if share := float64(hit) / n; math.Abs(share-0.25) > 0.02 {
		t.Fatalf("fault hit %.3f of requests, want 0.25", share)
	}
}

func TestStationSetConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := mustStation(t, StationConfig{Servers: 1, Queue: 8})
		var holder visit
		if err := st.arrive(t.Context(), &holder); err != nil {
			t.Fatal(err)
		}
		var waiting [3]visit
		var done []<-chan error
		for i := range waiting {
			done = append(done, arriveAsync(t.Context(), st, &waiting[i]))
			synctest.Wait() // queued in index order
		}

		bad := st.Config()
		bad.Servers = -1
		if err := st.SetConfig(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("SetConfig(servers -1) = %v, want ErrInvalidConfig", err)
		}
		if st.Config().Servers != 1 {
			t.Fatal("a rejected change was applied")
		}

		more := st.Config()
		more.Servers = 3
		if err := st.SetConfig(more); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var granted []int
		for i, ch := range done {
			select {
			case err := <-ch:
				if err != nil {
					t.Fatalf("waiter %d: %v", i, err)
				}
				granted = append(granted, i)
			default:
			}
		}
		if len(granted) != 2 || granted[0] != 0 || granted[1] != 1 {
			t.Fatalf("waiters %v started when servers went from 1 to 3, want the first two", granted)
		}
		for _, i := range granted {
			waiting[i].leave(OutcomeOK)
		}
		holder.leave(OutcomeOK)
		synctest.Wait()
		for i, ch := range done {
			select {
			case err := <-ch:
				if err != nil {
					t.Fatalf("waiter %d: %v", i, err)
				}
				waiting[i].leave(OutcomeOK)
			default:
			}
		}
		if s := st.Stats(); s.InFlight != 0 || s.Busy != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestStationConcurrentUseKeepsCount(t *testing.T) {
	// Many goroutines through a small station: every slot comes back.
	st := mustStation(t, StationConfig{Servers: 3, Queue: 1000, Service: ConstantService(0)})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 50 {
				var v visit
				if err := st.arrive(context.Background(), &v); err != nil {
					t.Error(err)
					return
				}
				v.leave(OutcomeOK)
			}
		})
	}
	wg.Wait()
	s := st.Stats()
	if s.Busy != 0 || s.QueueLength != 0 || s.InFlight != 0 || s.Requests["ok"] != 64*50 {
		t.Fatalf("stats after the run: %+v", s)
	}
}

func TestServiceTimeDistributions(t *testing.T) {
	quantile := func(xs []time.Duration, q float64) time.Duration {
		return xs[int(q*float64(len(xs)-1))]
	}
	tests := []struct {
		name  string
		st    ServiceTime
		check func(t *testing.T, xs []time.Duration)
	}{
		{"constant", ConstantService(10 * time.Millisecond), func(t *testing.T, xs []time.Duration) {
			if xs[0] != 10*time.Millisecond || xs[len(xs)-1] != 10*time.Millisecond {
				t.Fatalf("constant drew %v to %v", xs[0], xs[len(xs)-1])
			}
		}},
		{"exponential", ExponentialService(20 * time.Millisecond), func(t *testing.T, xs []time.Duration) {
			var sum time.Duration
			for _, x := range xs {
				sum += x
			}
			if mean := sum / time.Duration(len(xs)); mean < 19400*time.Microsecond || mean > 20600*time.Microsecond {
				t.Fatalf("mean %v, want 20ms", mean)
			}
		}},
		{"lognormal", LogNormalService(80*time.Millisecond, 400*time.Millisecond), func(t *testing.T, xs []time.Duration) {
			if m := quantile(xs, 0.5); m < 78*time.Millisecond || m > 82*time.Millisecond {
				t.Fatalf("median %v, want 80ms", m)
			}
			if p := quantile(xs, 0.99); p < 370*time.Millisecond || p > 430*time.Millisecond {
				t.Fatalf("p99 %v, want 400ms", p)
			}
		}},
		{"uniform", UniformService(10*time.Millisecond, 30*time.Millisecond), func(t *testing.T, xs []time.Duration) {
			if xs[0] < 10*time.Millisecond || xs[len(xs)-1] > 30*time.Millisecond {
				t.Fatalf("drew %v to %v, outside 10ms-30ms", xs[0], xs[len(xs)-1])
			}
			if m := quantile(xs, 0.5); m < 19500*time.Microsecond || m > 20500*time.Microsecond {
				t.Fatalf("median %v, want 20ms", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSampler(tt.st, rand.NewPCG(5, 6))
			xs := make([]time.Duration, 40000)
			for i := range xs {
				xs[i] = s.draw()
			}
			slices.Sort(xs)
			tt.check(t, xs)
		})
	}
}
