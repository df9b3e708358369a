package reports

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
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

// stationPrefix is the bank mocks' metric namespace.
const stationPrefix = "stampede_bank_"

// maxMetricsBytes bounds the text ParseStationMetrics reads.
const maxMetricsBytes = 16 << 20

// ParseStationMetrics reads the station samples out of a Prometheus text
// exposition (format 0.0.4) of the bank mocks. Families other than
// stampede_bank_* are skipped, as are comments; a sample line that does
// not parse is an error naming its line. Samples come back sorted by name.
func ParseStationMetrics(text []byte) ([]StationSample, error) {
	if len(text) > maxMetricsBytes {
		return nil, fmt.Errorf("metrics: %d bytes, more than the %d read", len(text), maxMetricsBytes)
	}
	byName := map[string]*StationSample{}
	for n := 1; len(text) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte(stationPrefix)) {
			continue
		}
		name, labels, value, err := parseSampleLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		station := labels["station"]
		if station == "" || !isFinite(value) {
			continue // not a station's, or a value no delta can use
		}
		s := byName[station]
		if s == nil {
			s = &StationSample{Name: station, Kind: labels["kind"], Outcomes: map[string]float64{}}
			byName[station] = s
		}
		switch strings.TrimPrefix(name, stationPrefix) {
		case "requests_total":
			if o := labels["outcome"]; o != "" {
				s.Outcomes[o] = value
			}
		case "busy_servers":
			s.Busy = value
		case "servers":
			s.Servers = value
		case "queue_length":
			s.QueueLength = value
		case "in_flight":
			s.InFlight = value
		case "request_duration_seconds_sum":
			s.LatencySum = value
		case "request_duration_seconds_count":
			s.LatencyN = value
		case "queue_wait_seconds_sum":
			s.WaitSum = value
		case "queue_wait_seconds_count":
			s.WaitN = value
		}
	}
	out := make([]StationSample, 0, len(byName))
	for _, s := range byName {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// parseSampleLine reads `name{label="value",...} value [timestamp]`.
func parseSampleLine(line string) (name string, labels map[string]string, value float64, err error) {
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return "", nil, 0, fmt.Errorf("no value in %q", Clip(line, 60))
	}
	name, rest := line[:i], line[i:]
	labels = map[string]string{}
	if rest[0] == '{' {
		if rest, err = parseLabels(rest[1:], labels); err != nil {
			return "", nil, 0, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 {
		return "", nil, 0, fmt.Errorf("want a value and an optional timestamp after %s, got %q", name, Clip(rest, 60))
	}
	value, err = parsePromFloat(fields[0])
	if err != nil {
		return "", nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	return name, labels, value, nil
}

// parseLabels reads `a="x",b="y"}` (after the opening brace) into labels
// and returns the text after the closing brace.
func parseLabels(s string, labels map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", fmt.Errorf("label without a value in %q", Clip(s, 60))
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		if !strings.HasPrefix(s, `"`) {
			return "", fmt.Errorf("label %s: value not quoted", key)
		}
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					c = '\n'
				default: // \\ and \"
					c = s[i]
				}
			}
			b.WriteByte(c)
		}
		if i >= len(s) {
			return "", fmt.Errorf("label %s: unterminated value", key)
		}
		labels[key] = b.String()
		s = strings.TrimLeft(s[i+1:], " \t")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		}
	}
}

// parsePromFloat reads a sample value, NaN and ±Inf included.
func parsePromFloat(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a number", Clip(s, 30))
	}
	return v, nil
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
