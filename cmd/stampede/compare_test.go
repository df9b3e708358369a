package main

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stampede-load/stampede/internal/memnet"
	"github.com/stampede-load/stampede/reports"
)

// fixedServer answers every request after sleeping d: a loopback target
// with a deterministic service time.
func fixedServer(t *testing.T, d time.Duration) *httptest.Server {
	srv := httptest.NewServer(fixedHandler(d))
	t.Cleanup(srv.Close)
	return srv
}

// fixedHandler answers every request after sleeping d.
func fixedHandler(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(d)
		w.Write([]byte(`{"ok":true}`))
	})
}

// In virtual time (virtual_test.go): each run's latencies are its
// target's service time exactly, whatever the machine's load.
func TestCompareFlagsASlowerTarget(t *testing.T) {
	target := "http://" + memnet.Reachable(t)
	synctest.Test(t, func(t *testing.T) { testCompareFlagsASlowerTarget(t, target) })
}

func testCompareFlagsASlowerTarget(t *testing.T, target string) {
	dir := t.TempDir()
	run := func(name string, d time.Duration) string {
		dial, stop := memnet.Serve(fixedHandler(d))
		defer stop()
		out := filepath.Join(dir, name)
		code, _, stderr := cliVia(t, dial, "run", "--url", target, "--rate", "20/s", "--duration", "20s", "--out", out, "--quiet")
		if code != exitOK {
			t.Fatalf("run %s: exit %d: %s", name, code, stderr)
		}
		return out
	}
	base, slow := run("base", 400*time.Millisecond), run("slow", 520*time.Millisecond) // 30% slower
	for _, r := range []struct {
		dir  string
		want float64
	}{{base, 400}, {slow, 520}} {
		s, err := reports.ReadSummary(filepath.Join(r.dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s.Latency.P50-r.want) > 0.5 || math.Abs(s.Latency.P99-r.want) > 0.5 { // the histogram's resolution
			t.Fatalf("%s: p50 %.2fms p99 %.2fms, want %.0fms: the service time alone", r.dir, s.Latency.P50, s.Latency.P99, r.want)
		}
	}

	code, stdout, stderr := cli(t, "compare", base, slow, "--fail-on", "regression", "--format", "junit")
	if code != exitGateFailed {
		t.Fatalf("exit %d, want 3: %s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{`<testcase name="run p50"`, `<testcase name="run p99"`} {
		i := strings.Index(stdout, want)
		if i < 0 || !strings.Contains(stdout[i:i+400], `<failure message="regression`) {
			t.Errorf("%s is not a failing regression:\n%s", want, stdout)
		}
	}
	code, stdout, _ = cli(t, "compare", base, filepath.Join(base, "summary.json"))
	if code != exitOK || !strings.Contains(stdout, "0 regressions") {
		t.Errorf("a run against itself: exit %d\n%s", code, stdout)
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	if code, _, stderr := cli(t, "run", "--url", okServer(t).URL, "--rate", "20/s", "--duration", "2s", "--out", out, "--quiet"); code != exitOK {
		t.Fatalf("run: %s", stderr)
	}
	s, err := reports.ReadSummary(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.Scenario = "launch-day"
	other := filepath.Join(dir, "other.json")
	b, _ := json.Marshal(s)
	os.WriteFile(other, b, 0o644)
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"scenario": "x"`), 0o644)
	wrong := filepath.Join(dir, "wrong.json")
	os.WriteFile(wrong, []byte(`{"scenario": 3}`), 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"different scenarios", []string{"compare", out, other}, `runs of different scenarios`},
		{"not a summary", []string{"compare", out, junk}, "junk.json: byte 16: truncated"},
		{"a summary of the wrong shape", []string{"compare", out, wrong}, "wrong.json: byte 14"},
		{"no such folder", []string{"compare", out, filepath.Join(dir, "nope")}, "nope"},
		{"bad format", []string{"compare", out, out, "--format", "html"}, "--format"},
		{"bad fail-on", []string{"compare", out, out, "--fail-on", "anything"}, "--fail-on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %q", code, stderr, tt.want)
			}
		})
	}
}
