package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// failKind is how a downstream call failed; it decides the status the stack
// answers with, whether the hardened profile retries, and the fan-out
// outcome the app sees.
type failKind int

const (
	failTimeout     failKind = iota // no answer within the call timeout, or the station's 504
	failUnavailable                 // the station shed the call (503, 429) or the stack did (circuit open, bulkhead full)
	failTransport                   // connection refused, reset or closed early
	failBadAnswer                   // a status the call does not expect, or an unreadable body
	failCanceled                    // the stack's own request went away first
)

// Local rejections of the hardened profile; they are failUnavailable.
var (
	errCircuitOpen  = errors.New("circuit open")
	errBulkheadFull = errors.New("bulkhead full")
)

// upstreamError is a failed downstream call.
type upstreamError struct {
	station    string
	kind       failKind
	status     int           // the station's HTTP status; 0 when none arrived
	code       string        // the station's error code, if it sent one
	retryAfter time.Duration // the station's or breaker's hint, 0 when none
	err        error
}

func (e *upstreamError) Error() string {
	msg := e.station
	if e.status != 0 {
		msg += " answered " + strconv.Itoa(e.status)
		if e.code != "" {
			msg += " " + e.code
		}
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *upstreamError) Unwrap() error { return e.err }

// httpStatus is the status the stack answers with for a call that failed
// this way: 504 for a timeout, 503 when shed, 502 otherwise.
func (e *upstreamError) httpStatus() int {
	switch e.kind {
	case failTimeout:
		return http.StatusGatewayTimeout
	case failUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadGateway
	}
}

// retryable reports whether one more attempt may succeed: the station was
// slow, unreachable or briefly full. A 429 asks for backing off, and the
// stack's own rejections would only repeat, so neither is retried.
func (e *upstreamError) retryable() bool {
	switch e.kind {
	case failTimeout, failTransport:
		return true
	case failUnavailable:
		return e.status == http.StatusServiceUnavailable
	default:
		return false
	}
}

// answer is a station's reply that the call expected: a status and, for a
// non-2xx one, the error code it carried.
type answer struct {
	status int
	code   string
}

// accept tells which replies of a station are answers (the station worked,
// whatever it said) rather than failures: a declined card is an answer, a
// full queue is not. It decides what the breaker counts as a success.
type accept func(a answer) bool

// statuses accepts the replies with one of the given statuses.
func statuses(codes ...int) accept {
	return func(a answer) bool { return slices.Contains(codes, a.status) }
}

// station is one downstream as the stack reaches it.
type station struct {
	name     string
	client   *http.Client
	breaker  *breaker  // nil in the naive profile
	bulkhead semaphore // nil in the naive profile
}

// banks is the stack's client of the bank mocks (../bank/API.md).
type banks struct {
	base       string
	timeout    time.Duration
	jitter     *jitter // nil: no retries (naive)
	stations   map[string]*station
	transports []*http.Transport
}

// maxAnswerBytes bounds how much of a station's reply the stack reads.
const maxAnswerBytes = 1 << 20

func newTransport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// newBanks builds the client for cfg's profile. Naive: one pool of
// NaivePool connections shared by every station, so a slow processor holds
// connections the others wait for. Hardened: a pool, a bulkhead and a
// breaker per station, and jittered retries.
func newBanks(cfg Config) *banks {
	b := &banks{base: strings.TrimRight(cfg.BanksURL, "/"), timeout: cfg.CallTimeout, stations: map[string]*station{}}
	names := append(processors[:], upstreamIBAN)
	if cfg.Profile == Naive {
		t := newTransport(cfg.NaivePool)
		b.transports = append(b.transports, t)
		client := &http.Client{Transport: t}
		for _, n := range names {
			b.stations[n] = &station{name: n, client: client}
		}
		return b
	}
	b.jitter = newJitter(cfg.RetryBackoff, cfg.Seed)
	for _, n := range names {
		t := newTransport(cfg.Bulkhead)
		b.transports = append(b.transports, t)
		b.stations[n] = &station{
			name:     n,
			client:   &http.Client{Transport: t},
			breaker:  newBreaker(cfg.Breaker, cfg.Now),
			bulkhead: newSemaphore(cfg.Bulkhead),
		}
	}
	return b
}

func (b *banks) close() {
	for _, t := range b.transports {
		t.CloseIdleConnections()
	}
}

// call sends method path (with its query) to a station, with in as the JSON
// body when not nil. A reply ok accepts is returned, its body decoded into
// out when the status is 2xx; anything else is an *upstreamError. The
// hardened profile retries once after a jittered pause.
func (b *banks) call(ctx context.Context, name, method, path string, in any, ok accept, out any) (answer, error) {
	st := b.stations[name]
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return answer{}, fmt.Errorf("%s: encode request: %w", name, err)
		}
	}
	if st.bulkhead != nil {
		if !st.bulkhead.tryAcquire() {
			return answer{}, &upstreamError{station: name, kind: failUnavailable, err: errBulkheadFull, retryAfter: time.Second}
		}
		defer st.bulkhead.release()
	}
	for attempt := 1; ; attempt++ {
		probe := false
		if st.breaker != nil {
			var allowed bool
			if allowed, probe = st.breaker.allow(); !allowed {
				return answer{}, &upstreamError{station: name, kind: failUnavailable, err: errCircuitOpen, retryAfter: time.Second}
			}
		}
		a, uerr := b.attempt(ctx, st, method, path, body, ok, out)
		if st.breaker != nil && (uerr == nil || uerr.kind != failCanceled || probe) {
			st.breaker.record(probe, uerr == nil)
		}
		if uerr == nil {
			return a, nil
		}
		if b.jitter == nil || attempt > 1 || !uerr.retryable() {
			return answer{}, uerr
		}
		if err := sleep(ctx, b.jitter.next()); err != nil {
			return answer{}, &upstreamError{station: name, kind: failCanceled, err: err}
		}
	}
}

// attempt is one try of a call, bounded by the call timeout.
func (b *banks) attempt(ctx context.Context, st *station, method, path string, body []byte, ok accept, out any) (answer, *upstreamError) {
	actx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, b.base+path, rd)
	if err != nil {
		return answer{}, &upstreamError{station: st.name, kind: failBadAnswer, err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := st.client.Do(req)
	if err != nil {
		return answer{}, transportError(ctx, st.name, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	_ = resp.Body.Close()
	if err != nil {
		return answer{}, transportError(ctx, st.name, err)
	}
	a := answer{status: resp.StatusCode}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil {
			a.code = eb.Code
		}
	}
	if !ok(a) {
		e := &upstreamError{station: st.name, status: a.status, code: a.code, kind: failBadAnswer}
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			e.kind = failUnavailable
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
				e.retryAfter = time.Duration(secs) * time.Second
			}
		case http.StatusGatewayTimeout:
			e.kind = failTimeout
		}
		return answer{}, e
	}
	if out != nil && a.status < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return answer{}, &upstreamError{station: st.name, kind: failBadAnswer, status: a.status,
				err: fmt.Errorf("decode answer: %w", err)}
		}
	}
	return a, nil
}

// transportError classifies a failure to get a reply: the caller went away,
// the call timed out, or the connection failed.
func transportError(parent context.Context, name string, err error) *upstreamError {
	var ne net.Error
	switch {
	case parent.Err() != nil:
		return &upstreamError{station: name, kind: failCanceled, err: parent.Err()}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &upstreamError{station: name, kind: failTimeout, err: err}
	default:
		return &upstreamError{station: name, kind: failTransport, err: err}
	}
}
