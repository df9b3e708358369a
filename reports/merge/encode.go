package merge

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// histEncoder writes interval-log entries in HdrHistogram's V2 compressed
// encoding, reusing its zlib writer and buffers from one entry to the next
// (HdrHistogram's own encoder allocates a compressor, about a megabyte, for
// every histogram: in a run's sink that was the garbage of ten entries a
// second).
type histEncoder struct {
	zw     *zlib.Writer
	plain  bytes.Buffer // header and counts, to compress
	packed bytes.Buffer
	line   []byte
	varint [binary.MaxVarintLen64]byte
}

// entry renders one interval-log line (without its newline) for a
// histogram of geometry g: "Tag=TAG,START,LENGTH,MAX,HISTOGRAM", times in
// seconds and the maximum scaled as HdrHistogram's log writer does.
func (e *histEncoder) entry(tag string, startSec, lengthSec int64, h *hdr.PackedHistogram, g geometry) []byte {
	e.plain.Reset()
	var head [40]byte
	binary.BigEndian.PutUint32(head[0:], uint32(hdr.V2EncodingCookieBase|0x10))
	// head[4:8], the payload's length, is filled in below.
	binary.BigEndian.PutUint32(head[12:], uint32(g.sigFigs))
	binary.BigEndian.PutUint64(head[16:], uint64(g.lowest))
	binary.BigEndian.PutUint64(head[24:], uint64(g.highest))
	binary.BigEndian.PutUint64(head[32:], math.Float64bits(1))
	e.plain.Write(head[:])

	halfMag, half := layout(g)
	mask := int64(2*half - 1)
	next := int64(0) // the index after the last one written
	for v, c := range h.ForEachBucket {
		bucket := int64(64-bits.LeadingZeros64(uint64(v|mask))) - int64(halfMag+1)
		idx := (bucket+1)<<halfMag + v>>bucket - half
		if gap := idx - next; gap > 0 {
			e.writeCount(-gap)
		}
		e.writeCount(c)
		next = idx + 1
	}
	b := e.plain.Bytes()
	binary.BigEndian.PutUint32(b[4:], uint32(len(b)-40))

	e.packed.Reset()
	e.packed.Write(make([]byte, 8))
	// Stored blocks: any zlib reader reads them, and inflating 360,000
	// small dynamic-Huffman streams was a third of a fleet's merge, for a
	// log a third smaller.
	if e.zw == nil {
		e.zw, _ = zlib.NewWriterLevel(&e.packed, zlib.NoCompression)
	} else {
		e.zw.Reset(&e.packed)
	}
	e.zw.Write(b)
	e.zw.Close()
	z := e.packed.Bytes()
	binary.BigEndian.PutUint32(z[0:], uint32(hdr.V2CompressedEncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(z[4:], uint32(len(z)-8))

	l := append(e.line[:0], "Tag="...)
	l = append(l, tag...)
	l = append(l, ',')
	l = strconv.AppendFloat(l, float64(startSec), 'f', 6, 64)
	l = append(l, ',')
	l = strconv.AppendFloat(l, float64(lengthSec), 'f', 6, 64)
	l = append(l, ',')
	l = strconv.AppendFloat(l, float64(h.Max())/hdr.MsToNsRatio, 'f', 6, 64)
	l = append(l, ',')
	l = base64.StdEncoding.AppendEncode(l, z)
	e.line = l
	return l
}

// writeCount appends a zig-zag LEB128 varint.
func (e *histEncoder) writeCount(v int64) {
	n := binary.PutUvarint(e.varint[:], uint64(v<<1)^uint64(v>>63))
	e.plain.Write(e.varint[:n])
}

// layout returns the magnitude and size of half a bucket's sub-buckets for
// geometry g, whose lowest value is 1: the sub-bucket count is the power of
// two at or above 2·10^digits.
func layout(g geometry) (halfMag int, half int64) {
	lim, sub := int64(2), int64(1)
	for range g.sigFigs {
		lim *= 10
	}
	for sub < lim {
		sub <<= 1
	}
	half = sub / 2
	for int64(1)<<halfMag < half {
		halfMag++
	}
	return halfMag, half
}
