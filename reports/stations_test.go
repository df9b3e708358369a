package reports

import (
	"reflect"
	"testing"
	"time"
)

// stationCounters are one station's counters and gauges at a scrape.
type stationCounters struct {
	busy, queue, ok, full, latSum, waitSum float64
}

func TestStationWatch(t *testing.T) {
	// scrape is what the bank mocks' /metrics says of nexi and sia
	// (mocks/bank's TestParseStationMetrics pins the parse).
	scrape := func(nexi, sia stationCounters) []StationSample {
		var out []StationSample
		for _, s := range []struct {
			name string
			c    stationCounters
		}{{"nexi", nexi}, {"sia", sia}} {
			c := s.c
			out = append(out, StationSample{Name: s.name, Kind: "processor", Outcomes: map[string]float64{"bad_request": 0, "ok": c.ok, "queue_full": c.full},
				Busy: c.busy, Servers: 8, QueueLength: c.queue, InFlight: c.busy + c.queue, LatencySum: c.latSum, LatencyN: c.ok + c.full,
				WaitSum: c.waitSum, WaitN: c.ok})
		}
		return out
	}
	var w StationWatch
	// Two seconds of 8 slots each: nexi's requests held a slot for 8 s
	// (12 s in the station, 4 s of it queued), sia's for 2 s.
	w.Observe(t0, scrape(stationCounters{ok: 100, latSum: 2, waitSum: 0.5}, stationCounters{ok: 10, latSum: 0.1}))
	w.Observe(t0.Add(time.Second), scrape(stationCounters{busy: 8, queue: 20, ok: 150}, stationCounters{busy: 2, ok: 20})) // during: gauges only count
	w.Observe(t0.Add(2*time.Second), scrape(stationCounters{busy: 4, ok: 300, full: 100, latSum: 14, waitSum: 4.5}, stationCounters{ok: 110, latSum: 2.1}))
	got := w.Points()
	want := []StationPoint{
		{Name: "nexi", Kind: "processor", Requests: 300, Failed: 0.333333, Utilisation: 0.5, PeakBusy: 1, PeakQueue: 20, MeanLatencyMs: 40, MeanWaitMs: 20},
		{Name: "sia", Kind: "processor", Requests: 100, Failed: 0, Utilisation: 0.125, PeakBusy: 0.25, MeanLatencyMs: 20},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	var reset StationWatch // a station reset between scrapes: its counters restart from zero
	reset.Observe(t0, scrape(stationCounters{ok: 500}, stationCounters{}))
	reset.Observe(t0.Add(time.Second), scrape(stationCounters{ok: 30}, stationCounters{}))
	if p := reset.Points(); len(p) != 1 || p[0].Requests != 30 {
		t.Errorf("after a reset: %+v, want nexi with 30 requests", p)
	}
	var none StationWatch
	if p := none.Points(); len(p) != 0 {
		t.Errorf("no scrape: %+v", p)
	}
}
