package scenarios

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestScale(t *testing.T) {
	orig, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := LoadStock("launch-day")
	s.Scale(60, 2)
	if got, want := s.Profile.Duration(), orig.Profile.Duration()/60; got != want {
		t.Errorf("duration %s, want %s", got, want)
	}
	if got, want := s.Profile.Peak(), 2*orig.Profile.Peak(); got != want {
		t.Errorf("peak %v, want %v", got, want)
	}
	for _, at := range []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 2 * time.Hour} {
		if got, want := s.Profile.Rate(at/60), 2*orig.Profile.Rate(at); math.Abs(got-want) > 1e-6*want {
			t.Errorf("rate at %s/60 = %v, want %v", at, got, want)
		}
	}
	if got, want := s.Profile.Arrivals(time.Hour), orig.Profile.Arrivals(time.Hour*60)*2/60; math.Abs(got-want) > 1e-6*want {
		t.Errorf("arrivals %v, want %v", got, want)
	}
	for ji, j := range s.Journeys {
		for si, st := range j.Steps {
			o := orig.Journeys[ji].Steps[si]
			if st.Think.Median != o.Think.Median/60 || st.Think.P95 != o.Think.P95/60 {
				t.Errorf("%s think %+v, was %+v", st.Name, st.Think, o.Think)
			}
			if st.Poll != nil && st.Poll.Interval != o.Poll.Interval/60 {
				t.Errorf("%s poll interval %s", st.Name, st.Poll.Interval)
			}
			if st.Retry != nil && st.Retry.Backoff.Median != o.Retry.Backoff.Median/60 {
				t.Errorf("%s backoff %+v", st.Name, st.Retry.Backoff)
			}
			if st.Timeout != o.Timeout {
				t.Errorf("%s timeout scaled to %s", st.Name, st.Timeout)
			}
		}
	}
	if s.HTTP.Timeout != orig.HTTP.Timeout {
		t.Errorf("HTTP timeout scaled to %s", s.HTTP.Timeout)
	}
	if s.Login.Retry.Backoff.Median != orig.Login.Retry.Backoff.Median/60 {
		t.Errorf("login backoff not scaled")
	}

	outage, _ := LoadStock("bank-outage")
	outage.Scale(10, 1)
	if o := outage.Outages[0]; o.Start != 18*time.Second || o.Duration != 18*time.Second {
		t.Errorf("outage %+v, want 18s for 18s", o)
	}

	same, _ := LoadStock("launch-day")
	same.Scale(0, math.NaN())
	if same.Profile.Duration() != orig.Profile.Duration() || same.Profile.Peak() != orig.Profile.Peak() {
		t.Errorf("factors that are not positive numbers changed the scenario")
	}
	tiny, _ := LoadStock("ci-smoke")
	tiny.Scale(1e12, 1)
	for _, st := range tiny.Profile.Stages {
		if st.Duration < 1 {
			t.Errorf("a stage shrank to %s", st.Duration)
		}
	}
}

func TestCheckScale(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	peak := float64(s.Profile.Peak())
	tests := []struct {
		name      string
		time      float64
		rate      float64
		wantError string // fragment; "" for none
	}{
		{"defaults", 1, 1, ""},
		{"compressed and scaled down", 120, 0.05, ""},
		{"highest time scale", MaxTimeScale, 1, ""},
		{"highest rate scale", 1, float64(MaxRate) / peak, ""},
		{"NaN time", math.NaN(), 1, "--time-scale NaN"},
		{"Inf time", math.Inf(1), 1, "--time-scale +Inf"},
		{"zero time", 0, 1, "--time-scale 0"},
		{"negative time", -2, 1, "--time-scale -2"},
		{"time over the cap", MaxTimeScale * 2, 1, "--time-scale 2e+06 is above the maximum"},
		{"NaN rate", 1, math.NaN(), "--rate-scale NaN"},
		{"Inf rate", 1, math.Inf(1), "--rate-scale +Inf"},
		{"negative Inf rate", 1, math.Inf(-1), "--rate-scale -Inf"},
		{"huge rate", 1, 1e300, "--rate-scale 1e+300 takes the peak rate to"},
		{"rate just over the cap", 1, float64(MaxRate) / peak * 1.001, "above the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckScale(tt.time, tt.rate)
			switch {
			case tt.wantError == "" && err != nil:
				t.Fatalf("CheckScale(%v, %v) = %v", tt.time, tt.rate, err)
			case tt.wantError != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantError)):
				t.Fatalf("CheckScale(%v, %v) = %v; want ErrInvalid and %q", tt.time, tt.rate, err, tt.wantError)
			}
		})
	}
}
