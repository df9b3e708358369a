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

// journey walks arrival n's user through its journey, driving the
// scenario's Walk with real requests. It owns one slot, which it gives back
// when the journey ends.
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
	var w scenarios.Walk
	r.sc.StartWalk(&w, u, intended)
	v := visit{n: n, w: &w}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer bodyBuffers.Put(buf)
	for {
		a, ok := w.Next()
		if !ok {
			return
		}
		if a.NewStep() {
			// The request is built once per step: polls and retries
			// resend it as it was, Idempotency-Key included, as an app's
			// "try again" does.
			if v.req, err = r.build(a.Step, u); err != nil {
				// A value a template needs is missing (an earlier step
				// failed to give it): the user cannot go on.
				return
			}
		}
		res, pending, ok := r.send(&v, &a, buf)
		if !ok {
			return // stopped: interruption or grace period over
		}
		w.Observe(scenarios.Outcome{OK: res.OK, Code: res.Code, Pending: pending, End: res.End()})
	}
}

// visit is one user's journey as the replay sends it.
type visit struct {
	n   uint64 // arrival
	w   *scenarios.Walk
	req *scenarios.Request // the current step's request
}

// build renders a step's request for u, with the scenario's headers for
// the names the step leaves unset.
func (r *run) build(st *scenarios.Step, u *scenarios.User) (*scenarios.Request, error) {
	req, err := st.Build(u, r.base)
	if err != nil {
		return nil, err
	}
	for k, val := range r.sc.HTTP.Headers {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, val)
		}
	}
	return req, nil
}

// send waits until the attempt is due, sends the visit's request and
// records its result, leaving the kept body in buf. A successful response
// that ends the step (not a poll round that will be repeated) gives the
// step's extractions, and on the last step completes the journey. It returns
// the result and whether the response says the poll is still pending, and
// reports false when the journey was told to stop before the request could
// be sent.
func (r *run) send(v *visit, a *scenarios.Attempt, buf *bytes.Buffer) (res reports.Result, pending, ok bool) {
	if !r.sleepUntil(a.Due) {
		return reports.Result{}, false, false
	}
	r.due.Add(1)
	st, req, u := a.Step, v.req, v.w.User
	res = reports.Result{Seq: v.n, Journey: v.w.Journey.Name, Step: st.Name, User: u.Index, Attempt: a.Attempt,
		Poll: a.Poll, Intended: a.Due, Method: req.Method, URL: req.URL, BytesOut: uint64(len(req.Body)),
		Arrival: a.Arrival}

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
		return res, false, true
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
		pending = res.OK && st.Poll != nil && st.Poll.Again(buf.Bytes())
		if res.OK && a.Final(pending) && len(st.Extract) > 0 {
			if xerr := st.ExtractFrom(u, buf.Bytes()); xerr != nil {
				res.OK = false
				res.ErrorCode, res.Message = "EXTRACT", xerr.Error()
			}
		} else if !res.OK {
			res.ErrorCode, res.Message = reports.ParseErrorBody(buf.Bytes())
		}
		res.JourneyDone = a.Completes(res.OK, pending)
	}
	r.finish(&res, end)
	return res, pending, true
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
