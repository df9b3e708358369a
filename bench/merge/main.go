// Command merge measures the merge inputs of sharded runs: how big one
// shard's are for a long run without per-request results, and how long
// merging a fleet of shards takes.
//
//	go run ./bench/merge -rate 6000 -duration 1h -shards 10
//
// It generates one shard's results synthetically (a launch-day mix: ten
// steps, log-normal latencies around 40 ms with a tail, 1% failures in two
// modes) and feeds them through the same sinks a run uses (the
// accumulator and the latency interval writer), writes the shard's
// latency.hlog and counters.json, copies them as the other shards of the
// plan, and times reports/merge.Runs over all of them. It sends no
// traffic.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/merge:", err)
		os.Exit(1)
	}
}

var steps = []string{"login", "accept-terms", "set-iban", "list-banks", "bancomat-search", "cobadge-search", "cobadge-poll", "add-card", "list-wallet", "activate"}

func run() error {
	rate := flag.Int("rate", 6000, "requests per second of one shard")
	duration := flag.Duration("duration", time.Hour, "length of the run")
	shards := flag.Int("shards", 10, "shards to merge")
	keep := flag.Bool("keep", false, "keep the work folder")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the merge to this file")
	flag.Parse()
	if *rate < 1 || *shards < 1 || *duration <= 0 || *duration > 24*time.Hour {
		return fmt.Errorf("want a positive -rate and -shards and a -duration up to 24h")
	}
	work, err := os.MkdirTemp("", "stampede-bench-merge-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	}

	start := time.Date(2020, 12, 8, 9, 0, 0, 0, time.UTC)
	first := filepath.Join(work, "shard-1")
	began := time.Now()
	n, err := generate(first, start, *rate, *duration, *shards)
	if err != nil {
		return err
	}
	generated := time.Since(began)
	size := folderSize(first)
	fmt.Printf("one shard: %d requests (%s at %d/s) through the sinks in %s\n", n, *duration, *rate, generated.Round(time.Millisecond))
	fmt.Printf("one shard's merge inputs: %.1f MB (%s %.1f MB, %s %.1f MB)\n", mb(size),
		merge.IntervalsFile, mb(fileSize(filepath.Join(first, merge.IntervalsFile))), merge.CountersFile, mb(fileSize(filepath.Join(first, merge.CountersFile))))

	dirs := []string{first}
	for k := 2; k <= *shards; k++ {
		dir := filepath.Join(work, fmt.Sprint("shard-", k))
		if err := copyShard(first, dir, k, *shards); err != nil {
			return err
		}
		dirs = append(dirs, dir)
	}
	runtime.GC()
	if *profile != "" {
		pf, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	began = time.Now()
	cpu0 := cpuTime()
	m, err := merge.Runs(dirs, filepath.Join(work, "merged"))
	if err != nil {
		return err
	}
	took, cpu := time.Since(began), cpuTime()-cpu0
	s := m.Summary()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	fmt.Printf("merged %d shards (%d requests, p99 %.1f ms) in %s (CPU %s on %d cores); live heap of the merged run: %.1f MB\n",
		*shards, s.Requests, s.Latency.P99, took.Round(time.Millisecond), cpu.Round(time.Millisecond), runtime.GOMAXPROCS(0), mb(int64(ms.HeapInuse)))
	return nil
}

// generate writes one shard's merge inputs, shard 1 of the plan.
func generate(dir string, start time.Time, rate int, d time.Duration, shards int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(filepath.Join(dir, merge.IntervalsFile))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	acc := reports.NewAccumulator(reports.WithStart(start))
	iw := merge.NewIntervalWriter(f)
	sinks := reports.Sinks{acc, iw}
	rng := rand.New(rand.NewPCG(1, 2))
	total := int64(d.Seconds() * float64(rate))
	gap := time.Second / time.Duration(rate)
	var r reports.Result
	for i := range total {
		lat := time.Duration(math.Exp(math.Log(40e6)+0.6*rng.NormFloat64())) + time.Duration(rng.ExpFloat64()*float64(time.Millisecond))
		r = reports.Result{Seq: uint64(i / 10), User: uint64(i / 10), Journey: "enroll-and-add-card", Step: steps[i%10], Attempt: 1,
			Intended: start.Add(time.Duration(i) * gap), Latency: lat, SendLatency: lat, Code: 200, OK: true,
			Arrival: i%10 == 0, JourneyDone: i%10 == 9, BytesIn: 300, BytesOut: 120}
		r.Sent = r.Intended
		switch x := rng.IntN(200); x {
		case 0:
			r.OK, r.Code, r.ErrorCode, r.Upstream, r.JourneyDone = false, 503, "BANK_TIMEOUT", "nexi", false
		case 1:
			r.OK, r.Code, r.Error, r.JourneyDone = false, 0, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)", false
			r.Latency = 5 * time.Second
		}
		sinks.Add(&r)
	}
	if err := iw.Close(); err != nil {
		return 0, err
	}
	h := merge.Header{Scenario: "launch-day", Source: "replay", Seed: 1, Shard: fmt.Sprintf("1/%d", shards), StartAt: start, Duration: d,
		Gates: []string{"p99<800ms", "errors<1%"}}
	return total, merge.WriteCounters(filepath.Join(dir, merge.CountersFile), &merge.Counters{Header: h, Tally: acc.Tally()})
}

// copyShard makes dst shard k of n with src's content.
func copyShard(src, dst string, k, n int) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(src, merge.IntervalsFile))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dst, merge.IntervalsFile), b, 0o644); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(src, merge.CountersFile))
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := merge.DecodeCounters(f, f.Name())
	if err != nil {
		return err
	}
	c.Shard = fmt.Sprintf("%d/%d", k, n)
	return merge.WriteCounters(filepath.Join(dst, merge.CountersFile), c)
}

func folderSize(dir string) int64 {
	return fileSize(filepath.Join(dir, merge.IntervalsFile)) + fileSize(filepath.Join(dir, merge.CountersFile))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mb(n int64) float64 { return float64(n) / 1e6 }
