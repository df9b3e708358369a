package main

import (
	"bytes"
	"context"
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
	// The summary counts the pushes up to the run's last one; pushing goes
	// on until the command ends, so the receiver may have seen more.
	if len(s.Outputs) != 1 || s.Outputs[0].Pushes < 1 || s.Outputs[0].Pushes > int64(pushes) || s.Outputs[0].Failed != 0 || s.Outputs[0].Down {
		t.Fatalf("outputs %+v, receiver saw %d pushes", s.Outputs, pushes)
	}
	for _, want := range []string{"stampede_requests_total", "stampede_run_info", "shard", "1/2", "process_cpu_seconds_total"} {
		if !strings.Contains(string(last), want) {
			t.Fatalf("the last push lacks %q", want)
		}
	}
}

// TestPrometheusScrapesRunMetricsAddr runs `stampede run --metrics-addr`
// with a real Prometheus scraping it (the configuration the README gives,
// told the run's address through a targets file once the run has bound
// it), and checks that once the command has returned, what Prometheus
// scraped agrees with the summary.json the run wrote: --metrics-linger kept
// the endpoint up for a last scrape.
func TestPrometheusScrapesRunMetricsAddr(t *testing.T) {
	cfg, err := os.ReadFile("../../replay/metrics/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	static := `static_configs:
      - targets: ["127.0.0.1:9464"]`
	if !strings.Contains(string(cfg), static) {
		t.Fatalf("prometheus.yml does not scrape 127.0.0.1:9464 as the test expects:\n%s", cfg)
	}
	targets := filepath.Join(t.TempDir(), "targets.json")
	if err := os.WriteFile(targets, []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := prometheustest.Start(t, strings.Replace(string(cfg), static, `file_sd_configs: [{files: ["`+targets+`"]}]`, 1))

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
	// The run binds a free port and says which on stderr; Prometheus learns
	// it from the targets file.
	announced := &announceWatch{prefix: "metrics on http://", found: func(addr string) {
		tmp := targets + ".tmp"
		if err := os.WriteFile(tmp, []byte(`[{"targets": ["`+addr+`"]}]`), 0o644); err == nil {
			os.Rename(tmp, targets)
		}
	}}
	var stdout bytes.Buffer
	err = execute(context.Background(), &state{stdout: &stdout, stderr: announced, args: []string{"run", "--url", target.URL + "/cards",
		"--rate", "50/s", "--duration", "2s", "--out", out, "--max-inflight", "1", "--max-wait", "5ms",
		"--metrics-addr", "127.0.0.1:0", "--metrics-linger", "60s", "--format", "json"}})
	if code := exitCode(err); code != exitOK && code != exitGateFailed {
		t.Fatalf("exit %d: %v", code, err)
	}
	if announced.addr() == "" {
		t.Fatalf("the run never said where it serves its metrics:\n%s", announced.text())
	}
	var sum reports.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
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

// announceWatch is a stderr that calls found with the address following
// prefix (up to "/metrics") the first time the output announces it.
type announceWatch struct {
	prefix string
	found  func(addr string)

	mu   sync.Mutex
	buf  bytes.Buffer
	seen string
}

func (a *announceWatch) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	if a.seen == "" {
		if _, rest, ok := strings.Cut(a.buf.String(), a.prefix); ok {
			if addr, _, ok := strings.Cut(rest, "/metrics"); ok {
				a.seen = addr
				a.found(addr)
			}
		}
	}
	return len(p), nil
}

func (a *announceWatch) addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen
}

func (a *announceWatch) text() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}
