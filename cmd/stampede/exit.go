package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/mocks/stack"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/k8s"
	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/merge"
	"github.com/stampede-load/stampede/reports/render"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios"
	"github.com/stampede-load/stampede/sim"
)

// Exit codes, documented in the README; CI pipelines script against them.
const (
	exitOK          = 0   // ran, and every gate passed
	exitRuntime     = 1   // something failed while running
	exitBadInput    = 2   // flags, scenario, config or target are wrong
	exitGateFailed  = 3   // ran, and a gate failed
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

var (
	// errInterrupted ends a run stopped by a signal, after its summary.
	errInterrupted = errors.New("interrupted")
	// errGateFailed ends a run whose gates did not all pass.
	errGateFailed = errors.New("a gate failed")
	// errUsage marks a command line cobra could not make sense of.
	errUsage = errors.New("usage")
)

// badInput lists the errors the packages mark as the user's to fix.
var badInput = []error{errUsage, reports.ErrNotComparable, scenarios.ErrInvalid, replay.ErrBadInput, bank.ErrInvalidConfig, stack.ErrUnknownProfile, sim.ErrInvalidModel, merge.ErrBadInput, render.ErrBadInput, k8s.ErrBadInput}

// exitCode maps an error returned by execute to the process exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errGateFailed):
		return exitGateFailed
	}
	for _, bad := range badInput {
		if errors.Is(err, bad) {
			return exitBadInput
		}
	}
	if _, ok := errors.AsType[*resultsfile.LineError](err); ok {
		return exitBadInput // a results file that is not one: file:line says where
	}
	return exitRuntime
}

// Bounds of the error text printed on exit: problems quote the input, and
// the input may be megabytes of one line or a file that is not a scenario.
const (
	maxErrorLineBytes = 300
	maxErrorLines     = 40
)

// errorText is err's message made safe for a terminal: every line is
// stripped of control characters and cut to maxErrorLineBytes, and at most
// maxErrorLines lines are kept.
func errorText(err error) string {
	lines := strings.Split(err.Error(), "\n")
	more := 0
	if len(lines) > maxErrorLines {
		lines, more = lines[:maxErrorLines], len(lines)-maxErrorLines
	}
	for i, l := range lines {
		l = reports.Printable(l)
		if len(l) > maxErrorLineBytes {
			cut := maxErrorLineBytes
			for cut > 0 && !utf8.RuneStart(l[cut]) {
				cut--
			}
			l = l[:cut] + "..."
		}
		lines[i] = l
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("(and %d more lines)", more))
	}
	return strings.Join(lines, "\n")
}

// ended maps how a run, a search or a simulation ended to what its command
// returns: an error writing its output first, then an interruption (exit
// 130), then a lost gate (exit 3).
func ended(err error, interrupted, passed bool) error {
	switch {
	case err != nil:
		return err
	case interrupted:
		return errInterrupted
	case !passed:
		return errGateFailed
	}
	return nil
}
