package main

import (
	"context"
	"io"
	"net"
)

// state is the process as the commands see it: arguments and output streams
// are injected so that tests run the whole CLI in-process.
type state struct {
	args     []string
	stdout   io.Writer
	stderr   io.Writer
	terminal bool // stdout is a terminal

	// dial replaces the engine's dialer (replay.Options.Dial): tests run
	// the command line against a target on an in-memory network.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// execute runs the command line in st.
func execute(ctx context.Context, st *state) error {
	root := newCmdRoot(st)
	root.SetArgs(st.args)
	root.SetOut(st.stdout)
	root.SetErr(st.stderr)
	return root.ExecuteContext(ctx)
}
