package replay

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// --max-wait counts from the arrival's intended time, not from when it
// began to wait for a slot: an arrival dispatched late (the pacer woke up
// behind schedule, or the process stalled) has already spent part of its
// wait. In a synctest bubble the drop happens at intended+MaxWait to the
// nanosecond, whatever the lateness of the dispatch.
func TestMaxWaitCountsFromTheIntendedTime(t *testing.T) {
	const maxWait = 200 * time.Millisecond
	tests := []struct {
		name string
		late time.Duration // how long after its intended time the arrival is dispatched
	}{
		{"on time", 0},
		{"dispatched late", 150 * time.Millisecond},
		{"dispatched after its max wait", 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := quick(t, "http://127.0.0.1:1/", 1, time.Second)
				o := Options{Scenario: sc, Target: sc.Target, MaxInflight: 1, MaxWait: maxWait}
				o.setDefaults()
				r := newRun(o, http.DefaultClient)
				defer r.stopSteps() // on failure, the waiting arrival gives up and the bubble ends
				r.start = time.Now()
				r.slots <- struct{}{} // the one journey in flight holds the only slot
				intended := time.Now().Add(-tt.late)
				r.arrive(7, intended)
				left := max(maxWait-tt.late, 0) // what remains of the wait at dispatch
				if left > 0 {
					time.Sleep(left - time.Nanosecond) // virtual time
					synctest.Wait()
					if d := r.dropped.Load(); d != 0 {
						t.Fatalf("dropped %s after dispatch, %s before its intended time + max wait", left-time.Nanosecond, time.Nanosecond)
					}
					time.Sleep(time.Nanosecond)
				}
				synctest.Wait()
				if d := r.dropped.Load(); d != 1 {
					t.Fatalf("%d dropped at intended time + max wait (%s after a dispatch %s late), want 1", d, left, tt.late)
				}
				res := <-r.results
				if !res.Dropped || !res.Arrival || !res.Intended.Equal(intended) || res.Latency != maxWait || res.Error != reports.DroppedError || res.Seq != 7 {
					t.Fatalf("dropped result %+v", res)
				}
				if r.arrived.Load() != 1 {
					t.Fatalf("arrived %d, want 1: a dropped arrival still arrived", r.arrived.Load())
				}
				r.journeys.Wait()
			})
		})
	}
}
