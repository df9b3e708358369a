package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stampede-load/stampede/internal/memnet"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// The accuracy tests run their servers at small rates (100–200
// requests/s) with one-second steps. TestSaturateFindsCapacity and
// TestSaturateRateLimitOnset run in virtual time (virtual_test.go), so
// their figures are exact whatever the machine's load; the others run
// real loopback servers and assert the window the issue sets (±10% or
// ±15%).

// poolServer serves each request on one of its workers for a fixed service
// time, first come first served: its capacity is workers ÷ service. A
// worker's next request starts when its previous one was planned to end,
// not when the handler woke up, so a slow scheduler on a busy machine
// does not eat into the capacity.
type poolServer struct {
	service time.Duration
	mu      sync.Mutex
	free    []time.Time
}

func (p *poolServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	p.mu.Lock()
	i := 0
	for j := range p.free {
		if p.free[j].Before(p.free[i]) {
			i = j
		}
	}
	end := now
	if p.free[i].After(now) {
		end = p.free[i]
	}
	end = end.Add(p.service)
	p.free[i] = end
	p.mu.Unlock()
	sleepUntil(r.Context(), end)
	w.Write([]byte(`{"ok":true}`))
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// window counts the requests of the last span, for servers whose behaviour
// depends on the rate they see.
type window struct {
	span  time.Duration
	mu    sync.Mutex
	times []time.Time
}

// add records a request now and returns how many the window holds, this
// one included; admit false leaves it out of later counts (a rejected
// request).
func (w *window) add(now time.Time, admit func(n int) bool) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := 0
	for cut < len(w.times) && !w.times[cut].After(now.Add(-w.span)) {
		cut++
	}
	w.times = w.times[cut:]
	n := len(w.times) + 1
	if admit(n) {
		w.times = append(w.times, now)
		return n, true
	}
	return n, false
}

// limitServer answers 429 RATE_LIMITED past limit requests in any sliding
// window of span: a rate limit of limit/span.
func limitServer(t *testing.T, limit int, span time.Duration) *httptest.Server {
	srv := httptest.NewServer(limitHandler(limit, span))
	t.Cleanup(srv.Close)
	return srv
}

// limitHandler is limitServer's handler.
func limitHandler(limit int, span time.Duration) http.Handler {
	win := &window{span: span}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := win.add(time.Now(), func(n int) bool { return n <= limit }); !ok {
			w.Header().Set("X-Upstream", "gateway")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":"RATE_LIMITED","message":"Troppe richieste, riprova più tardi"}`))
			return
		}
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte(`{"ok":true}`))
	})
}

// kneeServer answers in base while the rate it sees (over the last 250 ms)
// is at most knee requests/s, and slope longer for each request/s beyond.
func kneeServer(t *testing.T, knee float64, base, slope time.Duration) *httptest.Server {
	win := &window{span: 250 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		n, _ := win.add(now, func(int) bool { return true })
		rate := float64(n) * float64(time.Second) / float64(win.span)
		delay := base + time.Duration(math.Max(0, rate-knee)*float64(slope))
		sleepUntil(r.Context(), now.Add(delay))
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func saturateOptions(t *testing.T, url string, start, step, top float64, d time.Duration) SaturateOptions {
	t.Helper()
	sc := quick(t, url+"/", 1, time.Second) // the profile is replaced per step
	return SaturateOptions{
		Run:          Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), Grace: 5 * time.Second},
		Start:        scenarios.Rate(start),
		Step:         scenarios.Rate(step),
		Max:          scenarios.Rate(top),
		StepDuration: d,
	}
}

// In virtual time (virtual_test.go): the pool's capacity, the pacer and
// every latency are exact whatever the machine's load.
func TestSaturateFindsCapacity(t *testing.T) {
	addr := memnet.Reachable(t)
	synctest.Test(t, func(t *testing.T) { testSaturateFindsCapacity(t, addr) })
}

func testSaturateFindsCapacity(t *testing.T, addr string) {
	const capacity = 160.0 // 4 workers × 25 ms
	dial, stop := memnet.Serve(&poolServer{service: 25 * time.Millisecond, free: make([]time.Time, 4)})
	defer stop()
	o := saturateOptions(t, "http://"+addr, 100, 20, 300, time.Second)
	o.Run.Dial, o.newMeter = dial, idleMeter
	o.Refine = true
	var progress bytes.Buffer
	o.Run.Progress = &progress
	out, err := Saturate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	sat := out.Report.Saturation
	t.Logf("saturation %+v; stopped: %s", sat, out.Report.Stopped)
	for _, p := range out.Report.Steps {
		t.Logf("step %d %v/s: offered %.1f achieved %.1f goodput %.1f (%.3f) p50 %.1fms in-flight %.2f little %.2f %v",
			p.Index, p.Rate, p.OfferedRate, p.AchievedRate, p.Goodput, p.GoodputRatio, p.Latency.P50, p.InFlight, p.LittleInFlight, p.Reasons)
	}
	// Exact in virtual time: the last bisection step that held, 167.5/s,
	// is the capacity plus what the 5% goodput margin lets through; the
	// issue's window is ±10%.
	if !sat.Saturated || sat.OfferedRate != 167.5 || math.Abs(sat.OfferedRate-capacity) > 0.10*capacity {
		t.Errorf("saturation at %.1f/s, want 167.5/s (%.0f/s capacity, ±10%%)", sat.OfferedRate, capacity)
	}
	for _, p := range out.Report.Steps {
		if p.Rate <= capacity && (p.AchievedRate != float64(p.Rate) || math.Abs(p.Latency.P50-25) > 0.05) { // the histogram resolves 0.05 ms at 25 ms
			t.Errorf("step %d at %v/s under capacity: achieved %.1f/s, p50 %.2fms; want all of it at the 25 ms service time", p.Index, p.Rate, p.AchievedRate, p.Latency.P50)
		}
	}
	if !strings.HasPrefix(out.Report.Stopped, "saturation confirmed") {
		t.Errorf("stopped: %q, want saturation confirmed before --max", out.Report.Stopped)
	}
	refined := 0
	for _, p := range out.Report.Steps {
		if p.Refine {
			refined++
		}
	}
	if refined == 0 {
		t.Error("no bisection step ran")
	}
	if sat.KneeRate != capacity {
		t.Errorf("knee at %.1f/s, want the capacity %.0f/s (the issue's window: ±15%%)", sat.KneeRate, capacity)
	}

	// The folder: one subfolder per step, the search's record and summary.
	for i, p := range out.Report.Steps {
		dir := filepath.Join(out.Dir, fmt.Sprintf("step-%02d-%s", i+1, strings.TrimSuffix(fmt.Sprintf("%g", p.Rate), ".0")))
		if _, err := os.Stat(filepath.Join(dir, ResultsFile)); err != nil {
			t.Errorf("step %d: %v", p.Index, err)
		}
	}
	f, err := os.Open(filepath.Join(out.Dir, SaturationFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := reports.DecodeSaturationReport(f)
	if err != nil || !reflect.DeepEqual(rep.Saturation, sat) || len(rep.Steps) != len(out.Report.Steps) {
		t.Errorf("saturation.json does not hold the report: %v", err)
	}
	sum, err := reports.ReadSummary(filepath.Join(out.Dir, SummaryFile))
	if err != nil || sum.Saturation == nil || sum.Saturation.OfferedRate != sat.OfferedRate {
		t.Errorf("summary.json has no saturation: %v", err)
	}
	var total int64
	for _, p := range out.Report.Steps {
		total += p.Requests
	}
	if sum.Requests != total {
		t.Errorf("summary counts %d requests, the steps %d", sum.Requests, total)
	}
	if !strings.Contains(progress.String(), "bisection step") || !strings.Contains(progress.String(), "goodput below") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

// In virtual time, as TestSaturateFindsCapacity.
func TestSaturateRateLimitOnset(t *testing.T) {
	addr := memnet.Reachable(t)
	synctest.Test(t, func(t *testing.T) { testSaturateRateLimitOnset(t, addr) })
}

func testSaturateRateLimitOnset(t *testing.T, addr string) {
	const limit = 100.0 // requests/s: 50 in any 500 ms
	dial, stop := memnet.Serve(limitHandler(50, 500*time.Millisecond))
	defer stop()
	o := saturateOptions(t, "http://"+addr, 70, 10, 200, time.Second)
	o.Run.Dial, o.newMeter = dial, idleMeter
	out, err := Saturate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var onset *reports.ErrorSummary
	for i := range out.Summary.Errors {
		if out.Summary.Errors[i].Mode == "http 429 RATE_LIMITED" {
			onset = &out.Summary.Errors[i]
		}
	}
	for _, p := range out.Report.Steps {
		t.Logf("step %d %v/s: offered %.1f errors %.4f %v", p.Index, p.Rate, p.OfferedRate, p.ErrorRate, p.Reasons)
	}
	if onset == nil {
		t.Fatalf("no 429 mode in %+v", out.Summary.Errors)
	}
	// Exact in virtual time: the first refusal comes in the 110/s step,
	// the first over the limit (the window: ±10%).
	if onset.OnsetOfferedRate != 110 || onset.Count != 10 || math.Abs(onset.OnsetOfferedRate-limit) > 0.10*limit {
		t.Errorf("429 onset at %.1f/s offered, %d refused; want 110/s (%.0f/s ±10%%), 10", onset.OnsetOfferedRate, onset.Count, limit)
	}
	// Exact in virtual time: nothing refused up to the limit, and at 110/s
	// the 10 requests a second over it.
	for _, p := range out.Report.Steps {
		want := 0.0
		if float64(p.Rate) > limit {
			want = math.Round((float64(p.Rate)-limit)/float64(p.Rate)*1e6) / 1e6
		}
		if p.ErrorRate != want {
			t.Errorf("step %d at %v/s: error rate %v, want %v", p.Index, p.Rate, p.ErrorRate, want)
		}
	}
	if onset.Upstream != "gateway" || onset.Message != "Troppe richieste, riprova più tardi" || onset.Status != 429 || onset.Code != "RATE_LIMITED" {
		t.Errorf("mode %+v", onset)
	}
	sat := out.Report.Saturation
	if !strings.HasPrefix(sat.Reason, "errors over budget") || sat.Component != "request via gateway" {
		t.Errorf("saturation %+v", sat)
	}
}

func TestSaturateKnee(t *testing.T) {
	const knee = 100.0
	srv := kneeServer(t, knee, 5*time.Millisecond, 2*time.Millisecond)
	o := saturateOptions(t, srv.URL, 40, 20, 180, time.Second)
	// This server has no capacity limit: only its latency grows. Loose
	// criteria keep the latency ramp inside each step (which delays
	// completions a little) from ending the search before the plan does.
	o.SLO = reports.SLO{Quantile: 0.99, Latency: 5 * time.Second, ErrorBudget: 0.01}
	o.MinGoodput = 0.5
	out, err := Saturate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range out.Report.Steps {
		t.Logf("step %d %v/s: p50 %.1fms p99 %.1fms", p.Index, p.OfferedRate, p.Latency.P50, p.Latency.P99)
	}
	sat := out.Report.Saturation
	if sat.KneeRate == 0 || math.Abs(sat.KneeRate-knee) > 0.15*knee {
		t.Errorf("knee at %.1f/s, want %.0f/s ±15%%", sat.KneeRate, knee)
	}
	if len(out.Report.Steps) != 8 || !strings.HasPrefix(out.Report.Stopped, "reached --max 180.0/s") {
		t.Errorf("%d steps, stopped %q: want the whole plan", len(out.Report.Steps), out.Report.Stopped)
	}
}

func TestSaturateNamesTheStation(t *testing.T) {
	// The target fails past 100/s without saying why; the bank mock's
	// stations show nexi refusing while sia is fine.
	var ok, full atomic.Int64
	win := &window{span: 500 * time.Millisecond}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, admitted := win.add(time.Now(), func(n int) bool { return n <= 50 }); !admitted {
			full.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		ok.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(target.Close)
	o := saturateOptions(t, target.URL, 80, 20, 160, time.Second)
	// What mocks/bank's StationScraper reads from the bank mocks' /metrics.
	o.Stations = func(context.Context) ([]reports.StationSample, error) {
		return []reports.StationSample{
			{Name: "nexi", Kind: "processor", Outcomes: map[string]float64{"ok": float64(ok.Load()), "queue_full": float64(full.Load())}, Servers: 4},
			{Name: "sia", Kind: "processor", Outcomes: map[string]float64{"ok": float64(ok.Load()), "queue_full": 0}, Servers: 4},
		}, nil
	}
	o.StationEvery = 200 * time.Millisecond
	out, err := Saturate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	sat := out.Report.Saturation
	if sat.Upstream != "nexi" || sat.Component != "request via nexi" {
		t.Errorf("saturation %+v, want the component named after nexi", sat)
	}
	if st := out.Report.Steps[0].Stations; len(st) != 2 || st[0].Name != "nexi" || st[0].Requests == 0 {
		t.Errorf("first step's stations: %+v", st)
	}
}

func TestSaturateInterrupted(t *testing.T) {
	srv := okServer(t)
	o := saturateOptions(t, srv.URL, 50, 50, 0, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel) // during the second step
	start := time.Now()
	out, err := Saturate(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("interrupted search took %s", took)
	}
	if !out.Interrupted || !out.Report.Interrupted || !out.Summary.Interrupted || out.Report.Stopped != "interrupted" {
		t.Errorf("outcome not marked interrupted: %+v", out.Report)
	}
	if len(out.Report.Steps) != 1 || !out.Report.Steps[0].Pass {
		t.Errorf("steps %+v, want the first one only, held", out.Report.Steps)
	}
	if out.Report.Saturation == nil || out.Report.Saturation.Saturated {
		t.Errorf("saturation %+v, want not reached", out.Report.Saturation)
	}
	if out.Summary.Requests <= out.Report.Steps[0].Requests {
		t.Errorf("summary has %d requests: the interrupted step's must count too", out.Summary.Requests)
	}
	for _, name := range []string{SaturationFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(out.Dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestSaturatePlan(t *testing.T) {
	tests := []struct {
		name              string
		start, step, top  float64
		d                 time.Duration
		want              []float64
		bad               string // in the error
		shard, noScenario bool
		minGoodput        float64
	}{
		{name: "on the grid", start: 100, step: 50, top: 300, d: time.Second, want: []float64{100, 150, 200, 250, 300}},
		{name: "max played last", start: 100, step: 30, top: 200, d: time.Second, want: []float64{100, 130, 160, 190, 200}},
		{name: "one step", start: 100, step: 30, top: 100, d: time.Second, want: []float64{100}},
		{name: "fractional", start: 0.5, step: 0.25, top: 1, d: time.Second, want: []float64{0.5, 0.75, 1}},
		{name: "short step", start: 100, step: 10, top: 200, d: 500 * time.Millisecond, bad: "shorter than 1s"},
		{name: "zero step never reaches max", start: 100, step: 0, top: 200, d: time.Second, bad: "--step"},
		{name: "negative step", start: 100, step: -10, top: 200, d: time.Second, bad: "--step"},
		{name: "max below start", start: 100, step: 10, top: 50, d: time.Second, bad: "below --start"},
		{name: "too many steps", start: 1, step: 1, top: 1000, d: time.Second, bad: "more than 100"},
		{name: "zero start", start: 0, step: 10, top: 100, d: time.Second, bad: "--start"},
		{name: "sharded", start: 100, step: 10, top: 200, d: time.Second, bad: "sharded", shard: true},
		{name: "no scenario", start: 100, step: 10, top: 200, d: time.Second, bad: "no scenario", noScenario: true},
		{name: "goodput share above 1", start: 100, step: 10, top: 200, d: time.Second, bad: "minimum goodput", minGoodput: 95},
	}
	srv := okServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := saturateOptions(t, srv.URL, tt.start, tt.step, tt.top, tt.d)
			if tt.bad == "" {
				got, err := o.Plan()
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("plan = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if tt.shard {
				o.Run.Shard = Shard{K: 1, N: 2}
			}
			if tt.noScenario {
				o.Run.Scenario = nil
			}
			o.MinGoodput = tt.minGoodput
			dir := filepath.Join(o.Run.Dir, "search")
			o.Run.Dir = dir
			_, err := Saturate(context.Background(), o)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.bad) {
				t.Fatalf("err = %v, want bad input naming %q", err, tt.bad)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("a bad plan created the run folder")
			}
		})
	}
	t.Run("open plan", func(t *testing.T) {
		o := saturateOptions(t, srv.URL, 10, 10, 0, time.Second)
		got, err := o.Plan()
		if err != nil || len(got) != MaxPlanSteps || got[MaxPlanSteps-1] != 1000 {
			t.Errorf("open plan: %d steps up to %v, %v", len(got), got[len(got)-1], err)
		}
	})
}

// A step that fails while the generator itself is the limit measured the
// generator's ceiling, not the target's saturation: the search stops
// there, says so, and leaves the step out of the analysis. A step that
// held with the generator limited stands.
func TestSaturateStopsAtGeneratorLimit(t *testing.T) {
	srv := limitServer(t, 125, 500*time.Millisecond) // 250/s: the third step fails
	o := saturateOptions(t, srv.URL, 100, 100, 500, time.Second)
	var progress bytes.Buffer
	o.Run.Progress = &progress
	steps := 0
	o.newMeter = func() *GeneratorMeter {
		steps++
		share := 0.1
		if steps >= 2 {
			share = 1 // from the second step on, the process burns every core
		}
		created := time.Now()
		return &GeneratorMeter{clock: time.Now, cpuTime: func() time.Duration {
			return time.Duration(float64(time.Since(created)) * share * float64(runtime.GOMAXPROCS(0)))
		}}
	}
	out, err := Saturate(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	if len(rep.Steps) != 2 || rep.Steps[0].Rate != 100 || rep.Steps[1].Rate != 200 || !rep.Steps[1].Pass || steps != 3 {
		t.Fatalf("%d meters, steps %+v; want the two before the generator's limit", steps, rep.Steps)
	}
	if !strings.HasPrefix(rep.GeneratorLimit, "the generator was the limit at 300.0/s (") || !strings.Contains(rep.GeneratorLimit, "CPU: the process used 100.00%") {
		t.Errorf("generator limit %q\n%s", rep.GeneratorLimit, progress.String())
	}
	if !strings.HasPrefix(rep.Stopped, rep.GeneratorLimit) || !strings.Contains(rep.Stopped, "--shard") {
		t.Errorf("stopped %q", rep.Stopped)
	}
	if sat := rep.Saturation; sat == nil || sat.Saturated || sat.FailedRate != 0 || sat.OfferedRate > 205 {
		t.Errorf("the generator's limit reported as the target's saturation: %+v", sat)
	}
	if !out.Summary.Generator.Limited() {
		t.Errorf("summary generator %+v", out.Summary.Generator)
	}
	if !strings.Contains(progress.String(), "step 3: failed with the generator LIMITED, so not the target's saturation") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestGeneratorFailedStep(t *testing.T) {
	s := &search{crit: reports.Criteria{SLO: reports.DefaultSLO}}
	plan := reports.StepPlan{Index: 1, Rate: 100, Duration: time.Second}
	timing := reports.StepTiming{Offered: 100, Achieved: 100, InFlight: 2, LittleInFlight: 2, Goodput: 100}
	lagOnly := &reports.Generator{Cores: 2, CPUPeak: 0.3, Arrivals: 100, LateArrivals: 40}
	lagOnly.Judge()
	starved := &reports.Generator{Cores: 2, CPUPeak: 0.99, Arrivals: 100}
	starved.Judge()
	healthy := &reports.Generator{Cores: 2, CPUPeak: 0.3, Arrivals: 100}
	healthy.Judge()
	slow := func(g *reports.Generator, sendP99 float64) *reports.Summary {
		return &reports.Summary{Requests: 100, OK: 100, Arrivals: 100, JourneysCompleted: 100, SuccessRatio: 1,
			Latency: reports.LatencyMs{P50: 900, P99: 2000, Max: 2000}, SendLatency: reports.LatencyMs{P50: 5, P99: sendP99, Max: sendP99}, Generator: g}
	}
	failing := &reports.Summary{Requests: 100, OK: 50, Arrivals: 100, JourneysCompleted: 50, SuccessRatio: 0.5,
		Latency: reports.LatencyMs{P99: 10}, SendLatency: reports.LatencyMs{P99: 10}, Generator: lagOnly}
	tests := []struct {
		name string
		sum  *reports.Summary
		want bool
	}{
		{"late dispatch made p99 fail, the target was fast", slow(lagOnly, 10), true},
		{"late dispatch, but the target was slow too", slow(lagOnly, 1500), false},
		{"late dispatch, and the target failed requests", failing, false},
		{"the generator out of CPU", slow(starved, 1500), true},
		{"a healthy generator", slow(healthy, 10), false},
		{"no figures", slow(nil, 10), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := reports.MeasureStep(plan, tt.sum, timing, s.crit); p.Pass {
				t.Fatalf("the step passed: %+v", p)
			}
			if got := s.generatorFailed(plan, tt.sum, timing); got != tt.want {
				t.Fatalf("generatorFailed = %v, want %v", got, tt.want)
			}
		})
	}
}
