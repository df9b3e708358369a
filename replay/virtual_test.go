package replay

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// A virtual target serves a handler over an in-memory network inside a
// testing/synctest bubble: the engine's connections are net.Pipe pairs,
// so every wait (the pacer's, the handler's service time, the client's
// reads) is on the bubble's clock, and a test measures the same figures
// however loaded the machine is. Only the engine's reachability check
// dials a real loopback listener, made outside the bubble.

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

// memListener is a net.Listener whose connections come from its dial.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

// dial is the engine's dialer: one end of a pipe for the client, the
// other accepted by the server.
func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	server.Close()
	client.Close()
	return nil, net.ErrClosed
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "memory" }

// serveVirtual serves h on an in-memory listener inside the current
// bubble and returns the engine's dialer; stop closes the server and
// waits for it.
func serveVirtual(h http.Handler) (dial func(ctx context.Context, network, addr string) (net.Conn, error), stop func()) {
	ln := newMemListener()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	return ln.dial, func() {
		srv.Close()
		<-served
	}
}

// idleMeter is a generator meter that reads the bubble's clock and no CPU
// time: in virtual time the generator is never late, and the process's
// real CPU time means nothing against the bubble's seconds.
func idleMeter() *GeneratorMeter {
	return &GeneratorMeter{clock: time.Now, cpuTime: func() time.Duration { return 0 }}
}
