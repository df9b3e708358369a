package merge

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/stampede-load/stampede/reports"
)

// histDecoder reads HdrHistogram's V2 compressed encoding (the payload of
// an interval-log line) straight into buckets, reusing its buffers and its
// zlib reader from one line to the next: decoding into a histogram
// allocates one per line, which made a fleet's merge ten times slower.
// It inflates with klauspost/compress, a third faster than compress/zlib
// on these small streams.
type histDecoder struct {
	raw     []byte
	zr      io.ReadCloser
	br      bytes.Reader
	header  [40]byte
	payload bytes.Buffer
}

// Geometry of a histogram, as its encoding states it.
type geometry struct {
	sigFigs         int32
	lowest, highest int64
}

// geometryOf returns h's geometry.
func geometryOf(h *hdr.Histogram) geometry {
	return geometry{int32(h.SignificantFigures()), h.LowestTrackableValue(), h.HighestTrackableValue()}
}

// maxPayload bounds a histogram's decompressed counts: a 3-digit histogram
// over an hour of microseconds has 23,552 buckets of at most 9 bytes (the
// interval log's 2-digit ones 3,328).
const maxPayload = 1 << 20

// decode parses one encoded histogram of geometry want and appends its
// populated buckets, each at the lowest value it holds, in ascending
// order, to buckets. On an error buckets is returned as it was.
func (d *histDecoder) decode(encoded []byte, want geometry, buckets []reports.Bucket) ([]reports.Bucket, error) {
	out, err := d.decodeAppend(encoded, want, buckets)
	if err != nil {
		return buckets, err
	}
	return out, nil
}

func (d *histDecoder) decodeAppend(encoded []byte, want geometry, buckets []reports.Bucket) ([]reports.Bucket, error) {
	n := base64.StdEncoding.DecodedLen(len(encoded))
	if cap(d.raw) < n {
		d.raw = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(d.raw[:n], encoded)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	raw := d.raw[:n]
	if len(raw) < 8 {
		return nil, errors.New("histogram: shorter than its header")
	}
	if int32(binary.BigEndian.Uint32(raw))&^0xf0 != hdr.V2CompressedEncodingCookieBase {
		return nil, errors.New("histogram: not HdrHistogram's V2 compressed encoding")
	}
	clen := int64(binary.BigEndian.Uint32(raw[4:]))
	if clen > int64(len(raw)-8) {
		return nil, errors.New("histogram: compressed length past its end")
	}
	d.br.Reset(raw[8 : 8+clen])
	if d.zr == nil {
		if d.zr, err = zlib.NewReader(&d.br); err != nil {
			return nil, fmt.Errorf("histogram: %w", err)
		}
	} else if err := d.zr.(zlib.Resetter).Reset(&d.br, nil); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	if _, err := io.ReadFull(d.zr, d.header[:]); err != nil {
		return nil, fmt.Errorf("histogram header: %w", err)
	}
	h := d.header[:]
	got := geometry{int32(binary.BigEndian.Uint32(h[12:])), int64(binary.BigEndian.Uint64(h[16:])), int64(binary.BigEndian.Uint64(h[24:]))}
	switch {
	case int32(binary.BigEndian.Uint32(h))&^0xf0 != hdr.V2EncodingCookieBase:
		return nil, errors.New("histogram: not HdrHistogram's V2 encoding")
	case got != want:
		return nil, fmt.Errorf("histogram of %d significant figures over [%d, %d], want %d over [%d, %d]",
			got.sigFigs, got.lowest, got.highest, want.sigFigs, want.lowest, want.highest)
	case binary.BigEndian.Uint32(h[8:]) != 0:
		return nil, errors.New("histogram: a normalizing index offset, which stampede never writes")
	}
	plen := int64(binary.BigEndian.Uint32(h[4:]))
	if plen > maxPayload {
		return nil, fmt.Errorf("histogram: payload of %d bytes", plen)
	}
	d.payload.Reset()
	// One byte past the payload: trailing data shows, and reaching the end
	// verifies the zlib checksum.
	if _, err := d.payload.ReadFrom(io.LimitReader(d.zr, plen+1)); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	if int64(d.payload.Len()) != plen {
		return nil, fmt.Errorf("histogram: payload of %d bytes, header says %d", d.payload.Len(), plen)
	}
	return counts(d.payload.Bytes(), want, buckets)
}

// counts reads the payload, appending its buckets to out: zig-zag LEB128
// varints, a count for each bucket index in turn, a negative one skipping
// that many empty buckets.
func counts(p []byte, g geometry, out []reports.Bucket) ([]reports.Bucket, error) {
	halfMag, half := layout(g)
	sub := 2 * half
	// As many buckets as reach the highest trackable value; the counts
	// cover the last one to its end, past that value.
	buckets := int64(1)
	for top := sub; top <= g.highest && buckets < 62; top <<= 1 {
		buckets++
	}
	countsLen := (buckets + 1) * half
	var total int64
	for idx := int64(0); len(p) > 0; {
		// Most counts of a second's histogram fit in one byte.
		u, n := uint64(p[0]), 1
		if u >= 0x80 {
			if u, n = binary.Uvarint(p); n <= 0 || n > 9 {
				return nil, errors.New("histogram: a malformed count")
			}
		}
		p = p[n:]
		v := int64(u>>1) ^ -int64(u&1)
		if v < 0 {
			if -v <= 0 || -v > countsLen-idx {
				return nil, errors.New("histogram: a run of empty buckets past the histogram's range")
			}
			idx += -v
			continue
		}
		if idx >= countsLen {
			return nil, errors.New("histogram: a bucket past the histogram's range")
		}
		bucket, subIdx := idx>>halfMag-1, idx&(half-1)+half
		if bucket < 0 {
			subIdx -= half
			bucket = 0
		}
		value := subIdx << bucket
		if v > 0 {
			if total += v; total < 0 {
				return nil, errors.New("histogram: counts past 2^63")
			}
			out = append(out, reports.Bucket{Value: value, Count: v})
		}
		idx++
	}
	return out, nil
}
