package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// readSummary reads a run folder's summary.json.
func readSummary(t *testing.T, dir string) *reports.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s reports.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestGateFlagJudgesWindows(t *testing.T) {
	srv := okServer(t)
	t.Run("every window holds", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run")
		code, _, stderr := cli(t, "run", "--url", srv.URL, "--rate", "20/s", "--duration", "3s", "--out", out, "--quiet",
			"--gate", "errors<1% over 1s", "--gate", "p99{step:request}<10s")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		s := readSummary(t, out)
		if len(s.Gates) != 2 {
			t.Fatalf("gates %+v", s.Gates)
		}
		var info struct{ Gates []string }
		if b, err := os.ReadFile(filepath.Join(out, "run.json")); err != nil || json.Unmarshal(b, &info) != nil ||
			!slices.Equal(info.Gates, []string{"errors<1% over 1s", "p99{step:request}<10s"}) {
			t.Errorf("run.json does not record the gates for a report of a killed run: %v %+v", err, info)
		}
		// 3 s of arrivals from a start within a second: 3 or 4 windows.
		if w := s.Gates[0]; !w.Pass || w.WindowS != 1 || w.Windows < 3 || w.Windows > 4 || w.FailedWindow != nil {
			t.Errorf("windowed gate %+v", w)
		}
		if g := s.Gates[1]; !g.Pass || g.Step != "request" || g.Actual <= 0 {
			t.Errorf("step gate %+v", g)
		}
	})
	t.Run("a window that fails exits 3 and says which", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "run")
		code, _, stderr := cli(t, "run", "--url", srv.URL, "--rate", "20/s", "--duration", "2s", "--out", out, "--quiet",
			"--gate", "success_ratio<50% over 1s")
		if code != exitGateFailed {
			t.Fatalf("exit %d, want 3: %s", code, stderr)
		}
		g := readSummary(t, out).Gates[0]
		if g.Pass || g.Actual != 1 || g.FailedWindow == nil || g.WindowsFailed != g.Windows || g.FailedWindow.Requests == 0 {
			t.Errorf("gate %+v, window %+v", g, g.FailedWindow)
		}
	})
}

func TestAbortOnFailStopsTheRunAndExitsThree(t *testing.T) {
	srv := fixedServer(t, 5*time.Millisecond)
	out := filepath.Join(t.TempDir(), "run")
	// 30 s of 20 requests a second, every one slower than the gate allows:
	// the first 1 s window is lost once responses are 2 s past it.
	code, stdout, stderr := cli(t, "run", "--url", srv.URL, "--rate", "20/s", "--duration", "30s", "--out", out, "--quiet",
		"--gate", "p50<1ms over 1s abort_on_fail after 1s", "--gate", "errors<1%")
	if code != exitGateFailed {
		t.Fatalf("exit %d, want 3 (not 130): %s", code, stderr)
	}
	if !strings.Contains(stderr, "p50<1ms over 1s abort_on_fail after 1s was lost") {
		t.Errorf("stderr does not say which gate stopped the run: %s", stderr)
	}
	s := readSummary(t, out)
	if s.Aborted == nil || s.Aborted.Expr != "p50<1ms over 1s abort_on_fail after 1s" || s.Interrupted {
		t.Fatalf("summary aborted %+v, interrupted %v", s.Aborted, s.Interrupted)
	}
	if s.Requests == 0 || s.Requests >= 300 { // half of the 600 the profile would send
		t.Errorf("%d requests: the run did not stop early", s.Requests)
	}
	if g := s.Gates[0]; g.Pass || !g.Aborted || g.FailedWindow == nil {
		t.Errorf("gate %+v", g)
	}
	if g := s.Gates[1]; !g.Pass || g.Aborted {
		t.Errorf("the other gate %+v", g)
	}
	if !strings.Contains(stdout, "abort_on_fail stopped the run") {
		t.Errorf("the table does not say the run was stopped:\n%s", stdout)
	}
}

func TestSimulateJudgesGateFlags(t *testing.T) {
	dir := t.TempDir()
	// ci-smoke: 25 s at 30 journeys/s; no window of a simulated second can
	// have more than every request failing, and none has none.
	code, _, stderr := cli(t, "simulate", "ci-smoke", "--out", dir, "--format", "json",
		"--gate", "errors<=100% over 5s", "--gate", "p99{step:add-card}>0s over 5s", "--gate", "errors>100% over 5s")
	if code != exitGateFailed {
		t.Fatalf("exit %d, want 3: %s", code, stderr)
	}
	s := readSummary(t, dir)
	n := len(s.Gates)
	if n < 3 {
		t.Fatalf("gates %+v", s.Gates)
	}
	held, step, never := s.Gates[n-3], s.Gates[n-2], s.Gates[n-1]
	if !held.Pass || held.Windows < 5 || !step.Pass || step.Step != "add-card" || step.Windows < 5 || never.Pass || never.FailedWindow == nil {
		t.Errorf("gates %+v\n%+v\n%+v", held, step, never)
	}
	if code, _, stderr := cli(t, "simulate", "ci-smoke", "--out", t.TempDir(), "--gate", "p99{step:nope}<1s"); code != exitBadInput || !strings.Contains(stderr, `no step "nope"`) {
		t.Errorf("unknown step: exit %d: %s", code, stderr)
	}
}
