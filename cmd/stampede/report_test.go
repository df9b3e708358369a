package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
