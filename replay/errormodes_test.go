package replay

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// acceptOnce is a listener that takes one connection (the engine's
// reachability check) and then stops listening, so every later dial is
// refused.
type acceptOnce struct {
	net.Listener
	n atomic.Int32
}

func (l *acceptOnce) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if l.n.Add(1) == 1 {
		l.Listener.Close()
	}
	return c, err
}

// receivedWatch dials the engine's connections and tells, per connection
// (by the client's address), when the client has read want bytes from it.
type receivedWatch struct {
	want  int
	mu    sync.Mutex
	conns map[string]chan struct{} // closed once want bytes were read
}

// of returns the channel of the connection from client address addr.
func (w *receivedWatch) of(addr string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns == nil {
		w.conns = map[string]chan struct{}{}
	}
	if w.conns[addr] == nil {
		w.conns[addr] = make(chan struct{})
	}
	return w.conns[addr]
}

func (w *receivedWatch) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, left: w.want, done: w.of(c.LocalAddr().String())}, nil
}

// watchedConn closes done once left more bytes have been read from it.
type watchedConn struct {
	net.Conn
	left int
	done chan struct{}
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.left > 0 {
		if c.left -= n; c.left <= 0 {
			close(c.done)
		}
	}
	return n, err
}

// TestRunClassifiesTransportFailures replays against loopback servers that
// fail each way a target can, and checks the run's error modes: the
// classifier on Go's real error texts, through the engine.
func TestRunClassifiesTransportFailures(t *testing.T) {
	const partial = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"cards\":["
	received := &receivedWatch{want: len(partial)}
	hijack := func(w http.ResponseWriter) net.Conn {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return nil
		}
		return c
	}
	tests := []struct {
		name  string
		serve func(t *testing.T) *httptest.Server
		want  reports.ErrorMode
		dial  func(ctx context.Context, network, addr string) (net.Conn, error) // nil for the engine's
	}{
		{"reset before answering", func(t *testing.T) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(w); c != nil {
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
			}))
		}, reports.ModeReset, nil},
		{"reset mid-body", func(t *testing.T) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(w); c != nil {
					c.Write([]byte(partial))
					// Reset once the client has read the headers and the
					// start of the body, so the reset hits the body.
					select {
					case <-received.of(c.RemoteAddr().String()):
					case <-r.Context().Done():
					case <-time.After(10 * time.Second): // the client never read: its timeout fails the test
					}
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
			}))
		}, reports.ModeReset, received.dial},
		{"hang until the client gives up", func(t *testing.T) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			}))
		}, reports.ModeTimeout, nil},
		{"close before answering", func(t *testing.T) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c := hijack(w); c != nil {
					c.Close()
				}
			}))
		}, reports.ModeEOF, nil},
		{"close early, mid-body", func(t *testing.T) *httptest.Server {
			return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				w.Write([]byte(`{"cards":[`))
				w.(http.Flusher).Flush()
				if c := hijack(w); c != nil {
					c.Close()
				}
			}))
		}, reports.ModeEOF, nil},
		{"refused", func(t *testing.T) *httptest.Server {
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.Listener = &acceptOnce{Listener: srv.Listener}
			srv.Start()
			return srv
		}, reports.ModeRefused, nil},
		{"untrusted certificate", func(t *testing.T) *httptest.Server {
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
			srv.StartTLS()
			return srv
		}, reports.ModeTLS, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.serve(t)
			t.Cleanup(srv.Close)
			sc, err := scenarios.Quick(scenarios.QuickOptions{URL: srv.URL + "/v1/bancomat/pans", Rate: 20, Duration: 500 * time.Millisecond,
				Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), Grace: 5 * time.Second, Dial: tt.dial})
			if err != nil {
				t.Fatal(err)
			}
			s := out.Summary
			if s.Requests != 10 || len(s.Errors) != 1 {
				t.Fatalf("%d requests, modes %+v: want 10 failing one way", s.Requests, s.Errors)
			}
			e := s.Errors[0]
			if e.Mode != tt.want || e.Count != 10 || e.Example == "" || e.Step != "quick/request" {
				t.Errorf("mode %+v, want %q for all 10 (example %q)", e, tt.want, e.Example)
			}
		})
	}
}

// The application's own errors: the status, the code and the user-facing
// message of the JSON body, and the upstream the target blamed.
func TestRunClassifiesApplicationErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.Write([]byte(`{"ok":true}`))
			return
		}
		w.Header().Set("X-Upstream", "nexi")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"code":"CARD_SAVE_FAILED","message":"Si è verificato un errore temporaneo nel salvataggio di questa carta"}`))
	}))
	t.Cleanup(srv.Close)
	sc := quick(t, srv.URL+"/v1/wallet/cc", 20, 500*time.Millisecond)
	out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir(), MaxInflight: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Summary.Errors) != 1 {
		t.Fatalf("modes %+v", out.Summary.Errors)
	}
	e := out.Summary.Errors[0]
	want := reports.ErrorSummary{Mode: "http 503 CARD_SAVE_FAILED", Count: 5, Share: 0.5, Upstream: "nexi", Step: "quick/request",
		Status: 503, Code: "CARD_SAVE_FAILED", Message: "Si è verificato un errore temporaneo nel salvataggio di questa carta",
		Example: "Si è verificato un errore temporaneo nel salvataggio di questa carta"}
	e.OnsetS, e.OnsetOfferedRate = 0, 0
	if e != want {
		t.Errorf("mode\n got %+v\nwant %+v", e, want)
	}
	if got := strconv.FormatFloat(out.Summary.Errors[0].OnsetOfferedRate, 'f', 0, 64); got != "20" {
		t.Errorf("offered rate at onset %s/s, want 20/s", got)
	}
}
