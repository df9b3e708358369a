package replay

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// startProgress reports live progress to o.Progress until the returned
// function is called; that function waits for the reporter to stop. It
// also feeds the accumulator the in-flight gauge every tick.
func (r *run) startProgress(acc *reports.Accumulator) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(r.o.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if r.o.Progress != nil && r.o.Terminal {
					fmt.Fprintln(r.o.Progress)
				}
				return
			case now := <-tick.C:
				acc.ObserveInFlight(now, r.active.Load())
				if r.o.Progress != nil {
					r.printProgress(r.o.Progress, now, acc.Snapshot())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// printProgress writes one progress line: a redrawn line on a terminal, a
// plain line otherwise.
func (r *run) printProgress(w io.Writer, now time.Time, s reports.Snapshot) {
	elapsed := now.Sub(r.start)
	total := r.sc.Profile.Duration()
	line := fmt.Sprintf("%s/%s  arrivals %.0f/s  requests offered %.0f/s achieved %.0f/s  journeys in flight %d  p99(%ds) %s  dropped %d  errors %s",
		elapsed.Truncate(time.Second), total.Truncate(time.Second),
		r.sc.Profile.Rate(min(elapsed, total)), s.OfferedRate, s.AchievedRate, r.active.Load(),
		int(s.Window.Seconds()), fmtLatency(s.P99), s.Dropped, fmtModes(s.Errors))
	if r.o.Terminal {
		fmt.Fprintf(w, "\r\033[K%s %s", bar(elapsed, total, 20), line)
		return
	}
	fmt.Fprintln(w, line)
}

// bar draws [=====>    ] for the share of the profile played.
func bar(elapsed, total time.Duration, width int) string {
	done := width
	if total > 0 && elapsed < total {
		done = int(float64(width) * float64(elapsed) / float64(total))
	}
	return "[" + strings.Repeat("=", done) + strings.Repeat(" ", width-done) + "]"
}

func fmtLatency(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return d.Round(time.Millisecond / 10).String()
	}
}

// fmtModes lists the three most frequent error modes.
func fmtModes(modes []reports.ModeCount) string {
	if len(modes) == 0 {
		return "none"
	}
	var parts []string
	for i, m := range modes {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d more", len(modes)-3))
			break
		}
		name := string(m.Mode)
		if m.Upstream != "" {
			name += " via " + m.Upstream
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m.Count))
	}
	return strings.Join(parts, ", ")
}
