package replay

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The collector's headroom (how far the heap may grow between collections)
// is GOGC percent of the live heap plus the stacks it scans. stampede runs
// with GOGC 400 (cmd/stampede): a load generator with few journeys in
// flight has a live heap of a few megabytes, and collecting at 5x it halves
// GC work on the hot path. With thousands of journeys in flight the live
// heap and stacks are a hundred megabytes or more, and 400% of them is
// what the process's peak memory is made of. The GC pacer keeps the
// headroom near gcHeadroom instead, between minGCPercent and the
// percentage in effect when the run started.
const (
	gcHeadroom    = 32 << 20 // bytes
	minGCPercent  = 25
	gcPaceEvery   = 500 * time.Millisecond
	gcLiveMetric  = "/gc/heap/live:bytes"
	gcStackMetric = "/gc/scan/stack:bytes"
)

// gcPercent is the GOGC percentage that gives a heap whose live part and
// scanned stacks total scannable bytes a headroom of about gcHeadroom,
// within [minGCPercent, ceiling]. A ceiling at or below minGCPercent
// (GOGC lowered, or the collector off) is returned as it is.
func gcPercent(scannable uint64, ceiling int) int {
	if ceiling <= minGCPercent || scannable == 0 {
		return ceiling
	}
	p := uint64(100) * gcHeadroom / scannable
	return int(max(min(p, uint64(ceiling)), minGCPercent))
}

// paceGC adjusts the collector's percentage every gcPaceEvery until the
// returned function is called, which stops it and restores the
// percentage in effect at the start.
func paceGC() (stop func()) {
	ceiling := debug.SetGCPercent(100)
	debug.SetGCPercent(ceiling)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		samples := []metrics.Sample{{Name: gcLiveMetric}, {Name: gcStackMetric}}
		tick := time.NewTicker(gcPaceEvery)
		defer tick.Stop()
		current := ceiling
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(samples)
			var scannable uint64
			for _, s := range samples {
				if s.Value.Kind() == metrics.KindUint64 {
					scannable += s.Value.Uint64()
				}
			}
			if p := gcPercent(scannable, ceiling); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetGCPercent(ceiling)
	}
}
