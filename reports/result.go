// Package reports turns the stream of request results that both engines emit
// (the replay engine measuring a real target, the simulator modelling one)
// into what a run is judged by: accumulation (HDR histograms, per-second
// series), the summary and its summary.json contract, error modes, gates and
// the SLO, saturation, metastability, the USL and the knee. It owns the
// result record (Result) and the Sink every consumer of results implements.
//
// Around it: reports/resultsfile is the results file's codec, and
// reports/render draws summaries for people. reports imports neither of
// them, nor anything else of the project's (its internal/jsonscan aside).
package reports

import "time"

// Result is the outcome of one request of a journey, or of one arrival that
// was dropped before it could be sent. A failed request is data here, never
// an error returned to the engine.
//
// Latency is counted from Intended, the moment the request was due by the
// arrival profile and the user's think time, so time an arrival spent waiting
// inside the generator is charged to it (no coordinated omission).
// SendLatency is counted from Sent, the moment the request was written; the
// difference between the two is the queueing inside the generator.
type Result struct {
	Seq         uint64        // arrival number in the run, from 0; all steps of a journey share it
	Journey     string        // journey name
	Step        string        // step name within the journey ("login" for the login step)
	User        uint64        // user index the synthetic data was derived from
	Attempt     int           // 1 for a user's first try of the step, 2 and up for retries
	Poll        int           // 0, or the poll round (1, 2, ...) of a polled step
	Intended    time.Time     // when the request was due
	Sent        time.Time     // when it was sent; zero when it never was (dropped)
	Latency     time.Duration // from Intended to the end of the response body
	SendLatency time.Duration // from Sent to the end of the response body
	Method      string
	URL         string
	Code        int    // HTTP status, 0 when there was no response
	OK          bool   // the status was one the step expects and no transport error happened
	BytesOut    uint64 // request body bytes
	BytesIn     uint64 // response body bytes
	Error       string // transport error text, empty when a response arrived
	Upstream    string // X-Upstream response header: the downstream the target blames
	ErrorCode   string // application error code from a JSON error body
	Message     string // user-facing message from a JSON error body
	Dropped     bool   // the arrival found the in-flight cap full past the maximum wait

	// Arrival marks the request that began a journey: the first attempt of
	// its first step (the login step when the user logs in first), or the
	// dropped result standing for an arrival that never got to send it. The
	// number of journey arrivals is the number of results with Arrival set;
	// engines that leave it false report zero arrivals.
	Arrival bool
	// JourneyDone marks the request whose success completed its journey (the
	// last step, after any retries and polls). Journeys completed per second
	// are counted from it.
	JourneyDone bool
}

// Retry reports whether the result is a user's retry of a failed step.
func (r *Result) Retry() bool { return r.Attempt > 1 }

// End returns when the request ended: Intended plus Latency. For a dropped
// arrival it is when the generator gave up waiting for a free slot.
func (r *Result) End() time.Time { return r.Intended.Add(r.Latency) }

// DroppedError is the error text of a dropped arrival: the results file carries it
// so that vegeta counts the arrival as a failed request.
const DroppedError = "dropped: in-flight cap full past max wait"
