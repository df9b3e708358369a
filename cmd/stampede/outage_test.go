package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

// TestSimulatedOutageIsTheReplayed: nexi down from 4 s to 8 s of a light
// 12-second hold (testdata/outage.yaml). The replay injects the outage
// into the embedded bank mocks; the simulator takes the same station down
// for the same window. Both name the same error modes with the same
// upstream and the stack's messages (the naive stack's sequential
// bancomat search fails at nexi, its card adds are refused), the same
// counts, and onsets at the start of the outage window.
func TestSimulatedOutageIsTheReplayed(t *testing.T) {
	scenario := filepath.Join("testdata", "outage.yaml")
	summary := func(args ...string) *reports.Summary {
		t.Helper()
		code, stdout, stderr := cli(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var s reports.Summary
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return &s
	}
	measured := summary("run", scenario, "--out", filepath.Join(t.TempDir(), "run"), "--quiet", "--no-report", "--format", "json")
	simulated := summary("simulate", scenario, "--as-embedded", "--out", t.TempDir(), "--no-report", "--format", "json")
	type mode struct{ mode, upstream string }
	errorsOf := func(s *reports.Summary) map[mode]reports.ErrorSummary {
		out := map[mode]reports.ErrorSummary{}
		for _, e := range s.Errors {
			out[mode{string(e.Mode), e.Upstream}] = e
		}
		return out
	}
	want := map[mode]string{
		{"http 503 CARD_SAVE_FAILED", "nexi"}:       "Si è verificato un errore temporaneo nel salvataggio di questa carta",
		{"http 502 BANCOMAT_SEARCH_FAILED", "nexi"}: "Non siamo riusciti a recuperare la tua carta PagoBancomat",
	}
	m, s := errorsOf(measured), errorsOf(simulated)
	if len(m) != len(want) || len(s) != len(want) {
		t.Fatalf("error modes: measured %v, simulated %v; want only %v", m, s, want)
	}
	for k, msg := range want {
		me, se := m[k], s[k]
		if me.Example != msg || se.Example != msg {
			t.Errorf("%s via %s: messages %q measured, %q simulated; want %q", k.mode, k.upstream, me.Example, se.Example, msg)
		}
		// 10 journeys/s through a 4 s window: about 40 of each, and the
		// same users in both engines.
		if me.Count < 30 || me.Count > 50 || math.Abs(float64(me.Count-se.Count)) > 3 {
			t.Errorf("%s via %s: %d measured, %d simulated: want about 40 each, within 3", k.mode, k.upstream, me.Count, se.Count)
		}
		// The outage opens at 4 s; a search sent just before reaches
		// nexi after iccrea, inside the window.
		if me.OnsetS < 3.5 || me.OnsetS > 4.5 || math.Abs(me.OnsetS-se.OnsetS) > 0.5 {
			t.Errorf("%s via %s: onset %.3fs measured, %.3fs simulated: want both at the outage's start (4s), within 0.5s", k.mode, k.upstream, me.OnsetS, se.OnsetS)
		}
	}
	// Success within the simulator's same-scale bound (5 points): the
	// measured side is real time, and a loaded machine times a few more
	// requests out (0.789 measured against 0.758 simulated at load 15).
	if measured.Requests != simulated.Requests || math.Abs(measured.SuccessRatio-simulated.SuccessRatio) > 0.05 {
		t.Errorf("requests %d measured, %d simulated; success %.3f and %.3f", measured.Requests, simulated.Requests, measured.SuccessRatio, simulated.SuccessRatio)
	}
}
