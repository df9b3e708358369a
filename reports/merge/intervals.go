package merge

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stampede-load/stampede/reports"
	"github.com/stampede-load/stampede/reports/resultsfile"
)

// IntervalsFile is the run folder's latency interval log.
const IntervalsFile = "latency.hlog"

// horizon is how many seconds past the latest end seen an interval stays
// open for the results still due in it. A result later than that adds a
// second entry for the same interval: entries add up, so nothing is lost.
const horizon = 30

// Interval is one entry of an interval log: the latencies (µs, the
// geometry of reports.NewSeriesHistogram: 2 significant digits, the
// precision of the summary's per-second series) of one step's requests due
// in one second. The step's and the run's per-second series follow from
// them; each step's whole-run histogram, at 3 digits, is in the counters.
type Interval struct {
	Journey, Step string
	Sec           int64            // Unix second the requests were due in
	Buckets       []reports.Bucket // the histogram's populated buckets, ascending; ReadIntervals reuses the slice
}

type intervalKey struct {
	journey, step string
	sec           int64
}

// IntervalWriter is a reports.Sink that writes the latencies of the timed
// results it is given (those with an intended time, not dropped) as an
// HdrHistogram interval log (format 1.3, which
// HdrHistogram's own tools read), timestamps in absolute seconds, values
// in µs: for each step and second an entry tagged "JOURNEY/STEP" (each
// part URL-query-escaped).
// Memory holds only the intervals still open, whatever the run's length.
// Call Close once the run has ended.
type IntervalWriter struct {
	bw     *bufio.Writer
	lw     *hdr.HistogramLogWriter
	open   map[intervalKey]*hdr.PackedHistogram
	tags   map[[2]string]string
	newest int64 // latest end second seen
	swept  int64 // newest at the last sweep
	enc    histEncoder
	geom   geometry
	err    error
}

// NewIntervalWriter starts an interval log on w.
func NewIntervalWriter(w io.Writer) *IntervalWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	iw := &IntervalWriter{bw: bw, lw: hdr.NewHistogramLogWriter(bw),
		open: make(map[intervalKey]*hdr.PackedHistogram), tags: make(map[[2]string]string),
		geom: geometryOf(reports.NewSeriesHistogram())}
	iw.err = errors.Join(
		iw.lw.OutputLogFormatVersion(),
		iw.lw.OutputComment("[stampede: latencies in microseconds by step (Tag=JOURNEY/STEP) and due second]"),
		iw.lw.OutputBaseTime(0),
		iw.lw.OutputLegend(),
	)
	return iw
}

// Add records r's latency in its intervals.
func (w *IntervalWriter) Add(r *reports.Result) {
	us, timed := reports.HistogramValue(r)
	if !timed || r.Intended.IsZero() {
		return
	}
	k := intervalKey{journey: r.Journey, step: r.Step, sec: r.Intended.Unix()}
	if end := r.End().Unix(); end > w.newest {
		w.newest = end
	}
	h := w.open[k]
	if h == nil {
		h = packed(reports.NewSeriesHistogram())
		w.open[k] = h
	}
	_ = h.RecordValue(us)
	if w.newest > w.swept {
		w.swept = w.newest
		w.write(func(k intervalKey) bool { return k.sec < w.newest-horizon })
	}
}

// Close writes the intervals still open and flushes the log. It does not
// close the underlying writer.
func (w *IntervalWriter) Close() error {
	w.write(func(intervalKey) bool { return true })
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// write writes and forgets the open intervals done says are complete, in
// order of time and tag, so a log reads the same however results came in.
func (w *IntervalWriter) write(done func(intervalKey) bool) {
	var keys []intervalKey
	for k := range w.open {
		if done(k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b intervalKey) int {
		return cmp.Or(cmp.Compare(a.sec, b.sec), cmp.Compare(a.journey, b.journey), cmp.Compare(a.step, b.step))
	})
	for _, k := range keys {
		w.writeInterval(k, w.open[k])
		delete(w.open, k)
	}
}

func (w *IntervalWriter) writeInterval(k intervalKey, h *hdr.PackedHistogram) {
	if w.err != nil {
		return
	}
	tk := [2]string{k.journey, k.step}
	tag, ok := w.tags[tk]
	if !ok {
		tag = stepTag(k.journey, k.step)
		w.tags[tk] = tag
	}
	line := w.enc.entry(tag, k.sec, 1, h, w.geom)
	if _, w.err = w.bw.Write(line); w.err == nil {
		w.err = w.bw.WriteByte('\n')
	}
}

// WriteInterval writes one interval.
func (w *IntervalWriter) WriteInterval(iv *Interval) {
	h := packed(reports.NewSeriesHistogram())
	for _, b := range iv.Buckets {
		_ = h.RecordValues(b.Value, b.Count)
	}
	w.writeInterval(intervalKey{iv.Journey, iv.Step, iv.Sec}, h)
}

// writeLine writes an entry as it is, for a merge that passes a run's
// entries on to its own log (compressing a histogram again costs more than
// everything else a merge does).
func (w *IntervalWriter) writeLine(line []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(line)
	}
	if w.err == nil {
		w.err = w.bw.WriteByte('\n')
	}
}

func packed(h *hdr.Histogram) *hdr.PackedHistogram {
	return hdr.NewPacked(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
}

// stepTag names a step in an interval log: tags may not hold commas,
// spaces or line breaks, and the slash between the parts must be the only
// one.
func stepTag(journey, step string) string {
	return url.QueryEscape(journey) + "/" + url.QueryEscape(step)
}

// copyEntries copies the entries of an interval log to w as they are,
// leaving out its header.
func copyEntries(w *IntervalWriter, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxIntervalLine)
	for sc.Scan() {
		if line := sc.Bytes(); bytes.HasPrefix(line, []byte("Tag=")) {
			w.writeLine(line)
		}
	}
	return sc.Err()
}

// maxIntervalLine bounds one log line: a full histogram encodes in well
// under a megabyte.
const maxIntervalLine = 4 << 20

// ReadIntervals reads an interval log written by IntervalWriter, calling fn
// for each entry in file order. name is used in errors, which are
// *resultsfile.LineError ("latency.hlog:12: ...") for a malformed line.
// Comments and the legend are skipped; every other line must be an
// interval of one second, tagged with a step, holding a histogram of the
// geometry of reports.NewSeriesHistogram. fn must not keep the Interval,
// which the next entry reuses, nor its Buckets.
func ReadIntervals(r io.Reader, name string, fn func(*Interval) error) error {
	var buckets []reports.Bucket
	return scanIntervals(r, name, &buckets, func(iv *Interval) error {
		err := fn(iv)
		buckets = buckets[:0]
		return err
	})
}

// scanIntervals is ReadIntervals appending each interval's buckets to
// *buckets (iv.Buckets is what it appended), so a caller can keep them
// without copying.
func scanIntervals(r io.Reader, name string, buckets *[]reports.Bucket, fn func(*Interval) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxIntervalLine)
	p := intervalParser{want: geometryOf(reports.NewSeriesHistogram()), tags: make(map[string][2]string)}
	var iv Interval
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if len(text) == 0 || text[0] == '#' || bytes.HasPrefix(text, []byte(`"StartTimestamp"`)) {
			continue
		}
		lo := len(*buckets)
		var err error
		if *buckets, err = p.parse(text, &iv, *buckets); err != nil {
			return &resultsfile.LineError{File: name, Line: line, Err: err}
		}
		iv.Buckets = (*buckets)[lo:]
		if err := fn(&iv); err != nil {
			return &resultsfile.LineError{File: name, Line: line, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// intervalParser reads interval-log lines, reusing its decoder and the
// steps' names from one line to the next.
type intervalParser struct {
	d    histDecoder
	want geometry
	tags map[string][2]string // tag as written: journey and step
}

// parse reads one entry into iv, appending its buckets to buckets.
func (p *intervalParser) parse(text []byte, iv *Interval, buckets []reports.Bucket) ([]reports.Bucket, error) {
	rest, ok := bytes.CutPrefix(text, []byte("Tag="))
	if !ok {
		return buckets, errors.New("interval without a Tag=JOURNEY/STEP")
	}
	var fields [5][]byte
	for i := range 4 {
		f, more, ok := bytes.Cut(rest, []byte(","))
		if !ok {
			return buckets, errors.New("want Tag=JOURNEY/STEP,START,LENGTH,MAX,HISTOGRAM")
		}
		fields[i], rest = f, more
	}
	fields[4] = rest
	names, ok := p.tags[string(fields[0])]
	if !ok {
		j, s, ok := strings.Cut(string(fields[0]), "/")
		var ej, es error
		names[0], ej = url.QueryUnescape(j)
		names[1], es = url.QueryUnescape(s)
		if !ok || strings.Contains(s, "/") || ej != nil || es != nil {
			return buckets, fmt.Errorf("tag %q: want JOURNEY/STEP, each part query-escaped", fields[0])
		}
		if len(p.tags) < maxTags {
			p.tags[string(fields[0])] = names
		}
	}
	start, err := strconv.ParseFloat(string(fields[1]), 64)
	if err != nil || start < 0 || start > 1<<40 || start != math.Trunc(start) {
		return buckets, fmt.Errorf("start %q: want whole seconds since the epoch", fields[1])
	}
	if l, err := strconv.ParseFloat(string(fields[2]), 64); err != nil || l != 1 {
		return buckets, fmt.Errorf("length %q: want 1 second", fields[2])
	}
	if _, err := strconv.ParseFloat(string(fields[3]), 64); err != nil {
		return buckets, fmt.Errorf("max %q: not a number", fields[3])
	}
	buckets, err = p.d.decode(fields[4], p.want, buckets)
	if err != nil {
		return buckets, err
	}
	iv.Journey, iv.Step, iv.Sec = names[0], names[1], int64(start)
	return buckets, nil
}

// maxTags bounds the steps' names a parser remembers.
const maxTags = 4096
