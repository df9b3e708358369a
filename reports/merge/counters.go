package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// CountersFile is the run folder's counters: everything but the latencies
// that a merge needs, and what the run was.
const CountersFile = "counters.json"

// countersFormat names the counters file's layout; a reader refuses others.
const countersFormat = "stampede-counters/2"

// Header says what a run was, so that only shards of one run merge.
type Header struct {
	Scenario    string        `json:"scenario"`
	Source      string        `json:"source"` // "replay" or "sim"
	Seed        int64         `json:"seed"`
	Shard       string        `json:"shard,omitempty"`  // "k/n" for a shard; empty for a whole run
	Shards      int           `json:"shards,omitempty"` // of a merged run: the shards it was merged from
	StartAt     time.Time     `json:"start_at,omitzero"`
	Duration    time.Duration `json:"duration_ns"` // the planned span of the offered load; 0 for the span of intended times
	Interrupted bool          `json:"interrupted,omitempty"`
	Gates       []string      `json:"gates,omitempty"` // expressions, as the scenario wrote them
	SLO         *reports.SLO  `json:"slo,omitempty"`
}

// Counters is the content of a counters file.
type Counters struct {
	Header
	Tally *reports.Tally
}

type countersJSON struct {
	Format string `json:"format"`
	Header
	Tally *reports.Tally `json:"tally"`
}

// WriteCounters writes c to path.
func WriteCounters(path string, c *Counters) error {
	b, err := EncodeCounters(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	return nil
}

// EncodeCounters renders c as a counters file: compact JSON on one line
// (an hour's series indented was twice the size, and took twice as long
// to read back).
func EncodeCounters(c *Counters) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(countersJSON{Format: countersFormat, Header: c.Header, Tally: c.Tally}); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	return buf.Bytes(), nil
}

// maxCountersBytes bounds a counters file: an hour's series is well under
// a megabyte.
const maxCountersBytes = 64 << 20

// DecodeCounters reads a counters file. Unknown fields, a missing tally,
// gates that do not parse and a shard that is not k/n are errors that
// name the problem; name is used in them.
func DecodeCounters(r io.Reader, name string) (*Counters, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCountersBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxCountersBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrBadInput, name, maxCountersBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cj countersJSON
	if err := dec.Decode(&cj); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadInput, name, jsonProblem(b, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: more than one JSON document", ErrBadInput, name)
	}
	c := &Counters{Header: cj.Header, Tally: cj.Tally}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadInput, name, err)
	}
	if cj.Format != countersFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrBadInput, name, cj.Format, countersFormat)
	}
	return c, nil
}

// check finds what the JSON decoder cannot.
func (c *Counters) check() error {
	if c.Tally == nil {
		return errors.New("no tally")
	}
	if c.Scenario == "" {
		return errors.New("no scenario")
	}
	if c.Shard != "" {
		if _, _, err := parseShard(c.Shard); err != nil {
			return err
		}
	}
	if c.Duration < 0 || c.Shards < 0 {
		return errors.New("negative duration_ns or shards")
	}
	for _, g := range c.Gates {
		if _, err := reports.ParseGate(g); err != nil {
			return fmt.Errorf("gate %q: %w", g, err)
		}
	}
	return nil
}

// meta is the summary's meta data for this run.
func (h *Header) meta() reports.SummaryMeta {
	m := reports.SummaryMeta{Scenario: h.Scenario, Source: h.Source, Interrupted: h.Interrupted,
		Duration: h.Duration, Series: true}
	if h.Interrupted {
		m.Duration = 0 // the span of the intended times that were played
	}
	for _, g := range h.Gates {
		gate, _ := reports.ParseGate(g) // checked on reading
		m.Gates = append(m.Gates, gate)
	}
	if h.SLO != nil {
		m.SLO = *h.SLO
	}
	return m
}

// parseShard reads "k/n" with 1 <= k <= n.
func parseShard(s string) (k, n int, err error) {
	if _, err := fmt.Sscanf(s, "%d/%d", &k, &n); err != nil || n < 1 || k < 1 || k > n || fmt.Sprintf("%d/%d", k, n) != s {
		return 0, 0, fmt.Errorf("shard %q: want k/n with 1 <= k <= n", s)
	}
	return k, n, nil
}

// jsonProblem describes a decoding error with the line it happened on.
func jsonProblem(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", 1+strings.Count(string(b[:off]), "\n"), err)
}
