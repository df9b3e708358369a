package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/scenarios"
)

// keepBody is how much of a response body a journey keeps for extraction,
// polling and error classification; the rest is read, counted and dropped.
const keepBody = 1 << 20

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// journey walks arrival n's user through its journey. It owns one slot,
// which it gives back when the journey ends.
func (r *run) journey(n uint64, intended time.Time) {
	defer func() {
		<-r.slots
		r.journeys.Done()
	}()
	r.active.Add(1)
	defer r.active.Add(-1)

	u, err := r.sc.NewUser(r.userIndex(n))
	if err != nil {
		// The scenario cannot give this user data (a unique feeder ran
		// out): the arrival happened but no request could be made.
		r.results <- reports.Result{Seq: n, User: r.userIndex(n), Attempt: 1, Intended: intended,
			Latency: time.Since(intended), Error: "data: " + err.Error(), Arrival: true}
		return
	}
	j := r.sc.PickJourney(u)
	at := intended
	steps := j.Steps
	if r.sc.Login != nil {
		steps = append([]*scenarios.Step{r.sc.Login}, steps...)
	}
	for i, st := range steps {
		if i > 0 {
			at = at.Add(st.Think.Sample(u.Rand()))
		}
		end, ok := r.step(&visit{n: n, u: u, j: j, st: st, first: i == 0, last: i == len(steps)-1}, at)
		if end.IsZero() {
			return // stopped: interruption or grace period over
		}
		at = end
		if !ok && u.Rand().Float64() < st.Abandon {
			return
		}
	}
}

// visit is one user's pass through one step of its journey.
type visit struct {
	n           uint64 // arrival
	u           *scenarios.User
	j           *scenarios.Journey
	st          *scenarios.Step
	req         *scenarios.Request
	first, last bool // the journey's first or last step
}

// step runs one step for a user, with its polling and the user's retries,
// starting at due. The request is built once: polls and retries resend it
// as it was, Idempotency-Key included, as an app's "try again" does. It
// returns when the step's last response ended and whether the step
// succeeded in the end; a zero time means the journey must stop.
func (r *run) step(v *visit, due time.Time) (time.Time, bool) {
	req, err := v.st.Build(v.u, r.base)
	if err != nil {
		// A value a template needs is missing (an earlier step failed to
		// give it): the user cannot go on.
		return time.Time{}, false
	}
	for k, val := range r.sc.HTTP.Headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, val)
		}
	}
	v.req = req
	st := v.st
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer bodyBuffers.Put(buf)
	for attempt := 1; ; attempt++ {
		res, ok := r.send(v, due, attempt, 0, buf)
		if !ok {
			return time.Time{}, false
		}
		end := res.End()
		for round := 1; res.OK && st.Poll != nil && round < st.Poll.Max && st.Poll.Again(buf.Bytes()); round++ {
			if res, ok = r.send(v, end.Add(st.Poll.Interval), attempt, round, buf); !ok {
				return time.Time{}, false
			}
			end = res.End()
		}
		if res.OK {
			return end, true
		}
		if st.Retry == nil || !st.Retry.Wants(v.u.Rand(), attempt, res.Code) {
			return end, false
		}
		due = end.Add(st.Retry.Backoff.Sample(v.u.Rand()))
	}
}

// send waits until due, sends the visit's request and records its result,
// leaving the kept body in buf. A successful response that ends the step (not
// a poll round that will be repeated) gives the step's extractions, and on
// the last step completes the journey. It reports false when the journey was
// told to stop before the request could be sent.
func (r *run) send(v *visit, due time.Time, attempt, poll int, buf *bytes.Buffer) (reports.Result, bool) {
	if !r.sleepUntil(due) {
		return reports.Result{}, false
	}
	st, req := v.st, v.req
	res := reports.Result{Seq: v.n, Journey: v.j.Name, Step: st.Name, User: v.u.Index, Attempt: attempt,
		Poll: poll, Intended: due, Method: req.Method, URL: req.URL, BytesOut: uint64(len(req.Body)),
		Arrival: v.first && attempt == 1 && poll == 0}

	timeout := st.Timeout
	if timeout <= 0 {
		timeout = r.sc.HTTP.Timeout
	}
	ctx, cancel := context.WithTimeout(r.requests, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		res.Sent = time.Now()
		res.Error = err.Error()
		r.finish(&res, res.Sent)
		return res, true
	}
	hreq.Header = req.Header // fresh from Build for this visit; only read from here on
	buf.Reset()
	res.Sent = time.Now()
	resp, err := r.client.Do(hreq)
	if err == nil {
		res.Code = resp.StatusCode
		res.Upstream = resp.Header.Get("X-Upstream")
		keep := len(st.Extract) > 0 || st.Poll != nil || !st.Succeeded(resp.StatusCode)
		res.BytesIn, err = readBody(resp.Body, buf, keep)
		resp.Body.Close()
	}
	end := time.Now()
	if err != nil {
		res.Error = r.transportError(err)
	} else {
		res.OK = st.Succeeded(res.Code)
		final := st.Poll == nil || poll+1 >= st.Poll.Max || !st.Poll.Again(buf.Bytes())
		if res.OK && final && len(st.Extract) > 0 {
			if xerr := st.ExtractFrom(v.u, buf.Bytes()); xerr != nil {
				res.OK = false
				res.ErrorCode, res.Message = "EXTRACT", xerr.Error()
			}
		} else if !res.OK {
			res.ErrorCode, res.Message = reports.ParseErrorBody(buf.Bytes())
		}
		res.JourneyDone = res.OK && final && v.last
	}
	r.finish(&res, end)
	return res, true
}

// finish fills the latencies and hands the result to the collector.
func (r *run) finish(res *reports.Result, end time.Time) {
	res.Latency = end.Sub(res.Intended)
	res.SendLatency = end.Sub(res.Sent)
	r.results <- *res
}

// transportError names a request error, telling a cancellation by the
// end of the grace period apart from a target's failure.
func (r *run) transportError(err error) string {
	if r.requests.Err() != nil && errors.Is(err, context.Canceled) {
		return "interrupted: cancelled at the end of the grace period"
	}
	return err.Error()
}

// sleepUntil waits until t, or reports false if the journey must stop.
func (r *run) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return r.steps.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.steps.Done():
		return false
	}
}

// readBody reads a response body to its end, keeping up to keepBody bytes
// in buf when keep is set, and returns how many bytes there were.
func readBody(body io.Reader, buf *bytes.Buffer, keep bool) (uint64, error) {
	if !keep {
		n, err := io.Copy(io.Discard, body)
		return uint64(n), err
	}
	n, err := buf.ReadFrom(io.LimitReader(body, keepBody))
	if err != nil {
		return uint64(n), err
	}
	rest, err := io.Copy(io.Discard, body)
	return uint64(n + rest), err
}
