package reports

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// USLPoint is one measurement for a Universal Scalability Law fit: the
// concurrency N (requests in flight, on average) and the throughput X it
// gave, per second.
type USLPoint struct {
	N float64
	X float64
}

// uslMinPoints is the fewest distinct concurrencies FitUSL accepts: three
// parameters need at least two more points to say anything.
const uslMinPoints = 5

// negligible is the scaled σ (σ·N_max) or κ (κ·N_max²) below which the term
// changes the fit by less than a millionth at the largest concurrency
// measured: it is zero, not a peak a billion requests away.
const negligible = 1e-6

// ErrUSLPoints is returned by FitUSL when the points cannot support a fit.
var ErrUSLPoints = errors.New("usl: not enough points")

// FitUSL fits Gunther's Universal Scalability Law
//
//	X(N) = λN / (1 + σ(N−1) + κN(N−1))
//
// to the points by least squares on X, and returns σ (contention), κ
// (coherency), λ (throughput at N = 1), the peak it predicts and R².
//
// The fit minimises with gonum's Nelder–Mead simplex from several starts.
// The three parameters differ by orders of magnitude (λ in the hundreds, σ
// around 10⁻², κ around 10⁻⁴), so they are scaled to order one first: λ by
// the largest X/N, σ by the largest N and κ by its square; gradient methods
// still stall in the narrow valley that leaves, the simplex does not.
// Points with a non-positive or non-finite N or X are ignored; fewer than
// five distinct concurrencies are ErrUSLPoints.
func FitUSL(points []USLPoint) (*USL, error) {
	var pts []USLPoint
	distinct := map[float64]bool{}
	nmax, lambda0, sst, mean := 0.0, 0.0, 0.0, 0.0
	for _, p := range points {
		if !(p.N > 0 && p.X > 0) || !isFinite(p.N) || !isFinite(p.X) {
			continue
		}
		pts = append(pts, p)
		distinct[p.N] = true
		nmax = math.Max(nmax, p.N)
		lambda0 = math.Max(lambda0, p.X/p.N)
		mean += p.X
	}
	if len(distinct) < uslMinPoints {
		return nil, fmt.Errorf("%w: %d distinct concurrencies, want at least %d", ErrUSLPoints, len(distinct), uslMinPoints)
	}
	mean /= float64(len(pts))
	for _, p := range pts {
		sst += (p.X - mean) * (p.X - mean)
	}
	scale := 0.0 // normalises the objective to order one
	for _, p := range pts {
		scale += p.X * p.X
	}

	params := func(v []float64) (lambda, sigma, kappa float64) {
		// Absolute values keep the parameters non-negative without
		// constraints: the simplex sees a mirror image past zero.
		return lambda0 * math.Abs(v[0]), math.Abs(v[1]) / nmax, math.Abs(v[2]) / (nmax * nmax)
	}
	sse := func(v []float64) float64 {
		l, s, k := params(v)
		sum := 0.0
		for _, p := range pts {
			e := p.X - uslX(p.N, l, s, k)
			sum += e * e
		}
		return sum
	}
	problem := optimize.Problem{Func: func(v []float64) float64 { return sse(v) / scale }}
	settings := &optimize.Settings{
		Converger:       &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-12, Iterations: 500},
		MajorIterations: 20000,
		FuncEvaluations: 40000,
	}

	var best []float64
	bestF := math.Inf(1)
	for _, s0 := range []float64{0.1, 1, 5} {
		for _, k0 := range []float64{0.01, 0.5, 3} {
			// A limit reached still leaves the best point found.
			res, _ := optimize.Minimize(problem, []float64{1, s0, k0}, settings, &optimize.NelderMead{SimplexSize: 0.2})
			if res != nil && res.F < bestF {
				bestF, best = res.F, append([]float64(nil), res.X...)
			}
		}
	}
	if best == nil || !isFinite(bestF) {
		return nil, errors.New("usl: the fit did not converge")
	}
	// Polish the best start once more from where it ended.
	if res, _ := optimize.Minimize(problem, best, settings, &optimize.NelderMead{SimplexSize: 0.01}); res != nil && res.F < bestF {
		best = res.X
	}

	if math.Abs(best[1]) < negligible {
		best[1] = 0
	}
	if math.Abs(best[2]) < negligible {
		best[2] = 0
	}
	l, s, k := params(best)
	u := &USL{Lambda: l, Sigma: s, Kappa: k}
	if sst > 0 {
		u.R2 = 1 - sse(best)/sst
	}
	switch {
	case k > 0 && s < 1:
		u.PeakConcurrency = math.Sqrt((1 - s) / k)
		u.PeakRate = uslX(u.PeakConcurrency, l, s, k)
	case s > 0:
		u.PeakRate = l / s // no retrograde region: the asymptote
	}
	return u, nil
}

// Throughput returns the fit's throughput at concurrency n, per second.
func (u *USL) Throughput(n float64) float64 { return uslX(n, u.Lambda, u.Sigma, u.Kappa) }

func uslX(n, lambda, sigma, kappa float64) float64 {
	return lambda * n / (1 + sigma*(n-1) + kappa*n*(n-1))
}
