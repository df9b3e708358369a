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

	"github.com/stampede-load/stampede/internal/yamlconf"
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
		Source:   d.File(),
		Target:   EmbeddedTarget,
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
	o := d.Object(root, "", scenarioKeys)
	if o.Node() == nil {
		if d.Resolve(root) == nil {
			d.Add(root, "", "the file is empty")
		}
		return s
	}
	s.Name = strings.TrimSpace(o.Str("name"))
	if s.Name == "" {
		s.Name = safeName(strings.TrimSuffix(filepath.Base(d.File()), filepath.Ext(d.File())))
	} else if why := nameProblem(s.Name); why != "" {
		_, n, _ := o.Scalar("name")
		d.Add(n, o.Key("name"), "%q %s", clip(s.Name, 40), why)
	}
	s.Description = strings.TrimSpace(o.Str("description"))
	d.target(o)
	if v, ok := o.Int("seed", -1<<63, 1<<63-1); ok {
		s.Seed = v
	}
	d.http(d.Object(o.Raw("http"), "http", httpKeys))
	s.Data = d.feeders(o.Raw("data"), "data")
	if o.Require("profile") {
		s.Profile = d.profile(o.Raw("profile"), "profile")
	}
	var loginVars []string
	if o.Has("login") {
		s.Login = d.step(o.Raw("login"), "login", &scope{}, nil)
		if s.Login != nil {
			for _, x := range s.Login.Extract {
				loginVars = append(loginVars, x.Var)
			}
		}
	}
	if o.Require("journeys") {
		s.Journeys = d.journeys(o.Raw("journeys"), "journeys", loginVars)
	}
	d.slo(d.Object(o.Raw("slo"), "slo", sloKeys))
	for i, g := range d.List(o.Raw("gates"), "gates", true) {
		key := fmt.Sprintf("gates[%d]", i)
		n := d.Resolve(g)
		if n == nil || n.Kind != yaml.ScalarNode {
			d.Add(g, key, "want a gate like p99<800ms")
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
			d.Add(n, key, "%v", err)
			continue
		}
		s.Gates = append(s.Gates, gate)
	}
	d.embedded(d.Object(o.Raw("embedded"), "embedded", embeddedKeys))
	d.outages(o.Raw("outages"), "outages")
	return s
}

// target reads "embedded" or a base URL, stored without a trailing slash.
func (d *decoder) target(o *yamlconf.Object) {
	raw, n, ok := o.Scalar("target")
	if !ok {
		return
	}
	raw = strings.TrimSpace(raw)
	if raw == EmbeddedTarget {
		d.s.Target = raw
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		d.Add(n, "target", "%q is not embedded or a URL like http://host:port", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		d.Add(n, "target", "%q: want embedded, or a URL starting with http:// or https://", raw)
	case u.Host == "":
		d.Add(n, "target", "%q has no host", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		d.Add(n, "target", "%q: a target is a base URL, without user, query or fragment", raw)
	default:
		d.s.Target = strings.TrimRight(raw, "/")
	}
}

// http reads the client options.
func (d *decoder) http(o *yamlconf.Object) {
	h := &d.s.HTTP
	if v, ok := o.Duration("timeout", false); ok {
		h.Timeout = v
	}
	if v, ok := o.Bool("insecure"); ok {
		h.Insecure = v
	}
	if v, n, ok := o.Scalar("version"); ok {
		switch v = strings.TrimSpace(v); v {
		case "auto", "1.1", "2":
			h.Version = v
		case "2.0":
			h.Version = "2"
		default:
			d.Add(n, o.Key("version"), "%q is not auto, 1.1 or 2", v)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"ca_cert", &h.CACert}, {"client_cert", &h.ClientCert}, {"client_key", &h.ClientKey}} {
		if v, n, ok := o.Scalar(f.key); ok && v != "" {
			if err := d.files.exists(v); err != nil {
				d.Add(n, o.Key(f.key), "%v", err)
			}
			*f.dst = d.files.path(v)
		}
	}
	if (h.ClientCert == "") != (h.ClientKey == "") {
		d.Add(o.At(), o.Key("client_cert"), "client_cert and client_key go together")
	}
	hdr := d.Object(o.Raw("headers"), o.Key("headers"), nil)
	for _, name := range hdr.Keys() {
		key := hdr.Key(name)
		v, n, ok := hdr.Scalar(name)
		if !ok {
			continue
		}
		if !validHeaderName(name) {
			d.Add(hdr.KeyNode(name), key, "%q is not a valid header name", name)
			continue
		}
		if strings.Contains(v, "{{") {
			d.Add(n, key, "http.headers are sent as written; put templated headers on a journey or a step")
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
	for i, item := range d.List(n, key, false) {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.Object(item, k, feederKeys)
		if !o.Require("name", "file") {
			continue
		}
		f := &Feeder{Name: o.Str("name"), Mode: Sequential}
		_, nameNode, _ := o.Scalar("name")
		switch {
		case !identifier.MatchString(f.Name):
			d.Add(nameNode, o.Key("name"), "%q: a feeder name is a letter or _ then letters, digits or _", f.Name)
			continue
		case slices.ContainsFunc(out, func(g *Feeder) bool { return g.Name == f.Name }):
			d.Add(nameNode, o.Key("name"), "feeder %q is defined twice", f.Name)
			continue
		}
		if o.Has("mode") {
			m, ok := o.Enum("mode", Sequential, Random, Unique)
			if !ok {
				continue
			}
			f.Mode = m
		}
		file, fileNode, _ := o.Scalar("file")
		f.Format = feederFormat(file)
		if o.Has("format") {
			v, ok := o.Enum("format", "csv", "jsonl")
			if !ok {
				continue
			}
			f.Format = v
		}
		if f.Format == "" {
			d.Add(fileNode, o.Key("file"), "cannot tell the format of %q from its extension: set format: csv or jsonl", file)
			continue
		}
		f.File = d.files.path(file)
		data, err := d.files.read(file)
		if err != nil {
			d.Add(fileNode, o.Key("file"), "%v", err)
			continue
		}
		if f.Columns, f.Rows, err = readFeeder(file, data, f.Format); err != nil {
			d.Add(fileNode, o.Key("file"), "%v", err)
			continue
		}
		out = append(out, f)
	}
	return out
}

// slo reads the objective with reports' own metric names.
func (d *decoder) slo(o *yamlconf.Object) {
	quantile := ""
	for _, name := range o.Keys() {
		v, n, ok := o.Scalar(name)
		if !ok {
			continue
		}
		if name != "errors" {
			if quantile != "" {
				d.Add(n, o.Key(name), "an SLO has one latency quantile; %s is already set", quantile)
				continue
			}
			quantile = name
		}
		slo, err := reports.ParseSLO(name+"="+strings.TrimSpace(v), d.s.SLO)
		if err != nil {
			d.Add(n, o.Key(name), "%v", err)
			continue
		}
		d.s.SLO = slo
	}
}

// embedded reads the options of the in-process stack.
func (d *decoder) embedded(o *yamlconf.Object) {
	e := &d.s.Embedded
	if v, ok := o.Enum("stack_profile", "naive", "hardened"); ok {
		e.StackProfile = v
	}
	if v, n, ok := o.Scalar("db"); ok && v != "" {
		if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
			d.Add(n, o.Key("db"), "want empty for embedded SQLite, or a postgres:// DSN")
		} else {
			e.DB = v
		}
	}
	if v, n, ok := o.Scalar("banks"); ok && v != "" {
		if err := d.files.exists(v); err != nil {
			d.Add(n, o.Key("banks"), "%v", err)
		}
		e.Banks = d.files.path(v)
	}
	if v, ok := o.Positive("time_scale"); ok {
		e.TimeScale = v
	}
	if v, ok := o.Positive("rate_scale"); ok {
		e.RateScale = v
	}
	if o.Has("duration") {
		e.Duration, _ = o.Duration("duration", false)
	}
}

// station is what bank mock station names look like.
var station = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// outages reads the downstream outage windows; they must fall inside the
// profile.
func (d *decoder) outages(n *yaml.Node, key string) {
	for i, item := range d.List(n, key, false) {
		k := fmt.Sprintf("%s[%d]", key, i)
		o := d.Object(item, k, outageKeys)
		if !o.Require("station", "start", "duration") {
			continue
		}
		out := Outage{Line: o.At().Line}
		name, sn, _ := o.Scalar("station")
		if !station.MatchString(name) {
			d.Add(sn, o.Key("station"), "%q is not a station name like nexi, sia, iccrea or iban", name)
			continue
		}
		out.Station = name
		start, ok1 := o.Duration("start", true)
		length, ok2 := o.Duration("duration", false)
		if !ok1 || !ok2 {
			continue
		}
		out.Start, out.Duration = start, length
		if p := d.s.Profile; p != nil && start >= p.Duration() && p.Duration() > 0 {
			d.Add(o.At(), o.Key("start"), "starts at %s, after the profile's end at %s", start, p.Duration())
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
