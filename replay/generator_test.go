package replay

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// fakeMeter is a meter on a fake clock whose process burns cpuShare of
// every core.
func fakeMeter(cpuShare *float64) (*GeneratorMeter, func(time.Duration)) {
	now := time.Unix(1000, 0)
	var cpu time.Duration
	m := &GeneratorMeter{clock: func() time.Time { return now }, cpuTime: func() time.Duration { return cpu }}
	advance := func(d time.Duration) {
		now = now.Add(d)
		cpu += time.Duration(float64(d) * *cpuShare * float64(runtime.GOMAXPROCS(0)))
	}
	return m, advance
}

func TestGeneratorMeterFigures(t *testing.T) {
	share := 0.2
	m, advance := fakeMeter(&share)
	m.begin(100)
	for i := range 1000 {
		lag := 300 * time.Microsecond
		if i%100 == 0 {
			lag = 60 * time.Millisecond // 10 arrivals late, 1%: under the limit
		}
		m.observeLag(lag)
	}
	m.observeLag(-time.Millisecond) // early wake-ups count as on time
	m.observeInFlight(40)
	m.observeInFlight(12)
	advance(time.Second)
	m.sample(true)
	share = 0.5
	advance(time.Second)
	m.sample(true)

	g := m.Snapshot()
	if g.Arrivals != 1001 || g.LateArrivals != 10 {
		t.Errorf("arrivals %d late %d, want 1001 and 10", g.Arrivals, g.LateArrivals)
	}
	if g.PacerLagP99 != 1 || g.PacerLagMax != 60 {
		t.Errorf("pacer lag p99 %vms max %vms, want 1 (the bucket) and 60", g.PacerLagP99, g.PacerLagMax)
	}
	if abs(g.CPUPeak-0.5) > 1e-9 || abs(g.CPUMean-0.35) > 1e-9 {
		t.Errorf("CPU peak %v mean %v, want 0.5 and 0.35", g.CPUPeak, g.CPUMean)
	}
	if g.InFlightPeak != 40 || g.InFlightCap != 100 || g.Cores != runtime.GOMAXPROCS(0) {
		t.Errorf("in flight %d/%d cores %d", g.InFlightPeak, g.InFlightCap, g.Cores)
	}
	if g.Verdict != reports.GeneratorOK || len(g.Limits) != 0 || len(g.Warning) != 0 || m.Now() != "" {
		t.Errorf("a healthy generator judged %q %q %q, now %q", g.Verdict, g.Limits, g.Warning, m.Now())
	}
}

func TestGeneratorMeterFlagsStarvedGenerator(t *testing.T) {
	t.Run("CPU", func(t *testing.T) {
		share := 0.97
		m, advance := fakeMeter(&share)
		m.begin(100)
		m.observeLag(0)
		advance(time.Second)
		m.sample(true)
		g := m.Snapshot()
		if !g.Limited() || len(g.Limits) != 1 || !strings.HasPrefix(g.Limits[0], "CPU: the process used 97.00%") || g.Advice == "" {
			t.Fatalf("verdict %q limits %q advice %q", g.Verdict, g.Limits, g.Advice)
		}
		if now := m.Now(); !strings.Contains(now, "generator LIMITED: CPU 97.00%") {
			t.Fatalf("progress says %q", now)
		}
	})
	t.Run("pacer lag", func(t *testing.T) {
		share := 0.1
		m, advance := fakeMeter(&share)
		m.begin(100)
		for i := range 100 {
			lag := time.Duration(0)
			if i < 6 {
				lag = 250 * time.Millisecond
			}
			m.observeLag(lag)
		}
		advance(time.Second)
		m.sample(true)
		g := m.Snapshot()
		if !g.Limited() || len(g.Limits) != 1 || !strings.HasPrefix(g.Limits[0], "pacer lag: 6.00% of arrivals") {
			t.Fatalf("verdict %q limits %q", g.Verdict, g.Limits)
		}
		if g.PacerLagP99 != 250 || g.PacerLagMax != 250 {
			t.Errorf("p99 %v max %v, want 250 (the largest lag, below its bucket's bound)", g.PacerLagP99, g.PacerLagMax)
		}
		if now := m.Now(); !strings.Contains(now, "6.00% of arrivals late") {
			t.Fatalf("progress says %q", now)
		}
	})
	t.Run("in flight at the cap is a warning", func(t *testing.T) {
		share := 0.1
		m, advance := fakeMeter(&share)
		m.begin(100)
		m.observeInFlight(96)
		advance(time.Second)
		m.sample(true)
		g := m.Snapshot()
		if g.Limited() || len(g.Warning) != 1 || !strings.Contains(g.Warning[0], "96 of the --max-inflight cap of 100") {
			t.Fatalf("verdict %q warnings %q", g.Verdict, g.Warning)
		}
	})
}

// busyLoop burns the process's only P until stop is closed.
func busyLoop(stop <-chan struct{}, spun *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		for range 10000 {
			spun.Add(1)
		}
	}
}

// A generator that shares its one core with a busy loop cannot pace: the
// run must say so, in the summary and in the progress lines.
func TestStarvedGeneratorIsFlagged(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv := okServer(t)
	stop := make(chan struct{})
	var spun atomic.Int64
	for range 8 { // the pacer's wake-up waits behind up to 8 slices of 10 ms
		go busyLoop(stop, &spun)
	}
	defer close(stop)
	var progress bytes.Buffer
	sc := quick(t, srv.URL+"/", 500, 3*time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
		Progress: &progress, ProgressEvery: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	g := out.Summary.Generator
	if g == nil || !g.Limited() {
		t.Fatalf("a starved generator not flagged: %+v", g)
	}
	// Which limit shows depends on the machine: alone on it, the busy loop
	// takes the core (CPU); on a shared one, the pacer's wake-ups wait
	// behind it and other processes (lag). Either way the run is flagged.
	if !strings.Contains(progress.String(), "generator LIMITED") {
		t.Errorf("progress does not say so:\n%s", progress.String())
	}
}

// A modest run is not flagged. On a shared, loaded machine a run can be
// genuinely late for a second, so the test gives it three tries: a meter
// that flags healthy runs (wrong units, a wrong sign) fails all three.
func TestHealthyGeneratorIsNotFlagged(t *testing.T) {
	srv := okServer(t)
	var g *reports.Generator
	for try := 0; try < 3 && (g == nil || g.Limited()); try++ {
		sc := quick(t, srv.URL+"/", 20, 2*time.Second)
		out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if g = out.Summary.Generator; g == nil {
			t.Fatal("no generator figures")
		}
		t.Logf("try %d: %s", try+1, g)
	}
	if g.Limited() || g.Arrivals != 40 || g.CPUMean <= 0 || g.CPUPeak >= 0.5 || g.InFlightPeak < 1 || g.InFlightPeak > 10 || g.InFlightCap != 10000 {
		t.Fatalf("a modest run judged or measured wrong: %+v", g)
	}
	if runtime.GOOS == "linux" && (g.FDsPeak < 3 || g.FDLimit < g.FDsPeak) {
		t.Errorf("file descriptors %d of %d", g.FDsPeak, g.FDLimit)
	}
}

func TestDueMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var m dueMeter
	if m.rate(5*time.Second) != 0 {
		t.Fatal("a rate from no samples")
	}
	m.observe(t0, 0)
	for i := 1; i <= 10; i++ {
		m.observe(t0.Add(time.Duration(i)*time.Second), int64(i*100+i*i)) // 100/s plus a growing rate
	}
	// Over the last 5 s: (10*100+100) - (5*100+25) = 575 in 5 s.
	if got := m.rate(5 * time.Second); got != 115 {
		t.Errorf("rate over 5s = %v, want 115", got)
	}
	// A window wider than the samples covers them all: 1100 in 10 s.
	if got := m.rate(time.Minute); got != 110 {
		t.Errorf("rate over all = %v, want 110", got)
	}

	// Ticks a window apart, each a little early or late as a ticker's
	// are: the rate is over the last tick's window, not two of them.
	var j dueMeter
	j.observe(t0, 0)
	for i, jitter := range []time.Duration{-time.Millisecond, time.Millisecond, 0} {
		k := time.Duration(i + 1)
		j.observe(t0.Add(k*5*time.Second+jitter), int64(k*k*500)) // 500, 2000, 4500 due
	}
	if got, want := j.rate(5*time.Second), 2500/(4999*time.Millisecond).Seconds(); got != want {
		t.Errorf("rate over a 5 s window of jittered ticks = %v, want %v (the last tick's)", got, want)
	}
}

// While the target holds every response for seconds, nothing has ended yet;
// the offered rate in the progress line must still show the requests due.
func TestProgressCountsRequestsWhenDue(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var progress lockedBuffer
	progress.init()
	sc := quick(t, srv.URL+"/", 40, 2*time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(),
			Progress: &progress, ProgressEvery: 500 * time.Millisecond, Grace: 30 * time.Second})
		done <- err
	}()
	// Wait for the profile to end with every response still held.
	line := regexp.MustCompile(`^2s/2s .*offered (\d+)/s achieved (\d+)/s`)
	var offered, achieved int
	for found := false; !found; {
		select {
		case err := <-done:
			t.Fatalf("run ended before the profile did: %v\n%s", err, progress.String())
		case <-progress.wrote:
		}
		for _, l := range strings.Split(progress.String(), "\n") {
			if m := line.FindStringSubmatch(l); m != nil {
				offered, _ = strconv.Atoi(m[1])
				achieved, _ = strconv.Atoi(m[2])
				found = true
			}
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if achieved != 0 || offered < 30 || offered > 50 {
		t.Fatalf("with every response held: offered %d/s achieved %d/s; want about 40/s and 0/s\n%s", offered, achieved, progress.String())
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// lockedBuffer is a writer safe to read while the run writes to it; wrote
// is signalled after every write.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
	once  sync.Once
}

func (l *lockedBuffer) init() { l.once.Do(func() { l.wrote = make(chan struct{}, 1) }) }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.init()
	l.mu.Lock()
	n, err := l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
