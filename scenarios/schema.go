package scenarios

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/reports"
)

// The keys of a scenario file, section by section. Every key is optional
// unless its decoder says otherwise.
var (
	scenarioKeys = []string{"name", "description", "target", "seed", "profile", "http", "data", "login", "journeys", "slo", "gates", "embedded", "outages"}
	httpKeys     = []string{"timeout", "insecure", "version", "ca_cert", "client_cert", "client_key", "headers"}
	feederKeys   = []string{"name", "file", "mode", "format"}
	sloKeys      = []string{"p50", "p90", "p95", "p99", "p999", "errors"}
	embeddedKeys = []string{"stack_profile", "db", "banks", "time_scale", "rate_scale", "duration"}
	outageKeys   = []string{"station", "start", "duration"}
)

// identifier is what variable and feeder names look like, so templates can
// write them as .Vars.NAME and .Data.NAME.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// scenario decodes the whole file. Sections are decoded in dependency
// order, whatever their order in the file: feeders before the templates
// that read them, the login before the journeys that use its variables.
func (d *decoder) scenario(root *yaml.Node) *Scenario {
	s := &Scenario{
		Source:   d.file,
		Target:   "embedded",
		Seed:     1,
		HTTP:     HTTPOptions{Timeout: 10 * time.Second, Version: "auto"},
		SLO:      reports.DefaultSLO,
		Embedded: Embedded{StackProfile: "naive"},
		Epoch:    epoch(),
	}
	d.s = s
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	o := d.object(root, "", scenarioKeys)
	if o.node == nil {
		if d.resolve(root) == nil {
			d.add(root, "", "the file is empty")
		}
		return s
	}
	s.Name = strings.TrimSpace(o.str("name"))
	if s.Name == "" {
		s.Name = safeName(strings.TrimSuffix(filepath.Base(d.file), filepath.Ext(d.file)))
	} else if why := nameProblem(s.Name); why != "" {
		_, n, _ := o.scalar("name")
		d.add(n, o.key("name"), "%q %s", clip(s.Name, 40), why)
	}
	s.Description = strings.TrimSpace(o.str("description"))
	d.target(o)
	if v, ok := o.integer("seed", -1<<63, 1<<63-1); ok {
		s.Seed = v
	}
	d.http(d.object(o.raw("http"), "http", httpKeys))
	s.Data = d.feeders(o.raw("data"), "data")
	if o.require("profile") {
		s.Profile = d.profile(o.raw("profile"), "profile")
	}
	var loginVars []string
	if o.has("login") {
		s.Login = d.step(o.raw("login"), "login", &scope{}, nil)
		if s.Login != nil {
			for _, x := range s.Login.Extract {
				loginVars = append(loginVars, x.Var)
			}
		}
	}
	if o.require("journeys") {
		s.Journeys = d.journeys(o.raw("journeys"), "journeys", loginVars)
	}
	d.slo(d.object(o.raw("slo"), "slo", sloKeys))
	for i, g := range d.list(o.raw("gates"), "gates", true) {
		key := fmt.Sprintf("gates[%d]", i)
		n := d.resolve(g)
		if n == nil || n.Kind != yaml.ScalarNode {
			d.add(g, key, "want a gate like p99<800ms")
			continue
		}
		gate, err := reports.ParseGate(n.Value)
		if err == nil {
			err = s.CheckGate(gate)
		}
		if err == nil && s.Profile != nil {
			err = CheckGateWindow(gate, s.Profile.Duration())
		}
		if err != nil {
			d.add(n, key, "%v", err)
			continue
		}
		s.Gates = append(s.Gates, gate)
	}
	d.embedded(d.object(o.raw("embedded"), "embedded", embeddedKeys))
	d.outages(o.raw("outages"), "outages")
	return s
}

// target reads "embedded" or a base URL, stored without a trailing slash.
func (d *decoder) target(o *object) {
	raw, n, ok := o.scalar("target")
	if !ok {
		return
	}
	raw = strings.TrimSpace(raw)
	if raw == "embedded" {
		d.s.Target = raw
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		d.add(n, "target", "%q is not embedded or a URL like http://host:port", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		d.add(n, "target", "%q: want embedded, or a URL starting with http:// or https://", raw)
	case u.Host == "":
		d.add(n, "target", "%q has no host", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		d.add(n, "target", "%q: a target is a base URL, without user, query or fragment", raw)
	default:
		d.s.Target = strings.TrimRight(raw, "/")
	}
}

// http reads the client options.
func (d *decoder) http(o *object) {
	h := &d.s.HTTP
	if v, ok := o.dur("timeout", false); ok {
		h.Timeout = v
	}
	if v, ok := o.boolean("insecure"); ok {
		h.Insecure = v
	}
	if v, n, ok := o.scalar("version"); ok {
		switch v = strings.TrimSpace(v); v {
		case "auto", "1.1", "2":
			h.Version = v
		case "2.0":
			h.Version = "2"
		default:
			d.add(n, o.key("version"), "%q is not auto, 1.1 or 2", v)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"ca_cert", &h.CACert}, {"client_cert", &h.ClientCert}, {"client_key", &h.ClientKey}} {
		if v, n, ok := o.scalar(f.key); ok && v != "" {
			if err := d.files.exists(v); err != nil {
				d.add(n, o.key(f.key), "%v", err)
			}
			*f.dst = d.files.path(v)
		}
	}
	if (h.ClientCert == "") != (h.ClientKey == "") {
		d.add(o.at, o.key("client_cert"), "client_cert and client_key go together")
	}
	hdr := d.object(o.raw("headers"), o.key("headers"), nil)
	for _, name := range hdr.order {
		key := hdr.key(name)
		v, n, ok := hdr.scalar(name)
		if !ok {
			continue
		}
		if !validHeaderName(name) {
			d.add(hdr.keys[name], key, "%q is not a valid header name", name)
			continue
		}
		if strings.Contains(v, "{{") {
			d.add(n, key, "http.headers are sent as written; put templated headers on a journey or a step")
			continue
		}
		if h.Headers == nil {
			h.Headers = map[string]string{}
		}
		h.Headers[http.CanonicalHeaderKey(name)] = v
	}
}

// feeders reads the data feeders and their files.
func (d *decoder) feeders(n *yaml.Node, key string) []*Feeder {
	var out []*Feeder
	for i, item := range d.list(n, key, false) {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.object(item, k, feederKeys)
		if !o.require("name", "file") {
			continue
		}
		f := &Feeder{Name: o.str("name"), Mode: Sequential}
		_, nameNode, _ := o.scalar("name")
		switch {
		case !identifier.MatchString(f.Name):
			d.add(nameNode, o.key("name"), "%q: a feeder name is a letter or _ then letters, digits or _", f.Name)
			continue
		case slices.ContainsFunc(out, func(g *Feeder) bool { return g.Name == f.Name }):
			d.add(nameNode, o.key("name"), "feeder %q is defined twice", f.Name)
			continue
		}
		if m, mn, ok := o.scalar("mode"); ok {
			if m != Sequential && m != Random && m != Unique {
				d.add(mn, o.key("mode"), "%q is not sequential, random or unique", m)
				continue
			}
			f.Mode = m
		}
		file, fileNode, _ := o.scalar("file")
		f.Format = feederFormat(file)
		if v, fn, ok := o.scalar("format"); ok {
			if v != "csv" && v != "jsonl" {
				d.add(fn, o.key("format"), "%q is not csv or jsonl", v)
				continue
			}
			f.Format = v
		}
		if f.Format == "" {
			d.add(fileNode, o.key("file"), "cannot tell the format of %q from its extension: set format: csv or jsonl", file)
			continue
		}
		f.File = d.files.path(file)
		data, err := d.files.read(file)
		if err != nil {
			d.add(fileNode, o.key("file"), "%v", err)
			continue
		}
		if f.Columns, f.Rows, err = readFeeder(file, data, f.Format); err != nil {
			d.add(fileNode, o.key("file"), "%v", err)
			continue
		}
		out = append(out, f)
	}
	return out
}

// slo reads the objective with reports' own metric names.
func (d *decoder) slo(o *object) {
	quantile := ""
	for _, name := range o.order {
		v, n, ok := o.scalar(name)
		if !ok {
			continue
		}
		if name != "errors" {
			if quantile != "" {
				d.add(n, o.key(name), "an SLO has one latency quantile; %s is already set", quantile)
				continue
			}
			quantile = name
		}
		slo, err := reports.ParseSLO(name+"="+strings.TrimSpace(v), d.s.SLO)
		if err != nil {
			d.add(n, o.key(name), "%v", err)
			continue
		}
		d.s.SLO = slo
	}
}

// embedded reads the options of the in-process stack.
func (d *decoder) embedded(o *object) {
	e := &d.s.Embedded
	if v, n, ok := o.scalar("stack_profile"); ok {
		if v != "naive" && v != "hardened" {
			d.add(n, o.key("stack_profile"), "%q is not naive or hardened", v)
		} else {
			e.StackProfile = v
		}
	}
	if v, n, ok := o.scalar("db"); ok && v != "" {
		if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
			d.add(n, o.key("db"), "want empty for embedded SQLite, or a postgres:// DSN")
		} else {
			e.DB = v
		}
	}
	if v, n, ok := o.scalar("banks"); ok && v != "" {
		if err := d.files.exists(v); err != nil {
			d.add(n, o.key("banks"), "%v", err)
		}
		e.Banks = d.files.path(v)
	}
	if v, ok := o.positive("time_scale"); ok {
		e.TimeScale = v
	}
	if v, ok := o.positive("rate_scale"); ok {
		e.RateScale = v
	}
	if o.has("duration") {
		e.Duration, _ = o.dur("duration", false)
	}
}

// station is what bank mock station names look like.
var station = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// outages reads the downstream outage windows; they must fall inside the
// profile.
func (d *decoder) outages(n *yaml.Node, key string) {
	for i, item := range d.list(n, key, false) {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.object(item, k, outageKeys)
		if !o.require("station", "start", "duration") {
			continue
		}
		out := Outage{Line: o.at.Line}
		name, sn, _ := o.scalar("station")
		if !station.MatchString(name) {
			d.add(sn, o.key("station"), "%q is not a station name like nexi, sia, iccrea or iban", name)
			continue
		}
		out.Station = name
		start, ok1 := o.dur("start", true)
		length, ok2 := o.dur("duration", false)
		if !ok1 || !ok2 {
			continue
		}
		out.Start, out.Duration = start, length
		if p := d.s.Profile; p != nil && start >= p.Duration() && p.Duration() > 0 {
			d.add(o.at, o.key("start"), "starts at %s, after the profile's end at %s", start, p.Duration())
			continue
		}
		d.s.Outages = append(d.s.Outages, out)
	}
}

// validHeaderName reports whether name is an HTTP token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// maxNameLen bounds a scenario name, which becomes part of a run folder's
// name.
const maxNameLen = 100 // bytes

// nameProblem says what makes name unfit to be part of a file name (the
// default run folder is runs/TIME-NAME), or "" when it is fine: a name must
// not steer where files go, nor carry terminal control sequences.
func nameProblem(name string) string {
	switch {
	case len(name) > maxNameLen:
		return fmt.Sprintf("is longer than %d bytes", maxNameLen)
	case strings.ContainsAny(name, `/\`):
		return "must not contain a path separator"
	case strings.Contains(name, ".."):
		return `must not contain ".."`
	case strings.ContainsFunc(name, unicode.IsControl):
		return "must not contain control characters"
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	}
	return ""
}

// safeName makes a name taken from a file name fit nameProblem, replacing
// what is not allowed with "_".
func safeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, name)
	name = strings.ReplaceAll(name, "..", "__")
	if len(name) > maxNameLen {
		name = strings.ToValidUTF8(name[:maxNameLen], "")
	}
	return name
}
