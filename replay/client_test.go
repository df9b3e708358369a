package replay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios"
)

// tlsServer records the protocol and client certificate of each request.
type tlsServer struct {
	*httptest.Server
	mu          sync.Mutex
	protos      map[string]int
	clientCerts int
}

func newTLSServer(t *testing.T, h2, requireClientCert bool) *tlsServer {
	s := &tlsServer{protos: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.protos[r.Proto]++
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.clientCerts++
		}
		s.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	s.EnableHTTP2 = h2
	if requireClientCert {
		s.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// writePEM writes the server's certificate as a CA file.
func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientKeyPair makes a self-signed client certificate and its key.
func clientKeyPair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stampede-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, "client.pem", "CERTIFICATE", der), writePEM(t, dir, "client.key", "EC PRIVATE KEY", kder)
}

func TestTLSAndProtocol(t *testing.T) {
	dir := t.TempDir()
	h2 := newTLSServer(t, true, false)
	h1only := newTLSServer(t, false, false)
	mtls := newTLSServer(t, true, true)
	certFile, keyFile := clientKeyPair(t, dir)
	tests := []struct {
		name      string
		srv       *tlsServer
		insecure  bool
		ca        bool
		version   string
		client    bool
		wantProto string
		wantCerts int
	}{
		{"HTTP/2 when the server offers it", h2, true, false, "auto", false, "HTTP/2.0", 0},
		{"HTTP/1.1 when it does not", h1only, true, false, "auto", false, "HTTP/1.1", 0},
		{"pinned to HTTP/1.1", h2, true, false, "1.1", false, "HTTP/1.1", 0},
		{"server verified with a CA file", h2, false, true, "", false, "HTTP/2.0", 0},
		{"client certificate", mtls, true, false, "auto", true, "HTTP/2.0", 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.srv.mu.Lock()
			clear(tt.srv.protos)
			tt.srv.clientCerts = 0
			tt.srv.mu.Unlock()
			sc := quick(t, tt.srv.URL+"/", 20, time.Second)
			sc.HTTP.Insecure = tt.insecure
			sc.HTTP.Version = tt.version
			if tt.ca {
				sc.HTTP.CACert = writePEM(t, t.TempDir(), "ca.pem", "CERTIFICATE", tt.srv.Certificate().Raw)
			}
			if tt.client {
				sc.HTTP.ClientCert, sc.HTTP.ClientKey = certFile, keyFile
			}
			out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if out.Summary.SuccessRatio != 1 {
				t.Fatalf("success %.2f: %+v", out.Summary.SuccessRatio, out.Summary.Errors)
			}
			tt.srv.mu.Lock()
			defer tt.srv.mu.Unlock()
			if tt.srv.protos[tt.wantProto] != 20 || len(tt.srv.protos) != 1 {
				t.Errorf("protocols seen %v, want 20 × %s", tt.srv.protos, tt.wantProto)
			}
			if tt.srv.clientCerts != tt.wantCerts {
				t.Errorf("%d requests carried a client certificate, want %d", tt.srv.clientCerts, tt.wantCerts)
			}
		})
	}
	t.Run("unverifiable certificate fails every request", func(t *testing.T) {
		sc := quick(t, h2.URL+"/", 10, time.Second)
		out, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if out.Summary.SuccessRatio != 0 || len(out.Summary.Errors) == 0 || out.Summary.Errors[0].Mode != "tls" {
			t.Fatalf("want every request failing as tls: %+v", out.Summary.Errors)
		}
	})
	t.Run("missing CA file is bad input", func(t *testing.T) {
		sc := quick(t, h2.URL+"/", 10, time.Second)
		sc.HTTP.CACert = filepath.Join(dir, "nope.pem")
		_, err := Run(context.Background(), Options{Scenario: sc, Target: sc.Target, Dir: t.TempDir()})
		if !errors.Is(err, ErrBadInput) {
			t.Fatalf("err = %v, want bad input", err)
		}
	})
}

// TestClientReadsHeadersLongerThanItsBuffers: the connections' small
// buffers (connReadBuffer, connWriteBuffer) bound memory, not what a
// request or response may carry.
func TestClientReadsHeadersLongerThanItsBuffers(t *testing.T) {
	long := strings.Repeat("x", 8*connReadBuffer)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Long", long)
		w.Write([]byte(r.Header.Get("X-Sent")))
	}))
	defer srv.Close()
	c, err := newClient(scenarios.HTTPOptions{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	sent := strings.Repeat("y", 8*connWriteBuffer)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Sent", sent)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Long") != long || string(body) != sent {
		t.Errorf("a header of %d bytes came back as %d, one of %d sent as %d", len(long), len(resp.Header.Get("X-Long")), len(sent), len(body))
	}
}
