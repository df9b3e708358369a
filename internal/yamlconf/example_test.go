package yamlconf_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/stampede-load/stampede/internal/yamlconf"
)

// errInvalidModel stands for the caller's bad-input sentinel.
var errInvalidModel = errors.New("invalid model")

// Station is a plain struct the caller fills key by key.
type Station struct {
	Name    string
	Servers int64
	Service time.Duration
	Policy  string
}

// Decoding a small model file: every mistake comes back at once, each with
// file:line: key, and the caller's sentinel matches the error.
func Example() {
	src := []byte(`stations:
  - name: nexi
    servers: 4
    service: 25ms
  - name: sia
    servrs: 2
    service: 25
    policy: lifo
`)
	d := yamlconf.New("model.yaml", "model file")
	root := d.Parse(src)
	top := d.Object(root, "", []string{"stations"})
	top.Require("stations")
	var stations []Station
	for i, item := range top.List("stations", false) {
		o := d.Object(item, fmt.Sprintf("stations[%d]", i), []string{"name", "servers", "service", "policy"})
		o.Require("name")
		st := Station{Name: o.Str("name"), Servers: 1, Policy: "fifo"}
		if v, ok := o.Int("servers", 1, 1000); ok {
			st.Servers = v
		}
		if v, ok := o.Duration("service", false); ok {
			st.Service = v
		}
		if v, ok := o.Enum("policy", "fifo", "ps"); ok {
			st.Policy = v
		}
		stations = append(stations, st)
	}
	err := d.Err(errInvalidModel)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errInvalidModel), len(stations))
	// Output:
	// model.yaml:6: stations[1].servrs: unknown key (did you mean "servers"?); want one of: name, servers, service, policy
	// model.yaml:7: stations[1].service: "25" has no unit: write a duration like 500ms, 5m or 3h
	// model.yaml:8: stations[1].policy: "lifo" is not fifo or ps
	// true 2
}
