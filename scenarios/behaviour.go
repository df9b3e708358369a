package scenarios

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// z95 is the standard normal's 95th percentile.
const z95 = 1.6448536269514722

// Sample draws a pause from the lognormal distribution with the given
// median and 95th percentile: exp(ln(Median) + σ·Z) with σ = ln(P95/Median)/z95.
// The zero Think gives 0; a P95 not above the median gives the median.
func (t Think) Sample(r *rand.Rand) time.Duration {
	if t.Median <= 0 {
		return 0
	}
	if t.P95 <= t.Median {
		return t.Median
	}
	sigma := math.Log(float64(t.P95)/float64(t.Median)) / z95
	v := float64(t.Median) * math.Exp(sigma*r.NormFloat64())
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(v)
}

// Wants reports whether the user retries after attempt number attempt
// (1-based) failed with status code (0 for a transport error): not when
// MaxAttempts attempts have been made, nor when On is set and lacks code;
// otherwise with probability Probability, drawn from r. A nil Retry never
// retries. The pause before the retry is Backoff.Sample(r).
func (rt *Retry) Wants(r *rand.Rand, attempt, code int) bool {
	if rt == nil || attempt >= rt.MaxAttempts {
		return false
	}
	if len(rt.On) > 0 && !slices.Contains(rt.On, code) {
		return false
	}
	switch {
	case rt.Probability >= 1:
		return true
	case rt.Probability <= 0:
		return false
	}
	return r.Float64() < rt.Probability
}
