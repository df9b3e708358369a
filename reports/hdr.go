package reports

import hdr "github.com/HdrHistogram/hdrhistogram-go"

// DecodeLatencyHDR decodes a summary's latency_hdr field (the run's or a
// step's): µs from 1 µs to 1 h, 3 significant figures. field names it in
// the error.
func DecodeLatencyHDR(s, field string) (*hdr.Histogram, error) { return decodeHist(s, field) }
