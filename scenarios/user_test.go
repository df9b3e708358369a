package scenarios

import (
	"math"
	"testing"

	"github.com/stampede-load/stampede/scenarios/synth"
)

func TestUsersAreDeterministic(t *testing.T) {
	s := mustParse(t, minimal)
	a, _ := s.NewUser(77)
	b, _ := s.NewUser(77)
	c, _ := s.NewUser(78)
	if *a.Identity() != *b.Identity() || *a.Identity() == *c.Identity() {
		t.Error("identities are not a function of (seed, index)")
	}
	if *a.Identity() != synth.NewIdentity(s.Seed, 77, s.Epoch) {
		t.Error("identity differs from synth.NewIdentity(seed, index, epoch)")
	}
	if a.Rand().Uint64() != b.Rand().Uint64() || a.Rand().Uint64() == c.Rand().Uint64() {
		t.Error("random streams are not a function of (seed, index)")
	}
	other := mustParse(t, "seed: 2\n"+minimal)
	d, _ := other.NewUser(77)
	if *d.Identity() == *b.Identity() {
		t.Error("another seed gave the same identity")
	}
	if a.Rand() != a.Rand() {
		t.Error("Rand returns a new generator each call")
	}
}

func TestPickJourneyFollowsWeights(t *testing.T) {
	s, err := LoadStock("launch-day")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	const n = 100_000
	for i := range uint64(n) {
		u, _ := s.NewUser(i)
		counts[s.PickJourney(u).Name]++
	}
	total := 0.0
	for _, j := range s.Journeys {
		total += j.Weight
	}
	for _, j := range s.Journeys {
		want := j.Weight / total
		if got := float64(counts[j.Name]) / n; math.Abs(got-want) > 0.01 {
			t.Errorf("journey %s picked %.3f of the time, want %.3f", j.Name, got, want)
		}
	}
	one := mustParse(t, minimal)
	u, _ := one.NewUser(1)
	if one.PickJourney(u) != one.Journeys[0] {
		t.Error("a single journey is not always picked")
	}
}

func BenchmarkNewUserPickJourney(b *testing.B) {
	s, err := LoadStock("launch-day")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		u, err := s.NewUser(i)
		if err != nil {
			b.Fatal(err)
		}
		s.PickJourney(u)
		i++
	}
}
