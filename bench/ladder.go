package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// The ladder's bounds: it is a measurement, not a load test.
const (
	maxRungs    = 12
	maxRungRate = 50000.0 // per second
	maxRungTime = time.Minute
)

// rung is one tool at one rate of the ladder.
type rung struct {
	tool     string
	rate     float64 // offered, per second
	sent     int
	achieved float64 // per second, the tool's own figure
	dropped  int     // stampede: arrivals dropped; vegeta: requests it never sent
	success  float64 // share of the requests sent that succeeded
	p99      time.Duration
	cpu      time.Duration
	verdict  string // stampede's generator verdict and its reasons; "-" for vegeta
}

// held reports whether the tool sent the rate it was asked to, every
// request succeeding or nearly, and (for stampede) with no word from its
// generator meter.
func (r rung) held() bool {
	ok := r.dropped == 0 && r.achieved >= 0.99*r.rate && r.success >= 0.99
	if r.tool == "stampede" {
		ok = ok && r.verdict == reports.GeneratorOK
	}
	return ok
}

// parseLadder reads the -ladder flag: rates per second, comma-separated,
// increasing.
func parseLadder(s string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		switch {
		case err != nil || !(r > 0) || r > maxRungRate:
			return nil, fmt.Errorf("-ladder %q: %q is not a rate per second between 0 and %.0f", s, f, maxRungRate)
		case len(rates) > 0 && r <= rates[len(rates)-1]:
			return nil, fmt.Errorf("-ladder %q: rates must increase", s)
		}
		rates = append(rates, r)
	}
	if len(rates) > maxRungs {
		return nil, fmt.Errorf("-ladder %q: at most %d rates", s, maxRungs)
	}
	return rates, nil
}

// ladder climbs the rates with stampede and vegeta's CLI side by side, one
// step of d each, against the trivial target at url, and prints each
// rung and the highest rate each tool held.
func ladder(w io.Writer, stampede, vegeta, work, url string, rates []float64, d time.Duration) error {
	if d > maxRungTime {
		return fmt.Errorf("-duration %s: a ladder step is at most %s", d, maxRungTime)
	}
	var rungs []rung
	for _, rate := range rates {
		perSecond := strconv.FormatFloat(rate, 'f', -1, 64)
		m, err := runStampede(stampede, work, url, perSecond+"/s", d, "--no-report")
		if err != nil {
			return err
		}
		s, g := m.summary, m.summary.Generator
		st := rung{tool: "stampede", rate: rate, sent: int(s.Requests - s.Dropped), achieved: s.AchievedRate,
			dropped: int(s.Dropped), success: s.SuccessRatio, p99: msDuration(s.Latency.P99), cpu: m.cpu, verdict: "-"}
		if g != nil {
			st.verdict = g.Verdict
			if len(g.Warning) > 0 && g.Verdict == reports.GeneratorOK {
				st.verdict = "warning"
			}
			if reasons := append(g.Limits, g.Warning...); len(reasons) > 0 {
				st.verdict += " (" + strings.Join(reasons, "; ") + ")"
			}
		}
		vg, err := vegetaRung(vegeta, work, url, rate, d)
		if err != nil {
			return err
		}
		rungs = append(rungs, st, vg)
		fmt.Fprintf(os.Stderr, "bench: %.0f/s: stampede %s, vegeta sent %d\n", rate, st.verdict, vg.sent)
	}
	printRungs(w, rungs)
	fmt.Fprintln(w)
	for _, tool := range []string{"stampede", vegetaTool} {
		best := 0.0
		for _, r := range rungs {
			if r.tool == tool && r.held() {
				best = r.rate
			}
		}
		fmt.Fprintf(w, "highest rate %s held (no drops, ≥99%% of the rate sent, ≥99%% success%s): %s\n",
			tool, map[bool]string{true: ", generator verdict ok", false: ""}[tool == "stampede"], rateText(best))
	}
	return nil
}

const vegetaTool = "vegeta 12.13.0"

// vegetaRung runs vegeta's CLI at rate for d and reads its JSON report.
func vegetaRung(bin, work, url string, rate float64, d time.Duration) (rung, error) {
	results := filepath.Join(work, "vegeta-ladder.bin")
	m, _, err := measure(vegetaTool, runVegetaCmd(bin, results, url, rate, d))
	if err != nil {
		return rung{}, err
	}
	out, err := exec.Command(bin, "report", "-type", "json", results).Output()
	if err != nil {
		return rung{}, fmt.Errorf("vegeta report: %w", err)
	}
	var rep struct {
		Requests  int     `json:"requests"`
		Rate      float64 `json:"rate"`
		Success   float64 `json:"success"`
		Latencies struct {
			P99 time.Duration `json:"99th"`
		} `json:"latencies"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return rung{}, fmt.Errorf("vegeta report: %w", err)
	}
	planned := int(rate * d.Seconds())
	return rung{tool: vegetaTool, rate: rate, sent: rep.Requests, achieved: rep.Rate, dropped: max(planned-rep.Requests, 0),
		success: rep.Success, p99: rep.Latencies.P99, cpu: m.cpu, verdict: "-"}, os.Remove(results)
}

func printRungs(w io.Writer, rs []rung) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "rate/s\ttool\tsent\tachieved/s\tdropped\tsuccess\tp99\tCPU µs/req\tgenerator verdict\theld")
	for _, r := range rs {
		cpu := 0.0
		if r.sent > 0 {
			cpu = float64(r.cpu.Microseconds()) / float64(r.sent)
		}
		fmt.Fprintf(tw, "%.0f\t%s\t%d\t%.0f\t%d\t%.2f%%\t%s\t%.1f\t%s\t%s\n", r.rate, r.tool, r.sent, r.achieved,
			r.dropped, r.success*100, r.p99.Round(10*time.Microsecond), cpu, r.verdict, map[bool]string{true: "yes", false: "no"}[r.held()])
	}
	tw.Flush()
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func rateText(r float64) string {
	if r == 0 {
		return "none of the rates"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}
