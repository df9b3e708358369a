package merge

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stampede-load/stampede/reports"
)

// hdrBuckets lists a histogram's buckets as HdrHistogram decodes them:
// the independent check of histDecoder.
func hdrBuckets(t testing.TB, encoded string) ([]reports.Bucket, error) {
	t.Helper()
	p, err := hdr.DecodePacked([]byte(encoded))
	if err != nil {
		return nil, err
	}
	var out []reports.Bucket
	for v, c := range p.ForEachBucket {
		if c > 0 {
			out = append(out, reports.Bucket{Value: v, Count: c})
		}
	}
	return out, nil
}

func encode(t testing.TB, h *hdr.Histogram) string {
	t.Helper()
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecoderAgreesWithHdrHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var d histDecoder
	for _, mk := range []func() *hdr.Histogram{reports.NewSeriesHistogram, func() *hdr.Histogram { return hdr.New(1, 3_600_000_000, 3) }} {
		for i := range 50 {
			h := mk()
			for range rng.IntN(5000) {
				// From a microsecond to the hour the geometry ends at.
				_ = h.RecordValue(int64(rng.ExpFloat64() * float64([]int64{10, 1e4, 1e6, 1e9}[i%4])))
			}
			_ = h.RecordValue(3_600_000_000)
			enc := encode(t, h)
			want, err := hdrBuckets(t, enc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.decode([]byte(enc), geometryOf(h), nil)
			if err != nil {
				t.Fatalf("%d significant figures, case %d (max %d, min %d, %d values): %v; HdrHistogram: %v", h.SignificantFigures(), i, h.Max(), h.Min(), h.TotalCount(), err, want[len(want)-3:])
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d significant figures, case %d: decoded %d buckets, HdrHistogram %d", h.SignificantFigures(), i, len(got), len(want))
			}
		}
	}
	if _, err := d.decode([]byte(encode(t, hdr.New(1, 1000, 3))), geometryOf(reports.NewSeriesHistogram()), nil); err == nil {
		t.Fatal("a histogram of another geometry decoded")
	}
}

// FuzzHistDecoder: whatever the input, decoding never panics, and what it
// accepts HdrHistogram's own decoder reads as the same buckets.
func FuzzHistDecoder(f *testing.F) {
	h := reports.NewSeriesHistogram()
	for _, v := range []int64{1, 7, 1500, 2047, 2048, 99_999, 3_600_000_000} {
		_ = h.RecordValue(v)
	}
	f.Add(encode(f, h))
	f.Add(encode(f, reports.NewSeriesHistogram()))
	g := geometryOf(h)
	f.Fuzz(func(t *testing.T, enc string) {
		var d histDecoder
		got, err := d.decode([]byte(enc), g, nil)
		if err != nil {
			return
		}
		want, err := hdrBuckets(t, enc)
		if err != nil {
			t.Fatalf("accepted what HdrHistogram refuses (%v)", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("decoded %v, HdrHistogram %v", got, want)
		}
	})
}

func TestEncoderAgreesWithHdrHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var e histEncoder
	g := geometryOf(reports.NewSeriesHistogram())
	for i := range 50 {
		h := packed(reports.NewSeriesHistogram())
		var want []reports.Bucket
		for range rng.IntN(3000) {
			_ = h.RecordValue(int64(rng.ExpFloat64() * float64([]int64{10, 1e4, 1e6, 1e9}[i%4])))
		}
		_ = h.RecordValue(3_600_000_000)
		for v, c := range h.ForEachBucket {
			want = append(want, reports.Bucket{Value: v, Count: c})
		}
		line := string(e.entry("j/s", 1607418000, 1, h, g))
		enc := line[strings.LastIndex(line, ",")+1:]
		got, err := hdrBuckets(t, enc)
		if err != nil {
			t.Fatalf("case %d: HdrHistogram cannot read the encoding: %v", i, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: HdrHistogram reads %d buckets, %d were written", i, len(got), len(want))
		}
		if !strings.HasPrefix(line, "Tag=j/s,1607418000.000000,1.000000,") {
			t.Fatalf("line %.60q", line)
		}
	}
}
