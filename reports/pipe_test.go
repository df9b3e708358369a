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
