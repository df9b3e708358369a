package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// stampede's own engine drives a processor with 4 servers and a 10 ms
// service time (capacity 400 req/s) at 600 req/s: the queue fills and
// rejects, latency grows as it fills, and the mock's /metrics says so.
func TestReplayDrivesBankPastCapacity(t *testing.T) {
	cfg := bank.DefaultConfig()
	nexi := cfg.Processors["nexi"]
	nexi.Servers, nexi.Queue, nexi.MaxWait, nexi.Faults = 4, 40, 0, nil
	nexi.Service = bank.ConstantService(10 * time.Millisecond)
	cfg.Processors["nexi"] = nexi
	srv, err := bank.NewServer(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	out := filepath.Join(t.TempDir(), "run")
	url := srv.URL + "/processors/nexi/bancomat/cards?abi=03069&fiscalCode=RSSMRA85T10A562S"
	code, stdout, stderr := cli(t, "run", "--url", url, "--rate", "600/s", "--duration", "3s",
		"--out", out, "--quiet", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	queueFull := int64(0)
	for _, e := range s.Errors {
		if strings.Contains(string(e.Mode), "QUEUE_FULL") {
			queueFull += e.Count
		}
	}
	// Served at most 400/s of the 600/s offered: about a third is refused.
	if queueFull < s.Requests/6 || s.SuccessRatio > 0.85 {
		t.Fatalf("%d of %d refused with QUEUE_FULL, success %.2f: the station did not saturate; errors %+v",
			queueFull, s.Requests, s.SuccessRatio, s.Errors)
	}

	// Latency grows as the queue fills: the successes of the last second
	// waited longer than those of the first 100 ms.
	first, last := okLatencies(t, filepath.Join(out, "results.jsonl"))
	if len(first) < 5 || len(last) < 50 || median(last) < 2*median(first) {
		t.Fatalf("median latency %v at the start, %v at the end: want the queue to show", median(first), median(last))
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`stampede_bank_queue_full_total\{kind="processor",station="nexi"\} (\d+)`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no queue_full_total for nexi in /metrics:\n%s", body)
	}
	if n, _ := strconv.ParseInt(string(m[1]), 10, 64); n != queueFull {
		t.Errorf("/metrics counts %d queue-full rejections, the run saw %d", n, queueFull)
	}
}

// okLatencies returns the latencies of the successes due in the first
// 100 ms and in the last second of a run.
func okLatencies(t *testing.T, path string) (first, last []time.Duration) {
	t.Helper()
	var rs []reports.Result
	if _, err := resultsfile.ReadFile(path, reports.SinkFunc(func(r *reports.Result) { rs = append(rs, *r) })); err != nil {
		t.Fatal(err)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Intended.Before(rs[j].Intended) })
	start, end := rs[0].Intended, rs[len(rs)-1].Intended
	for _, r := range rs {
		switch {
		case !r.OK:
		case r.Intended.Sub(start) < 100*time.Millisecond:
			first = append(first, r.Latency)
		case end.Sub(r.Intended) < time.Second:
			last = append(last, r.Latency)
		}
	}
	return first, last
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
