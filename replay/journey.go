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
			Latency: time.Since(intended), Error: "data: " + err.Error()}
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
		end, ok := r.step(n, u, j, st, at)
		if end.IsZero() {
			return // stopped: interruption or grace period over
		}
		at = end
		if !ok && u.Rand().Float64() < st.Abandon {
			return
		}
	}
}

// step runs one step for a user, with its polling and the user's retries,
// starting at due. It returns when the step's last response ended and
// whether the step succeeded in the end; a zero time means the journey must
// stop.
func (r *run) step(n uint64, u *scenarios.User, j *scenarios.Journey, st *scenarios.Step, due time.Time) (time.Time, bool) {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer bodyBuffers.Put(buf)
	for attempt := 1; ; attempt++ {
		res, ok := r.send(n, u, j, st, due, attempt, 0, buf)
		if !ok {
			return time.Time{}, false
		}
		end := res.Intended.Add(res.Latency)
		if res.OK {
			for round := 1; st.Poll != nil && round < st.Poll.Max && st.Poll.Again(buf.Bytes()); round++ {
				res, ok = r.send(n, u, j, st, end.Add(st.Poll.Interval), attempt, round, buf)
				if !ok {
					return time.Time{}, false
				}
				end = res.Intended.Add(res.Latency)
				if !res.OK {
					break
				}
			}
			if res.OK {
				return end, true
			}
		}
		if st.Retry == nil || !st.Retry.Wants(u.Rand(), attempt, res.Code) {
			return end, false
		}
		due = end.Add(st.Retry.Backoff.Sample(u.Rand()))
	}
}

// send waits until due, sends the step's request and records its result,
// leaving the kept body in buf. It reports false when the journey was told to
// stop before the request could be sent.
func (r *run) send(n uint64, u *scenarios.User, j *scenarios.Journey, st *scenarios.Step, due time.Time, attempt, poll int, buf *bytes.Buffer) (reports.Result, bool) {
	if !r.sleepUntil(due) {
		return reports.Result{}, false
	}
	res := reports.Result{Seq: n, Journey: j.Name, Step: st.Name, User: u.Index, Attempt: attempt,
		Poll: poll, Intended: due, Method: st.Method}
	req, err := st.Build(u, r.base)
	if err != nil {
		// A value a template needs is missing (an earlier step failed to
		// give it): the user cannot go on.
		return reports.Result{}, false
	}
	res.URL = req.URL
	res.BytesOut = uint64(len(req.Body))

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
	hreq.Header = req.Header
	for k, v := range r.sc.HTTP.Headers {
		if hreq.Header.Get(k) == "" {
			hreq.Header.Set(k, v)
		}
	}
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
		if res.OK && len(st.Extract) > 0 {
			if xerr := st.ExtractFrom(u, buf.Bytes()); xerr != nil {
				res.OK = false
				res.ErrorCode, res.Message = "EXTRACT", xerr.Error()
			}
		} else if !res.OK {
			res.ErrorCode, res.Message = reports.ParseErrorBody(buf.Bytes())
		}
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
