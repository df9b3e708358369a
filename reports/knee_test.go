package reports

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestKnee(t *testing.T) {
	hockey := func(knee float64) func(float64) float64 { // flat at 10 until knee, then +2 per unit
		return func(x float64) float64 { return 10 + 2*math.Max(0, x-knee) }
	}
	curve := func(f func(float64) float64, xs ...float64) ([]float64, []float64) {
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = f(x)
		}
		return xs, ys
	}
	tests := []struct {
		name   string
		xs, ys []float64
		want   float64
		ok     bool
	}{
		{name: "hockey stick", want: 100, ok: true},
		{name: "knee between points is the last flat one", want: 100, ok: true},
		{name: "queue: latency 1/(1-ρ)", want: 160, ok: true},
		{name: "straight line"},
		{name: "flat with noise"},
		{name: "concave: rising ever more slowly"},
		{name: "one rising point at the end", want: 140, ok: true},
		{name: "too few points"},
		{name: "unsorted and duplicated", want: 100, ok: true},
	}
	tests[0].xs, tests[0].ys = curve(hockey(100), 40, 60, 80, 100, 120, 140, 160, 180)
	tests[1].xs, tests[1].ys = curve(hockey(105), 40, 60, 80, 100, 120, 140, 160, 180)
	tests[2].xs, tests[2].ys = curve(func(x float64) float64 { return 25 / (1 - math.Min(x/200, 0.97)) }, 40, 80, 120, 160, 180, 190, 195)
	tests[3].xs, tests[3].ys = curve(func(x float64) float64 { return 3*x + 5 }, 10, 20, 30, 40, 50, 60)
	rng := rand.New(rand.NewPCG(1, 2))
	tests[4].xs, tests[4].ys = curve(func(float64) float64 { return 10 + rng.Float64() }, 10, 20, 30, 40, 50, 60, 70)
	tests[5].xs, tests[5].ys = curve(func(x float64) float64 { return 10 * math.Sqrt(x) }, 40, 60, 80, 100, 120, 140, 160)
	tests[6].xs, tests[6].ys = curve(func(x float64) float64 { return 10 + math.Max(0, x-150) }, 40, 60, 80, 100, 120, 140, 160)
	tests[7].xs, tests[7].ys = curve(hockey(100), 80, 100, 120)
	tests[8].xs, tests[8].ys = curve(hockey(100), 180, 60, 100, 140, 40, 100, 120, 80, 160)
	tests[8].ys[5] = 12 // a second, noisier measurement at 100: averaged with the first

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Knee(tt.xs, tt.ys)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("Knee = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func BenchmarkKnee(b *testing.B) {
	xs := []float64{40, 60, 80, 100, 120, 140, 160, 180, 110, 105}
	ys := []float64{10, 10, 11, 10, 50, 90, 130, 170, 30, 20}
	b.ReportAllocs()
	for b.Loop() {
		Knee(xs, ys)
	}
}
