// Command report measures `stampede report` on a run folder of many
// results, the figures the README gives:
//
//	go run ./bench/report -results 1000000
//
// It writes a synthetic run folder (a launch-like mix of journeys, steps,
// error modes, upstreams and retries over ten minutes, with a fixed seed),
// builds stampede from this checkout, and times `stampede report DIR` in
// the table format and in HTML, reporting wall time, CPU time and peak RSS
// of the stampede process (from rusage). It starts no server and sends no
// traffic.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

func main() {
	n := flag.Int("results", 1_000_000, "results in the synthetic run folder")
	keep := flag.Bool("keep", false, "keep the work folder")
	bin := flag.String("stampede", "", "stampede binary (default: built from this checkout)")
	flag.Parse()
	if err := run(*n, *keep, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "bench/report:", err)
		os.Exit(1)
	}
}

func run(n int, keep bool, bin string) error {
	if n < 1 || n > 50_000_000 {
		return fmt.Errorf("-results %d: want 1 to 50,000,000", n)
	}
	work, err := os.MkdirTemp("", "stampede-bench-report-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if bin == "" {
		bin = filepath.Join(work, "stampede")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/stampede").CombinedOutput(); err != nil {
			return fmt.Errorf("build stampede: %v\n%s", err, out)
		}
	}
	dir := filepath.Join(work, "run")
	size, err := writeRun(dir, n)
	if err != nil {
		return err
	}
	fmt.Printf("run folder: %d results, results.jsonl %.0f MB\n", n, float64(size)/1e6)
	for _, format := range []string{"table", "html"} {
		out := filepath.Join(work, "report."+format)
		cmd := exec.Command(bin, "report", dir, "--format", format, "--out", out)
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 { // 3: the synthetic run fails its gate, as meant
				return fmt.Errorf("stampede report --format %s: %w", format, err)
			}
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fi, _ := os.Stat(out)
		fmt.Printf("stampede report --format %-5s  wall %6.2f s  cpu %6.2f s  peak RSS %4d MB  output %d KB\n",
			format, wall.Seconds(), cpu.Seconds(), ru.Maxrss/1024, fi.Size()/1024)
	}
	return nil
}

// journey is the synthetic mix: each arrival walks these steps.
var steps = []struct {
	name, method, url, upstream string
	failEvery                   int // one in failEvery fails when the load is past half the peak
	mode                        string
}{
	{"login", "POST", "http://127.0.0.1:8080/api/v1/session", "", 0, ""},
	{"accept-terms", "POST", "http://127.0.0.1:8080/api/v1/citizen", "", 0, ""},
	{"bancomat-search", "GET", "http://127.0.0.1:8080/api/v1/bancomat/cards?abi=03069", "sia", 5, "BANCOMAT_SEARCH_FAILED"},
	{"add-card", "POST", "http://127.0.0.1:8080/api/v1/wallet/cards", "nexi", 7, "CARD_SAVE_FAILED"},
	{"list-wallet", "GET", "http://127.0.0.1:8080/api/v1/wallet", "", 0, ""},
}

// writeRun writes a run folder of n results: results.jsonl and run.json,
// and a summary.json with a gate, as a run leaves them.
func writeRun(dir string, n int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(8, 12))
	t0 := time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)
	const span = 600.0 // seconds
	var line []byte
	arrivals := n / len(steps)
	for i := range n {
		a := i / len(steps)
		st := steps[i%len(steps)]
		// Arrivals ramp up to the middle of the span and back down.
		at := span * math.Sqrt(float64(a)/float64(arrivals)) / 2
		if a > arrivals/2 {
			at = span - span*math.Sqrt(1-float64(a)/float64(arrivals))/math.Sqrt2
		}
		due := t0.Add(time.Duration((at + float64(i%len(steps))*0.4) * float64(time.Second)))
		load := 1 - math.Abs(at-span/2)/(span/2)
		lat := time.Duration((1 + 40*load*load) * rng.ExpFloat64() * float64(time.Millisecond))
		r := reports.Result{Seq: uint64(a), Journey: "enroll", Step: st.name, User: uint64(a), Attempt: 1, Intended: due,
			Sent: due.Add(50 * time.Microsecond), Method: st.method, URL: st.url, Code: 200, OK: true, BytesOut: 96, BytesIn: 512,
			Arrival: i%len(steps) == 0, JourneyDone: i%len(steps) == len(steps)-1}
		if st.failEvery > 0 && load > 0.5 && rng.IntN(st.failEvery) == 0 {
			r.Code, r.OK, r.Upstream, r.ErrorCode = 502, false, st.upstream, st.mode
			r.Message = "Non siamo riusciti a completare l'operazione"
			lat += 3 * time.Second
			if rng.IntN(4) == 0 {
				r.Attempt = 2
			}
		}
		r.Latency, r.SendLatency = lat, lat-50*time.Microsecond
		line = resultsfile.AppendResult(line[:0], "launch-day", &r)
		if _, err := bw.Write(line); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"scenario":"launch-day","time_scale":1,"rate_scale":1}`+"\n"), 0o644); err != nil {
		return 0, err
	}
	summary := `{"scenario":"launch-day","source":"replay","duration_s":600,"slo":"p99=800ms,errors=1%",` +
		`"gates":[{"expr":"p99<800ms","metric":"p99","threshold":800,"actual":0,"pass":false}]}` + "\n"
	return fi.Size(), os.WriteFile(filepath.Join(dir, "summary.json"), []byte(summary), 0o644)
}
