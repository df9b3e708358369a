package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stampede-load/stampede/replay"
)

// Options configure Start.
type Options struct {
	Info Info

	// Addr is where to serve /metrics (--metrics-addr): HOST:PORT, or :PORT
	// for the loopback interface. Empty serves nothing.
	Addr string

	// RemoteWrite is a Prometheus remote-write URL
	// (--prometheus-remote-write) to push the series to every PushEvery
	// (default DefaultPushEvery). Empty pushes nothing.
	RemoteWrite string
	PushEvery   time.Duration
}

// DefaultPushEvery is how often the series are pushed by default.
const DefaultPushEvery = 5 * time.Second

// Start returns a sink for the run in o.Info, serving its series on o.Addr
// and pushing them to o.RemoteWrite as asked. An address that cannot be
// bound or a URL that does not parse is an error wrapping
// replay.ErrBadInput. The caller closes the sink once the run is over.
func Start(o Options) (*Sink, error) {
	var push *url.URL
	if o.RemoteWrite != "" {
		u, err := ParseRemoteWriteURL(o.RemoteWrite)
		if err != nil {
			return nil, err
		}
		push = u
	}
	if o.PushEvery < 0 {
		return nil, fmt.Errorf("%w: push interval %s must be positive", replay.ErrBadInput, o.PushEvery)
	}
	s := New(o.Info)
	if o.Addr != "" {
		addr, err := ParseAddr(o.Addr)
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%w: --metrics-addr %s: %w", replay.ErrBadInput, o.Addr, err)
		}
		s.srv = serve(ln, s)
	}
	if push != nil {
		every := o.PushEvery
		if every == 0 {
			every = DefaultPushEvery
		}
		s.push = newPusher(s.reg, s.wrapped, push, every)
		s.push.start()
	}
	return s, nil
}

// Addr is the address /metrics is served on, "" when it is not.
func (s *Sink) Addr() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.ln.Addr().String()
}

// Close stops the endpoint and the pusher and waits for them. It does not
// push: NoteSummary has pushed the run's last figures.
func (s *Sink) Close() error {
	if s.push != nil {
		s.push.stop()
	}
	if s.srv != nil {
		return s.srv.close()
	}
	return nil
}

// ParseAddr checks a --metrics-addr value, HOST:PORT or :PORT, and returns
// the address to listen on: :PORT listens on loopback only (127.0.0.1), so
// a run exposes nothing to the network unless a host is named.
func ParseAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%w: --metrics-addr %q: want HOST:PORT or :PORT, e.g. :9464", replay.ErrBadInput, addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("%w: --metrics-addr %q: port %q is not a number from 0 to 65535", replay.ErrBadInput, addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// ParseRemoteWriteURL checks a --prometheus-remote-write value: an http://
// or https:// URL with a host, such as
// http://127.0.0.1:9090/api/v1/write.
func ParseRemoteWriteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: --prometheus-remote-write %q is not an http:// or https:// URL, e.g. http://127.0.0.1:9090/api/v1/write", replay.ErrBadInput, s)
	}
	return u, nil
}

// Linger keeps the endpoint up after the run until a scrape that began
// after the call has been answered, for at most d: the scraper's copy of
// the final figures is then the summary's. It reports whether that scrape
// came. Without an endpoint, or before any result was added (the run never
// started), it returns false at once.
func (s *Sink) Linger(d time.Duration) bool {
	if s.srv == nil || d <= 0 || !s.added.Load() {
		return false
	}
	seen := s.srv.watch()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-seen:
		return true
	case <-t.C:
		return false
	}
}

// server serves the registry on /metrics.
type server struct {
	ln      net.Listener
	srv     *http.Server
	done    chan struct{} // closed when Serve has returned
	scrapes atomic.Int64  // scrapes begun

	mu    sync.Mutex
	after int64         // watch: the scrapes begun when it was called
	seen  chan struct{} // watch: closed once a later scrape has been answered
}

// watch returns a channel closed once a scrape begun after the call has
// been answered.
func (sv *server) watch() <-chan struct{} {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.after = sv.scrapes.Load()
	sv.seen = make(chan struct{})
	return sv.seen
}

// counted counts the scrapes h answers, for watch.
func (sv *server) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := sv.scrapes.Add(1)
		h.ServeHTTP(w, r)
		sv.mu.Lock()
		defer sv.mu.Unlock()
		if sv.seen != nil && n > sv.after {
			close(sv.seen)
			sv.seen = nil
		}
	})
}

func serve(ln net.Listener, s *Sink) *server {
	mux := http.NewServeMux()
	sv := &server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	mux.Handle("/metrics", sv.counted(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})))
	go func() {
		defer close(sv.done)
		sv.srv.Serve(ln)
	}()
	return sv
}

func (sv *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := sv.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = sv.srv.Close()
	}
	<-sv.done
	return err
}
