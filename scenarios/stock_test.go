package scenarios

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStockScenariosLoad(t *testing.T) {
	infos := Stock()
	names := make([]string, len(infos))
	for i, info := range infos {
		names[i] = info.Name
	}
	if want := []string{"bank-outage", "ci-smoke", "launch-day", "step"}; !slices.Equal(names, want) {
		t.Fatalf("Stock() = %v, want %v (sorted)", names, want)
	}
	for _, info := range infos {
		t.Run(info.Name, func(t *testing.T) {
			s, err := LoadStock(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != info.Name || s.Source != "stock:"+info.Name || s.Target != "embedded" {
				t.Errorf("name %q source %q target %q", s.Name, s.Source, s.Target)
			}
			if info.Description == "" || info.Description != s.Description {
				t.Errorf("description %q", info.Description)
			}
			if s.Login == nil || len(s.Journeys) == 0 || s.Profile.Peak() <= 0 {
				t.Errorf("login %v, %d journeys, peak %v", s.Login, len(s.Journeys), s.Profile.Peak())
			}
			again, err := Resolve(info.Name)
			if err != nil || again.Name != s.Name {
				t.Errorf("Resolve(%q) = %v, %v", info.Name, again, err)
			}
			// Every step of every journey builds for a user that has
			// walked the journey so far.
			u, err := s.NewUser(12345)
			if err != nil {
				t.Fatal(err)
			}
			steps := append([]*Step{s.Login}, slices.Concat(journeySteps(s)...)...)
			for _, st := range steps {
				for _, x := range st.Extract {
					u.Vars[x.Var] = "value-of-" + x.Var
				}
			}
			for _, st := range steps {
				if _, err := st.Build(u, "http://127.0.0.1:1"); err != nil {
					t.Errorf("step %s: %v", st.Name, err)
				}
			}
		})
	}
}

func journeySteps(s *Scenario) [][]*Step {
	var out [][]*Step
	for _, j := range s.Journeys {
		out = append(out, j.Steps)
	}
	return out
}

func TestUnknownStockName(t *testing.T) {
	for _, load := range []struct {
		name string
		f    func(string) (*Scenario, error)
	}{{"LoadStock", LoadStock}, {"Resolve", Resolve}} {
		t.Run(load.name, func(t *testing.T) {
			_, err := load.f("launch-night")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			for _, name := range stockNames() {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not list stock scenario %s", err, name)
				}
			}
		})
	}
}

func TestResolveFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(path)
	if err != nil || s.Name != "t" || s.Source != path {
		t.Fatalf("Resolve(%s) = %+v, %v", path, s, err)
	}
}

// perArrival returns, for the scenario's journey mix, the requests one
// arrival makes when every step succeeds at once (the login included, one
// round per polled step) and how many of them are steps named step.
func perArrival(s *Scenario, step string) (requests, matching float64) {
	total := 0.0
	for _, j := range s.Journeys {
		total += j.Weight
		n := float64(len(j.Steps))
		if s.Login != nil {
			n++
		}
		requests += j.Weight * n
		for _, st := range j.Steps {
			if st.Name == step {
				matching += j.Weight
			}
		}
	}
	return requests / total, matching / total
}

func TestLaunchDayArithmetic(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	p := s.Profile
	reqs, adds := perArrival(s, "add-card")
	peakRequests := float64(p.Peak()) * reqs
	if math.Abs(peakRequests-6000)/6000 > 0.10 {
		t.Errorf("peak request rate %.0f/s (%.0f arrivals/s x %.2f requests), want 6,000/s within 10%%", peakRequests, float64(p.Peak()), reqs)
	}
	arrivals := p.Arrivals(p.Duration())
	cardAdds := arrivals * adds
	if math.Abs(cardAdds-500_000)/500_000 > 0.15 {
		t.Errorf("card adds %.0f (%.0f arrivals x %.2f), want 500,000 within 15%%", cardAdds, arrivals, adds)
	}
	// The shape of the morning: the peak within minutes, a decay over hours.
	var reached time.Duration
	for at := time.Duration(0); at < p.Duration(); at += time.Second {
		if p.Rate(at) >= 0.9*float64(p.Peak()) {
			reached = at
			break
		}
	}
	if reached == 0 || reached > 10*time.Minute {
		t.Errorf("the rate reaches 90%% of its peak at %s, want within minutes", reached)
	}
	if p.Duration() < 2*time.Hour {
		t.Errorf("the profile lasts %s, want a decay over hours", p.Duration())
	}
	if p.Rate(time.Hour) >= p.Rate(20*time.Minute) || p.Rate(20*time.Minute) >= float64(p.Peak()) {
		t.Errorf("rates at 20m %.0f/s and 1h %.0f/s do not decay", p.Rate(20*time.Minute), p.Rate(time.Hour))
	}
	t.Logf("peak %.0f arrivals/s x %.2f = %.0f requests/s; %.0f arrivals x %.2f = %.0f card adds; %.2fM requests",
		float64(p.Peak()), reqs, peakRequests, arrivals, adds, cardAdds, arrivals*reqs/1e6)
}

func TestCISmokeIsShort(t *testing.T) {
	s, err := LoadStock("ci-smoke")
	if err != nil {
		t.Fatal(err)
	}
	// The last journey starts before the profile ends and walks its steps
	// at the 95th percentile of every pause and the longest polling.
	longest := time.Duration(0)
	for _, j := range s.Journeys {
		var d time.Duration
		for _, st := range j.Steps {
			d += st.Think.P95
			if st.Poll != nil {
				d += time.Duration(st.Poll.Max) * st.Poll.Interval
			}
			if st.Retry != nil {
				d += time.Duration(st.Retry.MaxAttempts-1) * st.Retry.Backoff.P95
			}
		}
		longest = max(longest, d)
	}
	if total := s.Profile.Duration() + longest; total >= 30*time.Second {
		t.Errorf("profile %s + slowest journey %s = %s, want under 30s", s.Profile.Duration(), longest, total)
	}
	steps := map[string]bool{}
	for _, st := range slices.Concat(journeySteps(s)...) {
		steps[st.Name] = true
	}
	for _, want := range []string{"accept-terms", "set-iban", "list-banks", "bancomat-search", "cobadge-search", "cobadge-poll", "add-card", "list-wallet", "activate", "read-citizen"} {
		if !steps[want] {
			t.Errorf("ci-smoke has no %s step", want)
		}
	}
}

func TestStepProfileClimbs(t *testing.T) {
	s, err := LoadStock("step")
	if err != nil {
		t.Fatal(err)
	}
	var holds []Rate
	for _, st := range s.Profile.Stages {
		if st.Kind == Hold {
			holds = append(holds, st.To)
		}
	}
	if len(holds) < 5 {
		t.Fatalf("%d levels, want a staircase", len(holds))
	}
	for i := 1; i < len(holds); i++ {
		if holds[i] <= holds[i-1] {
			t.Fatalf("level %d (%v) is not above level %d (%v)", i, holds[i], i-1, holds[i-1])
		}
	}
}

func TestBankOutageWindow(t *testing.T) {
	s, err := LoadStock("bank-outage")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Outages) != 1 {
		t.Fatalf("outages %+v, want one", s.Outages)
	}
	o := s.Outages[0]
	if o.Station != "nexi" || o.Start <= 0 || o.Start+o.Duration >= s.Profile.Duration() {
		t.Errorf("outage %+v is not inside the %s profile", o, s.Profile.Duration())
	}
	if s.Profile.Rate(o.Start) != float64(s.Profile.Peak()) {
		t.Errorf("the outage starts at %s, before the steady load", o.Start)
	}
}
