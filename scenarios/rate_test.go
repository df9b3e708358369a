package scenarios

import (
	"errors"
	"math"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		bad  bool
	}{
		{in: "6000/s", want: 6000},
		{in: "300/m", want: 5},
		{in: "90/h", want: 0.025},
		{in: "0.5/s", want: 0.5},
		{in: " 20 / s ", want: 20},
		{in: "0/s", want: 0},
		{in: "1e3/s", want: 1000},
		{in: "6000", bad: true},
		{in: "6000/d", bad: true},
		{in: "/s", bad: true},
		{in: "-1/s", bad: true},
		{in: "NaN/s", bad: true},
		{in: "Inf/s", bad: true},
		{in: "2e9/s", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.bad {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseRate(%q) = %v, %v; want an error wrapping ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || math.Abs(float64(got-tt.want)) > 1e-12 {
				t.Fatalf("ParseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRateString(t *testing.T) {
	tests := []struct {
		rate Rate
		want string
	}{
		{6000, "6000/s"},
		{0.5, "0.5/s"},
		{5.0 / 60, "5/m"},
		{90.0 / 3600, "0.025/s"},
		{1.0 / 3600, "1/h"},
		{7.0 / 60, "7/m"},
		{0, "0/s"},
		{1.0 / 7, "0.14285714285714285/s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.rate.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseRate(tt.rate.String())
			if err != nil || math.Abs(float64(back-tt.rate)) > 1e-12*math.Max(1, float64(tt.rate)) {
				t.Fatalf("ParseRate(String()) = %v, %v; want %v", back, err, tt.rate)
			}
		})
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"6000/s", "300/m", "90/h", "0.5/s", "100", "/s", "1e9/s", "-1/s", "NaN/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r < 0 || float64(r) > float64(MaxRate) || r != r {
			t.Fatalf("ParseRate(%q) = %v: out of range", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil {
			t.Fatalf("ParseRate(%q).String() = %q does not parse: %v", s, r.String(), err)
		}
		if diff := float64(back - r); diff > 1e-6*float64(r)+1e-9 || diff < -1e-6*float64(r)-1e-9 {
			t.Fatalf("round trip %q -> %v -> %q -> %v", s, r, r.String(), back)
		}
	})
}
