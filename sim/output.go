package sim

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimate is a figure with its 95% confidence interval: Mean ± HalfWidth.
type Estimate struct {
	Mean      float64
	HalfWidth float64 // 95% confidence half-width; 0 when there are too few samples to say
	N         int     // samples (replications or batches) behind it
}

// Covers reports whether the interval holds v.
func (e Estimate) Covers(v float64) bool { return math.Abs(e.Mean-v) <= e.HalfWidth }

// RelativeHalfWidth returns HalfWidth / |Mean|, +Inf for a zero mean.
func (e Estimate) RelativeHalfWidth() float64 {
	if e.Mean == 0 {
		return math.Inf(1)
	}
	return e.HalfWidth / math.Abs(e.Mean)
}

// MeanCI is the mean of independent samples with its Student-t 95%
// interval.
func MeanCI(xs []float64) Estimate {
	n := len(xs)
	e := Estimate{N: n}
	if n == 0 {
		return e
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	e.Mean = sum / float64(n)
	if n < 2 {
		return e
	}
	var ss float64
	for _, x := range xs {
		ss += (x - e.Mean) * (x - e.Mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	e.HalfWidth = t * sd / math.Sqrt(float64(n))
	return e
}

// BatchMeans estimates the steady-state mean of a correlated series (the
// waits of successive customers, a per-second series): the series is cut
// into batches contiguous batches whose means are nearly independent, and
// the interval is that of the batch means.
func BatchMeans(xs []float64, batches int) Estimate {
	size := len(xs) / batches
	if size == 0 {
		return MeanCI(xs)
	}
	means := make([]float64, batches)
	for b := range batches {
		var sum float64
		for _, x := range xs[b*size : (b+1)*size] {
			sum += x
		}
		means[b] = sum / float64(size)
	}
	return MeanCI(means)
}

// MSER5 returns how many leading observations to drop as warm-up by the
// MSER-5 rule: average the series in groups of 5, and drop the d groups
// that minimise the squared error of the remaining mean over (n-d)²,
// searching the first half only.
func MSER5(xs []float64) int {
	k := len(xs) / 5
	if k < 4 {
		return 0
	}
	z := make([]float64, k)
	for i := range k {
		var s float64
		for _, x := range xs[5*i : 5*i+5] {
			s += x
		}
		z[i] = s / 5
	}
	// Suffix sums give each truncation's mean and squared error in O(k).
	var sum, sq float64
	best, bestD := math.Inf(1), 0
	suffix := make([]struct{ sum, sq float64 }, k+1)
	for i := k - 1; i >= 0; i-- {
		sum += z[i]
		sq += z[i] * z[i]
		suffix[i].sum, suffix[i].sq = sum, sq
	}
	for d := 0; d <= k/2; d++ {
		m := float64(k - d)
		mean := suffix[d].sum / m
		sse := suffix[d].sq - m*mean*mean
		if v := sse / (m * m); v < best {
			best, bestD = v, d
		}
	}
	return 5 * bestD
}
