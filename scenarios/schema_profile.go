package scenarios

import (
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// The stage kinds of a profile file and their keys. A stage whose starting
// rate is optional (ramp from, hold rate, sine base, decay from, stairs from)
// carries on from the level the previous stage left: the rate it ended at,
// except after a spike, which returns to the level before it.
var (
	stageKinds = []string{"ramp", "hold", "spike", "sine", "decay", "stairs"}
	stageKeys  = map[string][]string{
		"ramp":   {"from", "to", "duration"},
		"hold":   {"rate", "duration"},
		"spike":  {"to", "duration"},
		"sine":   {"base", "amplitude", "period", "duration"},
		"decay":  {"from", "to", "duration", "half_life"},
		"stairs": {"from", "to", "step", "hold", "ramp"},
	}
)

// profile reads the list of stages.
func (d *decoder) profile(n *yaml.Node, key string) *Profile {
	p := &Profile{}
	items := d.List(n, key, false)
	if len(items) == 0 && !d.Full() {
		d.Add(n, key, "has no stages")
		return p
	}
	level := Rate(0)
	for i, item := range items {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.Object(item, k, stageKinds)
		if len(o.Keys()) != 1 {
			// A single unknown kind has been reported already.
			if o.Node() != nil && len(o.Node().Content) != 2 {
				d.Add(o.Node(), k, "want one stage (ramp, hold, spike, sine, decay or stairs), got %d keys", len(o.Node().Content)/2)
			}
			continue
		}
		kind := o.Keys()[0]
		so := d.Object(o.Raw(kind), o.Key(kind), stageKeys[kind])
		if so.Node() == nil && !d.Full() {
			d.Add(o.KeyNode(kind), o.Key(kind), "want the stage's settings, e.g. {to: 6000/s, duration: 5m}")
			continue
		}
		st := Stage{Kind: StageKind(kind), Line: o.KeyNode(kind).Line}
		if kind == "stairs" {
			p.Stages = append(p.Stages, d.stairs(so, level)...)
			if last := len(p.Stages) - 1; last >= 0 {
				level = p.Stages[last].To
			}
			continue
		}
		ok := so.Require(requiredStageKeys(kind)...)
		var okDur bool
		st.Duration, okDur = so.Duration("duration", false)
		ok = ok && okDur
		switch kind {
		case "ramp", "decay":
			st.From = level
			if so.Has("from") {
				v, good := rate(so, "from")
				st.From, ok = v, ok && good
			}
			v, good := rate(so, "to")
			st.To, ok = v, ok && good
			if kind == "decay" && so.Has("half_life") {
				h, good := so.Duration("half_life", false)
				st.HalfLife, ok = h, ok && good
			} else if kind == "decay" {
				st.HalfLife = st.Duration / 7
			}
		case "hold":
			st.To = level
			if so.Has("rate") {
				v, good := rate(so, "rate")
				st.To, ok = v, ok && good
			}
			st.From = st.To
		case "spike":
			st.From = level
			v, good := rate(so, "to")
			st.To, ok = v, ok && good
		case "sine":
			st.From = level
			if so.Has("base") {
				v, good := rate(so, "base")
				st.From, ok = v, ok && good
			}
			a, good := rate(so, "amplitude")
			st.Amplitude, ok = a, ok && good
			per, good := so.Duration("period", false)
			st.Period, ok = per, ok && good
			if ok && st.Amplitude > st.From {
				d.Add(so.KeyNode("amplitude"), so.Key("amplitude"), "amplitude %s is above the base %s: the rate would go negative", st.Amplitude, st.From)
				ok = false
			}
		}
		if !ok {
			continue
		}
		p.Stages = append(p.Stages, st)
		if kind != "spike" {
			level = st.To
			if kind == "sine" {
				level = st.From
			}
		}
	}
	if d.Full() || d.Failed() && len(p.Stages) == 0 {
		return p
	}
	switch total := p.Duration(); {
	case len(p.Stages) > maxStages:
		d.Add(n, key, "has %d stages, more than the maximum of %d", len(p.Stages), maxStages)
	case total > maxProfile:
		d.Add(n, key, "lasts %s, longer than the maximum of %s", total, maxProfile)
	case total > 0 && p.Peak() <= 0:
		d.Add(n, key, "never rises above 0/s: no journey would start")
	}
	return p
}

func requiredStageKeys(kind string) []string {
	switch kind {
	case "ramp", "decay", "spike":
		return []string{"to", "duration"}
	case "sine":
		return []string{"amplitude", "period", "duration"}
	}
	return []string{"duration"}
}

// stairs expands a stepped ramp into holds at from, from+step, ... up to
// to (always included), each reached by a ramp when ramp is set.
func (d *decoder) stairs(o *yamlconf.Object, level Rate) []Stage {
	ok := o.Require("to", "step", "hold")
	to, okTo := rate(o, "to")
	step, okStep := rate(o, "step")
	hold, okHold := o.Duration("hold", false)
	if !ok || !okTo || !okStep || !okHold {
		return nil
	}
	if step <= 0 {
		d.Add(o.KeyNode("step"), o.Key("step"), "must be above 0/s")
		return nil
	}
	from := step
	if o.Has("from") {
		v, good := rate(o, "from")
		if !good {
			return nil
		}
		from = v
	}
	var ramp time.Duration
	if o.Has("ramp") {
		v, good := o.Duration("ramp", false)
		if !good {
			return nil
		}
		ramp = v
	}
	if to < from {
		d.Add(o.KeyNode("to"), o.Key("to"), "%s is below from (%s): stairs go up", to, from)
		return nil
	}
	n := math.Floor(float64(to-from)/float64(step)+1e-9) + 1
	if n+1 > maxStages/2 {
		d.Add(o.KeyNode("step"), o.Key("step"), "makes %.0f stairs, more than the maximum of %d", n, maxStages/2)
		return nil
	}
	line := o.At().Line
	var out []Stage
	prev := level
	for i := 0; i <= int(n); i++ {
		r := from + Rate(float64(i))*step
		if i == int(n) {
			if to-prev <= step*1e-9 {
				break
			}
			r = to // the last stair lands on to even when step does not divide the climb
		}
		if ramp > 0 && r != prev {
			out = append(out, Stage{Kind: Ramp, From: prev, To: r, Duration: ramp, Line: line})
		}
		out = append(out, Stage{Kind: Hold, From: r, To: r, Duration: hold, Line: line})
		prev = r
	}
	return out
}
