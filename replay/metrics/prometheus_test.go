package metrics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/metrics"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// These tests run a short replay with the metrics sink, against a real
// Prometheus (Debian's prometheus package) on loopback, once scraping the
// sink's endpoint and once receiving its remote writes, and check that
// what Prometheus stored agrees with the run's summary.json. They skip
// only when no prometheus binary is installed; CI installs one and fails
// if they skip.

// prometheus is a Prometheus server started for one test.
type prometheus struct {
	base string // http://127.0.0.1:PORT
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// startPrometheus runs prometheus with config on a free loopback port and a
// temporary TSDB, and stops it when the test ends.
func startPrometheus(t *testing.T, config string, flags ...string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--config.file=" + cfg, "--web.listen-address=127.0.0.1:0",
		"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--log.level=info"}, flags...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	var logTail strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if m := listeningOn.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			}
			if !found && logTail.Len() < 8192 {
				logTail.WriteString(sc.Text() + "\n")
			}
		}
		if !found {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("prometheus exited before listening")
		}
		p := &prometheus{base: "http://" + a}
		waitFor(t, 60*time.Second, "prometheus ready", func() (bool, string) {
			resp, err := http.Get(p.base + "/-/ready")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
		return p
	case <-time.After(60 * time.Second):
		t.Fatalf("prometheus did not say where it listens within 60s")
	}
	return nil
}

// query runs an instant PromQL query and returns each series' value,
// keyed by its labels named in keys, joined by "|".
func (p *prometheus) query(q string, keys ...string) (map[string]float64, error) {
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, body.Error)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		var k []string
		for _, name := range keys {
			k = append(k, r.Metric[name])
		}
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v", q, r.Value[1])
		}
		out[strings.Join(k, "|")] = v
	}
	return out, nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s; last: %s", what, deadline, state)
		}
		time.Sleep(100 * time.Millisecond) // polling an external process: nothing to await
	}
}

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

// agree checks what Prometheus holds against the summary: total
// requests, errors by mode and upstream, dropped arrivals, arrivals,
// retries, the run's info and the in-flight gauge back at zero.
func agree(p *prometheus, sum *reports.Summary, shard string) (bool, string) {
	var diffs []string
	scalar := func(q string, want float64) {
		got, err := p.query(q)
		if err != nil {
			diffs = append(diffs, err.Error())
			return
		}
		if got[""] != want || len(got) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s = %v, summary says %v", q, got, want))
		}
	}
	scalar(`sum(stampede_requests_total)`, float64(sum.Requests))
	scalar(`sum(stampede_requests_total{mode=""})`, float64(sum.OK))
	scalar(`sum(stampede_arrivals_dropped_total)`, float64(sum.Dropped))
	scalar(`sum(stampede_requests_total{mode="dropped"})`, float64(sum.Dropped))
	scalar(`sum(stampede_arrivals_total)`, float64(sum.Arrivals))
	scalar(`sum(stampede_retries_total)`, float64(sum.Retries))
	scalar(`sum(stampede_journeys_completed_total)`, float64(sum.JourneysCompleted))
	scalar(`sum(stampede_request_duration_seconds_count)`, float64(sum.Requests-sum.Dropped))
	scalar(`sum(stampede_journeys_in_flight)`, 0)
	scalar(`count(stampede_run_info{scenario="metrics-check",seed="`+strconv.FormatInt(0, 10)+`",shard="`+shard+`"})`, 1)

	modes, err := p.query(`sum by (mode, upstream) (stampede_requests_total{mode!=""})`, "mode", "upstream")
	if err != nil {
		diffs = append(diffs, err.Error())
	} else {
		want := map[string]float64{}
		for _, e := range sum.Errors {
			want[string(e.Mode)+"|"+e.Upstream] = float64(e.Count)
		}
		if fmt.Sprint(sortedMap(modes)) != fmt.Sprint(sortedMap(want)) {
			diffs = append(diffs, fmt.Sprintf("errors by mode: Prometheus %v, summary %v", sortedMap(modes), sortedMap(want)))
		}
	}
	return len(diffs) == 0, strings.Join(diffs, "; ")
}

func sortedMap(m map[string]float64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(out)
	return out
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
	p := startPrometheus(t, strings.ReplaceAll(string(cfg), "127.0.0.1:9464", sink.Addr()))
	waitFor(t, 60*time.Second, "Prometheus scraping the sink", func() (bool, string) {
		up, err := p.query(`up{job="stampede"}`)
		if err != nil {
			return false, err.Error()
		}
		return up[""] == 1, fmt.Sprint(up)
	})
	sum := runReplay(t, sink)
	waitFor(t, 60*time.Second, "scraped figures agreeing with summary.json", func() (bool, string) {
		return agree(p, sum, "1/1")
	})
	checkDashboard(t, p)
}

// checkDashboard runs every query of the Grafana dashboard against
// Prometheus, with the dashboard's variables filled in: each must parse,
// and each must find series (those of remote write only when it pushed).
func checkDashboard(t *testing.T, p *prometheus) {
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
			got, err := p.query(q, "mode", "upstream", "journey", "step", "shard", "result")
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
	p := startPrometheus(t, "global: {}\n", "--web.enable-remote-write-receiver")
	sink, err := metrics.Start(metrics.Options{Info: metrics.Info{Scenario: "metrics-check", Shard: "2/3"},
		RemoteWrite: p.base + "/api/v1/write", PushEvery: 500 * time.Millisecond})
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
	waitFor(t, 60*time.Second, "pushed figures agreeing with summary.json", func() (bool, string) {
		return agree(p, sum, "2/3")
	})
	if got, err := p.query(`count(stampede_requests_total{job="stampede",shard="2/3"}) > 0`); err != nil || len(got) != 1 {
		t.Fatalf("pushed series lack job and shard labels: %v %v", got, err)
	}
}

func TestRemoteWriteDownIsReportedAndTheRunGoesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/api/v1/write"
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
	if !o.Down || o.Failed != o.Pushes || o.Pushes < 2 || o.Retries != 2*o.Pushes || !strings.Contains(o.LastError, "refused") {
		t.Fatalf("remote write status %+v: want down, every push failed after two retries, refused", o)
	}
	b, err := os.ReadFile(filepath.Join(out.Dir, replay.SummaryFile))
	if err != nil || !strings.Contains(string(b), `"down": true`) {
		t.Fatalf("summary.json does not report the endpoint down: %v\n%s", err, b)
	}
}
