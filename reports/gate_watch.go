package reports

import (
	"sync"
	"time"
)

// Abort ends a run early. An engine selects on Done and, once it is
// closed, stops arrivals as on an interruption, lets running journeys
// finish within their grace, and writes the results and the summary; the
// run is then complete as far as it went, and Lost says why it stopped.
type Abort interface {
	Done() <-chan struct{}
	Lost() *GateResult // the gate that was lost, as judged then; nil before Done is closed
}

// GateWatch is a sink that watches a run for its abort_on_fail gates and
// closes Done once one of them is already lost: a safety rail when the
// target is a shared environment. It keeps its own Accumulator of the
// results it is given (so it needs nothing of the engine's), and judges
// on result time, not wall time, so it behaves the same on a replay, a
// simulation or a test.
//
// A gate over windows is lost when a window fails, judged once the run's
// latest response is past the window's end by the window's length (at
// least 2 s, at most 10 s): requests due in the window that are still in
// flight then can hardly change it. A whole-run gate is lost when the run
// so far fails it, at most once a second. Neither is judged before its
// "after" delay has passed since the run's start, nor while its metric has
// no data.
type GateWatch struct {
	gates  []Gate
	judged []int64 // per gate: Unix second before which its windows are judged
	acc    *Accumulator
	next   int64 // the Unix second of result time of the next check
	latest time.Time

	done chan struct{}
	mu   sync.Mutex
	lost *GateResult
}

// NewGateWatch watches the gates with AbortOnFail among gates (none: it
// never closes Done).
func NewGateWatch(gates []Gate) *GateWatch {
	w := &GateWatch{acc: NewAccumulator(), done: make(chan struct{})}
	for _, g := range gates {
		if g.AbortOnFail {
			w.gates = append(w.gates, g)
			w.judged = append(w.judged, minSec)
		}
	}
	return w
}

// minSec is the earliest Unix second, for windows never yet judged.
const minSec = -1 << 62

// Watching reports whether any gate has abort_on_fail.
func (w *GateWatch) Watching() bool { return len(w.gates) > 0 }

// Done is closed once a gate is lost.
func (w *GateWatch) Done() <-chan struct{} { return w.done }

// Lost returns the gate that was lost, nil while none is.
func (w *GateWatch) Lost() *GateResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lost
}

// Add accounts for r and, once per second of result time, judges the
// gates. Like every sink it is called from one goroutine.
func (w *GateWatch) Add(r *Result) {
	if len(w.gates) == 0 || w.Lost() != nil {
		return
	}
	w.acc.Add(r)
	if end := r.End(); end.After(w.latest) {
		w.latest = end
	}
	if sec := w.latest.Unix(); sec >= w.next {
		w.next = sec + 1
		w.check()
	}
}

// check judges every watched gate on the run so far.
func (w *GateWatch) check() {
	a := w.acc
	a.mu.Lock()
	a.series.flushAll()
	start := a.start()
	elapsed := w.latest.Sub(start)
	var lost *GateResult
	for i, g := range w.gates {
		if elapsed < g.AbortAfter {
			continue
		}
		gr := newGateResult(g)
		if g.Window > 0 {
			settle := min(max(g.Window, 2*time.Second), 10*time.Second)
			upTo := w.latest.Add(-settle).Unix()
			a.judgeWindows(g, &gr, upTo, w.judged[i])
			if gr.WindowsFailed == 0 {
				// Windows ending by upTo are judged: start after them next time.
				width := int64(g.Window / time.Second)
				w.judged[i] = floorDiv(upTo, width) * width
				continue
			}
		} else {
			smp, ok := a.liveSample(g, start)
			if !ok {
				continue
			}
			v, noData := smp.value(g)
			if noData != "" {
				continue
			}
			gr.settle(g, v, "")
			if gr.Pass {
				continue
			}
		}
		gr.Pass, gr.Aborted = false, true
		if gr.Reason == "" {
			gr.Reason = "lost at +" + formatDuration(elapsed.Truncate(time.Second)) + ": abort_on_fail stopped the run"
		} else {
			gr.Reason += "; abort_on_fail stopped the run"
		}
		lost = &gr
		break
	}
	a.mu.Unlock()
	if lost != nil {
		w.mu.Lock()
		w.lost = lost
		w.mu.Unlock()
		close(w.done)
	}
}

// liveSample is a whole-run gate's data so far; false when its step has
// not run yet. a.mu is held.
func (a *Accumulator) liveSample(g Gate, start time.Time) (gateSample, bool) {
	var smp gateSample
	if g.Step != "" {
		var found bool
		if smp, found = a.stepSample(g.Step); !found {
			return smp, false
		}
	} else {
		t := &a.total
		smp = gateSample{requests: t.requests, ok: t.ok, dropped: t.dropped, retries: t.retries, journeys: t.journeysDone,
			lat: histQuantiler{a.latency}}
		if up := a.upstreams[g.Upstream]; up != nil {
			smp.via = up.failed
		}
	}
	smp.span = a.lastEnd.Sub(start).Seconds()
	smp.offeredSpan = a.lastDue.Sub(start).Seconds()
	return smp, true
}
