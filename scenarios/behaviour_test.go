package scenarios

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestThinkSampleMatchesMedianAndP95(t *testing.T) {
	tests := []Think{
		{Median: 2 * time.Second, P95: 8 * time.Second},
		{Median: 25 * time.Second, P95: 75 * time.Second},
		{Median: 50 * time.Millisecond, P95: 200 * time.Millisecond},
		{Median: time.Second, P95: 1100 * time.Millisecond},
	}
	for _, th := range tests {
		t.Run(fmt.Sprintf("%s-%s", th.Median, th.P95), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			const n = 100_000
			samples := make([]time.Duration, n)
			for i := range samples {
				samples[i] = th.Sample(r)
				if samples[i] <= 0 {
					t.Fatalf("sample %d is %s", i, samples[i])
				}
			}
			slices.Sort(samples)
			for _, q := range []struct {
				name string
				got  time.Duration
				want time.Duration
			}{{"median", samples[n/2], th.Median}, {"p95", samples[n*95/100], th.P95}} {
				if rel := math.Abs(float64(q.got-q.want)) / float64(q.want); rel > 0.03 {
					t.Errorf("%s of %d samples = %s, want %s within 3%%", q.name, n, q.got, q.want)
				}
			}
		})
	}
	t.Run("zero", func(t *testing.T) {
		if got := (Think{}).Sample(rand.New(rand.NewPCG(1, 1))); got != 0 {
			t.Fatalf("zero Think sampled %s", got)
		}
	})
	t.Run("fixed", func(t *testing.T) {
		if got := (Think{Median: time.Second, P95: time.Second}).Sample(rand.New(rand.NewPCG(1, 1))); got != time.Second {
			t.Fatalf("fixed Think sampled %s", got)
		}
	})
	t.Run("huge spread stays a duration", func(t *testing.T) {
		th := Think{Median: 1, P95: 10_000 * time.Hour}
		r := rand.New(rand.NewPCG(3, 3))
		for range 10_000 {
			if th.Sample(r) < 0 {
				t.Fatal("negative sample")
			}
		}
	})
}

func TestRetryWants(t *testing.T) {
	rt := &Retry{Probability: 1, MaxAttempts: 3, On: []int{0, 502, 503}}
	any := &Retry{Probability: 1, MaxAttempts: 2}
	never := &Retry{Probability: 0, MaxAttempts: 5}
	tests := []struct {
		name    string
		rt      *Retry
		attempt int
		code    int
		want    bool
	}{
		{"listed status", rt, 1, 503, true},
		{"transport error listed as 0", rt, 1, 0, true},
		{"second attempt", rt, 2, 502, true},
		{"attempts used up", rt, 3, 502, false},
		{"status not listed", rt, 1, 500, false},
		{"client error not listed", rt, 1, 422, false},
		{"empty On retries any failure", any, 1, 422, true},
		{"empty On retries transport errors", any, 1, 0, true},
		{"empty On, attempts used up", any, 2, 500, false},
		{"probability 0", never, 1, 503, false},
		{"nil never retries", nil, 1, 503, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rt.Wants(rand.New(rand.NewPCG(1, 1)), tt.attempt, tt.code); got != tt.want {
				t.Fatalf("Wants(%d, %d) = %v", tt.attempt, tt.code, got)
			}
		})
	}
	t.Run("probability", func(t *testing.T) {
		rt := &Retry{Probability: 0.7, MaxAttempts: 3}
		r := rand.New(rand.NewPCG(9, 9))
		yes := 0
		const n = 100_000
		for range n {
			if rt.Wants(r, 1, 503) {
				yes++
			}
		}
		if got := float64(yes) / n; math.Abs(got-0.7) > 0.01 {
			t.Fatalf("retried %.3f of failures, want 0.7", got)
		}
	})
}
