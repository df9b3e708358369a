package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mainJobSummary is the main job's summary, the render package's fixture.
const mainJobSummary = "../../reports/render/testdata/launch-day/summary.json"

func TestReportCommand(t *testing.T) {
	t.Run("verdict first, gates decide the exit", func(t *testing.T) {
		code, stdout, stderr := cli(t, "report", mainJobSummary)
		if code != exitGateFailed || !strings.HasPrefix(stdout, "Verdict\nThe target saturated at about 146 first attempts/s") {
			t.Fatalf("exit %d, stdout %.200q, stderr %s", code, stdout, stderr)
		}
	})
	t.Run("to a file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.xml")
		code, stdout, stderr := cli(t, "report", mainJobSummary, "--format", "junit", "--out", out)
		b, _ := os.ReadFile(out)
		if code != exitGateFailed || stdout != "" || !strings.Contains(string(b), `<testcase name="p99&lt;800ms"`) {
			t.Fatalf("exit %d, stdout %q, stderr %s, file %.300s", code, stdout, stderr, b)
		}
	})
	dir := t.TempDir()
	write := func(name, data string) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "results.jsonl"), []byte(data), 0o644)
		return d
	}
	line := `{"attack":"ci-smoke","seq":1,"code":200,"timestamp":"2020-12-08T07:00:00Z","latency":5000000,"bytes_out":0,"bytes_in":2,"error":"","method":"GET","url":"http://x/","headers":null,"journey":"j","step":"s","user":1,"attempt":1,"ok":true}` + "\n"
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no run", []string{"report"}, exitBadInput, "requires at least 1 arg"},
		{"unknown format", []string{"report", mainJobSummary, "--format", "pdf"}, exitBadInput, `--format: bad report input: format "pdf": want table, md, json, html, junit`},
		{"not a run folder", []string{"report", dir}, exitBadInput, "not a run folder"},
		{"another tool's file", []string{"report", write("k6", line+`{"type":"Point","metric":"http_reqs","data":{"value":1}}`+"\n")}, exitBadInput,
			"k6/results.jsonl:2: byte " + strconv.Itoa(len(line)) + `: not a result: no "timestamp" or "code" (a file from another tool?)`},
		{"cut short", []string{"report", write("cut", line+line[:40])}, exitOK, "cut/results.jsonl: cut short at byte " + strconv.Itoa(len(line))},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", code, stderr, c.code, c.want)
			}
		})
	}
}

// junitSuites is what a CI system reads of a JUnit report.
type junitSuites struct {
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Cases []struct {
			Name      string `xml:"name,attr"`
			SystemOut string `xml:"system-out"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// gatedRun writes a run folder of ci-smoke's shape by hand: 10 s of 10
// requests a second to step s of journey j, 5 ms each, but 500 ms
// through second 6 (502 ms in a window's 1% histogram);
// files are the extra files of the folder (summary.json, run.json).
func gatedRun(t *testing.T, files map[string]string) string {
	return gatedRunAt(t, 5*time.Millisecond, files)
}

// gatedRunAt is gatedRun with requests of lat outside second 6.
func gatedRunAt(t *testing.T, lat time.Duration, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	start := time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)
	for i := range 100 {
		lat := lat
		if i/10 == 6 {
			lat = 500 * time.Millisecond
		}
		fmt.Fprintf(&b, `{"attack":"ci-smoke","seq":%d,"code":200,"timestamp":%q,"latency":%d,"bytes_out":0,"bytes_in":2,"error":"","method":"GET","url":"http://x/","headers":null,"journey":"j","step":"s","user":%d,"attempt":1,"ok":true}`+"\n",
			i+1, start.Add(time.Duration(i)*100*time.Millisecond).Format(time.RFC3339Nano), lat, i+1)
	}
	files["results.jsonl"] = b.String()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReportJudgesGatesAgain(t *testing.T) {
	// The summary claims its gate passed; the results say p99 is 500 ms.
	done := gatedRun(t, map[string]string{"summary.json": `{"scenario":"ci-smoke","source":"replay","started_at":"2020-12-08T07:00:00Z","duration_s":10,` +
		`"gates":[{"expr":"p99<1ms","metric":"p99","threshold":1,"actual":0.5,"pass":true}]}`})
	// Killed before its summary: only run.json says which gates it judges.
	killed := gatedRun(t, map[string]string{"run.json": `{"scenario":"ci-smoke","started_at":"2020-12-08T07:00:00Z","gates":["p50<100ms"]}`})

	junit := func(t *testing.T, args ...string) (int, junitSuites, string) {
		t.Helper()
		code, stdout, stderr := cli(t, append(args, "--format", "junit")...)
		var out junitSuites
		if err := xml.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("exit %d, %v: %s\n%s", code, err, stderr, stdout)
		}
		return code, out, stderr
	}
	t.Run("the run's own gate, judged on its results", func(t *testing.T) {
		code, out, stderr := junit(t, "report", done)
		cases := out.Suites[0].Cases
		if code != exitGateFailed || len(cases) != 1 || cases[0].Name != "p99<1ms" || cases[0].Failure == nil ||
			cases[0].Failure.Message != "p99<1ms: actual 500ms" {
			t.Fatalf("exit %d, cases %+v: %s", code, cases, stderr)
		}
	})
	t.Run("a killed run's gates from run.json, with --gate over windows", func(t *testing.T) {
		code, out, stderr := junit(t, "report", killed, "--gate", "p99<100ms over 2s", "--gate", "p50<100ms")
		cases := out.Suites[0].Cases
		if code != exitGateFailed || len(cases) != 2 || out.Failures != 1 {
			t.Fatalf("exit %d, failures %d, cases %+v: %s", code, out.Failures, cases, stderr)
		}
		if c := cases[0]; c.Name != "p50<100ms" || c.Failure != nil || c.SystemOut != "actual 5.00ms" {
			t.Errorf("the recorded gate, once (not again for --gate): %+v", c)
		}
		if c := cases[1]; c.Name != "p99<100ms over 2s" || c.Failure == nil ||
			c.Failure.Message != "p99<100ms over 2s: actual 502ms; first failing window +6.0s–+8.0s: 502ms (1 of 5 windows failed)" {
			t.Errorf("the windowed gate: %+v", c)
		}
	})
	for _, f := range []string{"table", "md", "json", "html", "junit"} {
		t.Run("exit code in "+f, func(t *testing.T) {
			if code, _, stderr := cli(t, "report", killed, "--format", f, "--gate", "p50<100ms over 5s"); code != exitOK {
				t.Errorf("passing: exit %d: %s", code, stderr)
			}
			if code, _, stderr := cli(t, "report", killed, "--format", f, "--gate", "p99{step:j/s}<100ms"); code != exitGateFailed {
				t.Errorf("failing: exit %d: %s", code, stderr)
			}
		})
	}
	t.Run("a summary alone keeps the run's judgement, judges --gate on its figures", func(t *testing.T) {
		code, out, stderr := junit(t, "report", filepath.Join(done, "summary.json"), "--gate", "errors<1%")
		cases := out.Suites[0].Cases
		if code != exitGateFailed || len(cases) != 2 || cases[0].Failure != nil || cases[1].Failure == nil ||
			cases[1].Failure.Message != "errors<1%: no requests" {
			t.Fatalf("exit %d, cases %+v: %s", code, cases, stderr)
		}
	})
	for _, c := range []struct{ name, gate, want string }{
		{"does not parse", "p99<", "--gate: "},
		{"unknown step", "p99{step:nope}<1s", `gate "p99{step:nope}<1s": no step "nope" in the run; its steps: j/s`},
		{"window longer than the run", "p99<1s over 1m", `gate "p99<1s over 1m": the 1m0s window is longer than the run (10s)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, "report", done, "--gate", c.gate)
			if code != exitBadInput || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, c.want)
			}
		})
	}
}

func TestReportWithBaseline(t *testing.T) {
	// Two runs of ci-smoke, the second 40% slower but in second 6, each
	// with the summary `report --format json` writes.
	folder := func(lat time.Duration) string {
		dir := gatedRunAt(t, lat, map[string]string{"run.json": `{"scenario":"ci-smoke","started_at":"2020-12-08T07:00:00Z"}`})
		code, stdout, stderr := cli(t, "report", dir, "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		os.WriteFile(filepath.Join(dir, "summary.json"), []byte(stdout), 0o644)
		return dir
	}
	base, next := folder(5*time.Millisecond), folder(7*time.Millisecond)
	code, compared, stderr := cli(t, "compare", base, next, "--format", "md")
	if code != exitOK {
		t.Fatalf("compare: exit %d: %s", code, stderr)
	}
	table := compared[strings.Index(compared, "\n- **regression**"):]
	for _, f := range []string{"md", "table", "html"} {
		t.Run(f, func(t *testing.T) {
			code, stdout, stderr := cli(t, "report", next, "--baseline", base, "--format", f)
			if code != exitOK || !strings.Contains(stdout, "Against the baseline "+base) {
				t.Fatalf("exit %d, stderr %s, stdout:\n%s", code, stderr, stdout)
			}
			if f == "md" && !strings.Contains(stdout, table) {
				t.Errorf("the report's comparison is not compare's:\n%s\nwant within it:\n%s", stdout, table)
			}
		})
	}
	if !strings.Contains(table, "- **regression**: run p50 5.00ms → 7.00ms") {
		t.Errorf("the slower run is not a regression on p50:\n%s", table)
	}
	other := filepath.Join(t.TempDir(), "summary.json")
	b, _ := os.ReadFile(filepath.Join(base, "summary.json"))
	os.WriteFile(other, []byte(strings.Replace(string(b), `"scenario": "ci-smoke"`, `"scenario": "launch-day"`, 1)), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"another scenario", []string{"--baseline", other}, `runs of different scenarios, "launch-day" and "ci-smoke"`},
		{"junit", []string{"--baseline", base, "--format", "junit"}, "--baseline is shown in table, md and html; for junit, use stampede compare BASE RUN"},
		{"no such baseline", []string{"--baseline", filepath.Join(base, "nope")}, "no such run folder or summary.json"},
		{"floor", []string{"--baseline", base, "--floor", "5"}, "--floor 5: want a share between 0 and 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, append([]string{"report", next}, c.args...)...)
			if code != exitBadInput || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 2 and one line with %q", code, stderr, c.want)
			}
		})
	}
}
