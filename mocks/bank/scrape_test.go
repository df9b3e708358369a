package bank

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// bankMetrics writes the bank mocks' /metrics for two stations as the
// mocks do (the families and label order of a real scrape, buckets left
// out), with the given counters.
func bankMetrics(nexi, sia stationCounters) string {
	var b strings.Builder
	b.WriteString("# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n")
	gauge := func(name string, get func(stationCounters) float64) {
		fmt.Fprintf(&b, "# HELP stampede_bank_%s x\n# TYPE stampede_bank_%s gauge\n", name, name)
		for _, s := range []struct {
			name string
			c    stationCounters
		}{{"nexi", nexi}, {"sia", sia}} {
			fmt.Fprintf(&b, "stampede_bank_%s{kind=\"processor\",station=%q} %g\n", name, s.name, get(s.c))
		}
	}
	gauge("busy_servers", func(c stationCounters) float64 { return c.busy })
	gauge("in_flight", func(c stationCounters) float64 { return c.busy + c.queue })
	gauge("queue_length", func(c stationCounters) float64 { return c.queue })
	gauge("queue_wait_seconds_sum", func(c stationCounters) float64 { return c.waitSum })
	gauge("queue_wait_seconds_count", func(c stationCounters) float64 { return c.ok })
	for _, s := range []struct {
		name string
		c    stationCounters
	}{{"nexi", nexi}, {"sia", sia}} {
		fmt.Fprintf(&b, "stampede_bank_request_duration_seconds_bucket{kind=\"processor\",station=%q,le=\"+Inf\"} %g\n", s.name, s.c.ok+s.c.full)
	}
	gauge("request_duration_seconds_sum", func(c stationCounters) float64 { return c.latSum })
	gauge("request_duration_seconds_count", func(c stationCounters) float64 { return c.ok + c.full })
	for _, o := range []string{"bad_request", "ok", "queue_full"} {
		for _, s := range []struct {
			name string
			c    stationCounters
		}{{"nexi", nexi}, {"sia", sia}} {
			v := map[string]float64{"ok": s.c.ok, "queue_full": s.c.full}[o]
			fmt.Fprintf(&b, "stampede_bank_requests_total{kind=\"processor\",outcome=%q,station=%q} %g\n", o, s.name, v)
		}
	}
	gauge("servers", func(stationCounters) float64 { return 8 })
	return b.String()
}

// stationCounters are one station's counters and gauges at a scrape.
type stationCounters struct {
	busy, queue, ok, full, latSum, waitSum float64
}

func TestParseStationMetrics(t *testing.T) {
	text := bankMetrics(stationCounters{busy: 8, queue: 3, ok: 100, full: 5, latSum: 4, waitSum: 1}, stationCounters{busy: 1, ok: 50, latSum: 1})
	got, err := ParseStationMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []reports.StationSample{
		{Name: "nexi", Kind: "processor", Outcomes: map[string]float64{"bad_request": 0, "ok": 100, "queue_full": 5}, Busy: 8, Servers: 8,
			QueueLength: 3, InFlight: 11, LatencySum: 4, LatencyN: 105, WaitSum: 1, WaitN: 100},
		{Name: "sia", Kind: "processor", Outcomes: map[string]float64{"bad_request": 0, "ok": 50, "queue_full": 0}, Busy: 1, Servers: 8,
			InFlight: 1, LatencySum: 1, LatencyN: 50, WaitN: 50},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseStationMetricsLines(t *testing.T) {
	tests := []struct {
		name, text string
		bad        bool
		want       float64 // nexi's busy servers
	}{
		{"timestamp", `stampede_bank_busy_servers{station="nexi"} 3 1712345678000`, false, 3},
		{"spaces and escapes", `stampede_bank_busy_servers{ kind = "a\"b\\c" , station="nexi" , } 4`, false, 4},
		{"exponent", `stampede_bank_busy_servers{station="nexi"} 1.5e+01`, false, 15},
		{"non-finite skipped", "stampede_bank_busy_servers{station=\"nexi\"} 2\nstampede_bank_busy_servers{station=\"nexi\"} NaN", false, 2},
		{"no station ignored", `stampede_bank_busy_servers 9`, false, 0},
		{"windows line ends", "stampede_bank_busy_servers{station=\"nexi\"} 6\r\n", false, 6},
		{"no value", `stampede_bank_busy_servers{station="nexi"}`, true, 0},
		{"bad number", `stampede_bank_busy_servers{station="nexi"} many`, true, 0},
		{"unterminated label", `stampede_bank_busy_servers{station="nexi} 1`, true, 0},
		{"unquoted label", `stampede_bank_busy_servers{station=nexi} 1`, true, 0},
		{"too many fields", `stampede_bank_busy_servers{station="nexi"} 1 2 3`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStationMetrics([]byte(tt.text))
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v, want bad %v", err, tt.bad)
			}
			if tt.bad {
				if !strings.Contains(err.Error(), "line 1") {
					t.Errorf("error %q does not name the line", err)
				}
				return
			}
			busy := 0.0
			for _, s := range got {
				if s.Name == "nexi" {
					busy = s.Busy
				}
			}
			if busy != tt.want {
				t.Errorf("nexi busy = %v, want %v (%+v)", busy, tt.want, got)
			}
		})
	}
}

func FuzzParseStationMetrics(f *testing.F) {
	f.Add([]byte(bankMetrics(stationCounters{busy: 8, queue: 3, ok: 100}, stationCounters{})))
	for _, s := range []string{`stampede_bank_x{station="a\`, `stampede_bank_x{`, `stampede_bank_x{station="a"} +Inf`, "stampede_bank_x{a=\"\\n\"} 1 2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		samples, err := ParseStationMetrics(text)
		if err != nil {
			return
		}
		var w reports.StationWatch
		t0 := time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)
		w.Observe(t0, samples)
		w.Observe(t0.Add(time.Second), samples)
		for _, p := range w.Points() {
			if p.Requests < 0 || math.IsNaN(p.Failed) || math.IsNaN(p.Utilisation) || math.IsNaN(p.PeakQueue) {
				t.Fatalf("bad point %+v", p)
			}
		}
	})
}

func BenchmarkParseStationMetrics(b *testing.B) {
	text := []byte(bankMetrics(stationCounters{busy: 8, queue: 3, ok: 100, full: 5}, stationCounters{busy: 1, ok: 50}))
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ParseStationMetrics(text); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStationScraperReadsTheMocks scrapes a running bank mock: the names
// its collector writes are the ones the parser reads.
func TestStationScraperReadsTheMocks(t *testing.T) {
	s := startServer(t, fastConfig())
	for range 3 {
		call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
	}
	samples, err := StationScraper(s.AdminURL + "/metrics")(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var nexi *reports.StationSample
	for i := range samples {
		if samples[i].Name == "nexi" {
			nexi = &samples[i]
		}
	}
	if len(samples) != len(s.Stations()) || nexi == nil {
		t.Fatalf("%d stations scraped, want %d with nexi: %+v", len(samples), len(s.Stations()), samples)
	}
	if nexi.Kind != "processor" || nexi.Outcomes["ok"] != 3 || nexi.Servers != float64(s.Station("nexi").Config().Servers) ||
		nexi.LatencyN != 3 || nexi.WaitN != 3 || !(nexi.LatencySum > 0) {
		t.Errorf("nexi %+v, want 3 ok requests timed on %d servers", *nexi, s.Station("nexi").Config().Servers)
	}
	if _, err := StationScraper(s.AdminURL + "/nothing")(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a wrong path: %v", err)
	}
}
