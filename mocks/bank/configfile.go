package bank

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/textfile"
	"github.com/stampede-load/stampede/internal/yamlconf"
)

// LoadConfig reads and validates the banks file at path. An unreadable,
// invalid or oversized file (over textfile.MaxConfig, checked before
// decoding) gives an error matching ErrInvalidConfig; the problems read
// path:line: key: message, every one of them at once.
func LoadConfig(path string) (Config, error) {
	data, err := textfile.Read(path, textfile.MaxConfig)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and validates a banks file; file names it in
// messages. Keys left out keep DefaultConfig's values; unknown keys are
// errors. The layering:
//
//   - processor_defaults applies to the three processors, then
//     processors.NAME to that one;
//   - bank_defaults applies to every bank, then each entry of banks to its
//     bank; banks, when present, replaces the whole list;
//   - service, rate_limit and faults are replaced as a whole, never merged.
func ParseConfig(file string, data []byte) (Config, error) {
	d := &decoder{p: newProblems(file, map[string]origin{})}
	root := d.p.d.Parse(data)
	if root == nil && d.p.d.Failed() {
		return Config{}, d.p.err() // a syntax error: nothing to decode
	}
	c := d.config(root)
	c.file, c.origins = file, d.p.origins
	c.validate(d.p)
	if err := d.p.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// fileKind names a banks file in messages about the whole file.
const fileKind = "banks file"

// decoder walks YAML nodes into a Config with the project's config decoder
// (yamlconf), recording the line of every key it sets (for Validate's
// messages) and every problem it meets.
type decoder struct {
	p *problems
}

// fields maps the keys of one YAML mapping to what decodes their values
// (o holds the mapping, key the field's name in it).
type fields map[string]func(o *yamlconf.Object, key string)

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping decodes the mapping n key by key through fs. Absent or null
// counts as an empty mapping, and a null value as a key left out; unknown
// and repeated keys are problems. Anchors and merge keys (<<) share
// settings between stations.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) {
	o := d.p.d.Object(n, path, keyList(fs))
	for _, k := range o.Keys() {
		kp := o.Key(k)
		d.p.origins[kp] = origin{key: kp, line: o.KeyNode(k).Line}
		fs[k](o, k)
	}
}

func keyList(fs fields) []string {
	keys := make([]string, 0, len(fs))
	for k := range fs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func readInt(o *yamlconf.Object, key string, dst *int) {
	if v, ok := o.Int(key, math.MinInt, math.MaxInt); ok {
		*dst = int(v)
	}
}

func readInt64(o *yamlconf.Object, key string, dst *int64) {
	if v, ok := o.Int(key, math.MinInt64, math.MaxInt64); ok {
		*dst = v
	}
}

func readFloat(o *yamlconf.Object, key string, dst *float64) {
	if v, ok := o.Number(key); ok {
		*dst = v
	}
}

// readStr takes a scalar as written, so an unquoted ABI code keeps its zeros.
func readStr(o *yamlconf.Object, key string, dst *string) {
	if v, _, ok := o.Scalar(key); ok {
		*dst = v
	}
}

// readDuration takes a duration with its unit (0 alone too); Validate
// decides which must be positive.
func readDuration(o *yamlconf.Object, key string, dst *time.Duration) {
	if v, ok := o.Duration(key, true); ok {
		*dst = v
	}
}

// forget drops the recorded origins under path, for a value that is
// replaced as a whole.
func (d *decoder) forget(path string) {
	for k := range d.p.origins {
		if strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[") {
			delete(d.p.origins, k)
		}
	}
}

// inherit records that the keys under to took their values from under from.
func (d *decoder) inherit(from, to string) {
	for k, o := range d.p.origins {
		if strings.HasPrefix(k, from+".") {
			d.p.origins[to+k[len(from):]] = o
		}
	}
}

// config decodes the whole file on top of DefaultConfig.
func (d *decoder) config(root *yaml.Node) Config {
	c := DefaultConfig()
	var pdefaults, procs, iban, bdefaults, banks *yaml.Node
	keep := func(dst **yaml.Node) func(*yamlconf.Object, string) {
		return func(o *yamlconf.Object, k string) { *dst = o.Raw(k) }
	}
	d.mapping(root, "", fields{
		"seed":               func(o *yamlconf.Object, k string) { readInt64(o, k, &c.Seed) },
		"processor_defaults": keep(&pdefaults),
		"processors":         keep(&procs),
		"iban":               keep(&iban),
		"bank_defaults":      keep(&bdefaults),
		"banks":              keep(&banks),
	})

	base := defaultProcessor()
	if pdefaults != nil {
		d.mapping(pdefaults, "processor_defaults", d.processorFields(&base, "processor_defaults"))
	}
	overrides := map[string]*yaml.Node{}
	pf := fields{}
	for _, name := range processorNames {
		pf[name] = func(o *yamlconf.Object, k string) { overrides[name] = o.Raw(k) }
	}
	if procs != nil {
		d.mapping(procs, "processors", pf)
	}
	for _, name := range processorNames {
		pc := base
		pc.StationConfig = base.StationConfig.clone()
		path := "processors." + name
		d.inherit("processor_defaults", path)
		if n := overrides[name]; n != nil {
			d.mapping(n, path, d.processorFields(&pc, path))
		}
		c.Processors[name] = pc
	}

	if iban != nil {
		d.mapping(iban, "iban", d.ibanFields(&c.IBAN, "iban"))
	}

	bankBase := defaultBankStation()
	if banks == nil {
		// No list: bank_defaults reshapes the default banks in place.
		for i := range c.Banks {
			if bdefaults != nil {
				path := fmt.Sprintf("banks[%d]", i)
				d.mapping(bdefaults, "bank_defaults", d.stationFields(&c.Banks[i].StationConfig, path))
				d.inherit("bank_defaults", path)
			}
		}
		return c
	}
	if bdefaults != nil {
		d.mapping(bdefaults, "bank_defaults", d.stationFields(&bankBase, "bank_defaults"))
	}
	c.Banks = nil
	for i, item := range d.p.d.List(banks, "banks", false) {
		path := fmt.Sprintf("banks[%d]", i)
		b := BankConfig{StationConfig: bankBase.clone()}
		d.inherit("bank_defaults", path)
		d.p.origins[path] = origin{key: path, line: item.Line}
		d.mapping(item, path, d.bankFields(&b, path))
		c.Banks = append(c.Banks, b)
	}
	return c
}

// stationFields decodes the keys every station has onto st. The origins of
// service, rate_limit and faults are forgotten under path when they are
// replaced (path is where st lives, which differs from the key path when a
// defaults section is applied to one bank).
func (d *decoder) stationFields(st *StationConfig, path string) fields {
	return fields{
		"servers": func(o *yamlconf.Object, k string) { readInt(o, k, &st.Servers) },
		"queue":   func(o *yamlconf.Object, k string) { readInt(o, k, &st.Queue) },
		"on_full": func(o *yamlconf.Object, k string) {
			if s, _, ok := o.Scalar(k); ok && s != "" {
				st.OnFull = OnFull(s)
			} else if ok {
				st.OnFull = RejectWhenFull // "" means the default, as in Go
			}
		},
		"max_wait": func(o *yamlconf.Object, k string) { readDuration(o, k, &st.MaxWait) },
		"service": func(o *yamlconf.Object, k string) {
			d.forget(joinKey(path, "service"))
			if s, ok := d.service(o.Raw(k), o.Key(k)); ok {
				st.Service = s
			}
		},
		"rate_limit": func(o *yamlconf.Object, k string) {
			d.forget(joinKey(path, "rate_limit"))
			st.RateLimit = d.rateLimit(o.Raw(k), o.Key(k))
		},
		"faults": func(o *yamlconf.Object, k string) {
			d.forget(joinKey(path, "faults"))
			st.Faults = d.faults(o.Raw(k), o.Key(k))
		},
	}
}

func (d *decoder) processorFields(pc *ProcessorConfig, path string) fields {
	fs := d.stationFields(&pc.StationConfig, path)
	fs["cobadge_pending"] = func(o *yamlconf.Object, k string) { readDuration(o, k, &pc.CobadgePending) }
	return fs
}

func (d *decoder) ibanFields(ic *IBANConfig, path string) fields {
	fs := d.stationFields(&ic.StationConfig, path)
	fs["bank_timeout"] = func(o *yamlconf.Object, k string) { readDuration(o, k, &ic.BankTimeout) }
	return fs
}

func (d *decoder) bankFields(b *BankConfig, path string) fields {
	fs := d.stationFields(&b.StationConfig, path)
	fs["abi"] = func(o *yamlconf.Object, k string) { readStr(o, k, &b.ABI) }
	fs["name"] = func(o *yamlconf.Object, k string) { readStr(o, k, &b.Name) }
	fs["weight"] = func(o *yamlconf.Object, k string) { readFloat(o, k, &b.Weight) }
	return fs
}

// service decodes a service time; ok is false when n is absent or not a
// mapping at all (then reported), so the station keeps the service it had.
func (d *decoder) service(n *yaml.Node, path string) (s ServiceTime, ok bool) {
	if n = d.p.d.Resolve(n); n == nil {
		return s, false
	}
	if n.Kind != yaml.MappingNode {
		d.p.d.Add(n, path, "must be a mapping with a distribution, e.g. {distribution: constant, value: 10ms}")
		return s, false
	}
	d.mapping(n, path, fields{
		"distribution": func(o *yamlconf.Object, k string) {
			var v string
			readStr(o, k, &v)
			s.Distribution = Distribution(v)
		},
		"value":  func(o *yamlconf.Object, k string) { readDuration(o, k, &s.Value) },
		"mean":   func(o *yamlconf.Object, k string) { readDuration(o, k, &s.Mean) },
		"median": func(o *yamlconf.Object, k string) { readDuration(o, k, &s.Median) },
		"p99":    func(o *yamlconf.Object, k string) { readDuration(o, k, &s.P99) },
		"min":    func(o *yamlconf.Object, k string) { readDuration(o, k, &s.Min) },
		"max":    func(o *yamlconf.Object, k string) { readDuration(o, k, &s.Max) },
	})
	return s, true
}

func (d *decoder) rateLimit(n *yaml.Node, path string) RateLimit {
	var rl RateLimit
	d.mapping(n, path, fields{
		"per_second": func(o *yamlconf.Object, k string) { readFloat(o, k, &rl.PerSecond) },
		"burst":      func(o *yamlconf.Object, k string) { readInt(o, k, &rl.Burst) },
	})
	return rl
}

func (d *decoder) faults(n *yaml.Node, path string) []FaultSpec {
	var out []FaultSpec
	for i, item := range d.p.d.List(n, path, false) {
		fp := fmt.Sprintf("%s[%d]", path, i)
		f := FaultSpec{Probability: 1}
		d.p.origins[fp] = origin{key: fp, line: item.Line}
		d.mapping(item, fp, fields{
			"type":        func(o *yamlconf.Object, k string) { readStr(o, k, &f.Type) },
			"probability": func(o *yamlconf.Object, k string) { readFloat(o, k, &f.Probability) },
			"from":        func(o *yamlconf.Object, k string) { readDuration(o, k, &f.From) },
			"to":          func(o *yamlconf.Object, k string) { readDuration(o, k, &f.To) },
			"status":      func(o *yamlconf.Object, k string) { readInt(o, k, &f.Status) },
			"mode":        func(o *yamlconf.Object, k string) { readStr(o, k, &f.Mode) },
			"factor":      func(o *yamlconf.Object, k string) { readFloat(o, k, &f.Factor) },
			"chunk":       func(o *yamlconf.Object, k string) { readInt(o, k, &f.Chunk) },
			"interval":    func(o *yamlconf.Object, k string) { readDuration(o, k, &f.Interval) },
		})
		if f.Type == "" {
			d.p.d.Add(item, fp+".type", "is required (one of %s)", faultTypeNames())
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// formatDuration writes d the way a person would in a banks file: 90s, 2m,
// 80ms, rather than 1m30s or 2m0s.
func formatDuration(d time.Duration) string {
	units := []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}}
	if d == 0 {
		return "0s"
	}
	for _, u := range units {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return d.String()
}

// Node builders for writing a config back out.

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

// floatNode writes a whole number without a decimal point (weight: 20),
// which the decoder takes as a number all the same.
func floatNode(v float64) *yaml.Node {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	tag := "!!float"
	if !strings.ContainsAny(s, ".eEnN") {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
}
func durNode(d time.Duration) *yaml.Node { return strNode(formatDuration(d)) }

// mapNode builds a mapping from alternating key strings and value nodes.
func mapNode(flow bool, kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if flow {
		n.Style = yaml.FlowStyle
	}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, strNode(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}

func serviceNode(s ServiceTime) *yaml.Node {
	kv := []any{"distribution", strNode(string(s.Distribution))}
	for _, p := range []struct {
		key string
		v   time.Duration
	}{{"value", s.Value}, {"mean", s.Mean}, {"median", s.Median}, {"p99", s.P99}, {"min", s.Min}, {"max", s.Max}} {
		if p.v != 0 || (p.key == "value" && s.Distribution == ConstantTime) {
			kv = append(kv, p.key, durNode(p.v))
		}
	}
	return mapNode(true, kv...)
}

func faultNode(f FaultSpec) *yaml.Node {
	kv := []any{"type", strNode(f.Type)}
	if f.Probability != 1 {
		kv = append(kv, "probability", floatNode(f.Probability))
	}
	if f.From != 0 {
		kv = append(kv, "from", durNode(f.From))
	}
	if f.To != 0 {
		kv = append(kv, "to", durNode(f.To))
	}
	if f.Status != 0 {
		kv = append(kv, "status", intNode(int64(f.Status)))
	}
	if f.Mode != "" {
		kv = append(kv, "mode", strNode(f.Mode))
	}
	if f.Factor != 0 {
		kv = append(kv, "factor", floatNode(f.Factor))
	}
	if f.Chunk != 0 {
		kv = append(kv, "chunk", intNode(int64(f.Chunk)))
	}
	if f.Interval != 0 {
		kv = append(kv, "interval", durNode(f.Interval))
	}
	return mapNode(true, kv...)
}

// stationPairs returns st's keys and values: those that differ from base,
// or all of them when base is nil. With all set, an empty rate limit and
// fault list are written out too (for the admin API, where they show what
// can be set).
func stationPairs(st StationConfig, base *StationConfig, all bool) []any {
	var kv []any
	differs := func(f func(StationConfig) bool) bool { return base == nil || f(*base) }
	if differs(func(b StationConfig) bool { return b.Servers != st.Servers }) {
		kv = append(kv, "servers", intNode(int64(st.Servers)))
	}
	if differs(func(b StationConfig) bool { return b.Queue != st.Queue }) {
		kv = append(kv, "queue", intNode(int64(st.Queue)))
	}
	onFull := st.OnFull
	if onFull == "" {
		onFull = RejectWhenFull
	}
	if differs(func(b StationConfig) bool { return b.OnFull != st.OnFull }) {
		kv = append(kv, "on_full", strNode(string(onFull)))
	}
	if differs(func(b StationConfig) bool { return b.MaxWait != st.MaxWait }) {
		kv = append(kv, "max_wait", durNode(st.MaxWait))
	}
	if differs(func(b StationConfig) bool { return b.Service != st.Service }) {
		kv = append(kv, "service", serviceNode(st.Service))
	}
	if (all || st.RateLimit != RateLimit{}) && differs(func(b StationConfig) bool { return b.RateLimit != st.RateLimit }) {
		kv = append(kv, "rate_limit", mapNode(true, "per_second", floatNode(st.RateLimit.PerSecond), "burst", intNode(int64(st.RateLimit.Burst))))
	}
	if (all || len(st.Faults) > 0) && differs(func(b StationConfig) bool { return !equalFaults(b.Faults, st.Faults) }) {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if len(st.Faults) == 0 {
			seq.Style = yaml.FlowStyle
		}
		for _, f := range st.Faults {
			seq.Content = append(seq.Content, faultNode(f))
		}
		kv = append(kv, "faults", seq)
	}
	return kv
}

func equalFaults(a, b []FaultSpec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func processorNode(pc ProcessorConfig, base *ProcessorConfig, all bool) *yaml.Node {
	var bs *StationConfig
	if base != nil {
		bs = &base.StationConfig
	}
	kv := stationPairs(pc.StationConfig, bs, all)
	if base == nil || base.CobadgePending != pc.CobadgePending {
		kv = append(kv, "cobadge_pending", durNode(pc.CobadgePending))
	}
	return mapNode(base != nil, kv...)
}

func ibanNode(ic IBANConfig, all bool) *yaml.Node {
	kv := append(stationPairs(ic.StationConfig, nil, all), "bank_timeout", durNode(ic.BankTimeout))
	return mapNode(false, kv...)
}

func bankNode(b BankConfig, base *StationConfig, all bool) *yaml.Node {
	abi := strNode(b.ABI)
	abi.Style = yaml.DoubleQuotedStyle
	kv := append([]any{"abi", abi, "name", strNode(b.Name), "weight", floatNode(b.Weight)}, stationPairs(b.StationConfig, base, all)...)
	return mapNode(base != nil, kv...)
}

// defaultFileHeader documents the banks file at the top of WriteDefault's
// output.
const defaultFileHeader = `stampede bank mock: banks file (stampede mocks serve --config FILE)

Every downstream is a queueing station: "servers" requests are served at
once, up to "queue" more wait in FIFO order (beyond that: 503 QUEUE_FULL, or
a connection reset with on_full: reset), none waits longer than "max_wait"
(503 QUEUE_TIMEOUT; 0s = until the client gives up), and each holds its slot
for a service time drawn from "service":
  {distribution: lognormal, median: 80ms, p99: 400ms}
  {distribution: exponential, mean: 20ms}
  {distribution: constant, value: 10ms}
  {distribution: uniform, min: 10ms, max: 30ms}
Optional: rate_limit: {per_second: 500, burst: 50} (429 with Retry-After),
and faults, each with a probability (default 1) and a window from/to
(offsets from the server's start; no "to" = no end):
  - {type: error, status: 503, probability: 0.05}     # 500, 502, 503, 504
  - {type: hang, probability: 0.01}                   # until the client gives up
  - {type: reset, probability: 0.01}                  # RST, SO_LINGER 0
  - {type: slow-body, chunk: 1, interval: 100ms}      # dribbled answer
  - {type: malformed, probability: 0.01}              # invalid JSON
  - {type: outage, from: 60s, to: 120s}               # mode: error (status), reset or hang
  - {type: degradation, factor: 5, from: 60s, to: 180s}
processor_defaults applies to the three processors, processors.NAME to one;
bank_defaults to every bank, then each entry of banks to its bank. service,
rate_limit and faults are replaced as a whole. Durations: 80ms, 2s, 1m.`

// WriteDefault writes DefaultConfig as a commented banks file, the starting
// point printed by "stampede mocks config".
func WriteDefault(w io.Writer) error {
	return writeConfig(w, DefaultConfig())
}

// writeConfig writes c as a banks file that ParseConfig reads back to c.
func writeConfig(w io.Writer, c Config) error {
	pdef, bdef := defaultProcessor(), defaultBankStation()
	procs := mapNode(false)
	for _, name := range processorNames {
		procs.Content = append(procs.Content, strNode(name), processorNode(c.Processors[name], &pdef, false))
	}
	banks := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, b := range c.Banks {
		banks.Content = append(banks.Content, bankNode(b, &bdef, false))
	}
	root := mapNode(false,
		"seed", intNode(c.Seed),
		"processor_defaults", processorNode(pdef, nil, false),
		"processors", procs,
		"iban", ibanNode(c.IBAN, false),
		"bank_defaults", mapNode(false, stationPairs(bdef, nil, false)...),
		"banks", banks,
	)
	root.Content[0].HeadComment = "seed derives every card the mock returns (hpan, last4, expiry)"
	root.Content[2].HeadComment = "card processors: verification, PagoBancomat and co-badge searches"
	root.Content[6].HeadComment = "IBAN account-holder check; each check also waits for the IBAN's bank"
	root.Content[8].HeadComment = "banks: answer the IBAN service's checks for their accounts"
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: defaultFileHeader, Content: []*yaml.Node{root}}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write banks file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write banks file: %w", err)
	}
	return nil
}
