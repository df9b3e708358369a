package reports

import (
	"math"
	"math/rand/v2"
	"time"
)

// t0 is the fixtures' start: the morning the Cashback wallet fell over.
var t0 = time.Date(2020, 12, 8, 7, 0, 0, 0, time.UTC)

// launchFixture is a small, deterministic replay of a launch morning: a
// ramp from 40 to 240 journeys' requests a second over 20 s, one journey
// (login, add-card, list-wallet) whose add-card step starts failing with
// 503 QUEUE_FULL via nexi past 150/s, timeouts at the bank search late in
// the ramp, retries of failed card adds, and a few dropped arrivals at the
// peak. Results come in end order, as an engine emits them.
func launchFixture() []Result {
	rng := rand.New(rand.NewPCG(8, 12))
	var out []Result
	var seq uint64
	const seconds = 20
	for sec := 0; sec < seconds; sec++ {
		offered := 40 + 10*sec // requests due this second
		for i := 0; i < offered; i++ {
			due := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(offered))
			seq++
			r := Result{
				Seq: seq, Journey: "enroll", User: seq % 97, Attempt: 1, Intended: due,
				Method: "GET", Code: 200, OK: true, BytesOut: 0, BytesIn: 512,
			}
			// Latency grows with load: an M/M/1-ish queue near capacity.
			load := float64(offered) / 260
			mean := 4 * time.Millisecond / time.Duration(1) // base service time
			lat := time.Duration(float64(mean) / (1 - load) * rng.ExpFloat64())
			switch i % 3 {
			case 0:
				r.Step, r.Method, r.URL, r.Arrival = "login", "POST", "http://stack/api/v1/session", true
				r.Code, r.BytesOut = 201, 32
			case 1:
				r.Step, r.Method, r.URL = "add-card", "POST", "http://stack/api/v1/wallet/cards"
				r.BytesOut = 96
				if offered > 150 && rng.IntN(3) == 0 {
					r.Code, r.OK, r.Upstream, r.ErrorCode = 503, false, "nexi", "QUEUE_FULL"
					r.Message = "Si è verificato un errore temporaneo nel salvataggio di questa carta"
					r.BytesIn = 64
				}
				if rng.IntN(10) == 0 {
					r.Attempt = 2
				}
			case 2:
				r.Step, r.URL = "search", "http://stack/api/v1/bancomat/cards?abi=03069"
				if offered > 200 && rng.IntN(8) == 0 {
					r.Code, r.OK, r.BytesIn = 0, false, 0
					r.Error = `Get "http://stack/api/v1/bancomat/cards?abi=03069": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
					r.Upstream = ""
					lat = 2 * time.Second
				} else {
					r.JourneyDone = true
				}
			}
			if offered >= 220 && i%50 == 7 {
				r = Result{Seq: seq, Journey: "enroll", Step: "login", User: seq % 97, Attempt: 1, Intended: due,
					Method: "POST", URL: "http://stack/api/v1/session", Dropped: true, Arrival: true, Latency: 500 * time.Millisecond}
				out = append(out, r)
				continue
			}
			queue := time.Duration(rng.IntN(200)) * time.Microsecond
			r.Sent = due.Add(queue)
			r.Latency = queue + lat + time.Millisecond
			r.SendLatency = lat + time.Millisecond
			out = append(out, r)
		}
	}
	// End order, stable for equal ends.
	sortByEnd(out)
	return out
}

func sortByEnd(rs []Result) {
	// Insertion-friendly: the fixture is nearly sorted already.
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].End().Before(rs[j-1].End()); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// accumulate adds rs to a new accumulator.
func accumulate(rs []Result, opts ...Option) *Accumulator {
	a := NewAccumulator(opts...)
	for i := range rs {
		a.Add(&rs[i])
	}
	return a
}

// near reports whether a and b agree to within rel (relative) or 1e-9.
func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))+1e-9
}
