package reports

import (
	"math"
	"strconv"
	"strings"
)

// How stampede writes numbers for people, in analysis verdicts (a
// saturation reason, a metastability verdict) and in every renderer alike.

// FormatMillis formats milliseconds for a human: 850µs, 1.25ms, 12.5ms, 125ms, 1.25s.
func FormatMillis(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 1:
		return strconv.FormatFloat(v*1e3, 'f', 0, 64) + "µs"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v < 10000:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "s"
	default:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "s"
	}
}

// FormatPercent formats a ratio as a percentage with two decimals.
func FormatPercent(v float64) string { return strconv.FormatFloat(v*100, 'f', 2, 64) + "%" }

// FormatRate formats a rate with one decimal and thousands separators.
func FormatRate(v float64) string { return FormatDecimal(v, 1) + "/s" }

// FormatCount formats an integer with thousands separators.
func FormatCount(n int64) string { return FormatDecimal(float64(n), 0) }

// FormatDecimal formats v with prec decimals and thousands separators.
func FormatDecimal(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Clip shortens s to n runes, marking the cut.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// FormatPercentShort formats a ratio as a percentage without needless decimals: 95%.
// It rounds to a hundredth of a percent, so 0.44 reads 44%, not the
// 44.00000000000001% of its float product.
func FormatPercentShort(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e4, 'f', -1, 64) + "%"
}
