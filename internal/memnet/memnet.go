// Package memnet is an in-memory network for tests that run a target and
// stampede's engine inside a testing/synctest bubble: connections are
// net.Pipe pairs, so every wait on them is on the bubble's clock and the
// figures a test measures do not depend on the machine's load.
//
// memnet owns only the listener and its dialer; it imports nothing of the
// project's.
package memnet

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Listener is a net.Listener whose connections come from its Dial.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Listen returns a listener with no connections yet.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next Dial, or for Close.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Dial; connections already made stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr names the network, not an address.
func (l *Listener) Addr() net.Addr { return addr{} }

// Dial connects to the listener whatever network and address it is given:
// the shape of http.Transport.DialContext. It waits for Accept.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
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

type addr struct{}

func (addr) Network() string { return "memory" }
func (addr) String() string  { return "memory" }

// Serve serves h on a new Listener in the caller's bubble and returns its
// Dial; stop closes the server and its connections and waits for it.
func Serve(h http.Handler) (dial func(ctx context.Context, network, addr string) (net.Conn, error), stop func()) {
	ln := Listen()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	return ln.Dial, func() {
		srv.Close()
		<-served
	}
}

// Reachable listens on loopback, outside any bubble, accepting and closing
// connections until the test ends, and returns its host:port: the address
// the engine's reachability check dials before a run whose requests go
// over the in-memory network.
func Reachable(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
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
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}
