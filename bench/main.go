// Command bench measures stampede's load engine side by side with vegeta's
// CLI (and wrk when installed) against one trivial loopback HTTP server, in
// one run, so the figures compare on the same noisy machine:
//
//	go run ./bench -rate 6000/s -duration 20s
//
// For each tool it reports requests sent, achieved rate, CPU time per
// request (user+system of the tool's process, from rusage) and peak RSS.
// With -flat it also runs stampede for 1 and 10 minutes and compares peak
// RSS, to show memory stays flat with the run's length. With -metrics N it
// runs stampede alone, N times with its Prometheus metrics off and N times
// on, alternating, and reports what the metrics cost per request.
//
// It only ever sends traffic to the server it starts on 127.0.0.1, and each
// tool runs for a bounded duration.
//
// -ladder climbs a ladder of rates with stampede and vegeta side by side
// and prints the highest rate stampede held with a healthy generator;
// -inflight aims both at a target that holds each request (-hold) and
// prints each process's peak RSS per request in flight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stampede-load/stampede/reports"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	rate     string
	duration time.Duration
	vegeta   string
	stampede string
	flat     bool
	keep     bool
	metrics  int
	ladder   string
	inflight bool
	hold     time.Duration
	baseline string
}

// measurement is one tool's run.
type measurement struct {
	tool     string
	requests int
	achieved float64 // requests per second as the tool itself reports it; 0 to derive from elapsed
	elapsed  time.Duration
	cpu      time.Duration
	maxRSS   int64 // bytes
	note     string
	summary  *reports.Summary // stampede's summary.json, nil for the other tools
}

func run() error {
	var c config
	flag.StringVar(&c.rate, "rate", "6000/s", "arrival rate")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "length of each tool's run")
	flag.StringVar(&c.vegeta, "vegeta", "", "vegeta binary (default: installed with go install github.com/tsenart/vegeta/v12@v12.13.0 into a temporary folder)")
	flag.StringVar(&c.stampede, "stampede", "", "stampede binary (default: built from this checkout)")
	flag.BoolVar(&c.flat, "flat", false, "also compare stampede's peak RSS over 1-minute and 10-minute runs")
	flag.BoolVar(&c.keep, "keep", false, "keep the work folder")
	flag.IntVar(&c.metrics, "metrics", 0, "instead of comparing tools, run stampede N times with metrics off and N times on (scraped every second, pushed every 5s), alternating")
	flag.StringVar(&c.ladder, "ladder", "", "instead of comparing at one rate, climb these rates per second (e.g. 2000,4000,8000), stampede and vegeta's CLI side by side, -duration each, and print the highest rate each held")
	flag.BoolVar(&c.inflight, "inflight", false, "instead of the trivial target, one that holds each request for -hold: print each tool's peak RSS per request in flight")
	flag.DurationVar(&c.hold, "hold", 2*time.Second, "with -inflight: how long the target holds each request")
	flag.StringVar(&c.baseline, "baseline", "", "with -inflight: another stampede binary (an earlier build) to measure beside this one")
	flag.Parse()
	if c.duration <= 0 || c.duration > 15*time.Minute {
		return fmt.Errorf("-duration %s: want a positive duration up to 15m", c.duration)
	}
	perSecond, err := parsePerSecond(c.rate)
	if err != nil {
		return err
	}
	var rates []float64
	if c.ladder != "" {
		if rates, err = parseLadder(c.ladder); err != nil {
			return err
		}
	}

	work, err := os.MkdirTemp("", "stampede-bench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(work)
	}
	stampede := c.stampede
	if stampede == "" {
		stampede = filepath.Join(work, "stampede")
		if err := sh("go", "build", "-o", stampede, "./cmd/stampede"); err != nil {
			return fmt.Errorf("building stampede: %w", err)
		}
	}
	if c.vegeta == "" && c.metrics == 0 {
		c.vegeta = filepath.Join(work, "bin", "vegeta")
		if err := shEnv([]string{"GOBIN=" + filepath.Join(work, "bin")}, "go", "install", "github.com/tsenart/vegeta/v12@v12.13.0"); err != nil {
			return fmt.Errorf("installing vegeta: %w", err)
		}
	}

	if c.inflight {
		stampedes := []string{stampede}
		if c.baseline != "" {
			stampedes = append(stampedes, c.baseline)
		}
		fmt.Printf("%d cores\n", runtime.NumCPU())
		return inflightMemory(os.Stdout, stampedes, c.vegeta, work, c.rate, perSecond, c.duration, c.hold)
	}
	srv, url, err := startTarget()
	if err != nil {
		return err
	}
	defer srv.Close()
	if rates != nil {
		fmt.Printf("target %s, %s per tool and rate, %d cores\n\n", url, c.duration, runtime.NumCPU())
	} else {
		fmt.Printf("target %s, rate %s, %s per tool, %d cores\n\n", url, c.rate, c.duration, runtime.NumCPU())
	}
	if rates != nil {
		return ladder(os.Stdout, stampede, c.vegeta, work, url, rates, c.duration)
	}
	if c.metrics > 0 {
		return metricsCost(stampede, work, url, c.rate, perSecond, c.duration, c.metrics)
	}

	var ms []measurement
	m, err := runStampede(stampede, work, url, c.rate, c.duration)
	if err != nil {
		return err
	}
	ms = append(ms, m)
	if m, err = runVegeta(c.vegeta, work, url, perSecond, c.duration); err != nil {
		return err
	}
	ms = append(ms, m)
	if wrk, err := exec.LookPath("wrk"); err == nil {
		if m, err = runWrk(wrk, url, c.duration); err != nil {
			return err
		}
		ms = append(ms, m)
	} else {
		fmt.Println("wrk not installed (apt-get install wrk): skipped")
	}
	report(os.Stdout, ms, perSecond, c.duration)

	if c.flat {
		fmt.Println("\nmemory over run length (stampede):")
		var flat []measurement
		for _, d := range []time.Duration{time.Minute, 10 * time.Minute} {
			m, err := runStampede(stampede, work, url, c.rate, d)
			if err != nil {
				return err
			}
			m.tool = "stampede " + d.String()
			flat = append(flat, m)
		}
		report(os.Stdout, flat, perSecond, 0)
	}
	return nil
}

// startTarget serves a tiny fixed response on a loopback port.
func startTarget() (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	body := []byte(`{"ok":true}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String() + "/", nil
}

// runs numbers stampede's run folders.
var runs int

func runStampede(bin, work, url, rate string, d time.Duration, extra ...string) (measurement, error) {
	runs++
	out := filepath.Join(work, fmt.Sprintf("run-%s-%d", d, runs))
	args := append([]string{"run", "--url", url, "--rate", rate, "--duration", d.String(),
		"--out", out, "--quiet", "--format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	m, stdout, err := measure("stampede", cmd)
	if err != nil {
		return m, err
	}
	m.requests = jsonInt(stdout, `"requests":`)
	m.achieved = jsonFloat(stdout, `"achieved_rate":`)
	if m.summary, err = reports.DecodeSummary(strings.NewReader(stdout)); err != nil {
		return m, fmt.Errorf("stampede's summary: %w", err)
	}
	return m, nil
}

func runVegeta(bin, work, url string, perSecond float64, d time.Duration) (measurement, error) {
	results := filepath.Join(work, "vegeta.bin")
	m, _, err := measure(vegetaTool, runVegetaCmd(bin, results, url, perSecond, d))
	if err != nil {
		return m, err
	}
	rep, err := exec.Command(bin, "report", "-type", "json", results).Output()
	if err != nil {
		return m, fmt.Errorf("vegeta report: %w", err)
	}
	m.requests = jsonInt(string(rep), `"requests":`)
	m.achieved = jsonFloat(string(rep), `"rate":`)
	return m, nil
}

func runWrk(bin, url string, d time.Duration) (measurement, error) {
	cmd := exec.Command(bin, "-t1", "-c16", "-d", strconv.Itoa(int(d.Seconds()))+"s", url)
	m, stdout, err := measure("wrk (closed loop, max rate)", cmd)
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == "requests" {
			m.requests, _ = strconv.Atoi(f[0])
		}
	}
	m.note = "not paced: sends as fast as it can"
	return m, nil
}

// measure runs cmd to its end and reads its CPU time and peak RSS.
func measure(tool string, cmd *exec.Cmd) (measurement, string, error) {
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := measurement{tool: tool, elapsed: time.Since(start)}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 { // 3: a gate failed, still a run
			return m, "", fmt.Errorf("%s: %w: %s", tool, err, lastLine(stderr.String()))
		}
	}
	st := cmd.ProcessState
	m.cpu = st.UserTime() + st.SystemTime()
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024
	}
	return m, stdout.String(), nil
}

func report(w io.Writer, ms []measurement, perSecond float64, d time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\trequests\tachieved/s (own report)\tsent vs offered\tCPU µs/request\tpeak RSS MB\tnote")
	for _, m := range ms {
		achieved := m.achieved
		if achieved == 0 {
			achieved = float64(m.requests) / m.elapsed.Seconds()
		}
		vs := "-"
		if d > 0 && perSecond > 0 && !strings.HasPrefix(m.tool, "wrk") {
			vs = fmt.Sprintf("%+.2f%%", (float64(m.requests)/(perSecond*d.Seconds())-1)*100)
		}
		cpu := 0.0
		if m.requests > 0 {
			cpu = float64(m.cpu.Microseconds()) / float64(m.requests)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%.1f\t%.1f\t%s\n", m.tool, m.requests, achieved, vs, cpu,
			float64(m.maxRSS)/(1<<20), m.note)
	}
	tw.Flush()
}

func parsePerSecond(rate string) (float64, error) {
	n, unit, ok := strings.Cut(rate, "/")
	f, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || f <= 0 {
		return 0, fmt.Errorf("-rate %q: want N/s or N/m", rate)
	}
	switch unit {
	case "s":
		return f, nil
	case "m":
		return f / 60, nil
	}
	return 0, fmt.Errorf("-rate %q: want N/s or N/m", rate)
}

// jsonFloat finds the first number after key in a JSON text.
func jsonFloat(s, key string) float64 {
	i := strings.Index(s, key)
	if i < 0 {
		return 0
	}
	s = strings.TrimLeft(s[i+len(key):], " ")
	j := strings.IndexAny(s, ",}\n")
	if j < 0 {
		j = len(s)
	}
	f, _ := strconv.ParseFloat(strings.TrimSpace(s[:j]), 64)
	return f
}

// jsonInt finds the first integer after key in a JSON text, which is all the
// harness needs from the tools' summaries.
func jsonInt(s, key string) int {
	i := strings.Index(s, key)
	if i < 0 {
		return 0
	}
	s = strings.TrimLeft(s[i+len(key):], " ")
	j := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if j < 0 {
		j = len(s)
	}
	n, _ := strconv.Atoi(s[:j])
	return n
}

func sh(name string, args ...string) error { return shEnv(nil, name, args...) }

func shEnv(env []string, name string, args ...string) error {
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// repoRoot is the module root, where the harness is run from.
func repoRoot() string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return wd
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
