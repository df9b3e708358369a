package reports

import "testing"

// TestPipeDeliversEveryResultInOrder pins the Pipe: every result reaches
// the sink, in the order added, across batch boundaries, by the time Close
// returns; and a result reused by the producer after Add is not changed in
// the sink.
func TestPipeDeliversEveryResultInOrder(t *testing.T) {
	const n = 3*pipeBatch + 17
	var got []uint64
	p := NewPipe(SinkFunc(func(r *Result) { got = append(got, r.Seq) }))
	var r Result
	for i := range uint64(n) {
		r.Seq = i
		p.Add(&r)
		r.Seq = 1 << 62 // the producer reuses its result at once
	}
	p.Close()
	if len(got) != n {
		t.Fatalf("the sink had %d results, want %d", len(got), n)
	}
	for i, seq := range got {
		if seq != uint64(i) {
			t.Fatalf("result %d has seq %d, want %d (out of order, or the producer's reuse reached the sink)", i, seq, i)
		}
	}
}

// TestPipeNextHandsOutZeroedResultsInOrder pins Next: results filled in
// place reach the sink in order, mixed with Add's, and each starts zeroed
// even when its batch is a reused one (more results than the pipe's
// buffers hold).
func TestPipeNextHandsOutZeroedResultsInOrder(t *testing.T) {
	const n = 2*pipeBuffers*pipeBatch + 5
	var got []Result
	p := NewPipe(SinkFunc(func(r *Result) { got = append(got, *r) }))
	for i := range uint64(n) {
		// a pattern of five, so a reused batch's slot held a result of
		// another kind (batches come back every six or seven)
		if i%5 == 0 {
			p.Add(&Result{Seq: i, Error: "added"})
			continue
		}
		r := p.Next()
		r.Seq = i
		if i%5 == 1 {
			r.Error = "filled"
		}
	}
	p.Close()
	if len(got) != n {
		t.Fatalf("the sink had %d results, want %d", len(got), n)
	}
	for i, r := range got {
		want := [...]string{"added", "filled", "", "", ""}[i%5]
		if r.Seq != uint64(i) || r.Error != want {
			t.Fatalf("result %d is seq %d error %q, want seq %d error %q", i, r.Seq, r.Error, i, want)
		}
	}
}
