package replay

import "time"

// A virtual target serves a handler over an in-memory network
// (internal/memnet) inside a testing/synctest bubble: every wait (the
// pacer's, the handler's service time, the client's reads) is on the
// bubble's clock, and a test measures the same figures however loaded the
// machine is. Only the engine's reachability check dials a real loopback
// listener, made outside the bubble by memnet.Reachable.

// idleMeter is a generator meter that reads the bubble's clock and no CPU
// time: in virtual time the generator is never late, and the process's
// real CPU time means nothing against the bubble's seconds.
func idleMeter() *GeneratorMeter {
	return &GeneratorMeter{clock: time.Now, cpuTime: func() time.Duration { return 0 }}
}
