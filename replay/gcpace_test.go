package replay

import (
	"runtime/debug"
	"testing"
)

func TestGCPercentKeepsHeadroomNearBudget(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name      string
		scannable uint64
		ceiling   int
		want      int
	}{
		{"few journeys in flight: the ceiling", 5 * mb, 400, 400},
		{"headroom at the budget", 16 * mb, 400, 200},
		{"live heap at the budget: the default percentage", 32 * mb, 400, 100},
		{"thousands in flight: half the default", 64 * mb, 400, 50},
		{"more: down to the floor", 128 * mb, 400, 25},
		{"a gigabyte in flight: never under the floor", 1024 * mb, 400, 25},
		{"never above a lower ceiling", 5 * mb, 100, 100},
		{"a ceiling under the floor is left alone", 1024 * mb, 20, 20},
		{"collector off is left alone", 1024 * mb, -1, -1},
		{"nothing measured yet", 0, 400, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := gcPercent(c.scannable, c.ceiling); got != c.want {
				t.Errorf("gcPercent(%d MB, %d) = %d, want %d", c.scannable/mb, c.ceiling, got, c.want)
			}
		})
	}
}

func TestPaceGCRestoresThePercentage(t *testing.T) {
	old := debug.SetGCPercent(321)
	defer debug.SetGCPercent(old)
	stop := paceGC()
	debug.SetGCPercent(77) // as the pacer would while the heap is large
	stop()
	if got := debug.SetGCPercent(old); got != 321 {
		t.Errorf("after the run the collector's percentage is %d, want the 321 it started with", got)
	}
}
