package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// maxHold bounds -hold: each request held that long is a connection and
// a file descriptor on both sides.
const maxHold = 10 * time.Second

// holdTarget answers every request after holding it for hold, and counts
// the requests it holds at once.
type holdTarget struct {
	hold      time.Duration
	now, peak atomic.Int64
}

func (t *holdTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := t.now.Add(1)
	defer t.now.Add(-1)
	for {
		old := t.peak.Load()
		if n <= old || t.peak.CompareAndSwap(old, n) {
			break
		}
	}
	select {
	case <-time.After(t.hold):
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

// inflightRow is one tool's run against the hold target.
type inflightRow struct {
	measurement
	inFlight int64 // the target's peak of requests held at once
}

// inflightMemory runs each stampede binary and vegeta's CLI in turn at
// rate for d against a loopback target that holds each request for hold,
// and prints each process's peak RSS per request in flight. The target
// runs in this process: the figure is the tool's own.
func inflightMemory(w io.Writer, stampedes []string, vegeta, work, rate string, perSecond float64, d, hold time.Duration) error {
	if hold <= 0 || hold > maxHold {
		return fmt.Errorf("-hold %s: want a positive duration up to %s", hold, maxHold)
	}
	target := &holdTarget{hold: hold}
	srv, url, err := serveLoopback(target)
	if err != nil {
		return err
	}
	defer srv.Close()
	url += "/"
	fmt.Fprintf(w, "hold target %s: each request held %s; %s for %s (≈%.0f in flight)\n\n", url, hold, rate, d, perSecond*hold.Seconds())

	var rows []inflightRow
	for i, bin := range stampedes {
		target.peak.Store(0)
		m, err := runStampede(bin, work, url, rate, d, "--no-report")
		if err != nil {
			return err
		}
		m.tool = "stampede"
		if i > 0 {
			m.tool = "stampede (" + bin + ")"
		}
		if g := m.summary.Generator; g != nil {
			m.note = fmt.Sprintf("generator %s, in flight %d by its own count, %d dropped", g.Verdict, g.InFlightPeak, m.summary.Dropped)
		}
		rows = append(rows, inflightRow{m, target.peak.Load()})
	}
	target.peak.Store(0)
	m, err := runVegeta(vegeta, work, url, perSecond, d)
	if err != nil {
		return err
	}
	rows = append(rows, inflightRow{m, target.peak.Load()})

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\trequests\tpeak in flight (target's count)\tpeak RSS MB\tKB per request in flight\tCPU µs/request\tnote")
	for _, r := range rows {
		perFlight := 0.0
		if r.inFlight > 0 {
			perFlight = float64(r.maxRSS) / 1024 / float64(r.inFlight)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\n", r.tool, r.requests, r.inFlight,
			float64(r.maxRSS)/(1<<20), perFlight, cpuPerRequest(r.measurement), r.note)
	}
	return tw.Flush()
}

// runVegetaCmd is vegeta's attack at perSecond for d against url.
func runVegetaCmd(bin, results, url string, perSecond float64, d time.Duration) *exec.Cmd {
	cmd := exec.Command(bin, "attack", "-rate", strconv.FormatFloat(perSecond, 'f', -1, 64)+"/1s",
		"-duration", d.String(), "-output", results)
	cmd.Stdin = strings.NewReader("GET " + url + "\n")
	return cmd
}
