package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/sim"
)

func TestCalibrateBadInputExitsTwoWithOneLine(t *testing.T) {
	empty := t.TempDir()
	out := filepath.Join(t.TempDir(), "m.yaml")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"calibrate", empty}, "--out"},
		{"not a run", []string{"calibrate", empty, "--out", out}, "run.json"},
		{"min samples", []string{"calibrate", empty, "--out", out, "--min-samples", "1"}, "--min-samples"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q: want 2 and one line naming %q", code, stderr, tt.want)
			}
		})
	}
}

// A simulated run stands in for a measured one (same summary, same
// results file): calibrate fits it, refuses it when it is too small for
// a station, and writes a model simulate reads.
func TestCalibrateWritesAModelSimulateReads(t *testing.T) {
	run := t.TempDir()
	if code, _, stderr := cli(t, "simulate", "ci-smoke", "--out", run, "--results", "all", "--no-report"); code != exitOK && code != exitGateFailed {
		t.Fatalf("simulate: exit %d: %s", code, stderr)
	}
	info := `{"scenario":"ci-smoke","source":"stock:ci-smoke","seed":1,"target":"embedded","embedded":"naive","time_scale":1,"rate_scale":1}`
	if err := os.WriteFile(filepath.Join(run, "run.json"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.yaml")
	code, stdout, stderr := cli(t, "calibrate", run, "--out", model)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"  nexi       step add-card", "  stack      step login", "KS", "model: " + model} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	m, err := sim.LoadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Station("nexi").Service; s.Distribution != sim.LogNormal || s.Median < 50e6 || s.Median > 200e6 || s.P99 == 400e6 {
		t.Fatalf("nexi fitted as %+v from the stock median 80ms, p99 400ms", s)
	}
	if code, _, stderr := cli(t, "simulate", "ci-smoke", "--model", model, "--out", t.TempDir(), "--no-report"); code != exitOK && code != exitGateFailed {
		t.Fatalf("simulate --model: exit %d: %s", code, stderr)
	}
	code, _, stderr = cli(t, "calibrate", run, "--out", model, "--min-samples", "1000000")
	if code != exitBadInput || !strings.Contains(stderr, "station ") || !strings.Contains(stderr, "want at least 1000000") {
		t.Fatalf("too few samples: exit %d: %s", code, stderr)
	}
}

// A saturation search's folder has no run.json of its own: calibrate
// takes its first step's (the steps share scenario, scales and profile).
func TestCalibrateReadsASaturateFolder(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := cli(t, "sim", "saturate", "ci-smoke", "--start", "2/s", "--step", "2/s", "--max", "2/s", "--step-duration", "60s",
		"--out", dir, "--no-report"); code != exitOK {
		t.Fatalf("sim saturate: exit %d: %s", code, stderr)
	}
	step := filepath.Join(dir, "step-01-2")
	if err := os.Mkdir(step, 0o755); err != nil {
		t.Fatal(err)
	}
	info := `{"scenario":"ci-smoke","source":"stock:ci-smoke","seed":1,"target":"embedded","embedded":"hardened","time_scale":1,"rate_scale":0.5}`
	if err := os.WriteFile(filepath.Join(step, "run.json"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "model.yaml")
	code, stdout, stderr := cli(t, "calibrate", dir, "--out", model, "--min-samples", "50")
	if code != exitOK || !strings.Contains(stdout, "  nexi       step add-card") {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	m, err := sim.LoadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	// The stock model it started from is the step's: hardened, at half
	// capacity.
	if m.Stack.Workers != 128 || !strings.HasPrefix(m.Name, "hardened calibrated from ") {
		t.Fatalf("model %q with %d workers: want the hardened stack at rate scale 0.5 (128)", m.Name, m.Stack.Workers)
	}
}
