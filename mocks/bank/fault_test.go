package bank

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stampede-load/stampede/scenarios/synth"
)

// freshClient opens a new connection per request, so a reset is seen as
// one (a pooled connection would be retried by the transport).
func freshClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// withFaults returns fastConfig with nexi's station changed by mod.
func withNexi(mod func(*ProcessorConfig)) Config {
	c := fastConfig()
	p := c.Processors["nexi"]
	mod(&p)
	c.Processors["nexi"] = p
	return c
}

func verifyBody(t testing.TB) string {
	id := synth.NewIdentity(9, 9, time.Now())
	return mustJSON(t, verifyRequest{PAN: id.PAN, Expiry: id.Expiry, CVV: id.CVV, Holder: "A B"})
}

func TestErrorAndOutageFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  FaultSpec
		status int
		code   string
	}{
		{"error 500", FaultSpec{Type: "error", Probability: 1, Status: 500}, 500, "INTERNAL_ERROR"},
		{"error 502", FaultSpec{Type: "error", Probability: 1, Status: 502}, 502, "BAD_GATEWAY"},
		{"error 503 by default", FaultSpec{Type: "error", Probability: 1}, 503, "SERVICE_UNAVAILABLE"},
		{"error 504", FaultSpec{Type: "error", Probability: 1, Status: 504}, 504, "GATEWAY_TIMEOUT"},
		{"outage", FaultSpec{Type: "outage", Probability: 1}, 503, "OUTAGE"},
		{"outage answering 500", FaultSpec{Type: "outage", Probability: 1, Status: 500}, 500, "OUTAGE"},
		{"fault outside its window", FaultSpec{Type: "outage", Probability: 1, From: time.Hour}, 200, ""},
		{"fault that never hits", FaultSpec{Type: "error", Probability: 0}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, withNexi(func(p *ProcessorConfig) { p.Faults = []FaultSpec{tt.fault} }))
			resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.code != "" && errorCode(t, body) != tt.code {
				t.Fatalf("body %s, want code %s", body, tt.code)
			}
			if resp.Header.Get("X-Station") != "nexi" {
				t.Fatalf("X-Station %q", resp.Header.Get("X-Station"))
			}
		})
	}
}

func TestResetFaults(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*ProcessorConfig)
		hold bool // hold nexi's only slot first, so the queue is full
	}{
		{"reset fault", func(p *ProcessorConfig) { p.Faults = []FaultSpec{{Type: "reset", Probability: 1}} }, false},
		{"outage by reset", func(p *ProcessorConfig) { p.Faults = []FaultSpec{{Type: "outage", Probability: 1, Mode: "reset"}} }, false},
		{"queue full with on_full reset", func(p *ProcessorConfig) { p.Servers, p.Queue, p.OnFull = 1, 0, ResetWhenFull }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, withNexi(tt.mod))
			if tt.hold {
				var v visit
				if err := s.Station("nexi").arrive(context.Background(), &v); err != nil {
					t.Fatal(err)
				}
				defer v.leave(OutcomeOK)
			}
			resp, err := freshClient(5*time.Second).Post(s.URL+"/processors/nexi/cards/verify", "application/json", strings.NewReader(verifyBody(t)))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got %s, want a connection reset", resp.Status)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("err = %v, want ECONNRESET", err)
			}
		})
	}
}

func TestHangFault(t *testing.T) {
	tests := []struct {
		name  string
		fault FaultSpec
		want  Outcome
	}{
		{"hang", FaultSpec{Type: "hang", Probability: 1}, OutcomeFault},
		{"outage by hanging", FaultSpec{Type: "outage", Probability: 1, Mode: "hang"}, OutcomeOutage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, withNexi(func(p *ProcessorConfig) { p.Faults = []FaultSpec{tt.fault} }))
			start := time.Now()
			_, err := freshClient(100*time.Millisecond).Post(s.URL+"/processors/nexi/cards/verify", "application/json", strings.NewReader(verifyBody(t)))
			if err == nil || !strings.Contains(err.Error(), "Client.Timeout") {
				t.Fatalf("err = %v, want the client's timeout", err)
			}
			if time.Since(start) < 100*time.Millisecond {
				t.Fatal("the client gave up before its timeout")
			}
			s.Close() // waits for the hung handler to notice and end
			if got := s.Station("nexi").Stats(); got.Requests[tt.want.String()] != 1 || got.InFlight != 0 || got.Busy != 0 {
				t.Fatalf("stats %+v", got)
			}
		})
	}
}

func TestCloseCutsHangingRequests(t *testing.T) {
	cfg := withNexi(func(p *ProcessorConfig) { p.Faults = []FaultSpec{{Type: "hang", Probability: 1}} })
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hanging := make(chan struct{}, 1)
	s.hooks.hang = func() { hanging <- struct{}{} }
	srv, err := listenServer(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := freshClient(0).Post(srv.URL+"/processors/nexi/cards/verify", "application/json", strings.NewReader(verifyBody(t)))
		if err != nil {
			t.Errorf("client: %v", err)
			answered <- nil
			return
		}
		answered <- resp
	}()
	<-hanging
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	guard := time.NewTimer(10 * time.Second)
	defer guard.Stop()
	select {
	case <-closed:
	case <-guard.C:
		t.Fatal("Close did not return with a request hanging")
	}
	if resp := <-answered; resp != nil {
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || errorCode(t, body) != "SHUTTING_DOWN" {
			t.Fatalf("hanging client got %d %s", resp.StatusCode, body)
		}
	}
}

func TestMalformedAndSlowBody(t *testing.T) {
	t.Run("malformed", func(t *testing.T) {
		s := startServer(t, withNexi(func(p *ProcessorConfig) { p.Faults = []FaultSpec{{Type: "malformed", Probability: 1}} }))
		resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		if resp.StatusCode != 200 || json.Valid(body) || len(body) == 0 {
			t.Fatalf("%d %q: want 200 with broken JSON", resp.StatusCode, body)
		}
		if resp.ContentLength != int64(len(body)) {
			t.Fatalf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
		}
	})
	t.Run("slow body", func(t *testing.T) {
		const chunk, interval = 16, 10 * time.Millisecond
		s := startServer(t, withNexi(func(p *ProcessorConfig) {
			p.Faults = []FaultSpec{{Type: "slow-body", Probability: 1, Chunk: chunk, Interval: interval}}
		}))
		start := time.Now()
		resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		took := time.Since(start)
		if resp.StatusCode != 200 || !json.Valid(body) {
			t.Fatalf("%d %q: want the whole answer, slowly", resp.StatusCode, body)
		}
		pauses := (len(body) - 1) / chunk
		if min := time.Duration(pauses) * interval; took < min {
			t.Fatalf("%d bytes in %v, want at least %v", len(body), took, min)
		}
	})
}

func TestStationRefusalsOverHTTP(t *testing.T) {
	t.Run("rate limited", func(t *testing.T) {
		s := startServer(t, withNexi(func(p *ProcessorConfig) { p.RateLimit = RateLimit{PerSecond: 0.5, Burst: 1} }))
		if resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t)); resp.StatusCode != 200 {
			t.Fatalf("first: %d %s", resp.StatusCode, body)
		}
		resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		if resp.StatusCode != 429 || errorCode(t, body) != "RATE_LIMITED" {
			t.Fatalf("second: %d %s", resp.StatusCode, body)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
			t.Fatalf("Retry-After %q, want 1 or 2 seconds", resp.Header.Get("Retry-After"))
		}
	})
	t.Run("queue full and queue timeout", func(t *testing.T) {
		s := startServer(t, withNexi(func(p *ProcessorConfig) { p.Servers, p.Queue, p.MaxWait = 1, 1, 30*time.Millisecond }))
		var holder visit
		if err := s.Station("nexi").arrive(context.Background(), &holder); err != nil {
			t.Fatal(err)
		}
		resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		if resp.StatusCode != 503 || errorCode(t, body) != "QUEUE_TIMEOUT" {
			t.Fatalf("queued behind a held slot: %d %s", resp.StatusCode, body)
		}
		sc := s.Station("nexi").Config()
		sc.Queue = 0
		if err := s.Station("nexi").SetConfig(sc); err != nil {
			t.Fatal(err)
		}
		resp, body = call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t))
		if resp.StatusCode != 503 || errorCode(t, body) != "QUEUE_FULL" {
			t.Fatalf("no queue: %d %s", resp.StatusCode, body)
		}
		holder.leave(OutcomeOK)
		if resp, body := call(t, "POST", s.URL+"/processors/nexi/cards/verify", verifyBody(t)); resp.StatusCode != 200 {
			t.Fatalf("slot free again: %d %s", resp.StatusCode, body)
		}
	})
}
