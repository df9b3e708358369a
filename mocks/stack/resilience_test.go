package stack

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestSemaphore(t *testing.T) {
	s := newSemaphore(2)
	if !s.tryAcquire() || !s.tryAcquire() {
		t.Fatal("could not take two slots of two")
	}
	if s.tryAcquire() {
		t.Fatal("took a third slot of two")
	}
	s.release()
	if !s.tryAcquire() {
		t.Fatal("a released slot was not free")
	}
}

func TestBreaker(t *testing.T) {
	policy := BreakerPolicy{Window: 10 * time.Second, MinCalls: 4, FailureRatio: 0.5, OpenFor: 5 * time.Second}
	type step struct {
		advance time.Duration
		outcome string // "ok" or "fail": a call is allowed and has this outcome; "rejected": it is not allowed
		state   breakerState
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"too few calls never open", []step{
			{0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerClosed},
		}},
		{"opens at the failure ratio", []step{
			{0, "ok", breakerClosed}, {0, "ok", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerOpen},
			{0, "rejected", breakerOpen},
		}},
		{"stays closed under the ratio", []step{
			{0, "ok", breakerClosed}, {0, "ok", breakerClosed}, {0, "ok", breakerClosed}, {0, "fail", breakerClosed},
			{0, "ok", breakerClosed},
		}},
		{"old failures leave the window", []step{
			{0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerClosed},
			{11 * time.Second, "fail", breakerClosed}, // the first three are out of the window
		}},
		{"a successful probe closes", []step{
			{0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerOpen},
			{5*time.Second - 1, "rejected", breakerOpen},
			{1, "ok", breakerClosed},
			{0, "fail", breakerClosed}, // the window restarted empty
		}},
		{"a failed probe opens again", []step{
			{0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerClosed}, {0, "fail", breakerOpen},
			{5 * time.Second, "fail", breakerOpen},
			{4 * time.Second, "rejected", breakerOpen},
			{time.Second, "ok", breakerClosed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			b := newBreaker(policy, clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				ok, probe := b.allow()
				if ok != (s.outcome != "rejected") {
					t.Fatalf("step %d: allowed %v, want outcome %s", i, ok, s.outcome)
				}
				if ok {
					b.record(probe, s.outcome == "ok")
				}
				if got := b.current(); got != s.state {
					t.Fatalf("step %d: state %v, want %v", i, got, s.state)
				}
			}
		})
	}
}

func TestBreakerOneProbeAtATime(t *testing.T) {
	clock := newFakeClock()
	b := newBreaker(BreakerPolicy{Window: time.Second, MinCalls: 1, FailureRatio: 1, OpenFor: time.Second}, clock.Now)
	b.record(false, false)
	clock.Advance(time.Second)
	if ok, probe := b.allow(); !ok || !probe {
		t.Fatalf("first call after OpenFor: allowed %v probe %v, want a probe", ok, probe)
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second call was let through while the probe is in flight")
	}
	b.record(false, false) // a late outcome of a call from before: ignored
	b.record(true, true)
	if ok, probe := b.allow(); !ok || probe {
		t.Fatalf("after the probe: allowed %v probe %v, want closed", ok, probe)
	}
}

func TestJitter(t *testing.T) {
	a, b := newJitter(100*time.Millisecond, 7), newJitter(100*time.Millisecond, 7)
	for i := range 1000 {
		d := a.next()
		if d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("draw %d: %v outside [50ms, 100ms]", i, d)
		}
		if d2 := b.next(); d2 != d {
			t.Fatalf("draw %d: %v and %v from the same seed", i, d, d2)
		}
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep on a cancelled context: %v", err)
	}
}

// TestCallRetries checks the hardened retry directly on the client: once,
// only for failures another attempt may fix.
func TestCallRetries(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		fault   fault
		ok      bool
		kind    failKind
		calls   int
	}{
		{"hardened retries a full station", Hardened, fault{status: 503, code: "QUEUE_FULL", times: 1}, true, 0, 2},
		{"hardened retries once only", Hardened, fault{status: 503, code: "QUEUE_FULL"}, false, failUnavailable, 2},
		{"hardened does not retry a rate limit", Hardened, fault{status: 429, code: "RATE_LIMITED", times: 1}, false, failUnavailable, 1},
		{"hardened does not retry a broken answer", Hardened, fault{status: 500, code: "INTERNAL", times: 1}, false, failBadAnswer, 1},
		{"hardened takes a 504 for a timeout and retries", Hardened, fault{status: 504, code: "QUEUE_TIMEOUT", times: 1}, true, 0, 2},
		{"naive never retries", Naive, fault{status: 503, code: "QUEUE_FULL", times: 1}, false, failUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			fb := newFakeBank(t, clock.Now)
			cfg := Config{Profile: tt.profile, BanksURL: fb.URL, Now: clock.Now, RetryBackoff: time.Millisecond}.withDefaults()
			b := newBanks(cfg)
			defer b.close()
			fb.setFault("sia", tt.fault)
			var out cardsAnswer
			_, err := b.call(context.Background(), "sia", http.MethodGet, "/processors/sia/bancomat/cards?abi=03069&fiscalCode=X", nil, statuses(200), &out)
			var ue *upstreamError
			switch {
			case tt.ok && err != nil:
				t.Fatalf("call failed: %v", err)
			case !tt.ok && (!errors.As(err, &ue) || ue.kind != tt.kind || ue.station != "sia"):
				t.Fatalf("call error %v, want kind %d at sia", err, tt.kind)
			}
			if n := fb.count("sia"); n != tt.calls {
				t.Fatalf("sia saw %d calls, want %d", n, tt.calls)
			}
		})
	}
}

func TestCallTransportFailure(t *testing.T) {
	clock := newFakeClock()
	fb := newFakeBank(t, clock.Now)
	url := fb.URL
	fb.Close() // nothing listens there now
	b := newBanks(Config{Profile: Naive, BanksURL: url, Now: clock.Now}.withDefaults())
	defer b.close()
	_, err := b.call(context.Background(), "iban", http.MethodPost, "/iban/validate", map[string]string{}, statuses(200), nil)
	var ue *upstreamError
	if !errors.As(err, &ue) || ue.kind != failTransport || ue.httpStatus() != http.StatusBadGateway {
		t.Fatalf("call to a closed port: %v", err)
	}
}
