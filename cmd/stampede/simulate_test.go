package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stampede-load/stampede/reports"
)

func TestSimulateBadInputExitsTwoWithOneLine(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"simulate", "no-such-scenario"}, "no-such-scenario"},
		{"no scenario", []string{"simulate"}, "simulate"},
		{"bad results", []string{"simulate", "ci-smoke", "--results", "some"}, "--results"},
		{"bad format", []string{"simulate", "ci-smoke", "--format", "xml"}, "--format"},
		{"unknown profile", []string{"simulate", "ci-smoke", "--profile", "brittle"}, "brittle"},
		{"zero replications", []string{"simulate", "ci-smoke", "--replications", "0"}, "--replications"},
		{"results of many replications", []string{"simulate", "ci-smoke", "--replications", "2", "--results", "all"}, "--results all"},
		{"NaN rate scale", []string{"simulate", "ci-smoke", "--rate-scale", "NaN"}, "--rate-scale NaN"},
		{"negative duration", []string{"simulate", "ci-smoke", "--duration", "-1s"}, "--duration"},
		{"missing banks file", []string{"simulate", "ci-smoke", "--banks", filepath.Join(empty, "nope.yaml")}, "nope.yaml"},
		{"outage at a station the model lacks", []string{"simulate", outageAt(t, "nexy")}, `outage.yaml:12: outage: model naive has no bank mock station "nexy" (did you mean "nexi"?)`},
		{"compare without a run", []string{"sim", "compare", empty}, empty},
		{"sim saturate without a plan", []string{"sim", "saturate", "step"}, "--start, --step and --step-duration"},
		{"sim saturate short steps", []string{"sim", "saturate", "step", "--start", "4/s", "--step", "4/s", "--step-duration", "100ms"}, "--step-duration 100ms"},
		{"sim saturate max below start", []string{"sim", "saturate", "step", "--start", "8/s", "--step", "4/s", "--max", "4/s", "--step-duration", "2s"}, "--max 4/s is below --start 8/s"},
		{"sim saturate bad slo", []string{"sim", "saturate", "step", "--start", "4/s", "--step", "4/s", "--step-duration", "2s", "--slo", "p99=fast"}, "--slo"},
		{"sim saturate no grace", []string{"sim", "saturate", "step", "--start", "4/s", "--step", "4/s", "--step-duration", "2s", "--grace", "0s"}, "--grace 0s"},
		{"sim saturate bad format", []string{"sim", "saturate", "step", "--start", "4/s", "--step", "4/s", "--step-duration", "2s", "--format", "xml"}, "--format"},
		{"model of an unknown profile", []string{"sim", "model", "--profile", "brittle"}, "brittle"},
		{"missing model file", []string{"simulate", "ci-smoke", "--model", filepath.Join(empty, "m.yaml")}, "m.yaml"},
		{"model file with a bad route", []string{"simulate", "ci-smoke", "--model", badModel(t)}, `:58: route bancomat-search: fanout calls station "nexy"`},
		{"model and profile", []string{"simulate", "ci-smoke", "--model", badModel(t), "--profile", "naive"}, "--model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("stderr %q: want one line naming %q", stderr, tt.want)
			}
		})
	}
}

// outageAt writes testdata/outage.yaml with its outage at station.
func outageAt(t *testing.T, station string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outage.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "{station: nexi,", "{station: "+station+",", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimulateWritesASimSummary(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := cli(t, "simulate", "ci-smoke", "--out", dir, "--results", "all", "--format", "json")
	if code != exitOK && code != exitGateFailed {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var printed reports.Summary
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
		t.Fatalf("stdout is not a summary: %v\n%s", err, stdout)
	}
	saved, err := reports.ReadSummary(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if saved.Source != "sim" || printed.Source != "sim" || saved.Requests != printed.Requests || saved.Arrivals == 0 {
		t.Fatalf("saved %s/%d requests, printed %s/%d", saved.Source, saved.Requests, printed.Source, printed.Requests)
	}
	if code == exitOK != saved.Passed() {
		t.Fatalf("exit %d with gates passed %v", code, saved.Passed())
	}
	lines, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil || int64(strings.Count(string(lines), "\n")) != saved.Requests {
		t.Fatalf("results.jsonl: %v, %d lines for %d requests", err, strings.Count(string(lines), "\n"), saved.Requests)
	}
}

func TestSimModelPrintsTheReferenceStack(t *testing.T) {
	code, stdout, stderr := cli(t, "sim", "model", "--profile", "hardened", "--capacity-scale", "0.1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`model: "hardened"`,
		`{name: "nexi", kind: processor, servers: 6, queue: 51, max_wait: 5s, service: {distribution: lognormal, median: 80ms, p99: 400ms}, cobadge_pending: 3s}`,
		"workers: 26", "bulkhead: 6", "breaker: {window: 10s, min_calls: 20, failure_ratio: 0.5, open_for: 5s}",
		`{step: "add-card", ops: ["read", "call", "write"], code: "CARD_SAVE_FAILED"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("model lacks %q:\n%s", want, stdout)
		}
	}
}

// badModel writes a model file whose line 58 routes a step to a station
// it does not have.
func badModel(t *testing.T) string {
	t.Helper()
	code, stdout, stderr := cli(t, "sim", "model")
	if code != exitOK {
		t.Fatalf("sim model: %s", stderr)
	}
	lines := strings.Split(stdout, "\n")
	for i, l := range lines {
		if strings.Contains(l, `step: "bancomat-search"`) {
			lines[i] = strings.Replace(l, `"fanout(iccrea,nexi,sia)"`, `"fanout(iccrea,nexy,sia)"`, 1)
		}
	}
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSimulateAModelFile: the printed model, edited, simulates. At the main
// job's scales, what if nexi had three times the servers and the stack ten
// times the connections to the banks? Every card add then succeeds.
func TestSimulateAModelFile(t *testing.T) {
	_, stdout, _ := cli(t, "sim", "model", "--capacity-scale", "0.1")
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	bigger := filepath.Join(t.TempDir(), "bigger.yaml")
	if err := os.WriteFile(bigger, []byte(strings.NewReplacer(`{name: "nexi", kind: processor, servers: 6,`, `{name: "nexi", kind: processor, servers: 18,`,
		"pool: 13\n", "pool: 130\n").Replace(stdout)), 0o644); err != nil {
		t.Fatal(err)
	}
	addCard := func(model string) float64 {
		dir := t.TempDir()
		code, _, stderr := cli(t, "simulate", "launch-day", "--as-embedded", "--model", model, "--out", dir, "--format", "json")
		if code != exitGateFailed {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		s, err := reports.ReadSummary(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range s.Steps {
			if st.Journey == "quick-add-card" && st.Name == "add-card" {
				return st.SuccessRatio
			}
		}
		t.Fatal("no add-card step")
		return 0
	}
	if a, b := addCard(path), addCard(bigger); a > 0.7 || b < 0.99 {
		t.Fatalf("add-card success %.2f as the embedded stack is, %.2f with 18 nexi servers and 130 connections: want under 70%% and all", a, b)
	}
}

func TestSimulateReplicationsWriteBands(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := cli(t, "simulate", "ci-smoke", "--replications", "3", "--out", dir, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := readSummary(t, dir)
	r := s.Replications
	if r == nil || r.N != 3 || len(r.Figures) < 6 {
		t.Fatalf("replications %+v", r)
	}
	// ci-smoke: 25 s of arrivals, and the last ones' responses.
	if n := len(r.Series); n < 25 || n > 30 {
		t.Fatalf("%d band intervals, want one a second", n)
	}
	spread := 0
	for _, p := range r.Series {
		if p.Width != 1 || p.Offered.HalfWidth < 0 || p.P99.Mean < 0 {
			t.Fatalf("band %+v", p)
		}
		if p.Offered.HalfWidth > 0 {
			spread++
		}
	}
	if spread < 20 {
		t.Errorf("%d of %d intervals differ between replications: seeds not moved on?", spread, len(r.Series))
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(b), "goodput: 95% band, 3 replications") || !strings.Contains(string(b), "p99: 95% band, 3 replications") {
		t.Errorf("report.html does not shade the bands: %v", err)
	}
}
