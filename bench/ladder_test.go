package main

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseLadder(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []float64
		err  string
	}{
		{"2000,4000, 8000", []float64{2000, 4000, 8000}, ""},
		{"2000,2000", nil, "increase"},
		{"4000,2000", nil, "increase"},
		{"2000,x", nil, `"x" is not a rate`},
		{"0", nil, "is not a rate"},
		{"60000", nil, "is not a rate"},
		{"NaN", nil, "is not a rate"},
		{"1,2,3,4,5,6,7,8,9,10,11,12,13", nil, "at most 12"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseLadder(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "-ladder ") {
					t.Fatalf("parseLadder(%q) = %v, %v; want an error naming -ladder with %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("parseLadder(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("parseLadder(%q) = %v, want %v", c.in, got, c.want)
				}
			}
		})
	}
}

// FuzzParseLadder: an accepted ladder is increasing, bounded, and reads
// back the same when written out again.
func FuzzParseLadder(f *testing.F) {
	for _, s := range []string{"2000,4000,6000", "1", "1.5,2", "2000,2000", "-1", "1e5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rates, err := parseLadder(s)
		if err != nil {
			return
		}
		if len(rates) == 0 || len(rates) > maxRungs {
			t.Fatalf("%q: %d rates", s, len(rates))
		}
		var parts []string
		for i, r := range rates {
			if !(r > 0) || r > maxRungRate || (i > 0 && r <= rates[i-1]) {
				t.Fatalf("%q: rates %v out of order or bounds", s, rates)
			}
			parts = append(parts, strconv.FormatFloat(r, 'g', -1, 64))
		}
		again, err := parseLadder(strings.Join(parts, ","))
		if err != nil || len(again) != len(rates) {
			t.Fatalf("%q: %v written back does not parse the same: %v, %v", s, rates, again, err)
		}
		for i := range again {
			if again[i] != rates[i] {
				t.Fatalf("%q: %v read back as %v", s, rates, again)
			}
		}
	})
}
