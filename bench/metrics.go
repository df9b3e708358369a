package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// metricsCost runs stampede pairs times with its metrics off and pairs
// times on, alternating so that the machine's drift hits both alike. With
// metrics on, the harness scrapes /metrics every second, as a Prometheus
// would, and receives the remote-write pushes (every 5 s) on loopback.
func metricsCost(bin, work, url, rate string, perSecond float64, d time.Duration, pairs int) error {
	var pushes atomic.Int64
	recv, recvURL, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		pushes.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	if err != nil {
		return err
	}
	defer recv.Close()

	var ms []measurement
	var cpuOff, cpuOn float64
	for range pairs {
		m, err := runStampede(bin, work, url, rate, d)
		if err != nil {
			return err
		}
		m.tool = "stampede, metrics off"
		cpuOff += cpuPerRequest(m)
		ms = append(ms, m)

		addr, err := freeLoopbackAddr()
		if err != nil {
			return err
		}
		before := pushes.Load()
		stop := scrapeEvery("http://"+addr+"/metrics", time.Second)
		m, err = runStampede(bin, work, url, rate, d, "--metrics-addr", addr, "--prometheus-remote-write", recvURL+"/api/v1/write")
		scrapes := stop()
		if err != nil {
			return err
		}
		m.tool = "stampede, metrics on"
		m.note = fmt.Sprintf("%d scrapes, %d pushes", scrapes, pushes.Load()-before)
		cpuOn += cpuPerRequest(m)
		ms = append(ms, m)
	}
	report(os.Stdout, ms, perSecond, d)
	cpuOff /= float64(pairs)
	cpuOn /= float64(pairs)
	fmt.Printf("\nmetrics cost: %.1f µs of CPU per request off, %.1f on (mean of %d runs each): %+.1f%%\n",
		cpuOff, cpuOn, pairs, (cpuOn/cpuOff-1)*100)
	return nil
}

func cpuPerRequest(m measurement) float64 {
	if m.requests == 0 {
		return 0
	}
	return float64(m.cpu.Microseconds()) / float64(m.requests)
}

// serveLoopback serves h on a loopback port.
func serveLoopback(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// freeLoopbackAddr finds a loopback port free for the next run to listen on.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scrapeEvery GETs url every interval until the returned function is
// called, which returns how many scrapes succeeded.
func scrapeEvery(url string, every time.Duration) func() int {
	done, finished := make(chan struct{}), make(chan int)
	go func() {
		ok := 0
		tick := time.NewTicker(every)
		defer tick.Stop()
		client := &http.Client{Timeout: every}
		for {
			select {
			case <-done:
				finished <- ok
				return
			case <-tick.C:
				resp, err := client.Get(url)
				if err != nil {
					continue // the run has not started listening yet, or has ended
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok++
				}
			}
		}
	}()
	return func() int { close(done); return <-finished }
}
