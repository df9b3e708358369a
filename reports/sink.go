package reports

// Sink consumes results as they happen: the results-file writer, the
// accumulator, the saturation step meter, live progress and metrics are
// all sinks, fed by the replay engine and the simulator alike, so that
// nothing needs to read back a file it has just written.
//
// An engine calls Add from one goroutine at a time, in the order results
// end; the *Result is only valid during the call (copy what you keep).
type Sink interface {
	Add(r *Result)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(r *Result)

// Add calls f(r).
func (f SinkFunc) Add(r *Result) { f(r) }

// Sinks fans every result out to each sink in order.
type Sinks []Sink

// Add hands r to every sink.
func (s Sinks) Add(r *Result) {
	for _, k := range s {
		k.Add(r)
	}
}

// SummaryNoter is a sink with something to say in the summary of the run
// it was fed, such as how a live output fared. The engine calls
// NoteSummary after the last result and before it writes summary.json, from
// the goroutine that called Run.
type SummaryNoter interface {
	NoteSummary(s *Summary)
}

// NoteSummary lets every sink that is a SummaryNoter add to s.
func (s Sinks) NoteSummary(sum *Summary) {
	for _, k := range s {
		if n, ok := k.(SummaryNoter); ok {
			n.NoteSummary(sum)
		}
	}
}
