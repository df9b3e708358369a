package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/metrics"
	"github.com/stampede-load/stampede/reports"
)

// counterSums gathers the sink and sums the counter family name by the
// labels named in by, joined with "|".
func counterSums(t *testing.T, s *metrics.Sink, name string, by ...string) map[string]float64 {
	t.Helper()
	fams, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			out[labelKey(m, by)] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

func labelKey(m *dto.Metric, by []string) string {
	var k string
	for i, name := range by {
		if i > 0 {
			k += "|"
		}
		for _, lp := range m.GetLabel() {
			if lp.GetName() == name {
				k += lp.GetValue()
			}
		}
	}
	return k
}

func keys(m map[string]float64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(out)
	return out
}

func TestSinkFoldsModesAsTheSummaryDoes(t *testing.T) {
	sink := metrics.New(metrics.Info{Scenario: "fold"})
	acc := reports.NewAccumulator()
	at := time.Unix(1_700_000_000, 0)
	add := func(r reports.Result) {
		r.Intended, r.Sent, r.Latency, r.Attempt = at, at, time.Millisecond, 1
		sink.Add(&r)
		acc.Add(&r)
	}
	// Ten more distinct (mode, upstream) pairs than are kept, each twice,
	// with successes, transport errors and drops among them.
	for round := range 2 {
		for i := range metrics.MaxModes + 10 {
			add(reports.Result{Journey: "j", Step: "s", Code: 503, ErrorCode: "E" + strconv.Itoa(i), Upstream: "bank" + strconv.Itoa(i%3)})
			add(reports.Result{Journey: "j", Step: "s", Code: 200, OK: true, Upstream: "nexi"})
		}
		add(reports.Result{Journey: "j", Step: "s", Error: "dial tcp: connect: connection refused", Arrival: round == 0})
		add(reports.Result{Journey: "j", Step: "s", Dropped: true, Error: reports.DroppedError, Arrival: true})
	}
	sum := acc.Summary(reports.SummaryMeta{})
	want := map[string]float64{}
	for _, e := range sum.Errors {
		want[string(e.Mode)+"|"+e.Upstream] = float64(e.Count)
	}
	want["|"] = float64(sum.OK)
	got := counterSums(t, sink, "stampede_requests_total", "mode", "upstream")
	if fmt.Sprint(keys(got)) != fmt.Sprint(keys(want)) {
		t.Fatalf("requests by mode and upstream:\n got %v\nwant %v", keys(got), keys(want))
	}
	// Past the bound: ten HTTP pairs, the refusal and the drop, twice.
	if got["other|"] != 2*12 {
		t.Fatalf("other = %v, want the 24 requests past the bound", got["other|"])
	}
	classes := counterSums(t, sink, "stampede_requests_total", "status_class")
	if classes["5xx"] != float64(2*(metrics.MaxModes+10)) || classes["2xx"] != float64(sum.OK) || classes["none"] != 4 {
		t.Fatalf("status classes %v", keys(classes))
	}
	if d := counterSums(t, sink, "stampede_arrivals_dropped_total"); d[""] != float64(sum.Dropped) || sum.Dropped != 2 {
		t.Fatalf("dropped %v, summary %d", d, sum.Dropped)
	}
	if a := counterSums(t, sink, "stampede_arrivals_total"); a[""] != float64(sum.Arrivals) || sum.Arrivals != 3 {
		t.Fatalf("arrivals %v, summary %d", a, sum.Arrivals)
	}
}

func TestSinkFoldsStepsPastTheBound(t *testing.T) {
	sink := metrics.New(metrics.Info{})
	for i := range metrics.MaxSteps + 5 {
		r := reports.Result{Journey: "j", Step: "step" + strconv.Itoa(i), Code: 200, OK: true, Attempt: 1}
		sink.Add(&r)
	}
	got := counterSums(t, sink, "stampede_requests_total", "journey", "step")
	if len(got) != metrics.MaxSteps+1 || got["other|other"] != 5 || got["j|step0"] != 1 {
		t.Fatalf("%d step series, other %v: want %d, 5", len(got), got["other|other"], metrics.MaxSteps+1)
	}

	// A name that is no UTF-8 cannot be a label value: folded, never a panic.
	sink = metrics.New(metrics.Info{})
	bad := reports.Result{Journey: "j\xff", Step: "s", Code: 200, OK: true, Attempt: 1}
	sink.Add(&bad)
	if got := counterSums(t, sink, "stampede_requests_total", "journey", "step"); got["other|other"] != 1 || len(got) != 1 {
		t.Fatalf("a step named in invalid UTF-8: %v", keys(got))
	}
}

func TestSinkLabelsEverySeriesWithTheShard(t *testing.T) {
	sink := metrics.New(metrics.Info{Scenario: "s", Seed: 7, Shard: "3/4", TimeScale: 10, RateScale: 0.1})
	sink.ObserveLive(replay.Live{InFlight: 12, MaxInflight: 100})
	fams, err := sink.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var info *dto.Metric
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			if labelKey(m, []string{"shard"}) != "3/4" {
				t.Fatalf("%s lacks shard=3/4: %v", f.GetName(), m.GetLabel())
			}
			if f.GetName() == "stampede_run_info" {
				info = m
			}
		}
	}
	if info == nil || labelKey(info, []string{"scenario", "seed", "time_scale", "rate_scale"}) != "s|7|10|0.1" {
		t.Fatalf("run info %v", info)
	}
	if g := counterSums(t, sink, "stampede_journeys_in_flight"); g[""] != 12 {
		t.Fatalf("in flight %v", g)
	}
}

// results are one of each kind the sink counts differently.
func results() []reports.Result {
	at := time.Unix(1_700_000_000, 0)
	return []reports.Result{
		{Journey: "enroll", Step: "search", Attempt: 1, Intended: at, Sent: at, Latency: 3 * time.Millisecond, Code: 200, OK: true, Arrival: true, BytesIn: 20},
		{Journey: "enroll", Step: "add-card", Attempt: 2, Intended: at, Sent: at.Add(time.Millisecond), Latency: 40 * time.Millisecond, Code: 503, Upstream: "nexi", ErrorCode: "CARD_SAVE_FAILED", BytesOut: 30},
		{Journey: "enroll", Step: "add-card", Attempt: 1, Intended: at, Sent: at, Latency: time.Second, Code: 201, OK: true, JourneyDone: true},
		{Journey: "enroll", Step: "search", Attempt: 1, Intended: at, Latency: time.Second, Dropped: true, Error: reports.DroppedError, Arrival: true},
		{Journey: "enroll", Step: "add-card", Attempt: 1, Intended: at, Sent: at, Latency: 10 * time.Second, Error: `Post "http://x/cards": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`},
	}
}

func TestSinkAddDoesNotAllocate(t *testing.T) {
	sink := metrics.New(metrics.Info{})
	rs := results()
	for i := range rs {
		sink.Add(&rs[i]) // the first of each kind creates its series
	}
	// One kind at a time: AllocsPerRun truncates its average, which would
	// hide one allocation in every few results.
	for i := range rs {
		if allocs := testing.AllocsPerRun(100, func() { sink.Add(&rs[i]) }); allocs != 0 {
			t.Fatalf("Add allocates %.0f times for a result like %+v", allocs, rs[i])
		}
	}
}

func BenchmarkSinkAdd(b *testing.B) {
	sink := metrics.New(metrics.Info{})
	rs := results()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		sink.Add(&rs[i%len(rs)])
	}
}

func TestLingerWaitsForALaterScrape(t *testing.T) {
	sink, err := metrics.Start(metrics.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if sink.Linger(time.Hour) {
		t.Fatal("Linger waited for a scrape before any result")
	}
	r := reports.Result{Journey: "j", Step: "s", Code: 200, OK: true, Attempt: 1}
	sink.Add(&r)
	if sink.Linger(10 * time.Millisecond) {
		t.Fatal("Linger saw a scrape nobody made")
	}
	done := make(chan bool)
	go func() { done <- sink.Linger(time.Hour) }()
	// Scrape until Linger has seen one begin after it was called.
	for range 10000 {
		resp, err := http.Get("http://" + sink.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `stampede_requests_total{journey="j",mode="",shard="1/1",status_class="2xx",step="s",upstream=""} 1`) {
			t.Fatalf("scrape lacks the result:\n%s", body)
		}
		select {
		case ok := <-done:
			if !ok {
				t.Fatal("Linger gave up")
			}
			return
		default:
		}
	}
	t.Fatal("Linger did not return after 10,000 scrapes")
}

func TestSinkShowsGeneratorHealth(t *testing.T) {
	sink := metrics.New(metrics.Info{})
	runA, runB := time.Unix(1_700_000_000, 0), time.Unix(1_700_000_100, 0)
	for _, l := range []replay.Live{
		{Start: runA, Generator: reports.Generator{LateArrivals: 3, Cores: 2, PacerLagP99: 20, PacerLagMax: 250}},
		{Start: runA, Generator: reports.Generator{LateArrivals: 5, Cores: 2, PacerLagP99: 20, PacerLagMax: 250}, Limited: "generator LIMITED: CPU 95% of 2 cores"},
		{Start: runA, Generator: reports.Generator{LateArrivals: 5, Cores: 2, PacerLagP99: 20, PacerLagMax: 250}, Limited: "generator LIMITED: CPU 95% of 2 cores"},
		// The next step of a saturation search: a new meter, from 0.
		{Start: runB, Generator: reports.Generator{LateArrivals: 2, Cores: 2, PacerLagP99: 5, PacerLagMax: 7}},
	} {
		sink.ObserveLive(l)
	}
	for name, want := range map[string]float64{
		"stampede_generator_late_arrivals_total":   7,
		"stampede_generator_limited":               0,
		"stampede_generator_cores":                 2,
		"stampede_generator_pacer_lag_p99_seconds": 0.005,
		"stampede_generator_pacer_lag_max_seconds": 0.007,
	} {
		if got := counterSums(t, sink, name)[""]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	sink.ObserveLive(replay.Live{Start: runB, Limited: "generator LIMITED: 30% of arrivals late"})
	if got := counterSums(t, sink, "stampede_generator_limited")[""]; got != 1 {
		t.Errorf("limited = %v while the generator is the limit", got)
	}
}
