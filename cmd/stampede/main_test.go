package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// cli runs the command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := execute(context.Background(), &state{args: args, stdout: &stdout, stderr: &stderr})
	if err != nil {
		stderr.WriteString("stampede: " + err.Error() + "\n")
	}
	return exitCode(err), stdout.String(), stderr.String()
}

func okServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBadInputExitsTwoWithOneLine(t *testing.T) {
	srv := okServer(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nprofile:\n  - hold: {rate: 10, duration: 1s}\n"), 0o644)
	earlier := filepath.Join(dir, "earlier")
	os.Mkdir(earlier, 0o755)
	os.WriteFile(filepath.Join(earlier, "run.json"), []byte("{}"), 0o644)
	quick := []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s"}
	with := func(extra ...string) []string { return append(slices.Clone(quick), extra...) }
	tests := []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"unknown flag", []string{"run", "--nope"}, "--nope"},
		{"unknown scenario", []string{"run", "no-such-scenario"}, "no-such-scenario"},
		{"url without rate", []string{"run", "--url", srv.URL, "--duration", "1s"}, "--rate"},
		{"rate without unit", []string{"run", "--url", srv.URL, "--rate", "100", "--duration", "1s"}, "100"},
		{"zero duration", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "0s"}, "--duration"},
		{"bad format", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--format", "xml"}, "--format"},
		{"bad shard", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--shard", "3/2"}, "--shard"},
		{"shard past the plan", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--shard", "4/3"}, "--shard"},
		{"shard 0/0", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--shard", "0/0"}, "--shard"},
		{"start-at not a time", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--start-at", "soon"}, "--start-at"},
		{"start-at past the tolerance", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--out", dir,
			"--shard", "2/3", "--start-at", "2020-12-08T09:00:00Z"}, "--start-at"},
		{"unreachable target", []string{"run", "--url", "http://127.0.0.1:1/", "--rate", "10/s", "--duration", "1s", "--out", filepath.Join(dir, "unreachable")}, "127.0.0.1:1"},
		{"invalid scenario file", []string{"run", bad}, "bad.yaml:3"},
		{"extra argument", []string{"version", "x"}, "version"},
		{"negative duration on a scenario", []string{"run", "ci-smoke", "--duration", "-5s"}, "--duration"},
		{"zero in-flight cap", []string{"run", "ci-smoke", "--max-inflight", "0"}, "--max-inflight"},
		{"negative max wait", []string{"run", "ci-smoke", "--max-wait", "-1s"}, "--max-wait"},
		{"NaN rate scale", with("--rate-scale", "NaN"), "--rate-scale NaN"},
		{"Inf time scale", with("--time-scale", "Inf"), "--time-scale +Inf"},
		{"huge rate scale", []string{"run", "ci-smoke", "--target", srv.URL, "--rate-scale", "1e300"}, "--rate-scale 1e+300"},
		{"huge rate scale on saturate", []string{"saturate", "--url", srv.URL, "--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--rate-scale", "NaN"}, "--rate-scale NaN"},
		{"quick duration over the cap", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "20000h"}, "--duration"},
		{"CRLF in a header", with("--header", "X-A: b\r\nX-Injected: 1"), "--header"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
		{"unknown mocks subcommand", []string{"mocks", "bogus"}, "bogus"},
		{"unknown stack subcommand", []string{"stack", "bogus"}, "bogus"},
		{"out on an earlier run", with("--out", earlier), "--force"},
		{"out on a file", with("--out", bad), "--out"},
		{"scenario from an endless device", []string{"run", "/dev/zero"}, "too large"},
		{"gate that does not parse", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--gate", "p99<<1s"}, `--gate: gate "p99<<1s"`},
		{"gate on an unknown metric", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--gate", "p98<1s"}, `gate "p98<1s": unknown metric "p98"`},
		{"gate on an unknown step", []string{"run", "ci-smoke", "--gate", "p99{step:add-crad}<1s"}, `gate "p99{step:add-crad}<1s": no step "add-crad" in the scenario (did you mean "add-card"?)`},
		{"gate window longer than the run", []string{"run", "--url", srv.URL, "--rate", "10/s", "--duration", "5s", "--gate", "p99<1s over 10s"},
			`gate "p99<1s over 10s": the 10s window is longer than the run (5s)`},
		{"saturate gate that does not parse", []string{"saturate", "--url", srv.URL, "--start", "10/s", "--step", "10/s", "--step-duration", "1s",
			"--gate", "saturation_rate>"}, `--gate: gate "saturation_rate>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Fatalf("stderr %q does not name %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace on bad input: %s", stderr)
			}
		})
	}
}

func TestQuickRunPrintsSummaryJSON(t *testing.T) {
	srv := okServer(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := cli(t, "run", "--url", srv.URL+"/x", "--rate", "50/s", "--duration", "1s",
		"--out", out, "--format", "json", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stdout is not summary JSON: %v\n%s", err, stdout)
	}
	if s.Requests != 50 || s.Source != "replay" || s.SuccessRatio != 1 {
		t.Fatalf("summary: %+v", s)
	}
	onDisk, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil || !bytes.Contains(onDisk, []byte(`"requests": 50`)) {
		t.Fatalf("summary.json: %v\n%s", err, onDisk)
	}

	// The same folder again is refused; with --force it is replaced.
	again := []string{"run", "--url", srv.URL + "/x", "--rate", "20/s", "--duration", "1s", "--out", out, "--format", "json", "--quiet"}
	if code, _, stderr := cli(t, again...); code != exitBadInput || !strings.Contains(stderr, "--force") {
		t.Fatalf("second run into %s: exit %d, %s", out, code, stderr)
	}
	code, stdout, stderr = cli(t, append(again, "--force")...)
	if code != exitOK {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.Requests != 20 {
		t.Fatalf("--force summary: %v %+v", err, s)
	}
}

func TestFailedGateExitsThree(t *testing.T) {
	srv := okServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gated.yaml")
	src := "name: gated\ntarget: " + srv.URL + "\nprofile:\n  - hold: {rate: 20/s, duration: 1s}\n" +
		"journeys:\n  - name: j\n    weight: 1\n    steps:\n      - {name: get, method: GET, path: /}\n" +
		"gates: [\"p99<1us\", \"errors<1%\"]\n"
	os.WriteFile(path, []byte(src), 0o644)
	code, stdout, stderr := cli(t, "run", path, "--out", filepath.Join(dir, "run"), "--quiet")
	if code != exitGateFailed {
		t.Fatalf("exit %d, want 3; %s", code, stderr)
	}
	if !strings.Contains(stdout, "p99<1us") {
		t.Fatalf("table does not show the failed gate:\n%s", stdout)
	}
}

func TestScenariosListsStock(t *testing.T) {
	code, stdout, _ := cli(t, "scenarios")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"launch-day", "ci-smoke", "step", "bank-outage"} {
		if !strings.Contains(stdout, name+" ") {
			t.Errorf("%s missing from:\n%s", name, stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "stampede ") {
		t.Fatalf("exit %d, %q", code, stdout)
	}
}

// TestSIGINTLeavesReadableResults runs the real binary, interrupts it with
// each signal that means "stop" (SIGINT, SIGTERM, and SIGHUP for a closed
// terminal), and reads what it left.
func TestSIGINTLeavesReadableResults(t *testing.T) {
	bin := buildStampede(t)
	srv := okServer(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			runDir := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(bin, "run", "--url", srv.URL+"/", "--rate", "200/s", "--duration", "1m", "--out", runDir)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			results := filepath.Join(runDir, "results.jsonl")
			deadline := time.Now().Add(20 * time.Second)
			for {
				if fi, err := os.Stat(results); err == nil && fi.Size() > 0 {
					break // the run is under way and has flushed results
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no results after 20s; stderr: %s", stderr.String())
				}
				time.Sleep(50 * time.Millisecond) // polling a file another process writes
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
				t.Fatalf("exit: %v, want 130; stderr: %s", err, stderr.String())
			}
			// The whole profile is 12,000 requests: fewer shows the signal cut it.
			if n := countResults(t, results); n == 0 || n >= 12000 {
				t.Fatalf("read %d results, want some and fewer than the profile's 12000", n)
			}
			sum, err := os.ReadFile(filepath.Join(runDir, "summary.json"))
			if err != nil || !bytes.Contains(sum, []byte(`"interrupted": true`)) {
				t.Fatalf("summary.json after interrupt: %v\n%s", err, sum)
			}
			if !strings.Contains(stdout.String(), "run folder:") {
				t.Errorf("no summary printed: %s", stdout.String())
			}
		})
	}
}

// TestSecondSIGINTExitsAtOnce: a first interrupt waits up to --grace for
// requests in flight; a second one must not wait, and the results file must
// still read.
func TestSecondSIGINTExitsAtOnce(t *testing.T) {
	bin := buildStampede(t)
	var served atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 100 {
			select { // hang, so the first interrupt has requests to wait for
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	defer close(release)
	runDir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "run", "--url", srv.URL+"/", "--rate", "100/s", "--duration", "1m",
		"--grace", "30s", "--out", runDir, "--quiet")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(runDir, "results.jsonl")
	deadline := time.Now().Add(20 * time.Second)
	for served.Load() < 150 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the run did not get going; stderr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process's progress
	}
	for flushedLines(results) < 100 { // the answered results are in the file
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the results file holds %d lines after 20s; stderr: %s", flushedLines(results), stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a file another process writes
	}
	cmd.Process.Signal(syscall.SIGINT)
	// The second interrupt: sent again until the process exits, as the
	// kernel may merge it with the first if both are still pending.
	start := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var err error
	for waiting := true; waiting; {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-exited:
			waiting = false
		case <-time.After(100 * time.Millisecond):
			if time.Since(start) > 5*time.Second {
				cmd.Process.Kill()
				t.Fatalf("a second interrupt did not exit within 5s; the grace period is 30s; stderr: %s", stderr.String())
			}
		}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted || !strings.Contains(stderr.String(), "second interrupt, exiting now") {
		t.Fatalf("exit: %v, want 130 from the second interrupt; stderr: %s", err, stderr.String())
	}
	if n := countResults(t, results); n < 100 {
		t.Fatalf("read %d results, want the 100 answered before the hang", n)
	}
}

// flushedLines counts the complete lines of a file another process is
// writing (0 while it does not exist).
func flushedLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// buildStampede builds the command into a temporary folder.
func buildStampede(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stampede")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// countResults reads a results file to its end and counts its results; a
// line that does not read fails the test.
func countResults(t *testing.T, path string) int {
	t.Helper()
	info, err := resultsfile.ReadFile(path, reports.SinkFunc(func(*reports.Result) {}))
	if err != nil {
		t.Fatalf("results unreadable after %d lines: %v", info.Results, err)
	}
	return int(info.Results)
}
