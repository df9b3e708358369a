package bank

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// FaultSpec is one injected failure at a station: a fault Type, the chance
// it hits a request, and the window of time it is active in. The other
// fields are parameters of some types only:
//
//   - error: answer Status (500, 502, 503 or 504; default 503) instead of
//     the real answer, after the service time.
//   - hang: hold the request, and its slot, until the client gives up.
//   - reset: reset the connection (RST, SO_LINGER 0) after the service time.
//   - slow-body: send the real answer Chunk bytes (default 1) every Interval
//     (default 100ms).
//   - malformed: send the real answer cut in half: invalid JSON.
//   - outage: refuse every request on arrival, without queueing it. Mode
//     says how: "error" (default; Status, default 503, code OUTAGE), "reset"
//     or "hang".
//   - degradation: multiply the service time by Factor (at least 1).
//
// At a bank, which has no HTTP of its own, error, reset and outage make the
// IBAN service answer 502 BANK_TIMEOUT at once and hang makes it wait for
// its bank timeout; slow-body and malformed do not apply.
type FaultSpec struct {
	Type string
	// Probability is the chance, 0 to 1, that the fault hits a request that
	// arrives inside the window. A banks file may leave it out for 1.
	Probability float64
	// From and To bound the window, as offsets from the server's start; To
	// 0 means no end. The zero window is always.
	From, To time.Duration
	Status   int           // error, outage
	Mode     string        // outage
	Factor   float64       // degradation
	Chunk    int           // slow-body, bytes
	Interval time.Duration // slow-body
}

// active reports whether t (since the server's start) is inside f's window.
func (f FaultSpec) active(t time.Duration) bool {
	return t >= f.From && (f.To == 0 || t < f.To)
}

// fault is what one fault type does to a request it hits: it marks the
// request's effect, which the station and the HTTP layer then carry out.
// Like a toxic in toxiproxy, each type is a small plug-in registered by name
// in faultTypes.
type fault interface {
	apply(e *effect)
}

// faultFunc adapts a function to the fault interface.
type faultFunc func(e *effect)

func (f faultFunc) apply(e *effect) { f(e) }

// failKind says how a request fails.
type failKind uint8

const (
	failNone   failKind = iota
	failStatus          // an HTTP error answer
	failHang            // hold until the client gives up
	failReset           // reset the connection
)

// failure is how a request that a fault hit ends instead of its answer.
type failure struct {
	kind   failKind
	status int
	code   string
}

// dribble writes an answer slowly.
type dribble struct {
	chunk    int
	interval time.Duration
}

// effect is everything the faults drawn for one request do to it.
type effect struct {
	reject    failure // on arrival, before queueing (outage)
	fail      failure // after the service time, instead of the answer
	slowdown  float64 // service-time multiplier; 0 means 1
	dribble   dribble // chunk 0 means write at once
	malformed bool    // cut the answer's JSON in half
}

// faultType is one registered kind of fault.
type faultType struct {
	params   []string // FaultSpec parameters it takes, as file keys
	overHTTP bool     // only meaningful at a station that answers over HTTP
	build    func(f FaultSpec, p *problems, path string) fault
}

// faultTypes are the fault types by the name a banks file uses.
var faultTypes = map[string]faultType{
	"error":       {params: []string{"status"}, build: buildError},
	"hang":        {build: buildHang},
	"reset":       {build: buildReset},
	"slow-body":   {params: []string{"chunk", "interval"}, overHTTP: true, build: buildSlowBody},
	"malformed":   {overHTTP: true, build: buildMalformed},
	"outage":      {params: []string{"mode", "status"}, build: buildOutage},
	"degradation": {params: []string{"factor"}, build: buildDegradation},
}

// faultTypeNames lists the registered fault types, sorted, for messages.
func faultTypeNames() string {
	names := make([]string, 0, len(faultTypes))
	for n := range faultTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// errorCodes are the codes of the error bodies injected faults answer with.
var errorCodes = map[int]string{500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}

// faultStatus returns the status an error or outage answers with, checking
// it is one of the injectable ones.
func faultStatus(f FaultSpec, p *problems, path string) int {
	if f.Status == 0 {
		return 503
	}
	if _, ok := errorCodes[f.Status]; !ok {
		p.add(path+".status", "%d is not 500, 502, 503 or 504", f.Status)
	}
	return f.Status
}

func buildError(f FaultSpec, p *problems, path string) fault {
	fail := failure{kind: failStatus, status: faultStatus(f, p, path)}
	fail.code = errorCodes[fail.status]
	return faultFunc(func(e *effect) { e.fail = fail })
}

func buildHang(FaultSpec, *problems, string) fault {
	return faultFunc(func(e *effect) { e.fail = failure{kind: failHang} })
}

func buildReset(FaultSpec, *problems, string) fault {
	return faultFunc(func(e *effect) { e.fail = failure{kind: failReset} })
}

func buildSlowBody(f FaultSpec, p *problems, path string) fault {
	d := dribble{chunk: f.Chunk, interval: f.Interval}
	if d.chunk == 0 {
		d.chunk = 1
	}
	if d.interval == 0 {
		d.interval = 100 * time.Millisecond
	}
	if d.chunk < 0 {
		p.add(path+".chunk", "must be positive, got %d", f.Chunk)
	}
	if d.interval < 0 {
		p.add(path+".interval", "must be positive, got %s", formatDuration(f.Interval))
	}
	return faultFunc(func(e *effect) { e.dribble = d })
}

func buildMalformed(FaultSpec, *problems, string) fault {
	return faultFunc(func(e *effect) { e.malformed = true })
}

func buildOutage(f FaultSpec, p *problems, path string) fault {
	var fail failure
	switch f.Mode {
	case "", "error":
		fail = failure{kind: failStatus, status: faultStatus(f, p, path), code: "OUTAGE"}
	case "reset", "hang":
		if f.Status != 0 {
			p.add(path+".status", "does not apply to an outage in mode %s", f.Mode)
		}
		fail = failure{kind: failReset}
		if f.Mode == "hang" {
			fail.kind = failHang
		}
	default:
		p.add(path+".mode", "%q is not error, reset or hang", f.Mode)
	}
	return faultFunc(func(e *effect) { e.reject = fail })
}

func buildDegradation(f FaultSpec, p *problems, path string) fault {
	if !(f.Factor >= 1) || math.IsInf(f.Factor, 0) {
		p.add(path+".factor", "must be a number of at least 1, got %v", f.Factor)
	}
	factor := f.Factor
	return faultFunc(func(e *effect) {
		if e.slowdown == 0 {
			e.slowdown = 1
		}
		e.slowdown *= factor
	})
}

// activeFault is a fault ready to draw: its spec and what it does.
type activeFault struct {
	FaultSpec
	fault fault
}

// compileFaults checks specs and builds their faults. It reports problems
// to p under path (the station's faults key); overHTTP is as for validate.
func compileFaults(p *problems, path string, specs []FaultSpec, overHTTP bool) []activeFault {
	out := make([]activeFault, 0, len(specs))
	for i, f := range specs {
		fp := fmt.Sprintf("%s[%d]", path, i)
		ft, ok := faultTypes[f.Type]
		if !ok {
			p.add(fp+".type", "%q is not a fault type (want one of %s)", f.Type, faultTypeNames())
			continue
		}
		if ft.overHTTP && !overHTTP {
			p.add(fp+".type", "%s does not apply to a bank: the IBAN service answers for it", f.Type)
		}
		if !(f.Probability >= 0 && f.Probability <= 1) {
			p.add(fp+".probability", "must be between 0 and 1, got %v", f.Probability)
		}
		if f.From < 0 {
			p.add(fp+".from", "must not be negative, got %s", formatDuration(f.From))
		}
		if f.To != 0 && f.To <= f.From {
			p.add(fp+".to", "%s is not after from (%s)", formatDuration(f.To), formatDuration(f.From))
		}
		set := map[string]bool{"status": f.Status != 0, "mode": f.Mode != "", "factor": f.Factor != 0,
			"chunk": f.Chunk != 0, "interval": f.Interval != 0}
		for _, key := range []string{"status", "mode", "factor", "chunk", "interval"} {
			if set[key] && !slices.Contains(ft.params, key) {
				p.add(fp+"."+key, "does not apply to a %s fault", f.Type)
			}
		}
		out = append(out, activeFault{FaultSpec: f, fault: ft.build(f, p, fp)})
	}
	return out
}

// exclusiveFaults are the types whose windows must not overlap at one
// station: two outages or two degradations at once would be ambiguous.
var exclusiveFaults = []string{"outage", "degradation"}

// validateFaults checks a station's faults, and that no two of an
// exclusive type overlap in time.
func validateFaults(p *problems, path string, specs []FaultSpec, overHTTP bool) {
	compileFaults(p, path, specs, overHTTP)
	for j, b := range specs {
		for i, a := range specs[:j] {
			if a.Type != b.Type || !slices.Contains(exclusiveFaults, a.Type) {
				continue
			}
			if overlaps(a, b) {
				p.add(fmt.Sprintf("%s[%d]", path, j), "%s window %s overlaps %s[%d] (%s)",
					b.Type, windowString(b), path, i, windowString(a))
			}
		}
	}
}

// overlaps reports whether the windows of a and b share any instant.
func overlaps(a, b FaultSpec) bool {
	end := func(f FaultSpec) time.Duration {
		if f.To == 0 {
			return time.Duration(math.MaxInt64)
		}
		return f.To
	}
	return a.From < end(b) && b.From < end(a)
}

func windowString(f FaultSpec) string {
	if f.To == 0 {
		return "from " + formatDuration(f.From)
	}
	return formatDuration(f.From) + " to " + formatDuration(f.To)
}
