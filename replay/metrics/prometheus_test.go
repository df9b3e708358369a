package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/metrics"
	"github.com/stampede-load/stampede/replay/metrics/prometheustest"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// These tests run a short replay with the metrics sink, against a real
// Prometheus (Debian's prometheus package) on loopback, once scraping the
// sink's endpoint and once receiving its remote writes, and check that
// what Prometheus stored agrees with the run's summary.json. They skip
// only when no prometheus binary is installed; CI installs one and fails
// if they skip.

// failingTarget answers the test scenario's two steps with a mix of
// outcomes: searches are rate limited now and then (429 via gateway),
// card adds fail with 503 via nexi (retried) or a closed connection, and
// one search holds the only in-flight slot for 300 ms so that arrivals
// are dropped.
func failingTarget(t *testing.T) *httptest.Server {
	var searches, cards atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/search":
			n := searches.Add(1)
			if n == 5 {
				time.Sleep(300 * time.Millisecond) // the server is slow here: arrivals behind it are dropped
			}
			if n%7 == 0 {
				w.Header().Set("X-Upstream", "gateway")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"code":"RATE_LIMITED","message":"Troppe richieste"}`)
				return
			}
			io.WriteString(w, `{"ok":true}`)
		case "/cards":
			n := cards.Add(1)
			switch {
			case n%11 == 0:
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			case n%3 == 0:
				w.Header().Set("X-Upstream", "nexi")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"code":"CARD_SAVE_FAILED","message":"Si è verificato un errore temporaneo"}`)
			default:
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, `{"hpan":"x"}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func testScenario(t *testing.T, target string) *scenarios.Scenario {
	t.Helper()
	src := `name: metrics-check
target: ` + target + `
profile:
  - hold: {rate: 60/s, duration: 2s}
journeys:
  - name: enroll
    steps:
      - {name: search, path: /search}
      - name: add-card
        method: POST
        path: /cards
        body: '{}'
        expect: [201]
        retry: {backoff: {median: 2ms, p95: 5ms}, max_attempts: 2, on: [503]}
`
	sc, err := scenarios.Parse("metrics-check.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// runReplay replays the test scenario with sink and returns the summary
// as written to summary.json.
func runReplay(t *testing.T, sink *metrics.Sink) *reports.Summary {
	t.Helper()
	srv := failingTarget(t)
	sc := testScenario(t, srv.URL)
	out, err := replay.Run(context.Background(), replay.Options{Scenario: sc, Target: srv.URL, Dir: t.TempDir(),
		MaxInflight: 1, MaxWait: 20 * time.Millisecond, Sinks: []reports.Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out.Dir, replay.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var sum reports.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// The scenario must exercise what is compared: drops, retries, and
	// errors with and without an upstream.
	if sum.Dropped == 0 || sum.Retries == 0 || len(sum.Errors) < 4 {
		t.Fatalf("the test run lacks drops, retries or error modes: dropped %d, retries %d, errors %+v", sum.Dropped, sum.Retries, sum.Errors)
	}
	return &sum
}

func TestPrometheusScrapeAgreesWithSummary(t *testing.T) {
	sink, err := metrics.Start(metrics.Options{Info: metrics.Info{Scenario: "metrics-check"}, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	// The configuration the README gives, pointed at this sink.
	cfg, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "127.0.0.1:9464") {
		t.Fatalf("prometheus.yml does not scrape 127.0.0.1:9464, the address the README runs with")
	}
	p := prometheustest.Start(t, strings.ReplaceAll(string(cfg), "127.0.0.1:9464", sink.Addr()))
	prometheustest.WaitFor(t, 60*time.Second, "Prometheus scraping the sink", func() (bool, string) {
		up, err := p.Query(`up{job="stampede"}`)
		if err != nil {
			return false, err.Error()
		}
		return up[""] == 1, fmt.Sprint(up)
	})
	sum := runReplay(t, sink)
	prometheustest.WaitFor(t, 60*time.Second, "scraped figures agreeing with summary.json", func() (bool, string) {
		return p.Agree(sum, "1/1")
	})
	checkDashboard(t, p)
}

// checkDashboard runs every query of the Grafana dashboard against
// Prometheus, with the dashboard's variables filled in: each must parse,
// and each must find series (those of remote write only when it pushed).
func checkDashboard(t *testing.T, p *prometheustest.Server) {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	n := 0
	for _, panel := range dash.Panels {
		for _, target := range panel.Targets {
			q := strings.NewReplacer("$shard", ".+", "$__rate_interval", "1m").Replace(target.Expr)
			got, err := p.Query(q, "mode", "upstream", "journey", "step", "shard", "result")
			if err != nil {
				t.Fatalf("panel %q: %v", panel.Title, err)
			}
			if len(got) == 0 && !strings.Contains(q, "remote_write") {
				t.Fatalf("panel %q: %s finds no series", panel.Title, q)
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d queries in the dashboard", n)
	}
}

func TestPrometheusRemoteWriteAgreesWithSummary(t *testing.T) {
	p := prometheustest.Start(t, "global: {}\n", "--web.enable-remote-write-receiver")
	sink, err := metrics.Start(metrics.Options{Info: metrics.Info{Scenario: "metrics-check", Shard: "2/3"},
		RemoteWrite: p.URL + "/api/v1/write", PushEvery: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sum := runReplay(t, sink)
	sink.Close() // no more pushes: Prometheus must have the totals from those made during the run
	if len(sum.Outputs) != 1 {
		t.Fatalf("summary outputs %+v, want the remote write", sum.Outputs)
	}
	if o := sum.Outputs[0]; o.Kind != metrics.OutputKind || o.Down || o.Failed != 0 || o.Pushes < 2 {
		t.Fatalf("remote write status %+v: want several pushes, none failed", o)
	}
	// The last push went out before summary.json was written: Prometheus
	// has the final figures once it has ingested it.
	prometheustest.WaitFor(t, 60*time.Second, "pushed figures agreeing with summary.json", func() (bool, string) {
		return p.Agree(sum, "2/3")
	})
	if got, err := p.Query(`count(stampede_requests_total{job="stampede",shard="2/3"}) > 0`); err != nil || len(got) != 1 {
		t.Fatalf("pushed series lack job and shard labels: %v %v", got, err)
	}
}

func TestRemoteWriteDownIsReportedAndTheRunGoesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://stampede:s3cret@" + ln.Addr().String() + "/api/v1/write"
	ln.Close() // nobody listens there now: every push is refused
	sink, err := metrics.Start(metrics.Options{Info: metrics.Info{Scenario: "metrics-check"}, RemoteWrite: down, PushEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	srv := failingTarget(t)
	sc := testScenario(t, srv.URL)
	out, err := replay.Run(context.Background(), replay.Options{Scenario: sc, Target: srv.URL, Dir: t.TempDir(), Sinks: []reports.Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	// Every arrival of the profile was played: pushing never held the load up.
	if want := int64(sc.Profile.Arrivals(sc.Profile.Duration())); out.Summary.Arrivals != want {
		t.Fatalf("arrivals %d, want the profile's %d", out.Summary.Arrivals, want)
	}
	if len(out.Summary.Outputs) != 1 {
		t.Fatalf("outputs %+v", out.Summary.Outputs)
	}
	o := out.Summary.Outputs[0]
	if o.URL != "http://"+ln.Addr().String()+"/api/v1/write" {
		t.Fatalf("status URL %q: want it without the credentials", o.URL)
	}
	if !o.Down || o.Failed != o.Pushes || o.Pushes < 2 || o.Retries != 2*o.Pushes || !strings.Contains(o.LastError, "refused") {
		t.Fatalf("remote write status %+v: want down, every push failed after two retries, refused", o)
	}
	b, err := os.ReadFile(filepath.Join(out.Dir, replay.SummaryFile))
	if err != nil || !strings.Contains(string(b), `"down": true`) {
		t.Fatalf("summary.json does not report the endpoint down: %v\n%s", err, b)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Fatalf("summary.json holds the remote-write password:\n%s", b)
	}
}
