package sim

import "github.com/stampede-load/stampede/reports"

// feed hands results to the sinks on a goroutine of its own, in
// batches, so the sinks' work (the accumulator's histograms, a results
// file) runs beside the engine instead of between its events. Results
// reach the sinks in the order the engine emitted them.
type feed struct {
	sinks reports.Sinks
	batch []reports.Result
	full  chan []reports.Result
	empty chan []reports.Result
	done  chan struct{}
}

// feedBatch is how many results go to the sinks at a time.
const feedBatch = 1024

// newFeed starts the goroutine that feeds sinks; close waits for it.
func newFeed(sinks reports.Sinks) *feed {
	c := &feed{sinks: sinks, full: make(chan []reports.Result, 4), empty: make(chan []reports.Result, 6), done: make(chan struct{})}
	for range 6 {
		c.empty <- make([]reports.Result, 0, feedBatch)
	}
	c.batch = <-c.empty
	go func() {
		defer close(c.done)
		for b := range c.full {
			for i := range b {
				c.sinks.Add(&b[i])
			}
			c.empty <- b[:0]
		}
	}()
	return c
}

// add takes a copy of r.
func (c *feed) add(r *reports.Result) {
	c.batch = append(c.batch, *r)
	if len(c.batch) == feedBatch {
		c.full <- c.batch
		c.batch = <-c.empty
	}
}

// close hands over what is left and waits until the sinks have had it all.
func (c *feed) close() {
	if len(c.batch) > 0 {
		c.full <- c.batch
	}
	close(c.full)
	<-c.done
}
