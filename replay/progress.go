package replay

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// startProgress reports live progress to o.Progress until the returned
// function is called; that function waits for the reporter to stop and
// takes the generator meter's last sample. It also feeds the accumulator
// the in-flight gauge every tick, and samples the generator every second.
func (r *run) startProgress(acc *reports.Accumulator) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(r.o.ProgressEvery)
		defer tick.Stop()
		health := time.NewTicker(time.Second)
		defer health.Stop()
		offered := dueMeter{}
		offered.observe(r.start, 0)
		for {
			select {
			case <-done:
				r.gen.sample(true)
				if r.o.Progress != nil && r.o.Terminal {
					fmt.Fprintln(r.o.Progress)
				}
				return
			case <-health.C:
				r.gen.sample(false)
			case now := <-tick.C:
				r.gen.sample(false)
				acc.ObserveInFlight(now, r.active.Load())
				offered.observe(now, r.due.Load())
				if r.o.Progress != nil {
					s := acc.Snapshot()
					s.OfferedRate = offered.rate(s.Window)
					r.printProgress(r.o.Progress, now, s)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// dueMeter turns the engine's running count of requests due into a rate
// over the progress window. A request counts when it is due, whether or not
// it has ended: under overload latency is seconds, and counting requests as
// they end would under-read the offered load (and show achieved above it).
type dueMeter struct {
	at    []time.Time // sample times, oldest first
	count []int64     // requests due by then
}

// observe records that count requests were due by time at.
func (m *dueMeter) observe(at time.Time, count int64) {
	m.at, m.count = append(m.at, at), append(m.count, count)
	if len(m.at) > 64 { // far more than a window's worth of ticks
		m.at, m.count = m.at[1:], m.count[1:]
	}
}

// rate is the requests due per second over the latest window: from the
// sample nearest to one window before the newest, or the first sample when
// the samples span less. 0 before two samples. Nearest, not "at least a
// window back": ticks a window apart arrive a hair early or late, and a
// strict bound then took two windows for one (the main job's line at 15 s
// read 183/s offered for the 230/s due).
func (m *dueMeter) rate(window time.Duration) float64 {
	n := len(m.at)
	if n < 2 {
		return 0
	}
	last := m.at[n-1]
	i := 0
	if window > 0 {
		from := last.Add(-window)
		for j := 1; j < n-1; j++ {
			if m.at[j].Sub(from).Abs() < m.at[i].Sub(from).Abs() {
				i = j
			}
		}
	}
	span := last.Sub(m.at[i]).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(m.count[n-1]-m.count[i]) / span
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
	if g := r.gen.Now(); g != "" {
		line += "  " + g
	}
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
