package reports

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// smallRun is a hand-checkable run started at t0 (see TestAccumulatorDefinitions).
func smallRun() []Result {
	ms := time.Millisecond
	sent := func(r Result) Result {
		r.Sent = r.Intended.Add(ms)
		r.SendLatency = r.Latency - ms
		return r
	}
	return []Result{
		sent(Result{Seq: 0, Journey: "enroll", Step: "login", Attempt: 1, Arrival: true, Intended: t0, Latency: 10 * ms, Code: 201, OK: true}),
		sent(Result{Seq: 0, Journey: "enroll", Step: "add-card", Attempt: 1, Intended: t0.Add(1000 * ms), Latency: 100 * ms, Code: 503,
			Upstream: "nexi", ErrorCode: "QUEUE_FULL", Message: "Si è verificato un errore temporaneo nel salvataggio di questa carta"}),
		sent(Result{Seq: 0, Journey: "enroll", Step: "add-card", Attempt: 2, Intended: t0.Add(2000 * ms), Latency: 50 * ms, Code: 201, OK: true}),
		sent(Result{Seq: 0, Journey: "enroll", Step: "search", Attempt: 1, Intended: t0.Add(3000 * ms), Latency: 2000 * ms,
			Error: `Get "http://stack/api/v1/bancomat/cards": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`}),
		{Seq: 1, Journey: "enroll", Step: "login", Attempt: 1, Arrival: true, Intended: t0.Add(3500 * ms), Latency: 500 * ms, Dropped: true},
		sent(Result{Seq: 0, Journey: "enroll", Step: "list-wallet", Attempt: 1, Intended: t0.Add(4000 * ms), Latency: 20 * ms, Code: 200, OK: true, JourneyDone: true}),
	}
}

func TestAccumulatorDefinitions(t *testing.T) {
	s := accumulate(smallRun(), WithStart(t0)).Summary(SummaryMeta{Scenario: "small", Source: "replay"})

	ints := []struct {
		name      string
		got, want int64
	}{
		{"requests (dropped included)", s.Requests, 6},
		{"ok", s.OK, 3},
		{"dropped", s.Dropped, 1},
		{"retries", s.Retries, 1},
		{"arrivals", s.Arrivals, 2},
		{"journeys completed", s.JourneysCompleted, 1},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	floats := []struct {
		name      string
		got, want float64
	}{
		{"duration_s: first to last intended", s.DurationS, 4},
		{"wait_s: last intended to last end", s.WaitS, 1},
		{"offered_rate = requests / duration", s.OfferedRate, 6.0 / 4},
		{"arrival_rate", s.ArrivalRate, 2.0 / 4},
		{"achieved_rate = ended / (duration + wait)", s.AchievedRate, 5.0 / 5},
		{"goodput = ok / (duration + wait)", s.Goodput, 3.0 / 5},
		{"journey_goodput", s.JourneyGoodput, 1.0 / 5},
		{"success_ratio = ok / requests", s.SuccessRatio, 0.5},
		{"retry_share = retries / requests", s.RetryShare, 0.166667},
		{"p50 of sent requests", s.Latency.P50, 50},
		{"max", s.Latency.Max, 2000},
		{"queue p99: intended to sent", s.Queue.P99, 1},
		{"send latency max", s.SendLatency.Max, 1999},
	}
	for _, c := range floats {
		if !near(c.got, c.want, 1e-3) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	wantSteps := []string{"login", "add-card", "search", "list-wallet"}
	if len(s.Steps) != len(wantSteps) {
		t.Fatalf("steps %+v", s.Steps)
	}
	for i, name := range wantSteps {
		if s.Steps[i].Name != name {
			t.Errorf("step %d is %q, want %q (the order users reach them)", i, s.Steps[i].Name, name)
		}
	}
	add := s.Steps[1]
	if add.Requests != 2 || add.OK != 1 || add.Retries != 1 || add.SuccessRatio != 0.5 || add.OfferedRate != 0.5 ||
		len(add.Errors) != 1 || add.Errors[0] != (ModeCount{Mode: "http 503 QUEUE_FULL", Upstream: "nexi", Count: 1, Share: 0.5}) {
		t.Errorf("add-card step: %+v", add)
	}

	wantErrors := []ErrorSummary{
		{Mode: "http 503 QUEUE_FULL", Count: 1, Share: 0.166667, OnsetS: 1, OnsetOfferedRate: 1.25, Upstream: "nexi",
			Step: "enroll/add-card", Example: "Si è verificato un errore temporaneo nel salvataggio di questa carta",
			Status: 503, Code: "QUEUE_FULL", Message: "Si è verificato un errore temporaneo nel salvataggio di questa carta"},
		{Mode: ModeTimeout, Count: 1, Share: 0.166667, OnsetS: 3, OnsetOfferedRate: 1.667, Step: "enroll/search",
			Example: `Get "http://stack/api/v1/bancomat/cards": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`},
		{Mode: ModeDropped, Count: 1, Share: 0.166667, OnsetS: 3.5, OnsetOfferedRate: 1.667, Step: "enroll/login", Example: DroppedError},
	}
	if len(s.Errors) != len(wantErrors) {
		t.Fatalf("errors %+v", s.Errors)
	}
	for i, want := range wantErrors {
		if s.Errors[i] != want {
			t.Errorf("error %d:\n got %+v\nwant %+v", i, s.Errors[i], want)
		}
	}
	if !s.StartedAt.Equal(t0) || s.Scenario != "small" || s.Source != "replay" {
		t.Errorf("meta: %v %q %q", s.StartedAt, s.Scenario, s.Source)
	}
}

func TestAccumulatorStartInferred(t *testing.T) {
	rs := smallRun()
	s := accumulate(rs[1:]).Summary(SummaryMeta{}) // starts at the first intended time, t0+1s
	if !s.StartedAt.Equal(t0.Add(time.Second)) || s.DurationS != 3 || s.Errors[0].OnsetS != 0 {
		t.Errorf("started %v, duration %v, first onset %v", s.StartedAt, s.DurationS, s.Errors[0].OnsetS)
	}
	planned := accumulate(rs, WithStart(t0)).Summary(SummaryMeta{Duration: 8 * time.Second})
	if planned.DurationS != 8 || planned.OfferedRate != 0.75 {
		t.Errorf("with a planned duration: %v s, offered %v/s", planned.DurationS, planned.OfferedRate)
	}
}

func TestAccumulatorEmptyAndUntimed(t *testing.T) {
	empty := NewAccumulator().Summary(SummaryMeta{Series: true})
	if empty.Requests != 0 || empty.OfferedRate != 0 || empty.Steps == nil || empty.Errors == nil || empty.Gates == nil || empty.Series != nil {
		t.Errorf("empty summary: %+v", empty)
	}
	if snap := NewAccumulator().Snapshot(); snap.Requests != 0 || snap.InFlight != -1 || snap.Window != 0 {
		t.Errorf("empty snapshot: %+v", snap)
	}
	a := NewAccumulator()
	a.Add(&Result{Step: "x", Code: 500}) // no intended time: counted, not placed in time
	s := a.Summary(SummaryMeta{Series: true})
	if s.Requests != 1 || len(s.Errors) != 1 || s.Errors[0].OnsetS != 0 || !s.StartedAt.IsZero() || len(s.Series) != 0 {
		t.Errorf("untimed: %+v", s)
	}
}

// summaryJSON renders a summary with its series, for exact comparisons.
func summaryJSON(t *testing.T, a *Accumulator) string {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeSummary(&buf, a.Summary(SummaryMeta{Scenario: "launch-day", Source: "replay", Series: true})); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestAccumulatorOrderDoesNotMatter(t *testing.T) {
	rs := launchFixture()
	want := summaryJSON(t, accumulate(rs))
	tests := []struct {
		name    string
		reorder func([]Result)
	}{
		{"reversed", func(rs []Result) {
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
		}},
		{"shuffled", func(rs []Result) {
			rng := rand.New(rand.NewPCG(1, 2))
			rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := append([]Result(nil), rs...)
			tt.reorder(re)
			if got := summaryJSON(t, accumulate(re)); got != want {
				t.Errorf("summary depends on the order of results:\n%s", firstDiff(got, want))
			}
		})
	}
}

func TestAccumulatorMergeIsExact(t *testing.T) {
	rs := launchFixture()
	want := summaryJSON(t, accumulate(rs))
	for _, n := range []int{2, 3, 5} {
		t.Run(string(rune('0'+n))+" shards", func(t *testing.T) {
			shards := make([][]Result, n)
			for _, r := range rs {
				shards[r.Seq%uint64(n)] = append(shards[r.Seq%uint64(n)], r)
			}
			merged := NewAccumulator()
			for i := n - 1; i >= 0; i-- {
				if err := merged.Merge(accumulate(shards[i])); err != nil {
					t.Fatal(err)
				}
			}
			if got := summaryJSON(t, merged); got != want {
				t.Errorf("merged shards differ from one run:\n%s", firstDiff(got, want))
			}
		})
	}
	a := NewAccumulator()
	if a.Merge(a) == nil || a.Merge(nil) == nil {
		t.Error("merging nil or itself did not fail")
	}
}

// firstDiff shows where two texts part.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-200)
	return "got:  ..." + got[lo:min(len(got), i+200)] + "\nwant: ..." + want[lo:min(len(want), i+200)]
}

func TestSeriesCoarsensExactly(t *testing.T) {
	// 100 s at 10 requests a second, latency growing with time.
	var rs []Result
	for i := 0; i < 1000; i++ {
		due := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		rs = append(rs, Result{Step: "s", Intended: due, Sent: due, Latency: time.Duration(1+i%37) * time.Millisecond, Code: 200, OK: true})
	}
	coarse := accumulate(rs, WithMaxSeriesPoints(16))
	fine := accumulate(rs)
	coarse.series.flushAll()
	fine.series.flushAll()
	if coarse.series.width != 8 || len(coarse.series.points) > 16 {
		t.Fatalf("width %d s, %d points; want 8 s, at most 16", coarse.series.width, len(coarse.series.points))
	}
	for fine.series.width < coarse.series.width {
		fine.series.coarsen()
	}
	got, _ := json.Marshal(coarse.exportSeries(t0))
	want, _ := json.Marshal(fine.exportSeries(t0))
	if string(got) != string(want) {
		t.Errorf("coarsened on the fly differs from coarsened after:\n%s", firstDiff(string(got), string(want)))
	}
	var offered int64
	for _, p := range coarse.exportSeries(t0) {
		offered += p.Offered
	}
	if offered != 1000 {
		t.Errorf("series holds %d requests, want 1000", offered)
	}
}

func TestSeriesMemoryIsBounded(t *testing.T) {
	tests := []struct {
		name  string
		times []time.Time
	}{
		{"ten hours", func() (ts []time.Time) {
			for s := 0; s < 36000; s += 7 {
				ts = append(ts, t0.Add(time.Duration(s)*time.Second))
			}
			return ts
		}()},
		{"a corrupt clock", []time.Time{t0, time.Unix(1, 0), t0.Add(time.Second), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAccumulator(WithMaxSeriesPoints(256))
			for _, at := range tt.times {
				a.Add(&Result{Intended: at, Sent: at, Latency: time.Millisecond, Code: 200, OK: true})
			}
			if n := len(a.series.points); n > 256 {
				t.Errorf("%d points, want at most 256", n)
			}
			if s := a.Summary(SummaryMeta{Series: true}); s.Requests != int64(len(tt.times)) {
				t.Errorf("requests %d", s.Requests)
			}
		})
	}
}

func TestSnapshot(t *testing.T) {
	a := accumulate(smallRun(), WithStart(t0))
	a.ObserveInFlight(t0.Add(4*time.Second), 7)
	s := a.Snapshot()
	// The newest end is t0+5s (the timeout); the window is the five whole
	// seconds before it: due 6 (all), ended 4 (not the timeout), ok 3.
	if s.Elapsed != 5*time.Second || s.Window != 5*time.Second || s.Requests != 6 || s.OK != 3 || s.Dropped != 1 || s.InFlight != 7 {
		t.Errorf("snapshot %+v", s)
	}
	if s.OfferedRate != 1.2 || s.AchievedRate != 0.8 || s.Goodput != 0.6 {
		t.Errorf("rates offered %v achieved %v goodput %v; want 1.2 0.8 0.6", s.OfferedRate, s.AchievedRate, s.Goodput)
	}
	if !near(s.P99.Seconds(), 0.1, 0.01) {
		t.Errorf("p99 %v, want 100ms", s.P99)
	}
	if len(s.Errors) != 3 {
		t.Errorf("errors %+v", s.Errors)
	}

	young := accumulate(smallRun()[:1], WithStart(t0)).Snapshot()
	if young.Window != time.Second || young.OfferedRate != 1 {
		t.Errorf("a run in its first second: %+v", young)
	}
}

func TestSnapshotWhileAdding(t *testing.T) {
	rs := launchFixture()
	a := NewAccumulator(WithLiveWindow(3 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range rs {
			a.Add(&rs[i])
			if i%500 == 0 {
				a.ObserveInFlight(rs[i].End(), int64(i%7))
			}
		}
	}()
	var last int64
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		s := a.Snapshot()
		if s.Requests < last {
			t.Fatalf("requests went back from %d to %d", last, s.Requests)
		}
		last = s.Requests
		if s.Window > 3*time.Second {
			t.Fatalf("window %v", s.Window)
		}
		_ = a.Summary(SummaryMeta{})
	}
	if got := a.Snapshot().Requests; got != int64(len(rs)) {
		t.Errorf("requests %d, want %d", got, len(rs))
	}
}

func BenchmarkAccumulatorAdd(b *testing.B) {
	rs := launchFixture()
	a := NewAccumulator()
	shift := 20 * time.Second
	b.ReportAllocs()
	i, lap := 0, time.Duration(0)
	for b.Loop() {
		r := rs[i]
		r.Intended = r.Intended.Add(lap)
		if !r.Sent.IsZero() {
			r.Sent = r.Sent.Add(lap)
		}
		a.Add(&r)
		if i++; i == len(rs) {
			i, lap = 0, lap+shift
		}
	}
}
