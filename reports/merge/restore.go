package merge

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stampede-load/stampede/reports"
)

// restore rebuilds the accumulator of the folders' runs together: each
// folder's counters restored (in parallel) and merged, then the latencies
// of all their interval logs added second by second. The logs are read and
// decoded in parallel, one goroutine a folder, and each step's second is
// summed over the folders once and packed once, instead of each folder's
// accumulator being built and the packed histograms merged pairwise.
func restore(dirs []string, cs []*Counters) (*reports.Accumulator, error) {
	accs := make([]*reports.Accumulator, len(dirs))
	errs := make([]error, len(dirs))
	parallel(len(dirs), func(i int) {
		if accs[i], errs[i] = reports.RestoreAccumulator(cs[i].Tally); errs[i] != nil {
			errs[i] = fmt.Errorf("%w: %s: %w", ErrBadInput, filepath.Join(dirs[i], CountersFile), errs[i])
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	acc := accs[0]
	for _, a := range accs[1:] {
		if err := acc.Merge(a); err != nil {
			return nil, err
		}
	}
	if err := addLatencies(acc, dirs, cs); err != nil {
		return nil, err
	}
	if err := acc.CompleteLatencies(); err != nil {
		return nil, fmt.Errorf("%w: the %s and %s of %s disagree: %w", ErrBadInput, IntervalsFile, CountersFile, strings.Join(dirs, ", "), err)
	}
	return acc, nil
}

// entry is a decoded interval in a batch: its buckets are
// batch.buckets[lo:hi].
type entry struct {
	journey, step string
	sec           int64
	lo, hi        int
}

// batch is a run of one log's decoded intervals, handed from the goroutine
// that decodes the log to the one that adds them up; err ends the log.
type batch struct {
	entries []entry
	buckets []reports.Bucket
	err     error
}

// batchEntries is how many intervals a batch holds: a few seconds of a
// shard, and a few hundred KB of buckets.
const batchEntries = 64

// stream is one log as addLatencies reads it.
type stream struct {
	path    string
	batches chan *batch
	free    chan *batch
	cur     *batch
	pos     int
	done    bool
}

// head returns the stream's next interval, waiting for the next batch as
// needed; nil at the end. A batch read to its end goes to retired: its
// buckets stay in use until the second they belong to has been added.
func (s *stream) head(retired *[]retiredBatch) (*entry, *batch, error) {
	for !s.done && (s.cur == nil || s.pos == len(s.cur.entries)) {
		if s.cur != nil {
			*retired = append(*retired, retiredBatch{s, s.cur})
		}
		b, ok := <-s.batches
		switch {
		case !ok:
			s.cur, s.done = nil, true
		case b.err != nil:
			return nil, nil, b.err
		default:
			s.cur, s.pos = b, 0
		}
	}
	if s.done {
		return nil, nil, nil
	}
	return &s.cur.entries[s.pos], s.cur, nil
}

type retiredBatch struct {
	s *stream
	b *batch
}

// addLatencies adds the latencies of the folders' interval logs to acc: a
// goroutine for each log decodes it, and this one takes the seconds in
// order across all of them, adding each step's second with one call.
func addLatencies(acc *reports.Accumulator, dirs []string, cs []*Counters) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	streams := make([]*stream, len(dirs))
	for i, d := range dirs {
		s := &stream{path: filepath.Join(d, IntervalsFile), batches: make(chan *batch, 2), free: make(chan *batch, 4)}
		streams[i] = s
		wg.Go(func() { decodeLog(s, cs[i], done) })
	}

	type part struct {
		e *entry
		b *batch
		s *stream
	}
	var (
		group   []part
		hists   [][]reports.Bucket
		retired []retiredBatch
	)
	for {
		// The earliest second at the head of a log. Each log is in order
		// of seconds but for the odd late entry, so this takes the
		// seconds in order across the logs.
		sec := int64(math.MaxInt64)
		for _, s := range streams {
			e, _, err := s.head(&retired)
			if err != nil {
				return err
			}
			if e != nil && e.sec < sec {
				sec = e.sec
			}
		}
		if sec == math.MaxInt64 {
			return nil
		}
		group = group[:0]
		for _, s := range streams {
			for {
				e, b, err := s.head(&retired)
				if err != nil {
					return err
				}
				if e == nil || e.sec != sec {
					break
				}
				group = append(group, part{e, b, s})
				s.pos++
			}
		}
		slices.SortFunc(group, func(a, b part) int {
			return cmp.Or(cmp.Compare(a.e.journey, b.e.journey), cmp.Compare(a.e.step, b.e.step))
		})
		for i := 0; i < len(group); {
			j, e := i, group[i].e
			hists = hists[:0]
			for ; j < len(group) && group[j].e.journey == e.journey && group[j].e.step == e.step; j++ {
				hists = append(hists, group[j].b.buckets[group[j].e.lo:group[j].e.hi])
			}
			if err := acc.AddStepLatencies(e.journey, e.step, sec, hists...); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrBadInput, group[i].s.path, err)
			}
			i = j
		}
		for _, r := range retired {
			select {
			case r.s.free <- r.b:
			default:
			}
		}
		retired = retired[:0]
	}
}

// decodeLog reads s's log into batches until its end, an error, or done.
// At the end it checks the log's latencies of each step against the
// requests its counters c say were sent.
func decodeLog(s *stream, c *Counters, done <-chan struct{}) {
	defer close(s.batches)
	send := func(b *batch) bool {
		select {
		case s.batches <- b:
			return true
		case <-done:
			return false
		}
	}
	fresh := func() *batch {
		select {
		case b := <-s.free:
			b.entries, b.buckets = b.entries[:0], b.buckets[:0]
			return b
		default:
			return &batch{entries: make([]entry, 0, batchEntries)}
		}
	}
	f, err := os.Open(s.path)
	if err != nil {
		send(&batch{err: fmt.Errorf("%w: %w", ErrBadInput, err)})
		return
	}
	defer f.Close()
	got := make(map[[2]string]int64)
	b := fresh()
	arena := b.buckets // b's buckets, as scanIntervals appends to them
	stop := errors.New("stopped")
	err = scanIntervals(f, s.path, &arena, func(iv *Interval) error {
		b.entries = append(b.entries, entry{iv.Journey, iv.Step, iv.Sec, len(arena) - len(iv.Buckets), len(arena)})
		var n int64
		for _, bk := range iv.Buckets {
			n += bk.Count
		}
		got[[2]string{iv.Journey, iv.Step}] += n
		if len(b.entries) == batchEntries {
			b.buckets = arena
			if !send(b) {
				return stop
			}
			b = fresh()
			arena = b.buckets
		}
		return nil
	})
	b.buckets = arena
	if err == nil {
		err = checkStepTotals(s.path, got, c)
	}
	switch {
	case errors.Is(err, stop):
		return
	case err != nil:
		send(&batch{err: err})
		return
	}
	if len(b.entries) > 0 {
		send(b)
	}
}

// checkStepTotals compares the latencies a log holds of each step, got,
// with the timed requests sent its counters c count, so a log that does
// not go with its counters is named before its latencies mix with the
// other shards'.
func checkStepTotals(path string, got map[[2]string]int64, c *Counters) error {
	want := make(map[[2]string]int64, len(c.Tally.Steps))
	for i := range c.Tally.Steps {
		st := &c.Tally.Steps[i]
		k := [2]string{st.Journey, st.Step}
		for _, p := range st.Series.Points {
			want[k] += p.Offered - p.Dropped
		}
		if _, ok := got[k]; !ok {
			got[k] = 0
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("%w: %s has latencies of step %q, which its %s does not count", ErrBadInput, path, k[0]+"/"+k[1], CountersFile)
		}
	}
	for i := range c.Tally.Steps {
		st := &c.Tally.Steps[i]
		if k := [2]string{st.Journey, st.Step}; got[k] != want[k] {
			return fmt.Errorf("%w: %s has %d latencies of step %q for %d requests sent in its %s", ErrBadInput, path, got[k], st.Journey+"/"+st.Step, want[k], CountersFile)
		}
	}
	return nil
}
