package scenarios

import (
	"embed"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// stockFS holds the stock scenarios, one YAML file each, named after the
// scenario.
//
//go:embed stock/*.yaml
var stockFS embed.FS

// StockInfo names a stock scenario and says what it replays.
type StockInfo struct {
	Name        string
	Description string
}

// Stock lists the stock scenarios, sorted by name.
func Stock() []StockInfo {
	var out []StockInfo
	for _, name := range stockNames() {
		info := StockInfo{Name: name}
		if s, err := LoadStock(name); err == nil {
			info.Description = s.Description
		}
		out = append(out, info)
	}
	return out
}

// LoadStock parses the stock scenario called name. Its Source is
// "stock:NAME". An unknown name is an error wrapping ErrInvalid that lists
// the stock names.
func LoadStock(name string) (*Scenario, error) {
	if !slices.Contains(stockNames(), name) {
		return nil, invalidf("no stock scenario is called %q (stock: %s)", name, strings.Join(stockNames(), ", "))
	}
	file := "stock/" + name + ".yaml"
	src, err := stockFS.ReadFile(file)
	if err != nil {
		return nil, invalidf("stock scenario %s: %w", name, err)
	}
	sub, err := fs.Sub(stockFS, "stock")
	if err != nil {
		return nil, invalidf("stock scenario %s: %w", name, err)
	}
	s, err := parseScenario(file, src, fsFiles{fsys: sub})
	if err != nil {
		return nil, err
	}
	s.Source = "stock:" + name
	return s, nil
}

// Resolve loads a stock scenario by name, or else the scenario file at
// nameOrPath. When it is neither, the error wraps ErrInvalid and lists the
// stock names.
func Resolve(nameOrPath string) (*Scenario, error) {
	if slices.Contains(stockNames(), nameOrPath) {
		return LoadStock(nameOrPath)
	}
	if _, err := os.Stat(nameOrPath); errors.Is(err, fs.ErrNotExist) {
		return nil, invalidf("%q is neither a stock scenario (%s) nor a file", nameOrPath, strings.Join(stockNames(), ", "))
	}
	return Load(nameOrPath)
}

// stockNames returns the names of the stock scenarios, sorted.
func stockNames() []string {
	entries, _ := stockFS.ReadDir("stock")
	var names []string
	for _, e := range entries {
		if n := e.Name(); path.Ext(n) == ".yaml" {
			names = append(names, strings.TrimSuffix(n, ".yaml"))
		}
	}
	slices.Sort(names)
	return names
}

// StockFile returns the YAML source of the stock scenario called name, for
// shipping it elsewhere (a Kubernetes ConfigMap); false when there is none.
func StockFile(name string) ([]byte, bool) {
	if !slices.Contains(stockNames(), name) {
		return nil, false
	}
	src, err := stockFS.ReadFile("stock/" + name + ".yaml")
	return src, err == nil
}
