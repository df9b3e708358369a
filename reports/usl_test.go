package reports

import (
	"errors"
	"math"
	"testing"
)

// Published Universal Scalability Law fits, each with its data set.
var uslCases = []struct {
	name                 string
	points               []USLPoint
	sigma, kappa, lambda float64 // the published least-squares fit
	peakN, peakX         float64
	tol                  float64 // relative
}{
	{
		// Gunther's SPEC SDM91 benchmark of a 16-CPU Sun SPARCcenter 2000
		// (Guerrilla Capacity Planning), rounded as in codahale/usl's
		// README, which publishes σ=0.0277299, κ=0.000104343, λ=89.9878
		// and a maximum of 1883.76 at a concurrency of 96.
		name:   "SPEC SDM91",
		points: []USLPoint{{1, 65}, {18, 996}, {36, 1652}, {72, 1853}, {108, 1829}, {144, 1775}, {216, 1702}},
		sigma:  0.0277299, kappa: 0.000104343, lambda: 89.9878, peakN: 96.5, peakX: 1883.76, tol: 0.002,
	},
	{
		// The MySQL benchmark of Baron Schwartz's "Practical Scalability
		// Analysis with the Universal Scalability Law" (as in codahale/usl's
		// tests): σ=0.02671591, κ=7.690945e-4, λ=995.6486, peak 12341.7
		// at 35.
		name: "Schwartz MySQL",
		points: []USLPoint{{1, 955.16}, {2, 1878.91}, {3, 2688.01}, {4, 3548.68}, {5, 4315.54}, {6, 5130.43}, {7, 5931.37},
			{8, 6531.08}, {9, 7219.8}, {10, 7867.61}, {11, 8278.71}, {12, 8646.7}, {13, 9047.84}, {14, 9426.55},
			{15, 9645.37}, {16, 9897.24}, {17, 10097.6}, {18, 10240.5}, {19, 10532.39}, {20, 10798.52}, {21, 11151.43},
			{22, 11518.63}, {23, 11806}, {24, 12089.37}, {25, 12075.41}, {26, 12177.29}, {27, 12211.41}, {28, 12158.93},
			{29, 12155.27}, {30, 12118.04}, {31, 12140.4}, {32, 12074.39}},
		sigma: 0.02671591, kappa: 7.690945e-4, lambda: 995.6486, peakN: 35.4, peakX: 12341.745, tol: 0.002,
	},
	{
		// Gunther's worked example (the R usl package's coef test): exact
		// USL values for σ = κ = 0.02, λ = 1.
		name:   "exact",
		points: []USLPoint{{1, 1}, {2, 1.8868}, {4, 3.0769}, {6, 3.5294}, {8, 3.5398}, {10, 3.3557}},
		sigma:  0.02, kappa: 0.02, lambda: 1, peakN: 7, peakX: 3.5714, tol: 0.001,
	},
}

func TestFitUSLReproducesPublishedFits(t *testing.T) {
	for _, tt := range uslCases {
		t.Run(tt.name, func(t *testing.T) {
			u, err := FitUSL(tt.points)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"σ", u.Sigma, tt.sigma}, {"κ", u.Kappa, tt.kappa}, {"λ", u.Lambda, tt.lambda},
				{"peak concurrency", u.PeakConcurrency, tt.peakN}, {"peak throughput", u.PeakRate, tt.peakX},
			} {
				tol := tt.tol
				if c.what == "peak concurrency" {
					tol = 0.01 // the published figure is rounded
				}
				if !near(c.got, c.want, tol) {
					t.Errorf("%s = %.7g, want %.7g (±%g%%)", c.what, c.got, c.want, tol*100)
				}
			}
			if u.R2 < 0.95 {
				t.Errorf("R² = %.4f", u.R2)
			}
		})
	}
}

func TestFitUSLShapes(t *testing.T) {
	gen := func(sigma, kappa, lambda float64, ns ...float64) []USLPoint {
		var pts []USLPoint
		for _, n := range ns {
			pts = append(pts, USLPoint{N: n, X: uslX(n, lambda, sigma, kappa)})
		}
		return pts
	}
	t.Run("contention only flattens at λ/σ", func(t *testing.T) {
		u, err := FitUSL(gen(0.1, 0, 40, 1, 2, 4, 8, 16, 32, 64))
		if err != nil {
			t.Fatal(err)
		}
		if u.Kappa > 1e-7 || !near(u.Sigma, 0.1, 0.01) || !near(u.PeakRate, 400, 0.02) || u.PeakConcurrency != 0 {
			t.Errorf("fit %+v, want σ 0.1, κ 0, peak 400/s as the asymptote", u)
		}
	})
	t.Run("linear has no peak", func(t *testing.T) {
		u, err := FitUSL(gen(0, 0, 25, 1, 2, 3, 4, 5, 6))
		if err != nil {
			t.Fatal(err)
		}
		if !near(u.Lambda, 25, 0.001) || u.Sigma > 1e-6 || u.Kappa > 1e-8 {
			t.Errorf("fit %+v, want λ 25 and nothing else", u)
		}
		if u.Sigma == 0 && u.PeakRate != 0 {
			t.Errorf("peak %v for a linear fit", u.PeakRate)
		}
	})
	t.Run("parameters orders of magnitude apart", func(t *testing.T) {
		u, err := FitUSL(gen(0.003, 2e-6, 2500, 1, 50, 100, 200, 400, 800, 1600))
		if err != nil {
			t.Fatal(err)
		}
		if !near(u.Sigma, 0.003, 0.01) || !near(u.Kappa, 2e-6, 0.01) || !near(u.Lambda, 2500, 0.001) {
			t.Errorf("fit %+v", u)
		}
	})
}

func TestFitUSLNeedsPoints(t *testing.T) {
	tests := []struct {
		name   string
		points []USLPoint
	}{
		{"none", nil},
		{"four", []USLPoint{{1, 1}, {2, 2}, {3, 3}, {4, 4}}},
		{"repeated concurrency", []USLPoint{{1, 1}, {1, 1.1}, {2, 2}, {2, 2.1}, {3, 3}, {4, 4}}},
		{"non-positive and non-finite ignored", []USLPoint{{0, 1}, {-1, 2}, {1, 0}, {math.NaN(), 1}, {2, math.Inf(1)}, {3, 3}, {4, 4}, {5, 5}, {6, 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := FitUSL(tt.points); !errors.Is(err, ErrUSLPoints) {
				t.Errorf("err = %v, want ErrUSLPoints", err)
			}
		})
	}
}

func BenchmarkFitUSL(b *testing.B) {
	pts := uslCases[0].points
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitUSL(pts); err != nil {
			b.Fatal(err)
		}
	}
}
