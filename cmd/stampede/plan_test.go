package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/scenarios"
	"github.com/stampede-load/stampede/sim"
	"github.com/stampede-load/stampede/sim/reference"
)

func TestPlanBadInputExitsTwoWithOneLine(t *testing.T) {
	base := []string{"plan", "ci-smoke", "--profile", "hardened"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no vary", nil, "--vary"},
		{"empty range", []string{"--vary", "stations.nexi.servers=64..8"}, `--vary "stations.nexi.servers=64..8": the range 64..8 is empty`},
		{"malformed range", []string{"--vary", "stations.nexi.servers=8-64"}, `--vary "stations.nexi.servers=8-64"`},
		{"no range", []string{"--vary", "stations.nexi.servers"}, "--vary"},
		{"zero", []string{"--vary", "stack.workers=0..8"}, "--vary"},
		{"unknown parameter", []string{"--vary", "stack.threads=16..256"}, `--vary stack.threads=16..256: invalid model: parameter "stack.threads"`},
		{"unknown station", []string{"--vary", "stations.nexy.servers=1..8"}, "did you mean \"stations.nexi.servers\"?"},
		{"varied twice", []string{"--vary", "stack.pool=1..8", "--vary", "stack.pool=2..9"}, "stack.pool is varied twice"},
		{"bad cost", []string{"--vary", "stack.pool=1..8", "--cost", "stack.pool=cheap"}, "--cost"},
		{"cost of nothing varied", []string{"--vary", "stack.pool=1..8", "--cost", "stack.workers=2"}, "--cost stack.workers"},
		{"bad slo", []string{"--vary", "stack.pool=1..8", "--slo", "p42=1s"}, "--slo"},
		{"no workers", []string{"--vary", "stack.pool=1..8", "--workers", "0"}, "--workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, append(append([]string{}, base...), tt.args...)...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("stderr %q: want one line naming %q", stderr, tt.want)
			}
		})
	}
}

// The capacity table of the hardened model on ci-smoke: its cheapest row
// holds the SLO when simulated on its own, and one unit less of either
// parameter does not.
func TestPlanPrintsTheHardenedCapacityTable(t *testing.T) {
	args := []string{"plan", "ci-smoke", "--profile", "hardened", "--vary", "stations.nexi.servers=1..32",
		"--vary", "stack.bulkhead=1..64", "--slo", "p99=1s,errors=1%", "--cost", "stack.bulkhead=0.5"}
	code, stdout, stderr := cli(t, append(args, "--workers", "2")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "simulated clock") || !strings.Contains(stderr, "ETA") {
		t.Errorf("no progress line: %s", stderr)
	}
	row := planRow.FindAllStringSubmatch(stdout, -1)
	if len(row) < 2 || !strings.Contains(stdout, "of the grid's 2048 configurations simulated") {
		t.Fatalf("no capacity table:\n%s", stdout)
	}
	cost, _ := strconv.ParseFloat(row[0][1], 64)
	nexi, _ := strconv.Atoi(row[0][2])
	bulk, _ := strconv.Atoi(row[0][3])
	if cost != float64(nexi)+0.5*float64(bulk) {
		t.Fatalf("cost %v of %d servers and bulkhead %d at 0.5", cost, nexi, bulk)
	}
	for _, r := range row[1:] {
		if c, _ := strconv.ParseFloat(r[1], 64); c < cost {
			t.Fatalf("not cheapest first:\n%s", stdout)
		}
	}
	holds := func(nexi, bulk int) bool {
		return holdsOnItsOwn(t, 0.01, func(m *sim.Model) { m.Station("nexi").Servers, m.Stack.Bulkhead = nexi, bulk })
	}
	if !holds(nexi, bulk) || holds(nexi-1, bulk) || holds(nexi, bulk-1) {
		t.Fatalf("the cheapest row (%d servers, bulkhead %d) is not a least configuration that holds: %v %v %v",
			nexi, bulk, holds(nexi, bulk), holds(nexi-1, bulk), holds(nexi, bulk-1))
	}
}

// The example: the stack's workers (the reference stack's
// MaxInFlight, its admission limit) are a parameter a plan varies. The
// cheapest row holds the SLO simulated on its own; one step fewer
// workers does not.
func TestPlanVariesTheStacksWorkers(t *testing.T) {
	code, stdout, stderr := cli(t, "plan", "ci-smoke", "--profile", "hardened", "--vary", "stations.nexi.servers=8..64:8",
		"--vary", "stack.workers=16..256:16", "--slo", "p99=1s,errors=0.1%", "--workers", "2")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	row := planRow.FindStringSubmatch(stdout)
	if row == nil || !strings.Contains(stdout, "stations.nexi.servers  stack.workers") {
		t.Fatalf("no capacity table:\n%s", stdout)
	}
	nexi, _ := strconv.Atoi(row[2])
	workers, _ := strconv.Atoi(row[3])
	holds := func(workers int) bool {
		return holdsOnItsOwn(t, 0.001, func(m *sim.Model) { m.Station("nexi").Servers, m.Stack.Workers = nexi, workers })
	}
	if workers <= 16 || workers >= 256 || !holds(workers) || holds(workers-16) {
		t.Fatalf("the cheapest row (%d nexi servers, %d workers) is not the fewest workers that hold: %v, %d fewer %v",
			nexi, workers, holds(workers), 16, holds(workers-16))
	}
}

// planRow matches a row of plan's capacity table of two varied parameters:
// cost, the two values, the quantile in ms, errors and margin.
var planRow = regexp.MustCompile(`(?m)^  ([0-9.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)%\s+(-?[0-9.]+)%$`)

// holdsOnItsOwn simulates ci-smoke on the hardened model as set changes it
// and says whether p99 ≤ 1 s holds with at most maxErrors of the requests
// failed: a plan row checked by a simulation of its own.
func holdsOnItsOwn(t *testing.T, maxErrors float64, set func(*sim.Model)) bool {
	t.Helper()
	sc, err := scenarios.Resolve("ci-smoke")
	if err != nil {
		t.Fatal(err)
	}
	m, err := reference.Model(reference.Options{Profile: "hardened"})
	if err != nil {
		t.Fatal(err)
	}
	set(m)
	out, err := sim.Run(context.Background(), sim.Options{Scenario: sc, Model: m, Seed: uint64(sc.Seed)})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Summary
	return s.Latency.P99 <= 1000 && float64(s.Requests-s.OK) <= maxErrors*float64(s.Requests)
}
