package replay

import (
	"time"

	"github.com/stampede-load/stampede/reports"
)

// Live is the engine's own state at one moment, beyond what its results
// say: what a sink that shows the run live (metrics) needs besides them.
type Live struct {
	Start       time.Time // the run's start: tells the runs of a saturation search apart
	At          time.Time
	InFlight    int64 // journeys in flight: holding a slot, walking their steps
	MaxInflight int   // the cap on InFlight (Options.MaxInflight)

	// Generator is the generator's health over the run so far (the run's
	// GeneratorMeter's Snapshot: the summary's "generator" object in the
	// last sample), and Limited why it is the limit over the latest second,
	// "" when it is not (GeneratorMeter.Now).
	Generator reports.Generator
	Limited   string
}

// LiveSink is a sink that also watches the engine: Run calls ObserveLive
// every LiveEvery from a goroutine of its own (so at the same time as Add),
// and once more when the last journey has ended.
type LiveSink interface {
	reports.Sink
	ObserveLive(Live)
}

// LiveEvery is how often Run samples Live for its LiveSinks.
const LiveEvery = time.Second

// startLive feeds Live to the LiveSinks among sinks until the returned
// function is called; that function waits for the sampler to stop, then
// hands them a last sample.
func (r *run) startLive(sinks []reports.Sink) (stop func()) {
	var watchers []LiveSink
	for _, s := range sinks {
		if w, ok := s.(LiveSink); ok {
			watchers = append(watchers, w)
		}
	}
	if len(watchers) == 0 {
		return func() {}
	}
	observe := func(at time.Time) {
		l := Live{Start: r.start, At: at, InFlight: r.active.Load(), MaxInflight: r.o.MaxInflight,
			Generator: r.gen.Snapshot(), Limited: r.gen.Now()}
		for _, w := range watchers {
			w.ObserveLive(l)
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(LiveEvery)
		defer tick.Stop()
		observe(time.Now())
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				observe(now)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		observe(time.Now())
	}
}
