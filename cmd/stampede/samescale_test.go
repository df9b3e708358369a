package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulationPredictsTheMainJob holds the stock models to the issue's
// same-scale bounds against the main job as measured: journeys completed
// and request success within 5 points, each step's success within 10, the
// same top three error modes with the same upstreams, their onsets within
// 5 s, recovery after the peak within 15 s. The measured side is three
// minutes of real time per profile, so it is recorded in
// testdata/samescale/PROFILE (run.json and summary.json without its
// series and histograms, which the comparison does not read):
//
//	stampede run launch-day [--stack-profile hardened] --out RUN
//
// The simulated side is deterministic and runs here, through the command
// a user runs on a fresh measurement: `stampede sim compare RUN`, which
// exits 3 when a figure is out of its bound.
func TestSimulationPredictsTheMainJob(t *testing.T) {
	for _, profile := range []string{"naive", "hardened"} {
		t.Run(profile, func(t *testing.T) {
			code, stdout, stderr := cli(t, "sim", "compare", filepath.Join("testdata", "samescale", profile))
			if code != exitOK {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			// Every judged figure is there: 2 totals, 18 steps, the top 3
			// modes and their onsets, recovery.
			if n := strings.Count(stdout, "| ok |"); n != 25 {
				t.Errorf("%d figures judged ok, want 25:\n%s", n, stdout)
			}
			if !strings.Contains(stdout, profile+" stack, time scale 10, rate scale 0.1, 3m0s") {
				t.Errorf("not the main job's scales:\n%s", stdout)
			}
		})
	}
}
