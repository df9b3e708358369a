package scenarios

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// feederFormat returns the format of a feeder file from its extension, or ""
// when the extension says nothing.
func feederFormat(file string) string {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(file, `\`, "/"))) {
	case ".csv":
		return "csv"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	}
	return ""
}

// readFeeder parses a feeder file: CSV with a header row, or JSON lines
// (one object a line; blank lines skipped). Every row gets every column:
// JSON rows missing a key have it empty. Errors carry the file's line.
func readFeeder(name string, data []byte, format string) (columns []string, rows []map[string]string, err error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	switch format {
	case "csv":
		columns, rows, err = readCSV(name, data)
	case "jsonl":
		columns, rows, err = readJSONLines(name, data)
	default:
		return nil, nil, fmt.Errorf("format %q is not csv or jsonl", format)
	}
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("%s has no rows", name)
	}
	return columns, rows, err
}

func readCSV(name string, data []byte) ([]string, []map[string]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%s is empty: want a header row naming the columns", name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	columns := make([]string, len(header))
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return nil, nil, fmt.Errorf("%s:1: column %d has no name", name, i+1)
		case slices.Contains(columns[:i], h):
			return nil, nil, fmt.Errorf("%s:1: column %q appears twice", name, h)
		}
		columns[i] = h
	}
	var rows []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return columns, rows, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		row := make(map[string]string, len(columns))
		for i, c := range columns {
			row[c] = rec[i]
		}
		rows = append(rows, row)
	}
}

func readJSONLines(name string, data []byte) ([]string, []map[string]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var (
		columns []string
		rows    []map[string]string
	)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		doc, err := decodeJSON(text)
		obj, ok := doc.(map[string]any)
		if err != nil || !ok {
			return nil, nil, fmt.Errorf("%s:%d: want one JSON object a line", name, line)
		}
		row := make(map[string]string, len(obj))
		for k, v := range obj {
			s, _ := textOf(v)
			row[k] = s
		}
		for _, k := range sortedKeys(obj) {
			if !slices.Contains(columns, k) {
				columns = append(columns, k)
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, nil, fmt.Errorf("%s: a line is longer than 1 MiB", name)
		}
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, row := range rows {
		for _, c := range columns {
			if _, ok := row[c]; !ok {
				row[c] = ""
			}
		}
	}
	return columns, rows, nil
}

// textOf is text for feeder values, where null is an empty value.
func textOf(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	return text(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
