package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	// A 10-minute hold at 100/s with embedded defaults: 10× faster, a
	// tenth of the rate, capped at 30 s.
	const src = `name: t
target: embedded
seed: 7
profile:
  - hold: {rate: 100/s, duration: 10m}
journeys:
  - name: j
    steps:
      - {name: s, path: /}
embedded: {time_scale: 10, rate_scale: 0.1, duration: 30s}
`
	f := func(v float64) *float64 { return &v }
	seed := int64(42)
	tests := []struct {
		name string
		src  string
		o    Overrides
		want Applied
		seed int64
		dur  time.Duration // the profile's after Apply
		peak Rate
	}{
		{"embedded defaults", src, Overrides{},
			Applied{Target: EmbeddedTarget, Embedded: true, TimeScale: 10, RateScale: 0.1, Duration: 30 * time.Second}, 7, 30 * time.Second, 10},
		{"the command line wins", src, Overrides{TimeScale: f(2), RateScale: f(1), Duration: time.Minute, Seed: &seed},
			Applied{Target: EmbeddedTarget, Embedded: true, TimeScale: 2, RateScale: 1, Duration: time.Minute}, 42, time.Minute, 100},
		{"a URL target ignores the embedded defaults", src, Overrides{Target: "http://127.0.0.1:8080"},
			Applied{Target: "http://127.0.0.1:8080", TimeScale: 1, RateScale: 1}, 7, 10 * time.Minute, 100},
		{"--target embedded brings them in", strings.Replace(src, "target: embedded", "target: http://127.0.0.1:8080", 1), Overrides{Target: EmbeddedTarget},
			Applied{Target: EmbeddedTarget, Embedded: true, TimeScale: 10, RateScale: 0.1, Duration: 30 * time.Second}, 7, 30 * time.Second, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := mustParse(t, tt.src)
			got, err := sc.Apply(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || sc.Seed != tt.seed || sc.Profile.Duration() != tt.dur || sc.Profile.Peak() != tt.peak {
				t.Errorf("applied %+v, seed %d, profile %s at %s\nwant    %+v, seed %d, profile %s at %s",
					got, sc.Seed, sc.Profile.Duration(), sc.Profile.Peak(), tt.want, tt.seed, tt.dur, tt.peak)
			}
		})
	}
	for _, tt := range []struct {
		name string
		o    Overrides
		want string
	}{
		{"negative duration", Overrides{Duration: -time.Second}, "--duration -1s must be positive"},
		{"zero time scale", Overrides{TimeScale: f(0)}, "--time-scale 0: want a positive finite number"},
		{"rate scale past the maximum", Overrides{RateScale: f(1e12)}, "--rate-scale 1e+12 takes the peak rate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, src).Apply(tt.o)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an ErrInvalid saying %q", err, tt.want)
			}
		})
	}
}
