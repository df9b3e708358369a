package scenarios

import "time"

// Walk is one user's way through its journey, as a state machine that knows
// nothing of how requests are sent: the login step, the journey's steps,
// think times, the user's retries with their backoff, poll rounds and
// abandonment. The replay engine drives it with real HTTP, the simulator
// with events in virtual time, so the two cannot disagree about behaviour.
//
// Next gives the request due next; the engine sends it (or models it) and
// reports what came of it with Observe, until Next reports the walk is over.
// Every random draw comes from the user's generator in the order the user
// makes them (journey, then per step: think time, retries, abandonment), so
// a walk is a function of (Scenario.Seed, user index) and its outcomes.
// A Walk is used by one goroutine at a time.
type Walk struct {
	User    *User
	Journey *Journey

	login   *Step
	step    int // index into the walk's steps, login first when there is one
	attempt int
	poll    int
	due     time.Time
	over    bool
}

// Attempt is one request of a walk: a step's attempt or poll round.
type Attempt struct {
	Step    *Step
	Due     time.Time // when the request is due: arrival, end of the previous response plus think time, backoff or poll interval
	Attempt int       // 1 for the user's first try of the step, 2 and up for retries
	Poll    int       // 0, or the poll round (1, 2, ...) of a polled step
	Arrival bool      // the first request of the journey: the arrival
	Last    bool      // the step is the journey's last
}

// NewStep reports whether the attempt begins a step: the engine builds the
// step's request then, and resends it as it was for retries and polls (an
// app's "try again" carries the same Idempotency-Key).
func (a *Attempt) NewStep() bool { return a.Attempt == 1 && a.Poll == 0 }

// Final reports whether a successful response ends the step's polling:
// the step does not poll, this was its last round, or the response is no
// longer pending. Extractions come from the final response.
func (a *Attempt) Final(pending bool) bool {
	p := a.Step.Poll
	return p == nil || a.Poll+1 >= p.Max || !pending
}

// Completes reports whether a response completes the journey: it succeeded,
// ends its step's polling, and the step is the journey's last.
func (a *Attempt) Completes(ok, pending bool) bool { return ok && a.Last && a.Final(pending) }

// Outcome is what came of an attempt, as the engine reports it to Observe.
type Outcome struct {
	OK      bool      // the step's success: an expected status (and its extractions worked)
	Code    int       // HTTP status; 0 for a transport error
	Pending bool      // a polled step's response says "still pending" (Poll.Again)
	End     time.Time // when the response ended
}

// NewWalk starts user u's walk at arrival time start: it draws the journey
// (Scenario.PickJourney) and puts the login step first when the scenario
// has one. A scenario without journeys gives a walk that is over at once.
func (s *Scenario) NewWalk(u *User, start time.Time) *Walk {
	w := &Walk{}
	s.StartWalk(w, u, start)
	return w
}

// StartWalk is NewWalk into a Walk the caller owns, so an engine walking
// many users can reuse the memory.
func (s *Scenario) StartWalk(w *Walk, u *User, start time.Time) {
	*w = Walk{User: u, Journey: s.PickJourney(u), login: s.Login, attempt: 1, due: start}
	w.over = w.Journey == nil || w.steps() == 0
}

func (w *Walk) steps() int {
	n := len(w.Journey.Steps)
	if w.login != nil {
		n++
	}
	return n
}

func (w *Walk) stepAt(i int) *Step {
	if w.login != nil {
		if i == 0 {
			return w.login
		}
		i--
	}
	return w.Journey.Steps[i]
}

// FirstStep returns the step the walk begins with (the login step when the
// scenario has one), or nil for a walk that is over.
func (w *Walk) FirstStep() *Step {
	if w.Journey == nil || w.steps() == 0 {
		return nil
	}
	return w.stepAt(0)
}

// Next returns the request due next, or false when the walk is over: the
// journey completed, the user gave up, or a step failed for good on the
// way.
func (w *Walk) Next() (Attempt, bool) {
	if w.over {
		return Attempt{}, false
	}
	return Attempt{
		Step:    w.stepAt(w.step),
		Due:     w.due,
		Attempt: w.attempt,
		Poll:    w.poll,
		Arrival: w.step == 0 && w.attempt == 1 && w.poll == 0,
		Last:    w.step == w.steps()-1,
	}, true
}

// Observe takes the outcome of the request Next gave and moves the walk on:
// another poll round after the step's interval, a retry after the user's
// backoff, the next step after its think time, or the end of the walk.
func (w *Walk) Observe(o Outcome) {
	if w.over {
		return
	}
	st := w.stepAt(w.step)
	rnd := w.User.Rand()
	switch {
	case o.OK && st.Poll != nil && w.poll+1 < st.Poll.Max && o.Pending:
		w.poll++
		w.due = o.End.Add(st.Poll.Interval)
		return
	case o.OK:
	case st.Retry.Wants(rnd, w.attempt, o.Code):
		w.attempt++
		w.poll = 0
		w.due = o.End.Add(st.Retry.Backoff.Sample(rnd))
		return
	case rnd.Float64() < st.Abandon:
		w.over = true
		return
	}
	w.step++
	w.attempt, w.poll = 1, 0
	if w.step >= w.steps() {
		w.over = true
		return
	}
	w.due = o.End.Add(w.stepAt(w.step).Think.Sample(rnd))
}

// Stop ends the walk: the engine could not go on (interruption, or a
// request that could not be built).
func (w *Walk) Stop() { w.over = true }
