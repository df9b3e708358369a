package main

import (
	"bytes"
	"context"
	"net"
	"testing"
)

// Tests that measure a target's speed or capacity through the command
// line run it in a testing/synctest bubble, the target served on an
// in-memory network (internal/memnet): the run's figures are then exact
// whatever the machine's load. Only the engine's reachability check dials
// a real loopback listener, made outside the bubble by memnet.Reachable.

// cliVia is cli with the engine's connections made by dial.
func cliVia(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error), args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := execute(context.Background(), &state{args: args, stdout: &stdout, stderr: &stderr, dial: dial})
	if err != nil {
		stderr.WriteString("stampede: " + err.Error() + "\n")
	}
	return exitCode(err), stdout.String(), stderr.String()
}
