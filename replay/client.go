package replay

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/stampede-load/stampede/scenarios"
)

// newClient builds the HTTP client of a run from the scenario's options.
//
// Protocol: "auto" (the default) speaks HTTP/2 when a TLS server offers it
// through ALPN and HTTP/1.1 otherwise, as a browser or the IO app would;
// vegeta's library, by contrast, stays on HTTP/1.1 unless told. "1.1" never
// upgrades; "2" requires HTTP/2 over TLS. Connections are kept alive and
// pooled per host up to maxConns, so the generator does not pay a handshake
// per request; proxies from the environment are ignored so that a load test
// measures the target, not a proxy. Timeouts are per request (the step's, or
// the scenario's default), set on each request's context.
func newClient(h scenarios.HTTPOptions, maxConns int) (*http.Client, error) {
	tlsConf := &tls.Config{InsecureSkipVerify: h.Insecure} //nolint:gosec // opt-in for staging certificates
	if h.CACert != "" {
		pem, err := os.ReadFile(h.CACert)
		if err != nil {
			return nil, fmt.Errorf("%w: http.ca_cert: %w", ErrBadInput, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: http.ca_cert %s: no PEM certificate in it", ErrBadInput, h.CACert)
		}
		tlsConf.RootCAs = pool
	}
	if h.ClientCert != "" || h.ClientKey != "" {
		cert, err := tls.LoadX509KeyPair(h.ClientCert, h.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("%w: http.client_cert/client_key: %w", ErrBadInput, err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ReadBufferSize:        connReadBuffer,
		WriteBufferSize:       connWriteBuffer,
	}
	switch h.Version {
	case "", "auto", "2":
		tr.ForceAttemptHTTP2 = true
		if h.Version == "2" {
			tlsConf.NextProtos = []string{"h2"}
		}
	case "1.1":
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	default:
		return nil, fmt.Errorf("%w: http.version %q: want auto, 1.1 or 2", ErrBadInput, h.Version)
	}
	return &http.Client{
		Transport: tr,
		// A journey sees redirects as responses: a 302 to a login page is
		// an outcome to report, not something to follow silently.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// connReadBuffer and connWriteBuffer size each connection's buffers
// (bytes). Every journey in flight holds a connection, and the transport's
// default 4 KB each were a fifth of what a journey in flight held. A
// response's head and a small JSON body fit in 512 bytes; larger bodies are
// read past the buffer straight into the journey's, and a longer head
// takes another read. A request's head and a small body fit in 1 KB, so
// that it leaves in one write.
const (
	connReadBuffer  = 512
	connWriteBuffer = 1 << 10
)

// checkReachable dials the target once before the run, so that a wrong port
// or host is reported as bad input naming the URL rather than as a run full
// of refused connections.
func checkReachable(target string, timeout time.Duration) error {
	u, err := parseTarget(target)
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return fmt.Errorf("%w: target %s is unreachable: %w", ErrBadInput, target, err)
	}
	return conn.Close()
}

// parseTarget parses a base URL and gives its host a port, for dialling.
func parseTarget(target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: target %q is not an http:// or https:// URL", ErrBadInput, target)
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}
