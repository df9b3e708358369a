package sim

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// oneStep is a scenario of one step at 20 arrivals/s for 10 s, evenly
// spaced: 200 requests.
func oneStep(t *testing.T, step string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("one.yaml", []byte(`name: one
profile:
  - hold: {rate: 20/s, duration: 10s}
journeys:
  - name: j
    steps:
      - {name: `+step+`, path: /x}
`))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func simulateTiny(t *testing.T, sc *scenarios.Scenario, m *Model) (*reports.Summary, []reports.Result) {
	t.Helper()
	var results []reports.Result
	keep := reports.SinkFunc(func(r *reports.Result) { results = append(results, *r) })
	out, err := Run(context.Background(), Options{Scenario: sc, Model: m, Seed: 1, Sinks: []reports.Sink{keep}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Summary, results
}

func modes(s *reports.Summary) map[string]int64 {
	out := map[string]int64{}
	for _, e := range s.Errors {
		out[string(e.Mode)+" via "+e.Upstream] = e.Count
	}
	return out
}

// TestFullProcessorTurnsEveryOtherCardAway: arrivals every 50 ms, one
// server busy 90 ms per card and no queue: every other card add finds the
// processor full and the stack answers 503 CARD_SAVE_FAILED via nexi.
func TestFullProcessorTurnsEveryOtherCardAway(t *testing.T) {
	m := tinyModel()
	m.Stations[0].Servers, m.Stations[0].Queue = 1, 0
	m.Stations[0].Service = Service{Distribution: Constant, Value: 90 * time.Millisecond}
	s, results := simulateTiny(t, oneStep(t, "s"), m)
	if s.Requests != 200 || s.OK != 100 || s.JourneysCompleted != 100 || s.Arrivals != 200 {
		t.Fatalf("%d requests, %d ok, %d journeys completed of %d: want 200, 100, 100, 200", s.Requests, s.OK, s.JourneysCompleted, s.Arrivals)
	}
	if got := modes(s); len(got) != 1 || got["http 503 CARD_SAVE_FAILED via nexi"] != 100 {
		t.Fatalf("error modes %v", got)
	}
	for _, r := range results {
		want := 100 * time.Millisecond // the database read, then the card's service
		if !r.OK {
			want = 10 * time.Millisecond
		}
		if r.Latency != want || r.Message != map[bool]string{true: "", false: "m"}[r.OK] {
			t.Fatalf("result %+v: latency %s, want %s", r, r.Latency, want)
		}
	}
}

// TestSlowProcessorTimesOut: a 2 s service against a 1 s call timeout is a
// 504 via nexi after exactly the timeout, and the processor's server is
// freed then, as the bank mocks free a request whose client went away.
func TestSlowProcessorTimesOut(t *testing.T) {
	m := tinyModel()
	m.Stations[0].Servers, m.Stations[0].Queue = 100, 0
	m.Stations[0].Service = Service{Distribution: Constant, Value: 2 * time.Second}
	s, results := simulateTiny(t, oneStep(t, "s"), m)
	if got := modes(s); got["http 504 CARD_SAVE_FAILED via nexi"] != 200 {
		t.Fatalf("error modes %v, want 200 × 504 via nexi", got)
	}
	for _, r := range results {
		if r.Latency != 1010*time.Millisecond {
			t.Fatalf("latency %s, want the read and the call timeout: 1.01s", r.Latency)
		}
	}
	// With 20 servers the timed-out calls free theirs at 1 s: 20/s × 1 s
	// never runs out; were they held for the full 2 s, half would be
	// turned away (503).
	m.Stations[0].Servers = 21
	s, _ = simulateTiny(t, oneStep(t, "s"), m)
	if got := modes(s); got["http 504 CARD_SAVE_FAILED via nexi"] != 200 {
		t.Fatalf("with 21 servers: error modes %v, want only timeouts", got)
	}
}

// TestAdmissionShedsOverTheLimit: the hardened stack handles one request
// at a time; the next arrival while it is busy is shed with 503 OVERLOADED
// via stack and the route's message.
func TestAdmissionShedsOverTheLimit(t *testing.T) {
	m := tinyModel()
	m.Stack.Workers = 1
	m.Routes[0].ShedMessage = "busy"
	m.Stations[0].Service = Service{Distribution: Constant, Value: 80 * time.Millisecond}
	s, results := simulateTiny(t, oneStep(t, "s"), m)
	if got := modes(s); got["http 503 OVERLOADED via stack"] != 100 || s.OK != 100 {
		t.Fatalf("error modes %v, %d ok: want every other request shed", got, s.OK)
	}
	for _, r := range results {
		if !r.OK && (r.Message != "busy" || r.Latency != 0) {
			t.Fatalf("shed result %+v: want message busy at once", r)
		}
	}
}

// TestFanOutSequentialOrPartial: sia serves one search for an hour and
// queues none. A sequential fan-out fails at sia (502 via sia) for every
// search but the one it holds, which the app gives up on after its 10 s
// timeout (the profile has ended by then); a parallel one with partial results
// answers from nexi instead, but for the searches held at sia.
func TestFanOutSequentialOrPartial(t *testing.T) {
	m := tinyModel()
	m.Stations = append(m.Stations, StationSpec{Name: "sia", Kind: KindProcessor, Servers: 1, Queue: 0,
		Service: Service{Distribution: Constant, Value: time.Hour}})
	m.Routes[2].Ops[0].Stations = []string{"nexi", "sia"}
	m.Routes[2].Code, m.Routes[2].Message = "BANCOMAT_SEARCH_FAILED", "no"
	sc := oneStep(t, "search")
	m.Stack.CallTimeout = 2 * time.Hour
	s, _ := simulateTiny(t, sc, m)
	if got := modes(s); got["http 502 BANCOMAT_SEARCH_FAILED via sia"] != 199 || got["timeout via "] != 1 || s.OK != 0 {
		t.Fatalf("sequential: error modes %v, %d ok; want 199 × 502 via sia and 1 timeout", got, s.OK)
	}
	m.Stack.Sequential = false
	s, _ = simulateTiny(t, sc, m)
	if got := modes(s); s.OK != 199 || got["timeout via "] != 1 {
		t.Fatalf("partial results: %d ok, modes %v; want 199 and 1 timeout", s.OK, got)
	}
}

// TestOverheadHoldsTheAdmissionSlot: requests 50 ms apart take 20 ms in
// the stack's route; with 35 ms of the stack's own time before it, each
// holds the one admission slot 55 ms and every other one is shed.
func TestOverheadHoldsTheAdmissionSlot(t *testing.T) {
	m := tinyModel()
	m.Stack.Workers = 1
	s, results := simulateTiny(t, oneStep(t, "s"), m)
	if s.OK != 200 || results[0].Latency != 20*time.Millisecond {
		t.Fatalf("without overhead: %d ok, latency %s; want 200 and 20ms", s.OK, results[0].Latency)
	}
	m.Stack.Overhead = &Service{Distribution: Constant, Value: 35 * time.Millisecond}
	s, results = simulateTiny(t, oneStep(t, "s"), m)
	for _, r := range results {
		if r.OK && r.Latency != 55*time.Millisecond {
			t.Fatalf("with 35ms overhead: latency %s, want 55ms", r.Latency)
		}
	}
	if got := modes(s); s.OK != 100 || got["http 503 OVERLOADED via stack"] != 100 {
		t.Fatalf("with 35ms overhead: %d ok, modes %v; want 100 and 100 shed", s.OK, got)
	}
}

// TestArrivalsAreTheReplays: the simulated arrivals fall when the replay's
// pacing loop puts them (Pace(due, n) is the wait before arrival n).
func TestArrivalsAreTheReplays(t *testing.T) {
	sc, err := scenarios.Parse("ramp.yaml", []byte(`name: ramp
profile:
  - ramp: {from: 0/s, to: 40/s, duration: 5s}
  - hold: {rate: 40/s, duration: 2s}
journeys:
  - name: j
    steps:
      - {name: s, path: /x}
`))
	if err != nil {
		t.Fatal(err)
	}
	var want []time.Duration
	var due time.Duration
	for n := uint64(0); ; n++ {
		wait, stop := sc.Profile.Pace(due, n)
		if stop {
			break
		}
		due += wait
		want = append(want, due)
	}
	_, results := simulateTiny(t, sc, tinyModel())
	var got []time.Duration
	for _, r := range results {
		if r.Arrival {
			got = append(got, r.Intended.Sub(LaunchDay))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || len(want) < 150 {
		t.Fatalf("%d simulated arrivals, %d paced; first %v vs %v", len(got), len(want), got[:3], want[:3])
	}
}

// TestCancelledRunIsInterrupted: a simulation stopped by its context
// returns the summary of what it simulated, marked interrupted.
func TestCancelledRunIsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := Run(ctx, Options{Scenario: oneStep(t, "s"), Model: tinyModel(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Summary.Interrupted || out.Summary.Requests != 0 {
		t.Fatalf("interrupted %v with %d requests, want an interrupted, empty run", out.Summary.Interrupted, out.Summary.Requests)
	}
}
