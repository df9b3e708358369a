// Package prometheustest starts a real Prometheus (Debian's prometheus
// package) on loopback for a test, queries it, and checks what it stored
// against a run's summary.json: the shape of net/http/httptest for
// Prometheus. Tests of the metrics sink and of the CLI share it.
package prometheustest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// Server is a Prometheus server started for one test.
type Server struct {
	URL string // http://127.0.0.1:PORT
}

var listeningOn = regexp.MustCompile(`msg="Listening on" address=(\S+)`)

// Start runs prometheus with config on a free loopback port and a
// temporary TSDB, waits until it is ready, and stops it when the test
// ends. It skips the test when no prometheus binary is installed.
func Start(t testing.TB, config string, flags ...string) *Server {
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
		p := &Server{URL: "http://" + a}
		WaitFor(t, 60*time.Second, "prometheus ready", func() (bool, string) {
			resp, err := http.Get(p.URL + "/-/ready")
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

// Query runs an instant PromQL query and returns each series' value,
// keyed by its labels named in keys, joined by "|".
func (p *Server) Query(q string, keys ...string) (map[string]float64, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(q))
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

// WaitFor polls cond until it holds or the deadline passes, then fails
// the test with cond's last state.
func WaitFor(t testing.TB, deadline time.Duration, what string, cond func() (bool, string)) {
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

// Agree checks what Prometheus holds against a run's summary: total
// requests and successes, errors by mode and upstream, dropped arrivals,
// arrivals, retries, completed journeys, timed requests, the run's info
// with its shard, the in-flight gauge back at zero, and the generator's
// late arrivals, cores and pacer lag. It says what differs; poll it with
// WaitFor.
func (p *Server) Agree(sum *reports.Summary, shard string) (bool, string) {
	var diffs []string
	scalar := func(q string, want float64) {
		got, err := p.Query(q)
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
	if g := sum.Generator; g != nil {
		scalar(`sum(stampede_generator_late_arrivals_total)`, float64(g.LateArrivals))
		scalar(`max(stampede_generator_cores)`, float64(g.Cores))
		scalar(`max(stampede_generator_pacer_lag_max_seconds)`, g.PacerLagMax/1e3)
	}
	scalar(`count(stampede_run_info{scenario="`+sum.Scenario+`",shard="`+shard+`"})`, 1)

	modes, err := p.Query(`sum by (mode, upstream) (stampede_requests_total{mode!=""})`, "mode", "upstream")
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
