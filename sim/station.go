package sim

import (
	"math/rand/v2"
	"time"
)

// Station is a queueing station: Servers working in parallel and a bounded
// FIFO queue in front of them, as the bank mocks have them. A visit that
// finds a server free is served at once; otherwise it waits, unless the
// queue holds Queue visits already (QueueFull), and gives up after MaxWait
// in the queue (QueueTimeout). With a service distribution a server is
// held for a drawn service time; without one (a connection pool, a
// bulkhead) it is held until the visit releases it.
type Station struct {
	Name    string
	Servers int
	Queue   int           // visits that may wait; -1 for no bound
	MaxWait time.Duration // 0 for no bound

	e       *Engine
	svc     sampler
	timed   bool // draws service times
	busy    int
	busyInt float64       // ∫ busy dt up to busyAt, server-seconds
	busyAt  time.Duration // when busy last changed
	waiting int           // live visits in the queue
	outages []Outage      // when the station is down
	grants  int64         // visits given a server
	waitInt float64       // their waits for one, seconds
	peak    int           // the most servers busy at once
	ring    []entry       // FIFO with stale entries skipped on the way out
	head    int
	n       int // entries in ring, stale included
}

// NewStation returns a station on engine e. A nil service makes a
// station whose servers are held until released (Visit.Release); src seeds
// the service draws.
func NewStation(e *Engine, name string, servers, queue int, maxWait time.Duration, service *Service, src rand.Source) *Station {
	st := &Station{Name: name, Servers: servers, Queue: queue, MaxWait: maxWait, e: e, ring: make([]entry, 16)}
	if service != nil {
		st.svc, st.timed = newSampler(*service, src), true
	}
	return st
}

// Busy returns the servers in use.
func (s *Station) Busy() int { return s.busy }

// BusyTime returns the server-seconds the station's servers have been
// busy up to now.
func (s *Station) BusyTime(now time.Duration) float64 {
	return s.busyInt + float64(s.busy)*(now-s.busyAt).Seconds()
}

// account integrates the busy servers up to now, before busy changes.
func (s *Station) account(now time.Duration) {
	s.busyInt = s.BusyTime(now)
	s.busyAt = now
}

// Served returns how many visits were given a server, the seconds they
// waited for one in all, and the most servers busy at once.
func (s *Station) Served() (grants int64, wait float64, peak int) { return s.grants, s.waitInt, s.peak }

// Waiting returns the visits in the queue.
func (s *Station) Waiting() int { return s.waiting }

// Verdict is how a visit ended at a station.
type Verdict uint8

// The ways a visit ends.
const (
	Served       Verdict = iota // got a server and, if timed, its service
	QueueFull                   // every server busy and the queue full on arrival
	QueueTimeout                // waited MaxWait without a server
	Down                        // the station was down (an outage) and refused it on arrival
)

// Outage is a window of virtual time, [From, To), in which a station is
// down: it refuses every visit on arrival without queueing it, as a bank
// mock's outage fault does.
type Outage struct{ From, To time.Duration }

// AddOutage takes the station down for o.
func (s *Station) AddOutage(o Outage) { s.outages = append(s.outages, o) }

// down reports whether the station is down at now.
func (s *Station) down(now time.Duration) bool {
	for _, o := range s.outages {
		if now >= o.From && now < o.To {
			return true
		}
	}
	return false
}

// Client is told how its visits end. Done is called once per visit that
// was not cancelled: from inside Arrive for a visit refused or served at
// once by a station that does not time service, else from an event.
type Client interface {
	Done(v *Visit, now time.Duration, verdict Verdict)
}

// Visit is one request's passage through a station. Its owner reuses it
// from visit to visit; it must not be reused while it waits or is served.
type Visit struct {
	Client Client
	Tag    uint64 // the client's, to tell its visits apart
	// Hold keeps the server after a timed service: the visit releases it
	// with Release (the IBAN service holds its slot while it asks a bank).
	Hold bool

	st      *Station
	gen     uint64
	state   visitState
	Arrived time.Duration
	Started time.Duration // when it got a server
	Ends    time.Duration // when its service ends, once a timed station granted it a server
}

type visitState uint8

const (
	idle visitState = iota
	waiting
	serving // holds a server
)

// event tags of a visit
const (
	tagServed = iota
	tagMaxWait
)

// ServedBy reports whether the visit holds a server of a timed station
// and will have been served by t: whatever the queue does, nothing can
// stop it before then but its client.
func (v *Visit) ServedBy(t time.Duration) bool {
	return v.state == serving && v.st.timed && v.Ends <= t
}

// Wait returns how long the visit waited for a server.
func (v *Visit) Wait() time.Duration { return v.Started - v.Arrived }

// Arrive brings v to the station at the current time.
func (s *Station) Arrive(v *Visit) {
	now := s.e.now
	v.st, v.Arrived, v.gen = s, now, v.gen+1
	if len(s.outages) > 0 && s.down(now) {
		v.state = idle
		v.Client.Done(v, now, Down)
		return
	}
	if s.busy < s.Servers && s.waiting == 0 {
		s.grant(v, now)
		return
	}
	if s.Queue >= 0 && s.waiting >= s.Queue {
		v.state = idle
		v.Client.Done(v, now, QueueFull)
		return
	}
	v.state = waiting
	s.push(v)
	s.waiting++
	if s.MaxWait > 0 {
		s.e.At(now+s.MaxWait, v, v.gen<<1|tagMaxWait)
	}
}

func (s *Station) grant(v *Visit, now time.Duration) {
	s.account(now)
	s.busy++
	s.grants++
	s.waitInt += (now - v.Arrived).Seconds()
	s.peak = max(s.peak, s.busy)
	v.state, v.Started = serving, now
	if s.timed {
		v.Ends = now + s.svc.draw()
		s.e.At(v.Ends, v, v.gen<<1|tagServed)
		return
	}
	v.Client.Done(v, now, Served)
}

// Act fires the visit's service end or its queue timeout.
func (v *Visit) Act(now time.Duration, tag uint64) {
	if tag>>1 != v.gen {
		return // stale: the visit was cancelled or moved on
	}
	s := v.st
	switch {
	case tag&1 == tagServed && v.state == serving:
		if !v.Hold {
			v.state = idle
			s.free(now)
		}
		v.Client.Done(v, now, Served)
	case tag&1 == tagMaxWait && v.state == waiting:
		v.state = idle
		v.gen++
		s.waiting--
		v.Client.Done(v, now, QueueTimeout)
	}
}

// Release frees the server a held visit keeps.
func (v *Visit) Release() {
	if v.state == serving {
		v.state = idle
		v.gen++
		v.st.free(v.st.e.now)
	}
}

// Cancel takes the visit out of the station, its client having given up:
// out of the queue, or off its server (the bank mocks stop serving a
// request whose client went away). Its client hears nothing more of it.
func (v *Visit) Cancel() {
	switch v.state {
	case waiting:
		v.st.waiting--
	case serving:
		v.st.free(v.st.e.now)
	}
	v.state = idle
	v.gen++
}

// entry is a place in the queue: the visit and the generation it queued
// with, so a visit cancelled and queued again is not served twice.
type entry struct {
	v   *Visit
	gen uint64
}

// free gives a server back and hands it to the head of the queue.
func (s *Station) free(now time.Duration) {
	s.account(now)
	s.busy--
	for s.busy < s.Servers && s.waiting > 0 {
		v := s.pop()
		s.waiting--
		v.gen++ // its queue timeout is stale now
		s.grant(v, now)
	}
}

func (s *Station) push(v *Visit) {
	if s.n == len(s.ring) {
		grown := make([]entry, 2*len(s.ring))
		for i := range s.n {
			grown[i] = s.ring[(s.head+i)%len(s.ring)]
		}
		s.ring, s.head = grown, 0
	}
	s.ring[(s.head+s.n)%len(s.ring)] = entry{v, v.gen}
	s.n++
}

// pop takes the oldest live visit out of the queue, dropping the stale
// entries before it; the queue must hold a live one.
func (s *Station) pop() *Visit {
	for {
		x := s.ring[s.head]
		s.ring[s.head] = entry{}
		s.head = (s.head + 1) % len(s.ring)
		s.n--
		if x.v.gen == x.gen && x.v.state == waiting {
			return x.v
		}
	}
}
