package reports

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestClassifyRealFailuresAfterHeaders covers what
// TestClassifyRealTransportErrors cannot see from client.Do alone: a server
// that closes early or resets in the middle of the body (the error comes
// from reading it, without the request's URL in front), a header timeout,
// and a TLS certificate the client does not trust.
func TestClassifyRealFailuresAfterHeaders(t *testing.T) {
	// partial sends the headers and part of the body, waits until the
	// client has the headers (headersRead closed), then closes or resets.
	partial := func(reset bool, headersRead <-chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(`{"cards":[`))
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			select {
			case <-headersRead:
			case <-time.After(10 * time.Second): // the client never came: its Get fails the test
			}
			if reset {
				conn.(*net.TCPConn).SetLinger(0)
			}
			conn.Close()
		}
	}
	block := make(chan struct{})
	closedRead, resetRead := make(chan struct{}), make(chan struct{})
	tests := []struct {
		name        string
		server      *httptest.Server
		client      *http.Client
		want        ErrorMode
		headersRead chan struct{} // the reading test closes it once it has the headers
	}{
		{"closed mid-body", httptest.NewServer(partial(false, closedRead)), &http.Client{}, ModeEOF, closedRead},
		{"reset mid-body", httptest.NewServer(partial(true, resetRead)), &http.Client{}, ModeReset, resetRead},
		{"header timeout", httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-block:
			}
		})), &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}, ModeTimeout, nil},
		{"untrusted certificate", quietTLSServer(), &http.Client{}, ModeTLS, nil},
	}
	defer close(block)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer tt.server.Close()
			resp, err := tt.client.Get(tt.server.URL)
			if err == nil {
				if tt.headersRead != nil {
					close(tt.headersRead)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if tt.headersRead == nil {
					t.Fatalf("the request succeeded with %s", resp.Status)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			if got := Classify(&Result{Error: err.Error()}); got != tt.want {
				t.Errorf("Classify(%q) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

// quietTLSServer is a TLS test server that does not log the handshakes
// its untrusting clients fail.
func quietTLSServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}
