package merge

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// intervalLog writes rs through an IntervalWriter.
func intervalLog(t testing.TB, rs []reports.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewIntervalWriter(&buf)
	for i := range rs {
		w.Add(&rs[i])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIntervalWriterKeepsOnlyOpenIntervals(t *testing.T) {
	rs := synthetic(40000, 5) // 200 s of two steps
	w := NewIntervalWriter(&bytes.Buffer{})
	most := 0
	for i := range rs {
		w.Add(&rs[i])
		most = max(most, len(w.open))
	}
	// Two steps' seconds within the horizon of the latest end (plus the
	// one untimed interval and the odd late result).
	if want := 2 * horizon; most > want+8 || most < want-4 {
		t.Fatalf("%d intervals open at most, want about %d", most, want)
	}
}

func TestIntervalLogIsHdrHistogramFormat(t *testing.T) {
	log := string(intervalLog(t, synthetic(2000, 6)))
	for _, want := range []string{"#[Histogram log format version 1.3]", "#[BaseTime: 0 ", `"StartTimestamp","Interval_Length"`,
		"Tag=enroll/login,1607418000.000000,1.000000,", "Tag=enroll/add-card,1607418001.000000,1.000000,", ",HISTF"} {
		if !bytes.Contains([]byte(log), []byte(want)) {
			t.Errorf("log lacks %q:\n%.600s", want, log)
		}
	}
}

func TestStepTagsEscape(t *testing.T) {
	rs := []reports.Result{{Journey: "add card, twice", Step: "a/b %", Attempt: 1, OK: true, Intended: t0, Latency: 5}}
	var got []*Interval
	if err := ReadIntervals(bytes.NewReader(intervalLog(t, rs)), "x.hlog", func(iv *Interval) error {
		got = append(got, iv)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Journey != "add card, twice" || got[0].Step != "a/b %" || got[0].Sec != t0.Unix() || len(got[0].Buckets) != 1 || got[0].Buckets[0].Count != 1 {
		t.Fatalf("read back %+v", got)
	}
}

// FuzzReadIntervals: whatever the input, reading never panics, and what
// reads writes back into a log that reads the same.
func FuzzReadIntervals(f *testing.F) {
	f.Add(intervalLog(f, synthetic(300, 7)))
	f.Add([]byte("Tag=a/b,1.000,1.000,0.1,HISTFAAAACh42pNpmSzMwMDAwsDAzAABAA0AAPg=\n"))
	f.Add([]byte("Tag=a/b,1.5,1.0,0,x\n#c\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var first []*Interval
		if err := ReadIntervals(bytes.NewReader(data), "f.hlog", func(iv *Interval) error {
			c := *iv
			c.Buckets = slices.Clone(iv.Buckets)
			first = append(first, &c)
			return nil
		}); err != nil {
			return
		}
		var buf bytes.Buffer
		w := NewIntervalWriter(&buf)
		for _, iv := range first {
			w.WriteInterval(iv)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("writing back what was read: %v", err)
		}
		i := 0
		if err := ReadIntervals(&buf, "again.hlog", func(iv *Interval) error {
			a := first[i]
			if iv.Journey != a.Journey || iv.Step != a.Step || iv.Sec != a.Sec || !slices.Equal(iv.Buckets, a.Buckets) {
				t.Fatalf("interval %d reads back as %+v, was %+v", i, iv, a)
			}
			i++
			return nil
		}); err != nil || i != len(first) {
			t.Fatalf("reading back: %d of %d intervals, %v", i, len(first), err)
		}
	})
}

// FuzzDecodeCounters: whatever the input, decoding never panics; what
// decodes encodes to a file that decodes to the same, and restores an
// accumulator or says why not, without panicking.
func FuzzDecodeCounters(f *testing.F) {
	dir := f.TempDir()
	writeRun(f, dir, header, synthetic(300, 8))
	b, err := os.ReadFile(filepath.Join(dir, CountersFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"format":"stampede-counters/2","scenario":"x","tally":{"series":{"width_s":3,"points":[{}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCounters(bytes.NewReader(data), "f.json")
		if err != nil {
			return
		}
		enc, err := EncodeCounters(c)
		if err != nil {
			t.Fatalf("encoding what decoded: %v", err)
		}
		c2, err := DecodeCounters(bytes.NewReader(enc), "again.json")
		if err != nil {
			t.Fatalf("what encoded does not decode: %v\n%s", err, enc)
		}
		enc2, _ := EncodeCounters(c2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the counters:\n%s\n%s", enc, enc2)
		}
		if acc, err := reports.RestoreAccumulator(c.Tally); err == nil {
			_ = acc.CompleteLatencies() // whatever the series, no panic
			acc.Summary(c.meta())
		}
	})
}

// BenchmarkIntervalWriterAdd is the sink's cost per result in a run.
func BenchmarkIntervalWriterAdd(b *testing.B) {
	rs := synthetic(100000, 10)
	w := NewIntervalWriter(io.Discard)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := rs[i%len(rs)]
		r.Intended = r.Intended.Add(time.Duration(i/len(rs)) * 500 * time.Second)
		w.Add(&r)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRestore is reading one run's interval log back into its
// accumulator, per interval.
func BenchmarkRestore(b *testing.B) {
	dir := b.TempDir()
	writeRun(b, dir, header, synthetic(60000, 11))
	c, err := readCounters(dir)
	if err != nil {
		b.Fatal(err)
	}
	var entries int
	ReadIntervals(bytes.NewReader(mustRead(b, filepath.Join(dir, IntervalsFile))), "x", func(*Interval) error { entries++; return nil })
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := restore([]string{dir}, []*Counters{c}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries), "ns/interval")
}

func mustRead(b *testing.B, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// TestHdrHistogramReadsTheIntervalLog: HdrHistogram's own log reader reads
// a run's log, and its intervals hold every timed latency of the run, step
// by step, in the buckets the run's series put them in.
func TestHdrHistogramReadsTheIntervalLog(t *testing.T) {
	rs := synthetic(3000, 12)
	lr := hdr.NewHistogramLogReader(bytes.NewReader(intervalLog(t, rs)))
	got := map[string]*hdr.Histogram{}
	entries := 0
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("HdrHistogram's log reader, after %d intervals: %v", entries, err)
		}
		if h == nil {
			break
		}
		entries++
		if h.SignificantFigures() != 2 || h.EndTimeMs()-h.StartTimeMs() != 1000 {
			t.Fatalf("interval %q: %d significant figures over %d ms", h.Tag(), h.SignificantFigures(), h.EndTimeMs()-h.StartTimeMs())
		}
		if got[h.Tag()] == nil {
			got[h.Tag()] = reports.NewSeriesHistogram()
		}
		got[h.Tag()].Merge(h)
	}
	want := map[string]*hdr.Histogram{}
	for _, r := range rs {
		us, timed := reports.HistogramValue(&r)
		if !timed || r.Intended.IsZero() {
			continue
		}
		tag := r.Journey + "/" + r.Step
		if want[tag] == nil {
			want[tag] = reports.NewSeriesHistogram()
		}
		_ = want[tag].RecordValue(us)
	}
	if len(got) != 2 || entries < 2*15 {
		t.Fatalf("%d intervals of %d steps, want one per step and second of a 15 s run", entries, len(got))
	}
	for tag, w := range want {
		if g := got[tag]; g == nil || !g.Equals(w) {
			t.Fatalf("step %s: HdrHistogram reads %v, the run recorded %d latencies", tag, g, w.TotalCount())
		}
	}
}
