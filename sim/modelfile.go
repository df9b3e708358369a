package sim

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// maxModelBytes bounds a model file.
const maxModelBytes = 4 << 20

// LoadModel reads and validates the model file at path; every problem comes
// back at once, one line each, file:line: key: what is wrong, wrapping
// ErrInvalidModel.
func LoadModel(path string) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: model file: %w", ErrInvalidModel, err)
	}
	if fi.Size() > maxModelBytes {
		return nil, fmt.Errorf("%w: model file %s: %d bytes, at most %d", ErrInvalidModel, path, fi.Size(), maxModelBytes)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: model file: %w", ErrInvalidModel, err)
	}
	return ParseModel(path, src)
}

// ParseModel decodes a model file (the format Model.Write prints) named
// file, and validates it.
func ParseModel(file string, src []byte) (*Model, error) {
	d := yamlconf.New(file, "model file")
	root := d.Parse(src)
	m := &Model{File: file}
	top := d.Object(root, "", []string{"model", "stations", "stack", "routes"})
	if root != nil {
		top.Require("stations", "stack", "routes")
	} else if !d.Failed() {
		d.AddAt(1, "", "the model file is empty")
	}
	m.Name = top.Str("model")
	for i, item := range top.List("stations", false) {
		m.Stations = append(m.Stations, station(d, item, fmt.Sprintf("stations[%d]", i)))
	}
	m.Stack = stackOf(d, top.Raw("stack"))
	for i, item := range top.List("routes", false) {
		m.Routes = append(m.Routes, routeOf(d, item, fmt.Sprintf("routes[%d]", i)))
	}
	if err := d.Err(ErrInvalidModel); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func station(d *yamlconf.Decoder, n *yaml.Node, path string) StationSpec {
	o := d.Object(n, path, []string{"name", "kind", "servers", "queue", "max_wait", "service", "cobadge_pending", "bank_timeout", "weight"})
	o.Require("name", "kind", "servers", "service")
	s := StationSpec{Name: o.Str("name"), Line: lineOf(n)}
	if v, ok := o.Enum("kind", KindProcessor, KindIBAN, KindBank, KindDB); ok {
		s.Kind = v
	}
	if v, ok := o.Int("servers", 1, 1_000_000); ok {
		s.Servers = int(v)
	}
	if v, ok := o.Int("queue", -1, 10_000_000); ok {
		s.Queue = int(v)
	}
	if v, ok := o.Duration("max_wait", true); ok {
		s.MaxWait = v
	}
	if v, ok := o.Duration("cobadge_pending", true); ok {
		s.Pending = v
	}
	if v, ok := o.Duration("bank_timeout", true); ok {
		s.BankTimeout = v
	}
	if v, ok := o.Number("weight"); ok {
		s.Weight = v
	}
	if o.Has("service") {
		s.Service = service(d, o.Raw("service"), path+".service")
	}
	return s
}

// service decodes a distribution as the banks file writes one:
// {distribution: lognormal, median: 80ms, p99: 400ms}.
func service(d *yamlconf.Decoder, n *yaml.Node, path string) Service {
	o := d.Object(n, path, []string{"distribution", "value", "mean", "median", "p99", "min", "max"})
	o.Require("distribution")
	var s Service
	if v, ok := o.Enum("distribution", string(Constant), string(Exponential), string(LogNormal), string(Uniform)); ok {
		s.Distribution = Distribution(v)
	}
	for _, f := range []struct {
		key string
		dst *time.Duration
	}{{"value", &s.Value}, {"mean", &s.Mean}, {"median", &s.Median}, {"p99", &s.P99}, {"min", &s.Min}, {"max", &s.Max}} {
		if v, ok := o.Duration(f.key, true); ok {
			*f.dst = v
		}
	}
	if s.Distribution != "" {
		if err := s.Validate(); err != nil {
			d.Add(n, path, "%v", err)
		}
	}
	return s
}

func stackOf(d *yamlconf.Decoder, n *yaml.Node) Stack {
	o := d.Object(n, "stack", []string{"fan_out", "workers", "pool", "bulkhead", "call_timeout", "db_timeout",
		"card_processor", "overhead", "retry_backoff", "breaker"})
	o.Require("call_timeout", "db_timeout", "card_processor")
	var k Stack
	if v, ok := o.Enum("fan_out", "sequential", "parallel"); ok {
		k.Sequential = v == "sequential"
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"workers", &k.Workers}, {"pool", &k.Pool}, {"bulkhead", &k.Bulkhead}} {
		if v, ok := o.Int(f.key, 0, 10_000_000); ok {
			*f.dst = int(v)
		}
	}
	if v, ok := o.Duration("call_timeout", false); ok {
		k.CallTimeout = v
	}
	if v, ok := o.Duration("db_timeout", false); ok {
		k.DBTimeout = v
	}
	k.CardProcessor = o.Str("card_processor")
	if o.Has("overhead") {
		ov := service(d, o.Raw("overhead"), "stack.overhead")
		k.Overhead = &ov
	}
	if v, ok := o.Duration("retry_backoff", false); ok {
		k.Retry, k.RetryBackoff = true, v
	}
	if o.Has("breaker") {
		bo := d.Object(o.Raw("breaker"), "stack.breaker", []string{"window", "min_calls", "failure_ratio", "open_for"})
		bo.Require("window", "min_calls", "failure_ratio", "open_for")
		b := &Breaker{}
		if v, ok := bo.Duration("window", false); ok {
			b.Window = v
		}
		if v, ok := bo.Int("min_calls", 1, 1_000_000); ok {
			b.MinCalls = int(v)
		}
		if v, ok := bo.Probability("failure_ratio"); ok {
			b.FailureRatio = v
		}
		if v, ok := bo.Duration("open_for", false); ok {
			b.OpenFor = v
		}
		k.Breaker = b
	}
	return k
}

func routeOf(d *yamlconf.Decoder, n *yaml.Node, path string) Route {
	o := d.Object(n, path, []string{"step", "ops", "code", "message", "db_code", "db_message", "shed_message"})
	o.Require("step")
	r := Route{Step: o.Str("step"), Code: o.Str("code"), Message: o.Str("message"), DBCode: o.Str("db_code"),
		DBMessage: o.Str("db_message"), ShedMessage: o.Str("shed_message"), Line: lineOf(n)}
	for i, item := range d.List(o.Raw("ops"), path+".ops", false) {
		item = d.Resolve(item)
		key := fmt.Sprintf("%s.ops[%d]", path, i)
		if item == nil || item.Kind != yaml.ScalarNode {
			d.Add(item, key, "want an operation like read or fanout(iccrea,nexi,sia)")
			continue
		}
		op, ok := parseOp(item.Value)
		if !ok {
			d.Add(item, key, "%q is not an operation: want one of %s, with the stations in parentheses: fanout(iccrea,nexi,sia)", item.Value, opKindsWritten)
			continue
		}
		r.Ops = append(r.Ops, op)
	}
	return r
}

// parseOp reads "kind" or "kind(station,station)".
func parseOp(s string) (Op, bool) {
	s = strings.TrimSpace(s)
	kind, rest, hasArgs := strings.Cut(s, "(")
	op := Op{Kind: OpKind(strings.TrimSpace(kind))}
	if hasArgs {
		args, ok := strings.CutSuffix(rest, ")")
		if !ok {
			return op, false
		}
		for _, a := range strings.Split(args, ",") {
			if a = strings.TrimSpace(a); a == "" {
				return op, false
			}
			op.Stations = append(op.Stations, a)
		}
	}
	switch op.Kind {
	case OpRead, OpWrite, OpCall, OpIBAN, OpFanOut, OpSearchStart, OpSearchPoll:
		return op, true
	}
	return op, false
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
