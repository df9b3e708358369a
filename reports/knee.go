package reports

import (
	"math"
	"sort"
)

// KneeSensitivity is the Kneedle sensitivity S used by Knee: how far the
// difference curve must fall after a candidate, in units of the mean
// spacing of the normalised x values, for the candidate to count. 1 is the
// value the method's authors recommend for offline data.
const KneeSensitivity = 1.0

// kneeMinRise is how much a curve must rise past its knee, relative to its
// value there, for the knee to be real: a latency curve that goes from 10 ms
// to 12 ms is flat with noise, and normalising it would invent a knee.
const kneeMinRise = 0.5

// Knee returns the x of the knee of a convex increasing curve, such as
// latency against offered load (flat, then steep), found with the Kneedle
// method (Satopää, Albrecht, Irwin and Raghavan, "Finding a 'Kneedle' in a
// Haystack", 2011): both axes are normalised to [0, 1], the difference
// curve d = x − y measures how far each point lies below the chord from the
// first point to the last, and a local maximum of d is a knee once d falls
// below d_max − S/(n−1) after it. Of the knees found, the one farthest below
// the chord wins.
//
// Points may come in any order; points with the same x are averaged. ok is
// false with fewer than four distinct x values, when the curve never rises
// by half its value at the candidate knee, or when no candidate passes the
// threshold (a straight line, or a curve still steepening at its end).
func Knee(xs, ys []float64) (x float64, ok bool) {
	px, py := sortedMeans(xs, ys)
	n := len(px)
	if n < 4 {
		return 0, false
	}
	xmin, xmax := px[0], px[n-1]
	ymin, ymax := py[0], py[0]
	for _, y := range py {
		ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
	}
	if !(xmax > xmin) || !(ymax > ymin) {
		return 0, false
	}
	d := make([]float64, n)
	for i := range px {
		d[i] = (px[i]-xmin)/(xmax-xmin) - (py[i]-ymin)/(ymax-ymin)
	}
	step := KneeSensitivity / float64(n-1) // mean spacing of the normalised x
	best := -1
	for i := 1; i < n-1; i++ {
		if !(d[i] >= d[i-1] && d[i] > d[i+1]) {
			continue // not a local maximum of the difference curve
		}
		threshold := d[i] - step
		confirmed := false
		for j := i + 1; j < n; j++ {
			if d[j] < threshold {
				confirmed = true
				break
			}
			if j < n-1 && d[j] > d[j-1] && d[j] > d[j+1] {
				break // the next local maximum came first
			}
		}
		if confirmed && (best < 0 || d[i] > d[best]) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	base := py[best]
	if base <= 0 {
		base = math.SmallestNonzeroFloat64
	}
	if (ymax-base)/base < kneeMinRise {
		return 0, false
	}
	return px[best], true
}

// sortedMeans sorts the points by x and averages the ys of equal xs,
// dropping points that are not finite.
func sortedMeans(xs, ys []float64) ([]float64, []float64) {
	type pt struct{ x, y float64 }
	pts := make([]pt, 0, min(len(xs), len(ys)))
	for i := 0; i < len(xs) && i < len(ys); i++ {
		if isFinite(xs[i]) && isFinite(ys[i]) {
			pts = append(pts, pt{xs[i], ys[i]})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	var px, py []float64
	for i := 0; i < len(pts); {
		j, sum := i, 0.0
		for ; j < len(pts) && pts[j].x == pts[i].x; j++ {
			sum += pts[j].y
		}
		px = append(px, pts[i].x)
		py = append(py, sum/float64(j-i))
		i = j
	}
	return px, py
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
