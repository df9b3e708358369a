package reports

// Pipe is a Sink that hands results to another sink on a goroutine of its
// own, in batches and in order, so a producer (the simulator's event loop,
// a results-file decoder) goes on while the sink's work (histograms, a
// results file) runs beside it on the other core. Close hands over the
// last batch and waits until the sink has had every result; Add must not
// be called after Close.
type Pipe struct {
	batch []Result
	full  chan []Result
	free  chan []Result
	done  chan struct{}
}

// pipeBatch is how many results cross between the goroutines at a time;
// pipeBuffers how many batches exist, so the producer runs ahead of the
// sink by at most that many.
const (
	pipeBatch   = 1024
	pipeBuffers = 6
)

// NewPipe starts the goroutine that feeds to; Close waits for it.
func NewPipe(to Sink) *Pipe {
	p := &Pipe{full: make(chan []Result, pipeBuffers), free: make(chan []Result, pipeBuffers), done: make(chan struct{})}
	for range pipeBuffers {
		p.free <- make([]Result, 0, pipeBatch)
	}
	p.batch = <-p.free
	go func() {
		defer close(p.done)
		for b := range p.full {
			for i := range b {
				to.Add(&b[i])
			}
			p.free <- b[:0]
		}
	}()
	return p
}

// Add copies r into the current batch: the copy is the pipe's, so r may be
// reused at once (the strings it points to must not be).
func (p *Pipe) Add(r *Result) { *p.Next() = *r }

// Next returns a zeroed result in the current batch for the producer to
// fill in place, saving Add's copy; the sink has it, in order, once it is
// filled: it must be filled before the next Next, Add or Close.
func (p *Pipe) Next() *Result {
	if len(p.batch) == pipeBatch {
		p.full <- p.batch
		p.batch = <-p.free
	}
	p.batch = append(p.batch, Result{})
	return &p.batch[len(p.batch)-1]
}

// Close hands over what is left and waits until the sink has had it all.
func (p *Pipe) Close() {
	if len(p.batch) > 0 {
		p.full <- p.batch
	}
	close(p.full)
	<-p.done
}
