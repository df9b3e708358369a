package sim

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// launchDayScenario names the stock scenario whose real-scale findings
// are set beside the figures reported on 8 December 2020.
const launchDayScenario = "launch-day"

// Scales are the time and rate scales a simulation played its scenario at.
type Scales struct{ Time, Rate float64 }

// WriteFindings prints where and when the modelled stack saturated (the
// first station to turn requests away), how it failed (the first error
// modes, with their upstream, onset and offered rate), and, for the
// launch-day scenario at real scale, the simulation beside what was
// reported on the day.
func WriteFindings(w io.Writer, out *Outcome, sc Scales) error {
	var b strings.Builder
	b.WriteString("\nWhere the model saturated (the first failed call at each station; pool: the stack's shared connections to the banks):\n")
	first := []StationReport{}
	for _, s := range out.Stations {
		if s.FirstFailure >= 0 {
			first = append(first, s)
		}
	}
	sortByFailure(first)
	for _, s := range out.Stations {
		if s.Name == "pool" && s.FirstWait >= 0 {
			fmt.Fprintf(&b, "  +%-8s pool     %d connections shared by every downstream: calls first waited for one; at most %d waiting at once\n",
				s.FirstWait.Round(100*time.Millisecond), s.Servers, s.PeakQueue)
		}
	}
	if len(first) == 0 {
		b.WriteString("  no station failed a call\n")
	}
	for i, s := range first {
		if i == 6 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(first)-i)
			break
		}
		if s.Name == "stack" {
			fmt.Fprintf(&b, "  +%-8s stack    %d workers, every one busy: %d requests shed by its admission control (503 OVERLOADED)\n",
				s.FirstFailure.Round(100*time.Millisecond), s.Servers, s.Shed)
			continue
		}
		down := ""
		if s.Down > 0 {
			down = fmt.Sprintf(", %d refused while down (outage)", s.Down)
		}
		fmt.Fprintf(&b, "  +%-8s %-8s %d servers (busy %.0f%% of the run): %d turned away (queue full), %d waited out the max wait, %d timed out (given up by the stack, mostly there), %d shed by the stack (bulkhead full, circuit open)%s\n",
			s.FirstFailure.Round(100*time.Millisecond), s.Name, s.Servers, 100*s.Utilisation, s.Full, s.TimedOut, s.Cancelled, s.Shed, down)
	}
	sum := out.Summary
	b.WriteString("How it failed (first error modes):\n")
	errs := append(sum.Errors[:0:0], sum.Errors...)
	sortByOnset(errs)
	for i, e := range errs {
		if i == 5 {
			break
		}
		up := ""
		if e.Upstream != "" {
			up = " via " + e.Upstream
		}
		fmt.Fprintf(&b, "  +%.1fs at %.0f/s offered: %s%s (%d, %.1f%% of requests) %q\n",
			e.OnsetS, e.OnsetOfferedRate, e.Mode, up, e.Count, 100*e.Share, e.Message)
	}
	if sc.Time == 1 && sc.Rate == 1 && sum.Scenario == launchDayScenario {
		adds, ok := int64(0), int64(0)
		for _, s := range sum.Steps {
			if s.Name == "add-card" {
				adds += s.Requests - s.Retries
				ok += s.OK
			}
		}
		peak := 0.0
		for _, p := range sum.Series {
			if p.Width > 0 {
				peak = max(peak, float64(p.Offered)/p.Width)
			}
		}
		b.WriteString("Beside launch day (8 Dec 2020, as reported):\n")
		fmt.Fprintf(&b, "  peak request rate  %8.0f/s   reported about 6,000/s\n", peak)
		fmt.Fprintf(&b, "  card adds (first)  %8d     reported almost 500,000\n", adds)
		fmt.Fprintf(&b, "  cards saved        %8d     reported more than 324,000 successful registrations\n", ok)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortByFailure(s []StationReport) {
	slices.SortStableFunc(s, func(a, b StationReport) int { return cmp.Compare(a.FirstFailure, b.FirstFailure) })
}

func sortByOnset(e []reports.ErrorSummary) {
	slices.SortStableFunc(e, func(a, b reports.ErrorSummary) int { return cmp.Compare(a.OnsetS, b.OnsetS) })
}
