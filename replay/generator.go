package replay

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// lagBounds are the upper bounds of the pacer-lag buckets; a lag above the
// last one falls in an overflow bucket whose bound is the largest lag seen.
var lagBounds = [...]time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second,
}

// lateArrival is how late an arrival may leave before it counts as late.
const lateArrival = time.Duration(reports.LateArrivalMs * float64(time.Millisecond))

// GeneratorMeter measures the load generator's own health during a run:
// how late the pacer dispatched each arrival against its intended time, the
// process's CPU time against the cores it may use, GC pauses, journeys in
// flight against the cap, and open file descriptors against their limit.
// Run keeps one per run; give your own in Options.Generator to read it
// while the run goes on. Its methods are safe from any goroutine.
type GeneratorMeter struct {
	lag          [len(lagBounds) + 1]atomic.Int64 // arrivals per lag bucket
	lagMax       atomic.Int64                     // nanoseconds
	late         atomic.Int64                     // arrivals later than lateArrival
	inFlightPeak atomic.Int64
	inFlightCap  atomic.Int64

	mu      sync.Mutex
	clock   func() time.Time     // the wall clock; replaced in tests
	cpuTime func() time.Duration // the process's user + system CPU time; replaced in tests
	cores   int
	started bool
	first   sample // at the start of the run
	last    sample // the latest
	cpuPeak float64
	cpuNow  float64 // over the latest interval
	lateNow float64 // share of late arrivals over the latest interval
	fdsPeak int
	fdLimit int
}

// sample is what the meter read at one moment.
type sample struct {
	at       time.Time
	cpu      time.Duration
	gcPause  time.Duration
	arrivals int64
	late     int64
}

// NewGeneratorMeter returns a meter reading the real clock and the
// process's real CPU time.
func NewGeneratorMeter() *GeneratorMeter {
	return &GeneratorMeter{clock: time.Now, cpuTime: processCPU}
}

// begin starts the meter's clock for a run with the given in-flight cap.
func (m *GeneratorMeter) begin(inFlightCap int) {
	m.inFlightCap.Store(int64(inFlightCap))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cores = runtime.GOMAXPROCS(0)
	m.fdLimit = fdLimit()
	m.first = m.read()
	m.last = m.first
	m.started = true
}

// observeLag records one arrival dispatched lag after its intended time.
func (m *GeneratorMeter) observeLag(lag time.Duration) {
	lag = max(lag, 0)
	i := 0
	for i < len(lagBounds) && lag > lagBounds[i] {
		i++
	}
	m.lag[i].Add(1)
	if lag > lateArrival {
		m.late.Add(1)
	}
	for {
		old := m.lagMax.Load()
		if int64(lag) <= old || m.lagMax.CompareAndSwap(old, int64(lag)) {
			return
		}
	}
}

// observeInFlight records the journeys in flight just after one started.
func (m *GeneratorMeter) observeInFlight(n int64) {
	for {
		old := m.inFlightPeak.Load()
		if n <= old || m.inFlightPeak.CompareAndSwap(old, n) {
			return
		}
	}
}

// arrivals counts the arrivals observed so far.
func (m *GeneratorMeter) arrivals() int64 {
	var n int64
	for i := range m.lag {
		n += m.lag[i].Load()
	}
	return n
}

// read takes a sample now; m.mu is held.
func (m *GeneratorMeter) read() sample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{at: m.clock(), cpu: m.cpuTime(), gcPause: time.Duration(ms.PauseTotalNs),
		arrivals: m.arrivals(), late: m.late.Load()}
}

// minSampleInterval is the shortest interval between samples: shorter,
// and the CPU clock's granularity would dominate the interval's figures.
const minSampleInterval = 200 * time.Millisecond

// sample reads the process's figures and keeps the peaks; the engine calls
// it every second, at each progress line (a no-op within minSampleInterval
// of the last sample), and at the end of the run (final: always taken).
func (m *GeneratorMeter) sample(final bool) {
	fds := openFDs()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		return
	}
	s := m.read()
	wall := s.at.Sub(m.last.at)
	if wall < minSampleInterval && !final {
		return
	}
	if wall > 0 {
		m.cpuNow = float64(s.cpu-m.last.cpu) / (float64(wall) * float64(m.cores))
		// A short last interval counts toward the peak only when it is long
		// enough for the CPU clock's granularity not to dominate.
		if wall >= minSampleInterval {
			m.cpuPeak = max(m.cpuPeak, m.cpuNow)
		}
	}
	m.lateNow = 0
	if n := s.arrivals - m.last.arrivals; n > 0 {
		m.lateNow = float64(s.late-m.last.late) / float64(n)
	}
	m.fdsPeak = max(m.fdsPeak, fds)
	m.last = s
}

// Snapshot returns the figures over the run so far, judged (see
// reports.Generator.Judge), as of the latest sample.
func (m *GeneratorMeter) Snapshot() reports.Generator {
	m.mu.Lock()
	g := reports.Generator{Cores: m.cores, CPUPeak: m.cpuPeak, FDsPeak: m.fdsPeak, FDLimit: m.fdLimit}
	if wall := m.last.at.Sub(m.first.at); wall > 0 && m.cores > 0 {
		g.CPUMean = float64(m.last.cpu-m.first.cpu) / (float64(wall) * float64(m.cores))
		g.GCPauseShare = float64(m.last.gcPause-m.first.gcPause) / float64(wall)
		if g.CPUPeak == 0 {
			g.CPUPeak = g.CPUMean // a run shorter than one sampling interval
		}
	}
	g.GCPauseMs = ms(m.last.gcPause - m.first.gcPause)
	m.mu.Unlock()

	var counts [len(lagBounds) + 1]int64
	for i := range m.lag {
		counts[i] = m.lag[i].Load()
		g.Arrivals += counts[i]
	}
	g.LateArrivals = m.late.Load()
	g.PacerLagMax = ms(time.Duration(m.lagMax.Load()))
	g.PacerLagP99 = g.PacerLagMax
	var seen int64
	for i, c := range counts {
		seen += c
		if i < len(lagBounds) && float64(seen) >= 0.99*float64(g.Arrivals) {
			g.PacerLagP99 = min(ms(lagBounds[i]), g.PacerLagMax)
			break
		}
	}
	g.InFlightPeak = m.inFlightPeak.Load()
	g.InFlightCap = int(m.inFlightCap.Load())
	g.Judge()
	return g
}

// Now says whether the generator is the limit over the latest sampling
// interval, for the progress line: the CPU and pacer figures of that
// interval alone. "" when it is not.
func (m *GeneratorMeter) Now() string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	cpu, late, cores := m.cpuNow, m.lateNow, m.cores
	m.mu.Unlock()
	switch {
	case cpu >= reports.MaxCPUPeak:
		return "generator LIMITED: CPU " + reports.FormatPercent(cpu) + " of " + strconv.Itoa(cores) + " cores, split the load with --shard"
	case late > reports.MaxLateShare:
		return "generator LIMITED: " + reports.FormatPercent(late) + " of arrivals late, split the load with --shard"
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openFDs counts the process's open file descriptors; 0 where the system
// does not tell (no /proc).
func openFDs() int {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return max(len(names)-1, 0) // less the descriptor reading the folder
}

// fdLimit returns the process's soft limit on open files; 0 when unknown.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<31 {
		return 0
	}
	return int(rl.Cur)
}
