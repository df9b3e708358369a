package replay

import (
	"net"
	"testing"
	"time"
)

// A virtual target serves a handler over an in-memory network
// (internal/memnet) inside a testing/synctest bubble: every wait (the
// pacer's, the handler's service time, the client's reads) is on the
// bubble's clock, and a test measures the same figures however loaded the
// machine is. Only the engine's reachability check dials a real loopback
// listener, made outside the bubble.

// reachable listens on loopback, outside any bubble, and accepts and
// closes connections until the test ends: the address the engine's
// reachability check dials.
func reachable(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// idleMeter is a generator meter that reads the bubble's clock and no CPU
// time: in virtual time the generator is never late, and the process's
// real CPU time means nothing against the bubble's seconds.
func idleMeter() *GeneratorMeter {
	return &GeneratorMeter{clock: time.Now, cpuTime: func() time.Duration { return 0 }}
}
