package reports

import (
	"math"
	"sort"
	"time"
)

// StationSample is one scrape of a bank mock station's metrics (the
// stampede_bank_* families of the bank mocks' /metrics): cumulative
// counters and the gauges at the time of the scrape.
type StationSample struct {
	Name        string
	Kind        string             // processor, iban or bank
	Outcomes    map[string]float64 // finished requests by outcome (ok, declined, queue_full, ...), cumulative
	Busy        float64            // slots in use
	Servers     float64            // slots configured
	QueueLength float64            // requests waiting for a slot
	InFlight    float64            // requests queued or holding a slot
	LatencySum  float64            // seconds, cumulative, from arrival to the end of the answer
	LatencyN    float64            // requests timed in LatencySum
	WaitSum     float64            // seconds, cumulative, waited for a slot
	WaitN       float64            // requests timed in WaitSum
}

// StationPoint is what one bank mock station did during one step of a
// saturation search, from the scrapes before, during and after it.
type StationPoint struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	Requests int64   `json:"requests"` // finished during the step
	Failed   float64 `json:"failed"`   // share refused or failed: anything but ok, declined and bad_request
	// Utilisation is the mean share of the station's slots in use: the
	// time its requests held a slot (latency less queue wait) over slots ×
	// the time between the first and the last scrape.
	Utilisation   float64 `json:"utilisation"`
	PeakBusy      float64 `json:"peak_busy"`       // the largest busy/servers a scrape saw
	PeakQueue     float64 `json:"peak_queue"`      // the longest queue a scrape saw
	MeanLatencyMs float64 `json:"mean_latency_ms"` // of the requests finished during the step
	MeanWaitMs    float64 `json:"mean_wait_ms"`    // for a slot, of the requests that got one during the step
}

// StationWatch follows the bank mock stations through one step: give it
// the scrape before the step, any scrapes during it, and the one after.
// The zero value is ready to use; it is not safe for concurrent use.
type StationWatch struct {
	first, last     map[string]StationSample
	firstAt, lastAt map[string]time.Time
	busy, queue     map[string]float64
}

// Observe records one scrape, taken at time at.
func (w *StationWatch) Observe(at time.Time, samples []StationSample) {
	if w.first == nil {
		w.first, w.last = map[string]StationSample{}, map[string]StationSample{}
		w.firstAt, w.lastAt = map[string]time.Time{}, map[string]time.Time{}
		w.busy, w.queue = map[string]float64{}, map[string]float64{}
	}
	for _, s := range samples {
		if _, ok := w.first[s.Name]; !ok {
			w.first[s.Name], w.firstAt[s.Name] = s, at
		}
		w.last[s.Name], w.lastAt[s.Name] = s, at
		if s.Servers > 0 {
			w.busy[s.Name] = math.Max(w.busy[s.Name], s.Busy/s.Servers)
		}
		w.queue[s.Name] = math.Max(w.queue[s.Name], s.QueueLength)
	}
}

// Points returns each station's activity between the first and the last
// scrape, stations without requests left out, sorted by name. A counter
// that went down (the station was reset) counts from zero.
func (w *StationWatch) Points() []StationPoint {
	out := []StationPoint{}
	for name, last := range w.last {
		first := w.first[name]
		delta := func(a, b float64) float64 {
			if b < a {
				return b
			}
			return b - a
		}
		var total, failed float64
		for o, v := range last.Outcomes {
			d := delta(first.Outcomes[o], v)
			total += d
			switch o {
			case "ok", "declined", "bad_request":
			default:
				failed += d
			}
		}
		if total < 1 {
			continue
		}
		p := StationPoint{Name: name, Kind: last.Kind, Requests: int64(math.Round(total)), Failed: round(failed/total, 1e6),
			PeakBusy: round(w.busy[name], 1e4), PeakQueue: w.queue[name]}
		latSum, waitSum := delta(first.LatencySum, last.LatencySum), delta(first.WaitSum, last.WaitSum)
		if n := delta(first.LatencyN, last.LatencyN); n > 0 {
			p.MeanLatencyMs = round(latSum/n*1e3, 1e3)
		}
		if n := delta(first.WaitN, last.WaitN); n > 0 {
			p.MeanWaitMs = round(waitSum/n*1e3, 1e3)
		}
		if span := w.lastAt[name].Sub(w.firstAt[name]).Seconds(); span > 0 && last.Servers > 0 {
			p.Utilisation = round(math.Max(latSum-waitSum, 0)/(last.Servers*span), 1e4)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
