package scenarios

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// feederScenario writes files into a temporary folder and loads a scenario
// from there that has the given data section and step body.
func feederScenario(t *testing.T, files map[string]string, data, body string) (*Scenario, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := withLines(
		"name: f",
		"profile: [{hold: {rate: 1/s, duration: 1s}}]",
		"data:",
		data,
		"journeys:",
		"  - name: j",
		"    steps:",
		"      - {name: s, method: POST, path: /, body: '"+body+"'}",
	)
	path := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

const usersCSV = "\ufefffiscal_code,token\nAAA,t0\nBBB,t1\n\"C,C\",t2\n"

func TestFeederFormats(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		data    string
		columns []string
		rows    []map[string]string
	}{
		{"csv with a header", map[string]string{"users.csv": usersCSV}, "  - {name: users, file: users.csv}",
			[]string{"fiscal_code", "token"},
			[]map[string]string{{"fiscal_code": "AAA", "token": "t0"}, {"fiscal_code": "BBB", "token": "t1"}, {"fiscal_code": "C,C", "token": "t2"}}},
		{"json lines", map[string]string{"users.jsonl": `{"token":"t0","n":1.5}` + "\n\n" + `{"token":"t1","ok":true,"x":null}` + "\n"}, "  - {name: users, file: users.jsonl}",
			[]string{"n", "token", "ok", "x"},
			[]map[string]string{{"token": "t0", "n": "1.5", "ok": "", "x": ""}, {"token": "t1", "n": "", "ok": "true", "x": ""}}},
		{"format overrides the extension", map[string]string{"users.txt": `{"token":"t0"}`}, "  - {name: users, file: users.txt, format: jsonl}",
			[]string{"token"}, []map[string]string{{"token": "t0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := feederScenario(t, tt.files, tt.data, `{"t":"{{.Data.users.token}}"}`)
			if err != nil {
				t.Fatal(err)
			}
			f := s.Data[0]
			if !slices.Equal(f.Columns, tt.columns) || len(f.Rows) != len(tt.rows) {
				t.Fatalf("columns %v rows %v", f.Columns, f.Rows)
			}
			for i := range tt.rows {
				for k, v := range tt.rows[i] {
					if f.Rows[i][k] != v {
						t.Errorf("row %d %s = %q, want %q", i, k, f.Rows[i][k], v)
					}
				}
			}
			if !filepath.IsAbs(f.File) || f.Mode != Sequential {
				t.Errorf("file %q mode %q", f.File, f.Mode)
			}
			u, err := s.NewUser(1)
			if err != nil {
				t.Fatal(err)
			}
			req, err := s.Journeys[0].Steps[0].Build(u, "")
			if err != nil || string(req.Body) != `{"t":"`+tt.rows[1%len(tt.rows)]["token"]+`"}` {
				t.Fatalf("body %s, %v", req.Body, err)
			}
		})
	}
}

func TestFeederModes(t *testing.T) {
	files := map[string]string{"users.csv": usersCSV}
	t.Run("sequential wraps", func(t *testing.T) {
		s, err := feederScenario(t, files, "  - {name: users, file: users.csv, mode: sequential}", "{}")
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{"t0", "t1", "t2", "t0", "t1"} {
			u, err := s.NewUser(uint64(i))
			if err != nil || u.Data["users"]["token"] != want {
				t.Fatalf("user %d got %v, %v; want %s", i, u.Data, err, want)
			}
		}
	})
	t.Run("random is deterministic and uses every row", func(t *testing.T) {
		s, err := feederScenario(t, files, "  - {name: users, file: users.csv, mode: random}", "{}")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for i := range uint64(3000) {
			u, _ := s.NewUser(i)
			again, _ := s.NewUser(i)
			if u.Data["users"]["token"] != again.Data["users"]["token"] {
				t.Fatalf("user %d drew two different rows", i)
			}
			seen[u.Data["users"]["token"]]++
		}
		for _, tok := range []string{"t0", "t1", "t2"} {
			if seen[tok] < 850 || seen[tok] > 1150 {
				t.Errorf("row %s drawn %d times of 3000", tok, seen[tok])
			}
		}
	})
	t.Run("unique runs out", func(t *testing.T) {
		s, err := feederScenario(t, files, "  - {name: users, file: users.csv, mode: unique}", "{}")
		if err != nil {
			t.Fatal(err)
		}
		for i := range uint64(3) {
			if u, err := s.NewUser(i); err != nil || u.Data["users"]["fiscal_code"] != s.Data[0].Rows[i]["fiscal_code"] {
				t.Fatalf("user %d: %v", i, err)
			}
		}
		_, err = s.NewUser(3)
		if !errors.Is(err, ErrFeederExhausted) || !strings.Contains(err.Error(), "users") {
			t.Fatalf("user 3 of 3 rows: %v; want ErrFeederExhausted naming the feeder", err)
		}
	})
}

func TestFeederProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		data  string
		body  string
		want  string
	}{
		{"unknown column", map[string]string{"u.csv": usersCSV}, "  - {name: users, file: u.csv}", `{{.Data.users.pin}}`,
			`8: journeys[0].steps[0].body: .Data.users.pin: feeder "users" has no column "pin" (columns: fiscal_code, token)`},
		{"unknown feeder", map[string]string{"u.csv": usersCSV}, "  - {name: users, file: u.csv}", `{{.Data.cards.pan}}`,
			`8: journeys[0].steps[0].body: .Data.cards.pan: no feeder is named "cards" (data: users)`},
		{"ragged csv", map[string]string{"u.csv": "a,b\n1,2\n3\n"}, "  - {name: users, file: u.csv}", "{}",
			"4: data[0].file: u.csv: record on line 3: wrong number of fields"},
		{"empty csv", map[string]string{"u.csv": ""}, "  - {name: users, file: u.csv}", "{}", "4: data[0].file: u.csv is empty"},
		{"header only", map[string]string{"u.csv": "a,b\n"}, "  - {name: users, file: u.csv}", "{}", "4: data[0].file: u.csv has no rows"},
		{"duplicate column", map[string]string{"u.csv": "a,a\n1,2\n"}, "  - {name: users, file: u.csv}", "{}", `4: data[0].file: u.csv:1: column "a" appears twice`},
		{"json line not an object", map[string]string{"u.jsonl": "{\"a\":1}\n[1]\n"}, "  - {name: users, file: u.jsonl}", "{}", "4: data[0].file: u.jsonl:2: want one JSON object a line"},
		{"unknown extension", map[string]string{"u.txt": "a\n1\n"}, "  - {name: users, file: u.txt}", "{}", `4: data[0].file: cannot tell the format of "u.txt"`},
		{"bad name", map[string]string{"u.csv": usersCSV}, "  - {name: my-users, file: u.csv}", "{}", `4: data[0].name: "my-users": a feeder name`},
		{"defined twice", map[string]string{"u.csv": usersCSV}, "  - {name: u, file: u.csv}\n  - {name: u, file: u.csv}", "{}", `5: data[1].name: feeder "u" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := feederScenario(t, tt.files, tt.data, tt.body)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "f.yaml:"+tt.want) {
				t.Fatalf("error:\n%v\nwant one containing\n\tf.yaml:%s", err, tt.want)
			}
		})
	}
}

// FuzzFeeder: every row a feeder reads has every column, and what it read
// round-trips: written back as CSV (or JSON lines) it reads the same.
func FuzzFeeder(f *testing.F) {
	f.Add([]byte("id,token\n1,a\n2,b\n"), true)
	f.Add([]byte("\ufeffid,\"to,ken\"\n1,\"a\"\"b\"\n"), true)
	f.Add([]byte("id\n\n"), true)
	f.Add([]byte("a,a\n1,2\n"), true)
	f.Add([]byte("{\"id\":1,\"token\":\"a\"}\n\n{\"id\":2,\"x\":null}\n"), false)
	f.Add([]byte("{\"id\":{\"n\":1}}\n[1]\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, csvFormat bool) {
		format := "jsonl"
		if csvFormat {
			format = "csv"
		}
		columns, rows, err := readFeeder("f", data, format)
		if err != nil {
			return
		}
		for i, row := range rows {
			if len(row) != len(columns) {
				t.Fatalf("row %d has %d values for %d columns: %v %v", i, len(row), len(columns), row, columns)
			}
			for _, c := range columns {
				if _, ok := row[c]; !ok {
					t.Fatalf("row %d lacks column %q", i, c)
				}
			}
		}
		var out bytes.Buffer
		if csvFormat {
			w := csv.NewWriter(&out)
			w.Write(columns)
			for _, row := range rows {
				rec := make([]string, len(columns))
				for i, c := range columns {
					rec[i] = row[c]
				}
				if len(rec) == 1 && rec[0] == "" {
					// encoding/csv writes a lone empty field as an empty
					// line, which readers skip; RFC 4180 quotes it.
					w.Flush()
					out.WriteString("\"\"\n")
					continue
				}
				w.Write(rec)
			}
			w.Flush()
		} else {
			for _, row := range rows {
				b, err := json.Marshal(row)
				if err != nil {
					t.Fatal(err)
				}
				out.Write(append(b, '\n'))
			}
		}
		columns2, rows2, err := readFeeder("f", out.Bytes(), format)
		if err != nil {
			t.Fatalf("what was read does not read back: %v\n%q", err, out.String())
		}
		if !slices.Equal(sortedCopy(columns), sortedCopy(columns2)) || !reflect.DeepEqual(rows, rows2) {
			t.Fatalf("round trip changed the feeder:\n%v %v\n%v %v", columns, rows, columns2, rows2)
		}
	})
}

func sortedCopy(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
