package scenarios

import (
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var _ vegeta.Pacer = (*Profile)(nil)

// stageProfiles has one profile per stage kind, each led by a stage so the
// kind under test does not start at time 0.
var stageProfiles = []struct {
	name string
	p    Profile
}{
	{"ramp up", Profile{Stages: []Stage{{Kind: Ramp, From: 0, To: 600, Duration: 10 * time.Second}}}},
	{"ramp down", Profile{Stages: []Stage{{Kind: Hold, From: 50, To: 50, Duration: time.Second}, {Kind: Ramp, From: 400, To: 20, Duration: 7 * time.Second}}}},
	{"hold", Profile{Stages: []Stage{{Kind: Hold, From: 333, To: 333, Duration: 9 * time.Second}}}},
	{"spike", Profile{Stages: []Stage{{Kind: Hold, From: 100, To: 100, Duration: 2 * time.Second}, {Kind: Spike, From: 100, To: 750, Duration: 1500 * time.Millisecond}, {Kind: Hold, From: 100, To: 100, Duration: 2 * time.Second}}}},
	{"sine", Profile{Stages: []Stage{{Kind: Sine, From: 500, Amplitude: 400, Period: 3 * time.Second, Duration: 10 * time.Second}}}},
	{"sine full swing", Profile{Stages: []Stage{{Kind: Sine, From: 200, Amplitude: 200, Period: 2 * time.Second, Duration: 5 * time.Second}}}},
	{"decay", Profile{Stages: []Stage{{Kind: Ramp, From: 0, To: 600, Duration: time.Second}, {Kind: Decay, From: 600, To: 30, Duration: 20 * time.Second, HalfLife: 2 * time.Second}}}},
	{"decay default half-life", Profile{Stages: []Stage{{Kind: Decay, From: 800, To: 0, Duration: 14 * time.Second}}}},
	{"decay upwards", Profile{Stages: []Stage{{Kind: Decay, From: 10, To: 300, Duration: 6 * time.Second, HalfLife: time.Second}}}},
}

// simpson integrates Rate over [0, d] numerically.
func simpson(p *Profile, d time.Duration) float64 {
	const n = 20000 // even
	h := d / n
	sum := p.Rate(0) + p.Rate(h*n-1)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * p.Rate(time.Duration(i)*h)
	}
	return sum * h.Seconds() / 3
}

func TestArrivalsIsTheIntegralOfRate(t *testing.T) {
	for _, tt := range stageProfiles {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			for _, f := range []float64{0.13, 0.5, 0.77, 1} {
				d := time.Duration(f * float64(p.Duration()))
				got, want := p.Arrivals(d), simpson(&p, d)
				// Simpson's rule is off by a kink's worth where a stage
				// boundary falls inside a panel.
				if math.Abs(got-want) > 1e-3*math.Max(want, 1)+p.Rate(0)*1e-3 {
					t.Errorf("Arrivals(%s) = %.4f, numerical integral %.4f", d, got, want)
				}
			}
			if got := p.Arrivals(-time.Second); got != 0 {
				t.Errorf("Arrivals(-1s) = %v, want 0", got)
			}
			if got, total := p.Arrivals(p.Duration()+time.Hour), p.Arrivals(p.Duration()); got != total {
				t.Errorf("Arrivals past the end = %v, want the total %v", got, total)
			}
		})
	}
}

// pace runs a pacer the way an engine that waits exactly as told does, and
// returns when each arrival was sent.
func pace(t *testing.T, p *Profile) []time.Duration {
	t.Helper()
	var (
		elapsed time.Duration
		sent    []time.Duration
	)
	for hits := uint64(0); ; hits++ {
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			return sent
		}
		if wait < 0 {
			t.Fatalf("Pace(%s, %d) wait %s is negative", elapsed, hits, wait)
		}
		elapsed += wait
		sent = append(sent, elapsed)
	}
}

func TestPaceSendsExactlyTheIntegral(t *testing.T) {
	for _, tt := range stageProfiles {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			sent := pace(t, &p)
			want := int(math.Floor(p.Arrivals(p.Duration())))
			if len(sent) != want {
				t.Fatalf("paced %d arrivals, want floor(Arrivals(%s)) = %d", len(sent), p.Duration(), want)
			}
			for i, at := range sent {
				k := float64(i + 1)
				if at > p.Duration() {
					t.Fatalf("arrival %d at %s, after the end %s", i+1, at, p.Duration())
				}
				// Arrival k is due at the first nanosecond where Arrivals reaches k.
				if got := p.Arrivals(at); got < k-1e-6 {
					t.Fatalf("arrival %d sent at %s when only %.6f were due", i+1, at, got)
				}
				if got := p.Arrivals(at - time.Nanosecond); at > 0 && got >= k+1e-6 {
					t.Fatalf("arrival %d sent at %s, late: %.6f were due a nanosecond before", i+1, at, got)
				}
			}
		})
	}
}

func TestPaceTellsALateCallerToHurry(t *testing.T) {
	p := Profile{Stages: []Stage{{Kind: Hold, From: 100, To: 100, Duration: 10 * time.Second}}}
	tests := []struct {
		name     string
		elapsed  time.Duration
		hits     uint64
		wantWait time.Duration
		wantStop bool
	}{
		{"first arrival due after one interval", 0, 0, 10 * time.Millisecond, false},
		{"on time", 10 * time.Millisecond, 1, 10 * time.Millisecond, false},
		{"behind sends at once", time.Second, 50, 0, false},
		{"ahead waits", time.Second, 120, 210 * time.Millisecond, false},
		{"all paced", 9 * time.Second, 1000, 0, true},
		{"at the end", 10 * time.Second, 3, 0, true},
		{"past the end", time.Minute, 3, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := p.Pace(tt.elapsed, tt.hits)
			if wait != tt.wantWait || stop != tt.wantStop {
				t.Fatalf("Pace(%s, %d) = %s, %v; want %s, %v", tt.elapsed, tt.hits, wait, stop, tt.wantWait, tt.wantStop)
			}
		})
	}
	// A caller that is always 3ms late never sends more than the profile holds.
	var elapsed time.Duration
	hits := uint64(0)
	for {
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			break
		}
		elapsed += wait + 3*time.Millisecond
		hits++
	}
	if hits > 1000 {
		t.Fatalf("a late caller sent %d arrivals, more than the 1000 of the profile", hits)
	}
}

func TestPaceLaunchDayCompressed(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	s.Scale(30, 0.5) // about 10k arrivals: quick enough under -race
	sent := pace(t, s.Profile)
	if want := int(math.Floor(s.Profile.Arrivals(s.Profile.Duration()))); len(sent) != want {
		t.Fatalf("paced %d arrivals, want %d", len(sent), want)
	}
}

func TestRateAndPeak(t *testing.T) {
	p := Profile{Stages: []Stage{
		{Kind: Ramp, From: 0, To: 600, Duration: 10 * time.Second},
		{Kind: Hold, From: 600, To: 600, Duration: 10 * time.Second},
		{Kind: Spike, From: 600, To: 900, Duration: 5 * time.Second},
		{Kind: Sine, From: 500, Amplitude: 100, Period: 4 * time.Second, Duration: 8 * time.Second},
		{Kind: Decay, From: 500, To: 100, Duration: 10 * time.Second, HalfLife: 2 * time.Second},
	}}
	tests := []struct {
		at   time.Duration
		want float64
	}{
		{-time.Second, 0},
		{0, 0},
		{5 * time.Second, 300},
		{15 * time.Second, 600},
		{22 * time.Second, 900},
		{25*time.Second + time.Second, 600}, // sine at a quarter period
		{25*time.Second + 3*time.Second, 400},
		{33 * time.Second, 500},                      // decay start
		{35 * time.Second, 300},                      // one half-life: half way to 100
		{39 * time.Second, 100 + 400.0/8},            // three half-lives
		{43 * time.Second, 0},                        // the end
		{43*time.Second - time.Nanosecond, 100 + 25}, // four... five half-lives: 400/32 = 12.5
	}
	tests[len(tests)-1].want = 100 + 400.0/32
	for _, tt := range tests {
		if got := p.Rate(tt.at); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("Rate(%s) = %v, want %v", tt.at, got, tt.want)
		}
	}
	if got := p.Peak(); got != 900 {
		t.Errorf("Peak() = %v, want 900/s", got)
	}
	if got := p.Duration(); got != 43*time.Second {
		t.Errorf("Duration() = %s, want 43s", got)
	}
	short := Profile{Stages: []Stage{{Kind: Sine, From: 100, Amplitude: 50, Period: 8 * time.Second, Duration: time.Second}}}
	if got, want := float64(short.Peak()), 100+50*math.Sin(2*math.Pi/8); math.Abs(got-want) > 1e-9 {
		t.Errorf("Peak of a sine stopped before its crest = %v, want %v", got, want)
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range stageProfiles {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.p
			orig.Stages = append([]Stage(nil), tt.p.Stages...)
			cut := orig
			cut.Stages = append([]Stage(nil), orig.Stages...)
			d := orig.Duration() * 3 / 5
			cut.Truncate(d)
			if cut.Duration() != d {
				t.Fatalf("Duration() after Truncate(%s) = %s", d, cut.Duration())
			}
			for _, f := range []float64{0.1, 0.35, 0.59} {
				at := time.Duration(f * float64(orig.Duration()))
				if got, want := cut.Rate(at), orig.Rate(at); math.Abs(got-want) > 1e-6*math.Max(1, want) {
					t.Errorf("Rate(%s) = %v after truncation, %v before", at, got, want)
				}
				if got, want := cut.Arrivals(at), orig.Arrivals(at); math.Abs(got-want) > 1e-6*math.Max(1, want) {
					t.Errorf("Arrivals(%s) = %v after truncation, %v before", at, got, want)
				}
			}
			if got, want := cut.Arrivals(time.Hour), orig.Arrivals(d); math.Abs(got-want) > 1e-6*math.Max(1, want) {
				t.Errorf("total after truncation = %v, want Arrivals(%s) = %v", got, d, want)
			}
			longer := cut
			longer.Truncate(time.Hour)
			if longer.Duration() != d {
				t.Errorf("Truncate beyond the end changed the duration to %s", longer.Duration())
			}
			cut.Truncate(0)
			if len(cut.Stages) != 0 || cut.Duration() != 0 {
				t.Errorf("Truncate(0) left %d stages", len(cut.Stages))
			}
			if _, stop := cut.Pace(0, 0); !stop {
				t.Errorf("an empty profile does not stop")
			}
		})
	}
}

func BenchmarkPace(b *testing.B) {
	s, err := LoadStock("launch-day")
	if err != nil {
		b.Fatal(err)
	}
	p := s.Profile
	total := p.Duration()
	for _, bb := range []struct {
		name string
		at   time.Duration
	}{{"ramp", time.Minute}, {"decay", total / 2}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			hits := uint64(p.Arrivals(bb.at))
			for b.Loop() {
				p.Pace(bb.at, hits)
			}
		})
	}
}
