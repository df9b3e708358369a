package metrics

import (
	"math"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// The remote-write v1 messages (prometheus/prompb), as far as they are
// written here:
//
//	WriteRequest { repeated TimeSeries timeseries = 1; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; }  // ms since the epoch

// Label is one label of a series.
type Label struct{ Name, Value string }

// Series is one sample of one series: its labels, __name__ among them,
// sorted by name, and its value.
type Series struct {
	Labels []Label
	Value  float64
}

// jobName is the job label pushed series carry, as a scrape job named
// "stampede" would give them.
const jobName = "stampede"

// encoder turns gathered families into a WriteRequest, reusing its
// buffers from one push to the next.
type encoder struct {
	series []Series
	labels []Label // backing store of the series' labels
	buf    []byte
}

// writeRequest returns the encoded WriteRequest of families at timestamp
// ms; the bytes are valid until the next call.
func (e *encoder) writeRequest(families []*dto.MetricFamily, ms int64) []byte {
	e.series, e.labels = flatten(e.series[:0], e.labels[:0], families)
	e.buf = AppendWriteRequest(e.buf[:0], e.series, ms)
	return e.buf
}

// flatten expands families into series the way the text exposition does:
// a histogram into _bucket{le}, _sum and _count, a summary into
// {quantile}, _sum and _count. Each series gets job="stampede" unless it
// has a job label; empty label values are left out, as Prometheus does.
func flatten(out []Series, store []Label, families []*dto.MetricFamily) ([]Series, []Label) {
	// Labels are appended to store and sliced per series afterwards, so
	// the series may only take their slices once store stops growing.
	type span struct {
		from, to int
		value    float64
	}
	var spans []span
	add := func(name string, base []*dto.LabelPair, extraName, extraValue string, v float64) {
		from := len(store)
		store = append(store, Label{"__name__", name})
		job := false
		for _, lp := range base {
			if lp.GetValue() == "" {
				continue
			}
			job = job || lp.GetName() == "job"
			store = append(store, Label{lp.GetName(), lp.GetValue()})
		}
		if extraName != "" {
			store = append(store, Label{extraName, extraValue})
		}
		if !job {
			store = append(store, Label{"job", jobName})
		}
		ls := store[from:]
		sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
		spans = append(spans, span{from, len(store), v})
	}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			lp := m.GetLabel()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, lp, "", "", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, lp, "", "", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, lp, "", "", m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", lp, "le", formatFloat(b.GetUpperBound()), float64(b.GetCumulativeCount()))
				}
				add(name+"_bucket", lp, "le", "+Inf", float64(h.GetSampleCount()))
				add(name+"_sum", lp, "", "", h.GetSampleSum())
				add(name+"_count", lp, "", "", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, lp, "quantile", formatFloat(q.GetQuantile()), q.GetValue())
				}
				add(name+"_sum", lp, "", "", s.GetSampleSum())
				add(name+"_count", lp, "", "", float64(s.GetSampleCount()))
			}
		}
	}
	for _, sp := range spans {
		out = append(out, Series{Labels: store[sp.from:sp.to:sp.to], Value: sp.value})
	}
	return out, store
}

// formatFloat writes a bucket bound or quantile as the text exposition
// does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// AppendWriteRequest appends a remote-write v1 WriteRequest holding one
// sample at timestamp ms (milliseconds since the epoch) for each series.
// Labels are written as given: sorted by name, as the protocol wants.
func AppendWriteRequest(b []byte, series []Series, ms int64) []byte {
	for _, s := range series {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(timeSeriesSize(s, ms)))
		for _, l := range s.Labels {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(labelSize(l)))
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendString(b, l.Name)
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendString(b, l.Value)
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sampleSize(ms)))
		b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(s.Value))
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(ms))
	}
	return b
}

// Tags of fields 1 and 2 take one byte.
const tagSize = 1

func labelSize(l Label) int {
	return tagSize + protowire.SizeBytes(len(l.Name)) + tagSize + protowire.SizeBytes(len(l.Value))
}

func sampleSize(ms int64) int {
	return tagSize + protowire.SizeFixed64() + tagSize + protowire.SizeVarint(uint64(ms))
}

func timeSeriesSize(s Series, ms int64) int {
	n := 0
	for _, l := range s.Labels {
		n += tagSize + protowire.SizeBytes(labelSize(l))
	}
	return n + tagSize + protowire.SizeBytes(sampleSize(ms))
}
