package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// shardRuns runs every shard of the scenario file at path from one
// --start-at and returns their run folders.
func shardRuns(t *testing.T, path string, n int, wantExit int) []string {
	t.Helper()
	root := t.TempDir()
	start := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var dirs []string
	for k := 1; k <= n; k++ {
		dir := filepath.Join(root, "shard-"+string(rune('0'+k)))
		code, _, stderr := cli(t, "run", path, "--shard", string(rune('0'+k))+"/"+string(rune('0'+n)), "--start-at", start,
			"--start-tolerance", "1m", "--results", "none", "--out", dir, "--quiet")
		if code != wantExit {
			t.Fatalf("shard %d: exit %d, want %d; %s", k, code, wantExit, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "results.jsonl")); !os.IsNotExist(err) {
			t.Fatalf("--results none left a results file: %v", err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

func scenarioFile(t *testing.T, name, target, gates string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".yaml")
	src := "name: " + name + "\ntarget: " + target + "\nprofile:\n  - hold: {rate: 40/s, duration: 500ms}\n" +
		"journeys:\n  - name: j\n    weight: 1\n    steps:\n      - {name: get, method: GET, path: /}\n" + gates
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMergeShards(t *testing.T) {
	srv := okServer(t)
	dirs := shardRuns(t, scenarioFile(t, "fleet", srv.URL, ""), 2, exitOK)
	out := filepath.Join(t.TempDir(), "merged")
	code, stdout, stderr := cli(t, append(append([]string{"merge"}, dirs...), "--out", out, "--format", "json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not summary JSON: %v\n%s", err, stdout)
	}
	if s.Requests != 20 || s.Arrivals != 20 || s.OK != 20 {
		t.Fatalf("merged %d requests, %d arrivals, %d ok; want the single-process run's 20", s.Requests, s.Arrivals, s.OK)
	}
	if onDisk, err := reports.ReadSummary(filepath.Join(out, "summary.json")); err != nil || onDisk.Requests != 20 {
		t.Fatalf("merged summary.json: %+v, %v", onDisk, err)
	}
	if md, err := os.ReadFile(filepath.Join(out, "report.md")); err != nil || !strings.Contains(string(md), "| requests | 20 |") {
		t.Fatalf("merged report.md: %v\n%s", err, md)
	}

	t.Run("report reads the shards as one run", func(t *testing.T) {
		code, stdout, stderr := cli(t, append(append([]string{"report"}, dirs...), "--format", "json")...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, `"requests": 20,`) { // each shard alone has 10
			t.Fatalf("report of the shards is not the merged run's:\n%.800s", stdout)
		}
		code, _, stderr = cli(t, "report", dirs[0], "--format", "json")
		if code != exitOK {
			t.Fatalf("one shard alone: exit %d: %s", code, stderr)
		}
	})

	t.Run("the folder the shards were collected into", func(t *testing.T) {
		fleet := filepath.Dir(dirs[0])
		code, stdout, stderr := cli(t, "report", fleet, "--format", "json")
		if code != exitOK || !strings.Contains(stdout, `"requests": 20,`) {
			t.Fatalf("report %s: exit %d: %s\n%.300s", fleet, code, stderr, stdout)
		}
		again := filepath.Dir(shardRuns(t, scenarioFile(t, "fleet", srv.URL, ""), 2, exitOK)[0])
		code, stdout, stderr = cli(t, "compare", fleet, again)
		if code != exitOK || !strings.Contains(stdout, "p99") {
			t.Fatalf("compare of two fleets: exit %d: %s\n%s", code, stderr, stdout)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		other := shardRuns(t, scenarioFile(t, "other", srv.URL, ""), 2, exitOK)
		for name, tt := range map[string]struct {
			args []string
			want string
		}{
			"missing shard":       {[]string{"merge", dirs[0], "--out", t.TempDir()}, "shard 2/2 of fleet missing"},
			"different scenarios": {[]string{"merge", dirs[0], other[1], "--out", t.TempDir()}, `scenario "other"`},
			"not a run folder":    {[]string{"merge", t.TempDir(), "--out", t.TempDir()}, "counters.json"},
			"no --out":            {append([]string{"merge"}, dirs...), "--out"},
		} {
			t.Run(name, func(t *testing.T) {
				code, _, stderr := cli(t, tt.args...)
				if code != exitBadInput || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
					t.Fatalf("exit %d, stderr %q: want 2 and one line naming %q", code, stderr, tt.want)
				}
			})
		}
	})
}

func TestMergeJudgesGatesOnTheMergedRun(t *testing.T) {
	srv := okServer(t)
	// Each shard fails the gate on its own data, yet exits 0: gates are
	// judged on the merged run.
	dirs := shardRuns(t, scenarioFile(t, "gated", srv.URL, "gates: [\"p99<1us\"]\n"), 2, exitOK)
	for _, d := range dirs {
		s, err := reports.ReadSummary(filepath.Join(d, "summary.json"))
		if err != nil || s.Passed() || len(s.Gates) != 1 || s.Gates[0].Pass {
			t.Fatalf("shard %s: its own summary should show its gate failed: %+v, %v", d, s, err)
		}
	}
	code, stdout, stderr := cli(t, append(append([]string{"merge"}, dirs...), "--out", filepath.Join(t.TempDir(), "m"))...)
	if code != exitGateFailed || !strings.Contains(stdout, "p99<1us") {
		t.Fatalf("exit %d, want 3 with the gate shown; %s\n%s", code, stderr, stdout)
	}
	// report of the shards judges --gate on the merged run as well.
	code, stdout, stderr = cli(t, append(append([]string{"report"}, dirs...), "--format", "junit", "--gate", "p99<1us", "--gate", "errors<1%")...)
	if code != exitGateFailed || strings.Count(stdout, "<testcase ") != 2 || strings.Count(stdout, "<failure ") != 1 {
		t.Fatalf("report: exit %d, want 3 with 2 cases, 1 failing; %s\n%s", code, stderr, stdout)
	}
	code, _, stderr = cli(t, append(append([]string{"report"}, dirs...), "--gate", "p99{step:nope}<1s")...)
	if code != exitBadInput || !strings.Contains(stderr, `no step "nope" in the run`) {
		t.Fatalf("report: unknown step: exit %d: %s", code, stderr)
	}
}
