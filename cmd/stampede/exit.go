package main

import (
	"errors"

	"github.com/stampede-load/stampede/mocks/bank"
	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/reports/resultsfile"
	"github.com/stampede-load/stampede/scenarios"
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
var badInput = []error{errUsage, scenarios.ErrInvalid, replay.ErrBadInput, bank.ErrInvalidConfig}

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
