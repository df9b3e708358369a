package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/stampede-load/stampede/replay/metrics/prometheustest"
	"github.com/stampede-load/stampede/reports"
)

func TestMetricsFlagsBadInput(t *testing.T) {
	srv := okServer(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	quick := []string{"--url", srv.URL, "--rate", "10/s", "--duration", "1s", "--out", t.TempDir(), "--quiet"}
	saturate := []string{"saturate", "--url", srv.URL, "--start", "10/s", "--step", "10/s", "--step-duration", "1s", "--max", "20/s",
		"--out", t.TempDir(), "--quiet"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"address in use", append([]string{"run", "--metrics-addr", busy.Addr().String()}, quick...), "--metrics-addr " + busy.Addr().String()},
		{"address without port", append([]string{"run", "--metrics-addr", "localhost"}, quick...), `--metrics-addr "localhost"`},
		{"port out of range", append([]string{"run", "--metrics-addr", ":70000"}, quick...), `port "70000"`},
		{"remote write not a URL", append([]string{"run", "--prometheus-remote-write", "::nope"}, quick...), `--prometheus-remote-write "::nope"`},
		{"remote write not http", append([]string{"run", "--prometheus-remote-write", "ftp://127.0.0.1/write"}, quick...), "--prometheus-remote-write"},
		{"remote write no host", append([]string{"run", "--prometheus-remote-write", "http:///api/v1/write"}, quick...), "--prometheus-remote-write"},
		{"zero push interval", append([]string{"run", "--prometheus-remote-write", "http://127.0.0.1:1/w", "--prometheus-remote-write-every", "0s"}, quick...), "--prometheus-remote-write-every"},
		{"saturate address in use", append(saturate, "--metrics-addr", busy.Addr().String()), "--metrics-addr"},
		{"saturate remote write not a URL", append(saturate, "--prometheus-remote-write", "nope"), "--prometheus-remote-write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("stderr %q: want one line naming %q", stderr, tt.want)
			}
		})
	}
}

// TestRunPushesToRemoteWrite checks the flags' wiring: the run pushes
// snappy-compressed protobuf with the remote-write headers, and summary.json
// says how the pushes went. What the pushes hold is checked against a real
// Prometheus in replay/metrics.
func TestRunPushesToRemoteWrite(t *testing.T) {
	var mu sync.Mutex
	var pushes int
	var last []byte
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "snappy" ||
			r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" || err != nil {
			bad = append(bad, r.Method+" "+r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		pushes++
		last = raw
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	srv := okServer(t)
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := cli(t, "run", "--url", srv.URL, "--rate", "20/s", "--duration", "1s", "--out", out, "--quiet",
		"--format", "json", "--shard", "1/2", "--prometheus-remote-write", recv.URL+"/api/v1/write", "--prometheus-remote-write-every", "200ms")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s reports.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 || pushes == 0 {
		t.Fatalf("%d pushes, malformed: %v", pushes, bad)
	}
	if len(s.Outputs) != 1 || s.Outputs[0].Pushes != int64(pushes) || s.Outputs[0].Failed != 0 || s.Outputs[0].Down {
		t.Fatalf("outputs %+v, receiver saw %d pushes", s.Outputs, pushes)
	}
	for _, want := range []string{"stampede_requests_total", "stampede_run_info", "shard", "1/2", "process_cpu_seconds_total"} {
		if !strings.Contains(string(last), want) {
			t.Fatalf("the last push lacks %q", want)
		}
	}
}

// TestPrometheusScrapesRunMetricsAddr runs `stampede run --metrics-addr`
// with a real Prometheus scraping it (the configuration the README gives),
// and checks that once the command has returned, what Prometheus scraped
// agrees with the summary.json the run wrote: --metrics-linger kept the
// endpoint up for a last scrape.
func TestPrometheusScrapesRunMetricsAddr(t *testing.T) {
	cfg, err := os.ReadFile("../../replay/metrics/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close() // the run listens here
	p := prometheustest.Start(t, strings.ReplaceAll(string(cfg), "127.0.0.1:9464", addr))

	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch i := n.Add(1); {
		case i == 3:
			time.Sleep(200 * time.Millisecond) // holds the only slot: arrivals behind it are dropped
		case i%4 == 0:
			w.Header().Set("X-Upstream", "nexi")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"CARD_SAVE_FAILED"}`))
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer target.Close()
	out := filepath.Join(t.TempDir(), "run")
	code, _, stderr := cli(t, "run", "--url", target.URL+"/cards", "--rate", "50/s", "--duration", "2s", "--out", out,
		"--max-inflight", "1", "--max-wait", "5ms", "--metrics-addr", addr, "--metrics-linger", "60s")
	if code != exitOK && code != exitGateFailed {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum reports.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Dropped == 0 || len(sum.Errors) < 2 {
		t.Fatalf("the run lacks drops or error modes: %+v", sum.Errors)
	}
	// The command has returned: nothing scrapes the run any more, so
	// Prometheus must already hold (or be ingesting) the final figures.
	prometheustest.WaitFor(t, 5*time.Second, "scraped figures agreeing with summary.json", func() (bool, string) {
		return p.Agree(&sum, "1/1")
	})
}
