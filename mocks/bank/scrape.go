package bank

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// StationScraper returns a probe that reads the stations of the bank mocks
// serving their Prometheus metrics at metricsURL (their /metrics), for a
// saturation search to name the station that crossed first
// (replay.SaturateOptions.Stations).
func StationScraper(metricsURL string) func(context.Context) ([]reports.StationSample, error) {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 1, IdleConnTimeout: 5 * time.Second}}
	return func(ctx context.Context) ([]reports.StationSample, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
		if err != nil {
			return nil, fmt.Errorf("bank mock metrics %q: %w", metricsURL, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("bank mock metrics: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("bank mock metrics %s: %s", metricsURL, resp.Status)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBytes))
		if err != nil {
			return nil, fmt.Errorf("bank mock metrics: %w", err)
		}
		return ParseStationMetrics(body)
	}
}

// maxMetricsBytes bounds the text ParseStationMetrics reads.
const maxMetricsBytes = 16 << 20

// ParseStationMetrics reads the station samples out of a Prometheus text
// exposition (format 0.0.4) of the bank mocks. Families other than
// stampede_bank_* are skipped, as are comments; a sample line that does
// not parse is an error naming its line. Samples come back sorted by name.
func ParseStationMetrics(text []byte) ([]reports.StationSample, error) {
	if len(text) > maxMetricsBytes {
		return nil, fmt.Errorf("metrics: %d bytes, more than the %d read", len(text), maxMetricsBytes)
	}
	byName := map[string]*reports.StationSample{}
	for n := 1; len(text) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte(metricPrefix)) {
			continue
		}
		name, labels, value, err := parseSampleLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		station := labels["station"]
		if station == "" || math.IsNaN(value) || math.IsInf(value, 0) {
			continue // not a station's, or a value no delta can use
		}
		s := byName[station]
		if s == nil {
			s = &reports.StationSample{Name: station, Kind: labels["kind"], Outcomes: map[string]float64{}}
			byName[station] = s
		}
		switch strings.TrimPrefix(name, metricPrefix) {
		case familyRequests:
			if o := labels["outcome"]; o != "" {
				s.Outcomes[o] = value
			}
		case familyBusy:
			s.Busy = value
		case familyServers:
			s.Servers = value
		case familyQueueLength:
			s.QueueLength = value
		case familyInFlight:
			s.InFlight = value
		case familyLatency + "_sum":
			s.LatencySum = value
		case familyLatency + "_count":
			s.LatencyN = value
		case familyWait + "_sum":
			s.WaitSum = value
		case familyWait + "_count":
			s.WaitN = value
		}
	}
	out := make([]reports.StationSample, 0, len(byName))
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
		return "", nil, 0, fmt.Errorf("no value in %q", reports.Clip(line, 60))
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
		return "", nil, 0, fmt.Errorf("want a value and an optional timestamp after %s, got %q", name, reports.Clip(rest, 60))
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
			return "", fmt.Errorf("label without a value in %q", reports.Clip(s, 60))
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
		return 0, fmt.Errorf("value %q is not a number", reports.Clip(s, 30))
	}
	return v, nil
}
