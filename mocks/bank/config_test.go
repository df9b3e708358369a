package bank

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stampede-load/stampede/internal/textfile"
)

// sameConfig compares what two configs say, not where they were read from.
func sameConfig(a, b Config) bool {
	a.file, a.origins, b.file, b.origins = "", nil, "", nil
	return reflect.DeepEqual(a, b)
}

func TestDefaultConfigIsValidAndRoundTrips(t *testing.T) {
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("DefaultConfig is invalid: %v", err)
	}
	if len(def.Banks) < 24 {
		t.Fatalf("only %d default banks", len(def.Banks))
	}
	var buf bytes.Buffer
	if err := WriteDefault(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig("default.yaml", buf.Bytes())
	if err != nil {
		t.Fatalf("the default file does not parse: %v\n%s", err, buf.String())
	}
	if !sameConfig(got, def) {
		t.Fatalf("the default file reads back differently:\n%s", buf.String())
	}
	empty, err := ParseConfig("empty.yaml", nil)
	if err != nil || !sameConfig(empty, def) {
		t.Fatalf("an empty file should be the defaults: %v", err)
	}
}

func TestConfigRoundTripWithEverything(t *testing.T) {
	c := DefaultConfig()
	nexi := c.Processors["nexi"]
	nexi.Servers = 8
	nexi.OnFull = ResetWhenFull
	nexi.Service = ExponentialService(20 * time.Millisecond)
	nexi.RateLimit = RateLimit{PerSecond: 250.5, Burst: 10}
	nexi.CobadgePending = 0
	nexi.Faults = []FaultSpec{
		{Type: "error", Probability: 0.05, Status: 504},
		{Type: "outage", Probability: 1, From: time.Minute, To: 90 * time.Second, Mode: "reset"},
		{Type: "degradation", Probability: 0.5, From: 2 * time.Minute, Factor: 3},
		{Type: "slow-body", Probability: 1, Chunk: 4, Interval: 20 * time.Millisecond},
		{Type: "malformed", Probability: 0.01},
		{Type: "hang", Probability: 0.001, To: time.Hour},
		{Type: "reset", Probability: 0.002},
	}
	c.Processors["nexi"] = nexi
	c.IBAN.Service = UniformService(time.Millisecond, 3*time.Millisecond)
	c.Banks[0].Service = ConstantService(0)
	c.Banks[1].Faults = []FaultSpec{{Type: "hang", Probability: 1}}
	c.Banks = append(c.Banks, BankConfig{ABI: "99999", Name: "Banca Finta: \"test\"", Weight: 0, StationConfig: defaultBankStation()})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeConfig(&buf, c); err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig("all.yaml", buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !sameConfig(got, c) {
		t.Fatalf("reads back differently:\n%s\ngot %+v\nwant %+v", buf.String(), got.Processors["nexi"], c.Processors["nexi"])
	}
}

func TestConfigLayering(t *testing.T) {
	const file = `
processor_defaults:
  servers: 10
  service: {distribution: constant, value: 5ms}
processors:
  nexi:
    queue: 3
    faults:
      - {type: outage, from: 1m, to: 2m}
bank_defaults: &small
  servers: 2
banks:
  - {abi: "03069", name: Intesa Sanpaolo, weight: 20, servers: 7}
  - abi: 01005
    name: Banca Nazionale del Lavoro
`
	c, err := ParseConfig("layers.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	nexi, sia := c.Processors["nexi"], c.Processors["sia"]
	def := defaultProcessor()
	tests := []struct {
		name      string
		got, want any
	}{
		{"defaults reach every processor", sia.Servers, 10},
		{"processor keeps the defaults it does not override", nexi.Servers, 10},
		{"processor override", nexi.Queue, 3},
		{"untouched keys keep the built-in default", sia.Queue, def.Queue},
		{"service from the defaults", nexi.Service, ConstantService(5 * time.Millisecond)},
		{"fault at one processor only", len(sia.Faults), 0},
		{"fault window", nexi.Faults[0].To, 2 * time.Minute},
		{"omitted probability is 1", nexi.Faults[0].Probability, 1.0},
		{"banks replace the list", len(c.Banks), 2},
		{"bank override", c.Banks[0].Servers, 7},
		{"bank defaults", c.Banks[1].Servers, 2},
		{"unquoted ABI keeps its zero", c.Banks[1].ABI, "01005"},
		{"bank keeps built-in defaults", c.Banks[1].Queue, defaultBankStation().Queue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}

	t.Run("bank defaults without a list reshape the default banks", func(t *testing.T) {
		c, err := ParseConfig("b.yaml", []byte("bank_defaults: {queue: 5}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Banks) != len(DefaultConfig().Banks) || c.Banks[0].Queue != 5 || c.Banks[0].Servers != DefaultConfig().Banks[0].Servers {
			t.Fatalf("banks[0] = %+v", c.Banks[0])
		}
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // each must appear, in order, one per problem
	}{
		{
			name: "negative servers",
			file: "processors:\n  nexi:\n    servers: -2\n",
			want: []string{"banks.yaml:3: processors.nexi.servers: must be between 1 and 1000000, got -2"},
		},
		{
			name: "p99 below the median",
			file: "iban:\n  service:\n    distribution: lognormal\n    median: 80ms\n    p99: 50ms\n",
			want: []string{"banks.yaml:5: iban.service.p99: 50ms must be above the median 80ms"},
		},
		{
			name: "unknown fault",
			file: "processors:\n  sia:\n    faults:\n      - type: explode\n",
			want: []string{`banks.yaml:4: processors.sia.faults[0].type: "explode" is not a fault type (want one of degradation, error, hang, malformed, outage, reset, slow-body)`},
		},
		{
			name: "overlapping windows",
			file: "processors:\n  sia:\n    faults:\n      - {type: outage, from: 60s, to: 120s}\n      - {type: outage, from: 90s}\n",
			want: []string{"banks.yaml:5: processors.sia.faults[1]: outage window from 90s overlaps processors.sia.faults[0] (1m to 2m)"},
		},
		{
			name: "unknown key",
			file: "processors:\n  nexi:\n    servrs: 3\n",
			want: []string{`banks.yaml:3: processors.nexi.servrs: unknown key (did you mean "servers"?); want one of: cobadge_pending, faults, max_wait, on_full, queue, rate_limit, servers, service`},
		},
		{
			name: "unknown processor",
			file: "processors:\n  visa: {}\n",
			want: []string{`banks.yaml:2: processors.visa: unknown key (did you mean "sia"?); want one of: iccrea, nexi, sia`},
		},
		{
			name: "a bad default is reported once, where it was written",
			file: "seed: 1\nprocessor_defaults:\n  queue: -1\n",
			want: []string{"banks.yaml:3: processor_defaults.queue: must be between 0 and 10000000, got -1"},
		},
		{
			name: "a bad bank default is reported once too",
			file: "bank_defaults:\n  servers: 0\n",
			want: []string{"banks.yaml:2: bank_defaults.servers: must be between 1 and 1000000, got 0"},
		},
		{
			name: "every problem at once",
			file: "iban:\n  servers: 0\n  bank_timeout: 0s\n  on_full: drop\nbanks:\n  - {abi: '123', name: X}\n  - {abi: '123', name: Y}\n",
			want: []string{
				"banks.yaml:2: iban.servers: must be between 1",
				`banks.yaml:4: iban.on_full: "drop" is not reject or reset`,
				"banks.yaml:3: iban.bank_timeout: must be positive, got 0s",
				`banks.yaml:6: banks[0].abi: "123" is not a 5-digit ABI code`,
				`banks.yaml:7: banks[1].abi: "123" is not a 5-digit ABI code`,
				"banks.yaml:7: banks[1].abi: ABI 123 is listed twice (also banks[0])",
			},
		},
		{
			name: "YAML syntax",
			file: "processors:\n  nexi: {servers: 3\nseed: 2\n",
			want: []string{"banks.yaml:2: yaml: did not find expected ',' or '}'"},
		},
		{
			name: "duration without a unit",
			file: "iban:\n  max_wait: 5\n",
			want: []string{`banks.yaml:2: iban.max_wait: "5" has no unit: write a duration like 500ms, 5m or 3h`},
		},
		{
			name: "wrong types",
			file: "seed: abc\niban:\n  servers: 2.5\n  service: fast\n",
			want: []string{`banks.yaml:1: seed: "abc" is not a whole number`, `banks.yaml:3: iban.servers: "2.5" is not a whole number`, "banks.yaml:4: iban.service: must be a mapping with a distribution"},
		},
		{
			name: "fault parameters",
			file: "processors:\n  nexi:\n    faults:\n      - {type: error, status: 418, probability: 1.5}\n      - {type: hang, factor: 2}\n      - {type: outage, mode: melt}\n      - {type: degradation, factor: 0.5, from: 2m, to: 1m}\n",
			want: []string{
				"banks.yaml:4: processors.nexi.faults[0].probability: must be between 0 and 1, got 1.5",
				"banks.yaml:4: processors.nexi.faults[0].status: 418 is not 500, 502, 503 or 504",
				"banks.yaml:5: processors.nexi.faults[1].factor: does not apply to a hang fault",
				`banks.yaml:6: processors.nexi.faults[2].mode: "melt" is not error, reset or hang`,
				"banks.yaml:7: processors.nexi.faults[3].to: 1m is not after from (2m)",
				"banks.yaml:7: processors.nexi.faults[3].factor: must be a number of at least 1, got 0.5",
			},
		},
		{
			name: "slow body at a bank",
			file: "banks:\n  - abi: '03069'\n    name: Intesa\n    faults: [{type: slow-body}]\n",
			want: []string{"banks.yaml:4: banks[0].faults[0].type: slow-body does not apply to a bank"},
		},
		{
			name: "service parameters of another distribution",
			file: "iban:\n  service: {distribution: constant, value: 1ms, mean: 2ms}\n",
			want: []string{"banks.yaml:2: iban.service.mean: does not apply to constant (it takes value)"},
		},
		{
			name: "repeated key",
			file: "seed: 1\nseed: 2\n",
			want: []string{"banks.yaml:2: seed: appears twice (first at line 1)"},
		},
		{
			name: "two documents",
			file: "seed: 1\n---\nseed: 2\n",
			want: []string{"banks.yaml:2: a banks file holds one YAML document"},
		},
		{
			name: "burst without a rate",
			file: "iban:\n  rate_limit: {burst: 5}\n",
			want: []string{"banks.yaml:2: iban.rate_limit.burst: needs per_second"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("banks.yaml", []byte(tt.file))
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want one matching ErrInvalidConfig", err)
			}
			got := unjoin(err)
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i].Error(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], w)
				}
				if !errors.Is(got[i], ErrInvalidConfig) {
					t.Errorf("problem %d does not match ErrInvalidConfig", i)
				}
			}
		})
	}
}

func TestValidateConfigBuiltInGo(t *testing.T) {
	c := DefaultConfig()
	delete(c.Processors, "sia")
	ic := c.IBAN
	ic.Service = LogNormalService(time.Second, time.Millisecond)
	c.IBAN = ic
	err := c.Validate()
	want := "processors: processor sia is missing\niban.service.p99: 1ms must be above the median 1s (use constant for a fixed time)"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v\nwant %s", err, want)
	}
	if _, err := NewServer(context.Background(), c); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewServer with a bad config: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
		if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file name in messages", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "banks.yaml")
		writeFile(t, path, "iban:\n  servers: -1\n")
		_, err := LoadConfig(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":2: iban.servers:") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("endless device", func(t *testing.T) {
		_, err := LoadConfig("/dev/zero")
		if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, textfile.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	var def bytes.Buffer
	if err := WriteDefault(&def); err != nil {
		f.Fatal(err)
	}
	f.Add(def.Bytes())
	f.Add([]byte("processors:\n  nexi: {servers: 2, faults: [{type: outage, from: 1s, to: 2s}]}\n"))
	f.Add([]byte("bank_defaults: &d {servers: 2}\nbanks:\n  - {abi: '03069', name: X}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("iban: {service: {distribution: uniform, min: 1ms, max: 2ms}, rate_limit: {per_second: 1e3}}"))
	f.Add([]byte("processors: {sia: {on_full: ''}}\nbanks: [{abi: '00001', name: 'null', weight: .5}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error not matching ErrInvalidConfig: %v", err)
			}
			return
		}
		// Whatever parses writes back out and reads back the same.
		var buf bytes.Buffer
		if err := writeConfig(&buf, c); err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig("again.yaml", buf.Bytes())
		if err != nil {
			t.Fatalf("written config does not parse: %v\n%s", err, buf.String())
		}
		if !sameConfig(again, c) {
			t.Fatalf("round trip changed the config:\n%s", buf.String())
		}
	})
}
