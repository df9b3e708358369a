package bank

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is how a request at a station ended.
type Outcome uint8

// The outcomes a station counts. Answers are OutcomeOK or OutcomeDeclined;
// the others are the station or a fault refusing or failing the request.
const (
	OutcomeOK           Outcome = iota // a positive answer
	OutcomeDeclined                    // a negative answer: card declined, IBAN KO, unknown bank or search
	OutcomeBadRequest                  // 400 or 413: never entered the station
	OutcomeRateLimited                 // 429
	OutcomeQueueFull                   // 503 QUEUE_FULL or a reset: no room in the queue
	OutcomeQueueTimeout                // 503 QUEUE_TIMEOUT: waited MaxWait
	OutcomeOutage                      // refused by an outage fault
	OutcomeFault                       // failed by an error, hang or reset fault
	OutcomeBankTimeout                 // IBAN only: 502 BANK_TIMEOUT, its bank failed or was too slow
	OutcomeCanceled                    // the client (or, for a bank, the IBAN service) gave up, or the server shut down
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "declined", "bad_request", "rate_limited", "queue_full",
	"queue_timeout", "outage", "fault", "bank_timeout", "canceled"}

// String returns the outcome's name as in metrics and the admin API, e.g.
// "queue_full".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// latencyBuckets are the upper bounds of the latency histograms.
var latencyBuckets = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// histogram counts durations into latencyBuckets without locking.
type histogram struct {
	counts [len(latencyBuckets) + 1]atomic.Uint64 // the last one is +Inf
	sum    atomic.Int64                           // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.sum.Store(0)
}

// snapshot returns the total count, the sum, and the cumulative counts per
// upper bound in seconds, as Prometheus wants them.
func (h *histogram) snapshot() (uint64, time.Duration, map[float64]uint64) {
	cum := make(map[float64]uint64, len(latencyBuckets))
	var n uint64
	for i, b := range latencyBuckets {
		n += h.counts[i].Load()
		cum[b.Seconds()] = n
	}
	n += h.counts[len(latencyBuckets)].Load()
	return n, time.Duration(h.sum.Load()), cum
}

func (h *histogram) mean() time.Duration {
	n, sum, _ := h.snapshot()
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}

// stationStats are a station's counters, updated without its lock.
type stationStats struct {
	outcomes [numOutcomes]atomic.Uint64
	inFlight atomic.Int64
	latency  histogram // arrival to the end of the answer
	wait     histogram // arrival to getting a slot
}

// StationStats is a snapshot of a station's counters.
type StationStats struct {
	InFlight    int               // requests inside the station: queued or holding a slot
	Busy        int               // slots in use
	QueueLength int               // requests waiting for a slot
	Requests    map[string]uint64 // finished requests by Outcome name, every outcome present
	MeanLatency time.Duration     // mean time from arrival to the end of the answer
	MeanWait    time.Duration     // mean wait for a slot, over requests that got one
}

// Stats returns a snapshot of the station's counters since it started or
// was last reset.
func (s *Station) Stats() StationStats {
	s.mu.Lock()
	st := StationStats{Busy: s.busy, QueueLength: s.queue.n}
	s.mu.Unlock()
	st.InFlight = int(s.stats.inFlight.Load())
	st.Requests = make(map[string]uint64, numOutcomes)
	for o := range numOutcomes {
		st.Requests[o.String()] = s.stats.outcomes[o].Load()
	}
	st.MeanLatency = s.stats.latency.mean()
	st.MeanWait = s.stats.wait.mean()
	return st
}

// ResetStats zeroes the station's counters and histograms. Requests in
// flight stay counted as in flight.
func (s *Station) ResetStats() {
	for i := range s.stats.outcomes {
		s.stats.outcomes[i].Store(0)
	}
	s.stats.latency.reset()
	s.stats.wait.reset()
}

// collector exports the stations' counters to a Prometheus registry. It
// reads the counters at scrape time, so the request path touches only
// atomics, and a reset shows up as an ordinary counter reset.
type collector struct {
	stations []*Station

	requests, queueFull                  *prometheus.Desc // counters
	inFlight, queueLength, busy, servers *prometheus.Desc // gauges
	latency, wait                        *prometheus.Desc // histograms
}

// The station metrics' names: the collector writes them, ParseStationMetrics
// reads them back.
const (
	metricPrefix      = "stampede_bank_"
	familyRequests    = "requests_total"
	familyQueueFull   = "queue_full_total"
	familyInFlight    = "in_flight"
	familyQueueLength = "queue_length"
	familyBusy        = "busy_servers"
	familyServers     = "servers"
	familyLatency     = "request_duration_seconds" // a histogram: _sum, _count, _bucket
	familyWait        = "queue_wait_seconds"       // a histogram
)

func newCollector(stations []*Station) *collector {
	labels := []string{"station", "kind"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricPrefix+name, help, append(labels, extra...), nil)
	}
	return &collector{
		stations:    stations,
		requests:    desc(familyRequests, "Requests that finished at a station, by outcome.", "outcome"),
		queueFull:   desc(familyQueueFull, "Requests refused because every slot was busy and the queue full."),
		inFlight:    desc(familyInFlight, "Requests inside a station: queued or holding a slot."),
		queueLength: desc(familyQueueLength, "Requests waiting for a slot."),
		busy:        desc(familyBusy, "Slots in use."),
		servers:     desc(familyServers, "Slots configured."),
		latency:     desc(familyLatency, "Time from arrival at a station to the end of its answer."),
		wait:        desc(familyWait, "Time a request waited in the queue for a slot."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.queueFull, c.inFlight, c.queueLength, c.busy, c.servers, c.latency, c.wait} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stations {
		s.mu.Lock()
		busy, queueLen, servers := s.busy, s.queue.n, s.cfg.Servers
		s.mu.Unlock()
		lv := []string{s.name, s.kind}
		for o := range numOutcomes {
			ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue,
				float64(s.stats.outcomes[o].Load()), s.name, s.kind, o.String())
		}
		ch <- prometheus.MustNewConstMetric(c.queueFull, prometheus.CounterValue, float64(s.stats.outcomes[OutcomeQueueFull].Load()), lv...)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.stats.inFlight.Load()), lv...)
		ch <- prometheus.MustNewConstMetric(c.queueLength, prometheus.GaugeValue, float64(queueLen), lv...)
		ch <- prometheus.MustNewConstMetric(c.busy, prometheus.GaugeValue, float64(busy), lv...)
		ch <- prometheus.MustNewConstMetric(c.servers, prometheus.GaugeValue, float64(servers), lv...)
		for _, h := range []struct {
			desc *prometheus.Desc
			h    *histogram
		}{{c.latency, &s.stats.latency}, {c.wait, &s.stats.wait}} {
			n, sum, cum := h.h.snapshot()
			ch <- prometheus.MustNewConstHistogram(h.desc, n, sum.Seconds(), cum, lv...)
		}
	}
}
