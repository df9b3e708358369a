package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stampede-load/stampede/internal/memnet"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports"
)

func TestSaturateFlags(t *testing.T) {
	var got *saturateOptions
	st := &state{stdout: os.Stdout, stderr: os.Stderr}
	cmd := newCmdSaturate(st, func(_ context.Context, _ *state, o *saturateOptions) error {
		got = o
		return nil
	})
	cmd.SetArgs([]string{"step", "--start", "20/s", "--step", "10/s", "--max", "200/s", "--step-duration", "30s",
		"--refine", "--slo", "p95=500ms", "--mocks", "http://127.0.0.1:9090", "--target", "embedded", "--rate-scale", "0.1", "--quiet"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.scenario != "step" || got.start != "20/s" || got.step != "10/s" || got.max != "200/s" || got.stepDuration != 30*time.Second ||
		!got.refine || got.slo != "p95=500ms" || got.mocks != "http://127.0.0.1:9090" || got.target != "embedded" ||
		got.rateScale != 0.1 || !got.rateScaleSet || got.timeScaleSet || !got.quiet {
		t.Errorf("options %+v", got)
	}
	so, err := got.searchOptions()
	if err != nil || so.Start != 20 || so.Step != 10 || so.Max != 200 || so.StepDuration != 30*time.Second || !so.Refine {
		t.Errorf("search options %+v, %v", so, err)
	}
}

func TestSaturateBadInputExitsTwo(t *testing.T) {
	srv := okServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "never")
	plan := func(extra ...string) []string {
		return append([]string{"saturate", "--url", srv.URL, "--out", out, "--quiet"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"step shorter than a second", plan("--start", "10/s", "--step", "10/s", "--max", "50/s", "--step-duration", "500ms"), "shorter than 1s"},
		{"zero step never reaches max", plan("--start", "10/s", "--step", "0/s", "--max", "50/s", "--step-duration", "1s"), "--step"},
		{"max below start", plan("--start", "100/s", "--step", "10/s", "--max", "50/s", "--step-duration", "1s"), "cannot reach"},
		{"too many steps to max", plan("--start", "1/s", "--step", "1/s", "--max", "5000/s", "--step-duration", "1s"), "raise --step"},
		{"unknown SLO metric", plan("--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--slo", "p42=1s"), `"p42" is unknown`},
		{"SLO without a value", plan("--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--slo", "p99"), "--slo"},
		{"no start", plan("--step", "10/s", "--step-duration", "1s"), "--start"},
		{"no step duration", plan("--start", "10/s", "--step", "10/s"), "--step-duration"},
		{"rate without a unit", plan("--start", "10", "--step", "10/s", "--step-duration", "1s"), "--start"},
		{"bad format", plan("--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--format", "xml"), "--format"},
		{"bad mocks URL", plan("--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--mocks", "nexi:9090"), "--mocks"},
		{"scenario and url", append(plan("--start", "10/s", "--step", "10/s", "--step-duration", "1s"), "ci-smoke"), "not both"},
		{"unreachable target", []string{"saturate", "--url", "http://127.0.0.1:1/", "--start", "10/s", "--step", "10/s",
			"--step-duration", "1s", "--max", "20/s", "--out", filepath.Join(dir, "unreachable"), "--quiet"}, "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Fatalf("stderr %q: want one line naming %q", stderr, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("bad input created the run folder")
	}
}

// workerPool serves requests on `workers` workers for `service` each, first
// come first served, planning each worker's next start from its previous
// planned end: a capacity of workers ÷ service.
func workerPool(workers int, service time.Duration) http.Handler {
	var mu sync.Mutex
	free := make([]time.Time, workers)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		mu.Lock()
		i := 0
		for j := range free {
			if free[j].Before(free[i]) {
				i = j
			}
		}
		end := now
		if free[i].After(now) {
			end = free[i]
		}
		end = end.Add(service)
		free[i] = end
		mu.Unlock()
		timer := time.NewTimer(time.Until(end))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
		}
		w.Write([]byte(`{"ok":true}`))
	})
}

// In virtual time (virtual_test.go): the pool's capacity and every latency
// are exact whatever the machine's load.
func TestSaturateURLEndToEnd(t *testing.T) {
	target := "http://" + memnet.Reachable(t)
	synctest.Test(t, func(t *testing.T) { testSaturateURLEndToEnd(t, target) })
}

func testSaturateURLEndToEnd(t *testing.T, target string) {
	const capacity = 100.0 // 2 workers × 20 ms
	dial, stop := memnet.Serve(workerPool(2, 20*time.Millisecond))
	defer stop()
	out := filepath.Join(t.TempDir(), "search")
	code, stdout, stderr := cliVia(t, dial, "saturate", "--url", target+"/enroll", "--start", "60/s", "--step", "20/s", "--max", "200/s",
		"--step-duration", "1s", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"saturation search", "Steps (rates per second", "stopped: saturation confirmed", "saturation: at ", "run folder: " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "step 1: 60.0/s journeys for 1s") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	s, err := reports.ReadSummary(filepath.Join(out, replay.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	// Exact in virtual time: 100/s held, 120/s failed (the window
	// is ±10%).
	if sat := s.Saturation; sat == nil || !sat.Saturated || sat.OfferedRate != capacity || sat.FailedRate != 120 || sat.KneeRate != capacity {
		t.Errorf("saturation %+v, want %.0f/s exactly, failed at 120/s", s.Saturation, capacity)
	}
	f, err := os.Open(filepath.Join(out, replay.SaturationFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rep, err := reports.DecodeSaturationReport(f); err != nil || len(rep.Steps) < 3 || rep.SLO != "p99=800ms,errors=1%" {
		t.Errorf("saturation.json: %+v, %v", rep, err)
	}
	// The search's reports: its saturation point in words, its load and
	// latency curve among the charts.
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "saturated at ") || !strings.Contains(string(md), "### Saturation search") {
		t.Errorf("report.md: %v\n%s", err, md)
	}
	if html, err := os.ReadFile(filepath.Join(out, "report.html")); err != nil || !strings.Contains(string(html), `id="chart-load-latency"`) {
		t.Errorf("report.html: %v, no load-latency chart", err)
	}
}

// The naive embedded stack verifies every card at nexi; with the bank
// mocks shrunk to a twentieth, nexi holds about 30 card adds a second, and
// the search must name it.
func TestSaturateEmbeddedNamesTheProcessor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cards.yaml")
	src := `name: add-cards
target: embedded
seed: 3
profile:
  - hold: {rate: 1/s, duration: 1s}
http:
  timeout: 5s
login:
  method: POST
  path: /api/v1/session
  body: '{"fiscalCode":"{{.FiscalCode}}"}'
  expect: [201]
  extract: {token: token}
journeys:
  - name: add-card
    headers: {Authorization: "Bearer {{.Vars.token}}"}
    steps:
      - name: accept-terms
        method: PUT
        path: /api/v1/citizen
        body: '{"acceptTerms":true}'
        expect: [200]
      - name: add-card
        method: POST
        path: /api/v1/wallet/cards
        headers: {Idempotency-Key: "{{uuid}}"}
        body: '{"pan":"{{.PAN}}","expiry":"{{.Expiry}}","cvv":"{{.CVV}}","holder":"{{json .Name}} {{json .Surname}}"}'
        expect: [201]
slo: {p99: 800ms, errors: 1%}
embedded: {stack_profile: naive}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, "saturate", path, "--rate-scale", "0.05", "--start", "20/s", "--step", "10/s", "--max", "80/s",
		"--step-duration", "2s", "--out", filepath.Join(dir, "search"), "--quiet", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout)
	}
	sat := s.Saturation
	if sat == nil || !sat.Saturated || sat.Upstream != "nexi" || !strings.HasSuffix(sat.Component, "via nexi") {
		t.Fatalf("saturation %+v, want the component named after nexi", sat)
	}
}
