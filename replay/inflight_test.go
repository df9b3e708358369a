package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios"
)

// holdTargetEnv makes this test binary a target that holds every request
// until its standard input closes (see TestHoldTargetProcess).
const holdTargetEnv = "STAMPEDE_TEST_HOLD_TARGET"

// TestHoldTargetProcess is the target of TestInFlightMemory, in its own
// process so that the server's connections are not on the measured heap.
// It prints its address, then "held N" each time the requests it holds
// reach a multiple of 50, and answers them all once stdin closes.
func TestHoldTargetProcess(t *testing.T) {
	if os.Getenv(holdTargetEnv) == "" {
		t.Skip("the target process of TestInFlightMemory")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(release) }()
	var held atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := held.Add(1); n%50 == 0 {
			fmt.Printf("held %d\n", n)
		}
		<-release
		io.WriteString(w, `{"ok":true}`)
	})}
	fmt.Printf("addr %s\n", ln.Addr())
	go srv.Serve(ln)
	<-release
	srv.Shutdown(context.Background()) // waits for the held requests to be answered
}

// holdTarget is the child process of TestHoldTargetProcess.
type holdTarget struct {
	URL   string
	lines *bufio.Scanner
	stdin io.Closer
	cmd   *exec.Cmd
}

func startHoldTarget(t *testing.T) *holdTarget {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldTargetProcess$")
	cmd.Env = append(os.Environ(), holdTargetEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &holdTarget{lines: bufio.NewScanner(stdout), stdin: stdin, cmd: cmd}
	t.Cleanup(func() { h.release(); cmd.Wait() })
	if !h.lines.Scan() || !strings.HasPrefix(h.lines.Text(), "addr ") {
		t.Fatalf("hold target: no address (%v)", h.lines.Err())
	}
	h.URL = "http://" + strings.TrimPrefix(h.lines.Text(), "addr ") + "/"
	return h
}

// waitHeld waits until the target says it holds n requests.
func (h *holdTarget) waitHeld(t *testing.T, n int) {
	t.Helper()
	for h.lines.Scan() {
		if h.lines.Text() == "held "+strconv.Itoa(n) {
			return
		}
	}
	t.Fatalf("hold target ended before holding %d requests (%v)", n, h.lines.Err())
}

func (h *holdTarget) release() { h.stdin.Close() }

// inFlightFootprint is what the process holds after a collection.
type inFlightFootprint struct {
	heap, stacks uint64 // bytes
	goroutines   int
}

func footprint() inFlightFootprint {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return inFlightFootprint{heap: s[0].Value.Uint64(), stacks: s[1].Value.Uint64(), goroutines: runtime.NumGoroutine()}
}

// heldRun runs n journeys of one request each against a fresh hold target
// and returns the process's footprint once the target holds them all.
func heldRun(t *testing.T, n int) inFlightFootprint {
	h := startHoldTarget(t)
	// Timeout and grace long enough that no request is cut off before
	// the target holds them all, however slow the machine.
	sc, err := scenarios.Quick(scenarios.QuickOptions{URL: h.URL, Rate: 2000, Duration: time.Duration(n) * time.Second / 2000,
		Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), Results: ResultsNone,
			Grace: time.Minute})
		done <- err
	}()
	h.waitHeld(t, n)
	f := footprint()
	h.release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return f
}

// TestInFlightMemory pins what one journey waiting on its response holds
// in the generator's process: its share of the live heap (the connection's
// buffers, the transport's and the journey's state) and its goroutines
// (the journey's, and the connection's reader and writer). Two runs, of
// 100 and 400 journeys held by the target at once, so that what a run
// holds whatever its size cancels out. Each journey's stacks are logged,
// not asserted: their size is the runtime's choice.
func TestInFlightMemory(t *testing.T) {
	small, large := heldRun(t, 100), heldRun(t, 400)
	n := float64(400 - 100)
	heap := (float64(large.heap) - float64(small.heap)) / n
	stacks := (float64(large.stacks) - float64(small.stacks)) / n
	goroutines := float64(large.goroutines-small.goroutines) / n
	t.Logf("per journey in flight: heap %.0f B, stacks %.0f B, %.2f goroutines", heap, stacks, goroutines)
	if heap > maxHeapPerJourney {
		t.Errorf("each journey in flight holds %.0f B of live heap, want at most %d", heap, maxHeapPerJourney)
	}
	if goroutines > 3.05 {
		t.Errorf("each journey in flight has %.2f goroutines, want 3 (its own, the connection's reader and writer)", goroutines)
	}
}

// maxHeapPerJourney is the live heap one journey in flight may hold
// (bytes): 8.5 KB with the connection buffers of newClient, 15 KB with the transport's
// default 4 KB ones.
const maxHeapPerJourney = 9728
