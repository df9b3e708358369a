package bank

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// shot is one request of an open-loop run.
type shot struct {
	due     time.Duration // when it was due, from the start of the run
	status  int           // 0 for a transport error
	code    string        // the error code of a non-2xx answer
	latency time.Duration // from when it was due to the end of its answer
}

// openLoop sends n GETs to url at rate per second, each when it is due
// whatever the earlier ones are doing (an open model, as the replay engine
// drives), and returns them in order. Every request is bounded by the
// client's timeout.
func openLoop(t *testing.T, url string, rate float64, n int) []shot {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	shots := make([]shot, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range shots {
		due := time.Duration(float64(i) / rate * float64(time.Second))
		time.Sleep(time.Until(start.Add(due))) // pacing the arrivals, not awaiting an event
		shots[i].due = due
		wg.Go(func() {
			sh := &shots[i]
			resp, err := client.Get(url)
			if err != nil {
				sh.latency = time.Since(start.Add(due))
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sh.latency = time.Since(start.Add(due))
			sh.status = resp.StatusCode
			if resp.StatusCode >= 300 {
				var e errorBody
				_ = json.Unmarshal(body, &e)
				sh.code = e.Code
			}
		})
	}
	wg.Wait()
	return shots
}

func meanLatency(shots []shot) time.Duration {
	var sum time.Duration
	for _, s := range shots {
		sum += s.latency
	}
	return sum / time.Duration(max(len(shots), 1))
}

// TestOverloadQueuesThenRejects drives a station of capacity 400 requests
// per second (4 slots, 10 ms each) at 600 per second for 2 s: the queue
// fills, latency grows to include the wait, the excess is refused with 503
// QUEUE_FULL, goodput stays at capacity, and /metrics shows it all.
func TestOverloadQueuesThenRejects(t *testing.T) {
	const (
		servers = 4
		service = 10 * time.Millisecond
		rate    = 600.0
		n       = 1200
	)
	s := startServer(t, withNexi(func(p *ProcessorConfig) {
		p.Servers, p.Queue, p.MaxWait = servers, 8, 0
		p.Service = ConstantService(service)
	}))
	url := s.URL + "/processors/nexi/bancomat/cards?abi=03069&fiscalCode=RSSMRA85T10A562S"
	start := time.Now()
	shots := openLoop(t, url, rate, n)
	elapsed := time.Since(start)

	var ok, full []shot
	for _, sh := range shots {
		switch {
		case sh.status == 200:
			ok = append(ok, sh)
		case sh.status == 503 && sh.code == "QUEUE_FULL":
			full = append(full, sh)
		default:
			t.Errorf("request due at %v: status %d %s", sh.due, sh.status, sh.code)
		}
	}
	capacity := float64(servers) / service.Seconds()
	t.Logf("%d ok, %d queue full in %v; mean latency of the first 8 ok %v, of the second half %v",
		len(ok), len(full), elapsed, meanLatency(ok[:8]), meanLatency(ok[len(ok)/2:]))
	if len(full) < n/10 {
		t.Errorf("%d of %d refused as queue full; at 1.5 times capacity about a third should be", len(full), n)
	}
	// No station serves more than its slots allow: this is what makes the
	// latency and the refusals real.
	if most := int(capacity*elapsed.Seconds()) + servers + 8; len(ok) > most {
		t.Errorf("%d served in %v, more than capacity allows (%d)", len(ok), elapsed, most)
	}
	if first, late := meanLatency(ok[:8]), meanLatency(ok[len(ok)/2:]); late <= first || late < 3*service/2 {
		t.Errorf("latency did not grow with the queue: first 8 %v, second half %v (service %v)", first, late, service)
	}

	_, metrics := call(t, "GET", s.AdminURL+"/metrics", "")
	fullMetric := metricValue(t, metrics, `stampede_bank_queue_full_total{kind="processor",station="nexi"}`)
	if fullMetric == 0 || fullMetric > float64(len(full)) {
		t.Errorf("/metrics counts %v queue-full refusals, client saw %d", fullMetric, len(full))
	}
	if c := metricValue(t, metrics, `stampede_bank_request_duration_seconds_count{kind="processor",station="nexi"}`); c == 0 {
		t.Error("/metrics has no latency observations")
	}
	if w := metricValue(t, metrics, `stampede_bank_queue_wait_seconds_sum{kind="processor",station="nexi"}`); w <= 0 {
		t.Error("/metrics shows no time spent queueing")
	}

	s.Close() // waits for every handler, so the counters are final
	stats := s.Station("nexi").Stats()
	if stats.Requests["ok"] != uint64(len(ok)) || stats.Requests["queue_full"] != uint64(len(full)) {
		t.Errorf("station counted %v; client saw %d ok, %d queue full", stats.Requests, len(ok), len(full))
	}
	if stats.MeanWait < service/2 {
		t.Errorf("mean queue wait %v: the queue should have been full most of the run", stats.MeanWait)
	}
}

// metricValue reads one sample of the Prometheus text format.
func metricValue(t *testing.T, metrics []byte, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(series) + ` (\S+)\n`).FindSubmatch(metrics)
	if m == nil {
		t.Fatalf("no %s in /metrics", series)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
