package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// A scenario decodes with the project's one config decoder (yamlconf):
// every problem with its line, unknown keys caught, all problems at once.

// Limits of a scenario: the decoder's, and its own.
const (
	maxDuration = yamlconf.MaxDuration      // any single duration
	maxStages   = 10_000                    // profile stages, stairs expanded
	maxProfile  = 10 * yamlconf.MaxDuration // the whole profile
	maxRounds   = 10_000                    // poll rounds, retry attempts
	fileKind    = "scenario file"           // what the file is, in messages
)

// decoder turns a YAML node tree into a Scenario, collecting problems.
type decoder struct {
	*yamlconf.Decoder
	files files
	s     *Scenario // the scenario being built
}

// rate reads a rate with its unit.
func rate(o *yamlconf.Object, name string) (Rate, bool) {
	return yamlconf.Parsed(o, name, parseRate)
}

// codes returns HTTP status codes (100-599, and 0 when zeroOK).
func codes(o *yamlconf.Object, name string, zeroOK bool) []int {
	d := o.Decoder()
	var out []int
	for i, item := range o.List(name, true) {
		key := fmt.Sprintf("%s[%d]", o.Key(name), i)
		n := d.Resolve(item)
		if n == nil {
			d.Add(item, key, "is empty")
			continue
		}
		if n.Kind != yaml.ScalarNode {
			d.Add(n, key, "want a status code, got %s", yamlconf.KindOf(n))
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(n.Value))
		switch {
		case err != nil:
			d.Add(n, key, "%q is not a status code", n.Value)
		case c == 0 && zeroOK:
			out = append(out, 0)
		case c < 100 || c > 599:
			d.Add(n, key, "status %d is not between 100 and 599", c)
		default:
			out = append(out, c)
		}
	}
	return out
}
