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

// stampede's own engine drives a processor with 2 servers and a 10 ms
// service time (capacity 200 req/s) at 600 req/s: the queue fills and
// rejects, requests wait in it, and the mock's /metrics says so. The
// margins hold on a loaded machine, which only slows the servers (more
// refusals, longer waits) and the client (it still offers over twice the
// capacity): nothing is judged on latency that scheduling noise can make,
// such as the first requests', only on what the queue alone explains.
func TestReplayDrivesBankPastCapacity(t *testing.T) {
	cfg := bank.DefaultConfig()
	nexi := cfg.Processors["nexi"]
	const servers, queue, service = 2, 20, 10 * time.Millisecond
	nexi.Servers, nexi.Queue, nexi.MaxWait, nexi.Faults = servers, queue, 0, nil
	nexi.Service = bank.ConstantService(service)
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
	// Served at most 200/s of the 600/s offered: about two thirds are
	// refused, and still a sixth if the client managed only 240/s.
	if queueFull < s.Requests/6 || s.SuccessRatio > 0.85 {
		t.Fatalf("%d of %d refused with QUEUE_FULL, success %.2f: the station did not saturate; errors %+v",
			queueFull, s.Requests, s.SuccessRatio, s.Errors)
	}

	// Once the queue is full, a request waits behind it: queue ÷ servers
	// services, 100 ms. The successes of the last second took at least
	// half of that; with no queue they would take one service time.
	last := okLatencies(t, filepath.Join(out, "results.jsonl"))
	if full := queue / servers * service; len(last) < 50 || median(last) < full/2 {
		t.Fatalf("median latency %v of %d successes in the last second: want the full queue's %v to show", median(last), len(last), full)
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
	// The station's own account: what it served waited in the queue, on
	// average at least a quarter of a full queue's wait (the queue was
	// full for all but the first few milliseconds).
	srv.Close() // waits for every handler, so the counters are final
	stats := srv.Station("nexi").Stats()
	if stats.Requests["queue_full"] != uint64(queueFull) || stats.MeanWait < queue/servers*service/4 {
		t.Errorf("station: %v requests, mean queue wait %v; the run saw %d refused, want a wait of at least %v",
			stats.Requests, stats.MeanWait, queueFull, queue/servers*service/4)
	}
}

// okLatencies returns the latencies of the successes due in the last
// second of a run.
func okLatencies(t *testing.T, path string) (last []time.Duration) {
	t.Helper()
	var rs []reports.Result
	if _, err := resultsfile.ReadFile(path, reports.SinkFunc(func(r *reports.Result) { rs = append(rs, *r) })); err != nil {
		t.Fatal(err)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Intended.Before(rs[j].Intended) })
	end := rs[len(rs)-1].Intended
	for _, r := range rs {
		if r.OK && end.Sub(r.Intended) < time.Second {
			last = append(last, r.Latency)
		}
	}
	return last
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
