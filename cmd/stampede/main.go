// Command stampede replays a launch-day stampede against an enrollment stack,
// finds where it saturates and how it fails, and runs the bank mocks and the
// reference stack to replay against. See the README for the commands and the
// exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A load generator's live heap is small and flat (results stream to
	// disk), so collecting at 4x it rather than 2x halves GC work on the
	// hot path at a cost of a few megabytes; with thousands of journeys in
	// flight the engine lowers it again (paceGC). GOGC in the environment
	// wins.
	if !gogcSet() {
		debug.SetGCPercent(400)
	}
	ctx, stop := interruptible()
	err := execute(ctx, &state{
		args:     os.Args[1:],
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		terminal: isTerminal(os.Stdout),
	})
	stop()
	code := exitCode(err)
	if err != nil && code != exitInterrupted {
		fmt.Fprintln(os.Stderr, "stampede:", errorText(err))
	}
	os.Exit(code)
}

// gogcSet reports whether the environment chose the collector's
// percentage, which then holds for the whole process.
func gogcSet() bool { return os.Getenv("GOGC") != "" }

// paceGC says whether a run may lower the collector's percentage while
// many journeys are in flight (replay.Options.PaceGC).
func paceGC() bool { return !gogcSet() }

// interruptible returns a context cancelled by the first SIGINT, SIGTERM
// or SIGHUP (the terminal went away),
// so a run can stop cleanly; a second signal exits at once with code 130,
// leaving the results file as it was last flushed (at most a second old).
func interruptible() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	done := make(chan struct{}) // closed when the command has finished
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-done:
			return
		}
		// Not ctx.Done(): it is closed now, and the second signal must
		// still be heard.
		select {
		case <-sig:
			fmt.Fprintln(os.Stderr, "stampede: second interrupt, exiting now")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() { signal.Stop(sig); close(done); cancel() }
}

// isTerminal reports whether f is a character device (a terminal), where
// live progress redraws one line instead of printing a line every few seconds.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
