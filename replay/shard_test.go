package replay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios"
)

// arrivalKey is one arrival as the schedule defines it: when it was due
// after the start, and whose journey it is.
type arrivalKey struct {
	Due  time.Duration
	Seq  uint64
	User uint64
}

func arrivalsOf(t *testing.T, out *Outcome, start time.Time) []arrivalKey {
	t.Helper()
	var ks []arrivalKey
	for _, r := range readResults(t, out) {
		if r.Arrival {
			ks = append(ks, arrivalKey{r.Intended.Sub(start), r.Seq, r.User})
		}
	}
	slices.SortFunc(ks, func(a, b arrivalKey) int { return int(a.Seq) - int(b.Seq) })
	return ks
}

func TestStripedShardsReplayTheSingleProcessSchedule(t *testing.T) {
	srv := okServer(t)
	sc := quick(t, srv.URL+"/ping", 10, 400*time.Millisecond)
	// A ramp: a shard that paced 1/n of the rate on its own would space
	// its arrivals differently from the single-process schedule.
	sc.Profile.Stages = []scenarios.Stage{{Kind: scenarios.Ramp, Duration: 400 * time.Millisecond, From: 50, To: 250}}

	start := time.Now().Add(50 * time.Millisecond)
	single, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), StartAt: start})
	if err != nil {
		t.Fatal(err)
	}
	want := arrivalsOf(t, single, start)
	if len(want) != int(sc.Profile.Arrivals(sc.Profile.Duration())) || len(want) < 30 {
		t.Fatalf("single process played %d arrivals, want the profile's %v", len(want), sc.Profile.Arrivals(sc.Profile.Duration()))
	}
	for _, n := range []int{2, 3, 7} {
		t.Run(fmt.Sprint(n, " shards"), func(t *testing.T) {
			start := time.Now().Add(50 * time.Millisecond)
			var got []arrivalKey
			for k := range n {
				// One after another: the later shards start late on
				// purpose and must still play their own intended times.
				out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
					Shard: Shard{K: k, N: n}, StartAt: start, StartTolerance: time.Hour})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range arrivalsOf(t, out, start) {
					if a.Seq%uint64(n) != uint64(k) {
						t.Fatalf("shard %d/%d played arrival %d", k+1, n, a.Seq)
					}
					got = append(got, a)
				}
			}
			slices.SortFunc(got, func(a, b arrivalKey) int { return int(a.Seq) - int(b.Seq) })
			if !slices.Equal(got, want) {
				t.Fatalf("the shards' arrivals differ from the single process's:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestStartAtTooFarPastIsBadInput(t *testing.T) {
	srv := okServer(t)
	sc := quick(t, srv.URL+"/ping", 10, 100*time.Millisecond)
	dir := t.TempDir()
	_, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: dir,
		Shard: Shard{K: 2, N: 3}, StartAt: time.Now().Add(-time.Minute), StartTolerance: time.Second})
	if !errors.Is(err, ErrBadInput) {
		t.Fatalf("a start a minute past: %v, want bad input", err)
	}
}

func TestRunInfoRecordsClockAndStartOffset(t *testing.T) {
	srv := okServer(t)
	sc := quick(t, srv.URL+"/ping", 10, 100*time.Millisecond)
	start := time.Now().Add(-300 * time.Millisecond)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
		Shard: Shard{K: 1, N: 2}, StartAt: start, StartTolerance: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ReadRunInfo(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	offset := time.Duration(info.StartOffsetMs * float64(time.Millisecond))
	if !info.StartAt.Equal(start) || !info.StartedAt.Equal(start) || info.Shard != "2/2" {
		t.Fatalf("run.json start %v / %v shard %q, want %v and 2/2", info.StartAt, info.StartedAt, info.Shard, start)
	}
	if d := info.Clock.Sub(start) - offset; offset < 300*time.Millisecond || d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("clock %v offset %v: want the offset to be clock - start >= 300ms", info.Clock, offset)
	}
}

func TestResultsErrorsKeepsOnlyTheFailures(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	sc := quick(t, srv.URL+"/x", 40, time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), Results: ResultsErrors})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, out)
	failed := out.Summary.Requests - out.Summary.OK
	if failed < 10 || int64(len(rs)) != failed {
		t.Fatalf("results file holds %d results; the run had %d failures of %d", len(rs), failed, out.Summary.Requests)
	}
	for _, r := range rs {
		if r.OK {
			t.Fatalf("a successful result in an errors-only file: %+v", r)
		}
	}
}
