package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

var (
	journeyKeys = []string{"name", "weight", "headers", "steps"}
	stepKeys    = []string{"name", "method", "path", "headers", "body", "expect", "extract", "think", "poll", "retry", "abandon", "timeout"}
	thinkKeys   = []string{"median", "p95"}
	pollKeys    = []string{"field", "while", "interval", "max"}
	retryKeys   = []string{"probability", "backoff", "max_attempts", "on"}
	methods     = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
)

// scope is what a step's templates may read: the variables extracted before
// it, by the login step or earlier steps of its journey.
type scope struct {
	vars    []string
	journey string // "" for the login step
}

// where says, in messages, which steps could have extracted a variable.
func (sc *scope) where() string {
	if sc.journey == "" {
		return "nothing is extracted before the login step"
	}
	return fmt.Sprintf("it is not extracted by the login step or an earlier step of journey %q", sc.journey)
}

// journeys reads the weighted journeys.
func (d *decoder) journeys(n *yaml.Node, key string, loginVars []string) []*Journey {
	items := d.List(n, key, false)
	if len(items) == 0 && !d.Full() {
		d.Add(n, key, "has no journeys")
	}
	var out []*Journey
	for i, item := range items {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.Object(item, k, journeyKeys)
		if o.Node() == nil {
			if d.Resolve(item) == nil {
				d.Add(item, k, "is empty")
			}
			continue
		}
		j := &Journey{Weight: 1, Line: o.At().Line}
		if o.Require("name") {
			j.Name = strings.TrimSpace(o.Str("name"))
			d.printableName(o, j.Name)
			if slices.ContainsFunc(out, func(x *Journey) bool { return x.Name == j.Name }) {
				d.Add(o.KeyNode("name"), o.Key("name"), "journey %q is defined twice", j.Name)
			}
		}
		if o.Has("weight") {
			j.Weight, _ = o.Positive("weight")
		}
		sc := &scope{vars: slices.Clone(loginVars), journey: j.Name}
		shared, parts, ok := d.headers(d.Object(o.Raw("headers"), o.Key("headers"), nil), sc)
		if ok && !d.Full() {
			d.try(nil, sc, parts)
		}
		steps := d.List(o.Raw("steps"), o.Key("steps"), false)
		if len(steps) == 0 && o.Require("steps") && !d.Full() {
			d.Add(o.Raw("steps"), o.Key("steps"), "has no steps")
		}
		for si, sn := range steps {
			st := d.step(sn, fmt.Sprintf("%s.steps[%d]", k, si), sc, shared)
			if st == nil {
				continue
			}
			if slices.ContainsFunc(j.Steps, func(x *Step) bool { return x.Name == st.Name }) {
				d.Add(sn, fmt.Sprintf("%s.steps[%d].name", k, si), "step %q appears twice in journey %q: results are counted by step name", st.Name, j.Name)
			}
			j.Steps = append(j.Steps, st)
		}
		out = append(out, j)
	}
	total := 0.0
	for _, j := range out {
		total += j.Weight
	}
	if math.IsInf(total, 0) {
		d.Add(n, key, "the journeys' weights add up to more than a float64 holds; use smaller weights")
	}
	return out
}

// printableName refuses a journey or step name that would print control
// characters: names reach the terminal in tables and progress lines.
func (d *decoder) printableName(o *yamlconf.Object, name string) {
	if strings.ContainsFunc(name, unicode.IsControl) || !utf8.ValidString(name) {
		_, n, _ := o.Scalar("name")
		d.Add(n, o.Key("name"), "%q must not contain control characters or invalid UTF-8", clip(name, 40))
	}
}

// part is a templated part of a request, kept with where it was written so
// the trial run can report against it.
type part struct {
	t    *Template
	n    *yaml.Node
	key  string
	kind string // "path", "header", "body"
}

// step reads one step; inherited are its journey's headers.
func (d *decoder) step(n *yaml.Node, key string, sc *scope, inherited []Header) *Step {
	o := d.Object(n, key, stepKeys)
	if o.Node() == nil {
		if !d.Full() && d.Resolve(n) == nil {
			d.Add(n, key, "is empty")
		}
		return nil
	}
	st := &Step{Method: http.MethodGet, Line: o.At().Line}
	if sc.journey == "" {
		st.Name = "login"
	}
	if v := strings.TrimSpace(o.Str("name")); v != "" {
		st.Name = v
		d.printableName(o, v)
	} else if sc.journey != "" {
		o.Require("name")
	}
	if v, mn, ok := o.Scalar("method"); ok {
		v = strings.ToUpper(strings.TrimSpace(v))
		if !slices.Contains(methods, v) {
			d.Add(mn, o.Key("method"), "%q is not one of %s", v, strings.Join(methods, ", "))
		}
		st.Method = v
	}
	var parts []part
	trial := true
	if o.Require("path") {
		src, pn, _ := o.Scalar("path")
		if !strings.HasPrefix(src, "/") {
			d.Add(pn, o.Key("path"), "%q must start with /: it is joined to the target's URL", src)
			trial = false
		} else if t, ok := d.template(pn, o.Key("path"), src, sc); t != nil {
			st.Path = t
			parts = append(parts, part{t, pn, o.Key("path"), "path"})
			trial = trial && ok
		}
	}
	if st.Path == nil {
		st.Path = ConstTemplate("/")
		trial = false
	}
	own, headerParts, ok := d.headers(d.Object(o.Raw("headers"), o.Key("headers"), nil), sc)
	parts = append(parts, headerParts...)
	trial = trial && ok
	st.Headers = mergeHeaders(inherited, own)
	if src, bn, ok := o.Scalar("body"); ok {
		if t, ok := d.template(bn, o.Key("body"), src, sc); t != nil {
			st.Body = t
			parts = append(parts, part{t, bn, o.Key("body"), "body"})
			trial = trial && ok
		}
	}
	st.Expect = codes(o, "expect", false)
	st.Extract = d.extractions(d.Object(o.Raw("extract"), o.Key("extract"), nil))
	st.Think = d.think(o.Raw("think"), o.Key("think"))
	st.Poll = d.poll(o.Raw("poll"), o.Key("poll"))
	st.Retry = d.retry(o.Raw("retry"), o.Key("retry"))
	if v, ok := o.Probability("abandon"); ok {
		st.Abandon = v
	}
	if v, ok := o.Duration("timeout", false); ok {
		st.Timeout = v
	}
	if st.Body != nil && st.header("Content-Type") == nil && d.s.HTTP.Headers["Content-Type"] == "" {
		st.Headers = append(st.Headers, Header{Name: "Content-Type", Value: ConstTemplate("application/json")})
	}
	if trial && !d.Full() {
		d.try(st, sc, parts)
	}
	for _, x := range st.Extract {
		if !slices.Contains(sc.vars, x.Var) {
			sc.vars = append(sc.vars, x.Var)
		}
	}
	return st
}

// header returns the step's header named name (canonical), or nil.
func (st *Step) header(name string) *Header {
	for i := range st.Headers {
		if st.Headers[i].Name == name {
			return &st.Headers[i]
		}
	}
	return nil
}

// headers reads a mapping of templated headers, names canonicalised; ok
// says whether every template's references held, so they can be tried.
func (d *decoder) headers(o *yamlconf.Object, sc *scope) (out []Header, parts []part, ok bool) {
	ok = true
	for _, name := range o.Keys() {
		src, n, present := o.Scalar(name)
		if !present {
			continue
		}
		if !validHeaderName(name) {
			d.Add(o.KeyNode(name), o.Key(name), "%q is not a valid header name", name)
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if slices.ContainsFunc(out, func(h Header) bool { return h.Name == canon }) {
			d.Add(o.KeyNode(name), o.Key(name), "header %s is set twice", canon)
			continue
		}
		t, refsOK := d.template(n, o.Key(name), src, sc)
		if t == nil {
			ok = false
			continue
		}
		ok = ok && refsOK
		out = append(out, Header{Name: canon, Value: t})
		parts = append(parts, part{t, n, o.Key(name), "header"})
	}
	return out, parts, ok
}

// mergeHeaders returns the journey's headers overridden by the step's own.
func mergeHeaders(inherited, own []Header) []Header {
	if len(inherited) == 0 {
		return own
	}
	out := make([]Header, 0, len(inherited)+len(own))
	for _, h := range inherited {
		if !slices.ContainsFunc(own, func(o Header) bool { return o.Name == h.Name }) {
			out = append(out, h)
		}
	}
	return append(out, own...)
}

// extractions reads "variable: path" pairs.
func (d *decoder) extractions(o *yamlconf.Object) []Extraction {
	var out []Extraction
	for _, name := range o.Keys() {
		key := o.Key(name)
		if !identifier.MatchString(name) {
			d.Add(o.KeyNode(name), key, "%q: a variable name is a letter or _ then letters, digits or _", name)
			continue
		}
		src, n, ok := o.Scalar(name)
		if !ok {
			if n == nil {
				d.Add(o.KeyNode(name), key, "want a JSON path like data.cards[0].hpan")
			}
			continue
		}
		p, err := parsePath(strings.TrimSpace(src))
		if err != nil {
			d.Add(n, key, "%v", err)
			continue
		}
		out = append(out, Extraction{Var: name, Path: strings.TrimSpace(src), path: p})
	}
	return out
}

// think reads a pause: {median, p95}, or a single duration for a fixed one.
func (d *decoder) think(n *yaml.Node, key string) Think {
	r := d.Resolve(n)
	if r == nil {
		return Think{}
	}
	if r.Kind == yaml.ScalarNode {
		v, ok := d.Duration(r, key, true)
		if !ok {
			return Think{}
		}
		return Think{Median: v, P95: v}
	}
	o := d.Object(r, key, thinkKeys)
	if !o.Require("median") {
		return Think{}
	}
	med, ok := o.Duration("median", true)
	if !ok {
		return Think{}
	}
	t := Think{Median: med, P95: med}
	if o.Has("p95") {
		p95, ok := o.Duration("p95", true)
		switch {
		case !ok:
		case p95 < med:
			d.Add(o.KeyNode("p95"), o.Key("p95"), "p95 %s is below the median %s", p95, med)
		default:
			t.P95 = p95
		}
	}
	return t
}

// poll reads a polling rule.
func (d *decoder) poll(n *yaml.Node, key string) *Poll {
	if d.Resolve(n) == nil {
		return nil
	}
	o := d.Object(n, key, pollKeys)
	if o.Node() == nil || !o.Require("field", "while", "interval") {
		return nil
	}
	p := &Poll{Max: 10}
	src, fn, _ := o.Scalar("field")
	field, err := parsePath(strings.TrimSpace(src))
	if err != nil {
		d.Add(fn, o.Key("field"), "%v", err)
		return nil
	}
	p.Field, p.field = strings.TrimSpace(src), field
	p.While, _, _ = o.Scalar("while")
	iv, ok := o.Duration("interval", false)
	if !ok {
		return nil
	}
	p.Interval = iv
	if o.Has("max") {
		v, ok := o.Int("max", 1, maxRounds)
		if !ok {
			return nil
		}
		p.Max = int(v)
	}
	return p
}

// retry reads a retry rule.
func (d *decoder) retry(n *yaml.Node, key string) *Retry {
	if d.Resolve(n) == nil {
		return nil
	}
	o := d.Object(n, key, retryKeys)
	if o.Node() == nil {
		return nil
	}
	rt := &Retry{Probability: 1, MaxAttempts: 3}
	if o.Has("probability") {
		rt.Probability, _ = o.Probability("probability")
	}
	rt.Backoff = d.think(o.Raw("backoff"), o.Key("backoff"))
	if o.Has("max_attempts") {
		v, _ := o.Int("max_attempts", 1, 100)
		rt.MaxAttempts = int(v)
	}
	rt.On = codes(o, "on", true)
	return rt
}

// try renders a step's templated parts for a sample user, so a template
// that would fail on every request fails at load instead. st is nil for a
// journey's shared headers.
func (d *decoder) try(st *Step, sc *scope, parts []part) {
	u, err := d.s.NewUser(0)
	if err != nil {
		return
	}
	for _, v := range sc.vars {
		u.Vars[v] = "sample-" + v
	}
	for _, p := range parts {
		out, err := p.t.Execute(u)
		switch {
		case err != nil:
			d.Add(p.n, p.key, "fails for a sample user: %v", err)
		case p.kind == "path":
			if _, err := url.Parse("http://host" + out); err != nil {
				d.Add(p.n, p.key, "renders %q, not a valid URL path: %v", out, err)
			}
		case p.kind == "header":
			if strings.ContainsAny(out, "\r\n") {
				d.Add(p.n, p.key, "renders a value with a line break")
			}
		case p.kind == "body":
			ct := d.s.HTTP.Headers["Content-Type"]
			if h := st.header("Content-Type"); h != nil {
				ct = h.Value.String()
			}
			if strings.Contains(ct, "json") && !json.Valid([]byte(out)) {
				d.Add(p.n, p.key, "renders invalid JSON for a sample user: %s", clip(out, 120))
			}
		}
	}
}

// clip shortens s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
