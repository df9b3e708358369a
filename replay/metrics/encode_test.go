package metrics_test

import (
	"errors"
	"math"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/metrics"
)

// decodeWriteRequest reads a WriteRequest back, field by field, failing on
// anything the encoder should not have written. It is the test's own
// reading of the remote-write schema; TestPrometheusRemoteWriteAgreesWithSummary
// checks the encoding against Prometheus itself.
func decodeWriteRequest(b []byte) (series []metrics.Series, ms []int64, err error) {
	bad := errors.New("malformed")
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, nil, bad
		}
		b = b[n:]
		ts, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, nil, bad
		}
		b = b[n:]
		var s metrics.Series
		samples := 0
		for len(ts) > 0 {
			num, typ, n := protowire.ConsumeTag(ts)
			if n < 0 || typ != protowire.BytesType {
				return nil, nil, bad
			}
			ts = ts[n:]
			msg, n := protowire.ConsumeBytes(ts)
			if n < 0 {
				return nil, nil, bad
			}
			ts = ts[n:]
			fields := map[protowire.Number][]byte{}
			var value float64
			var stamp int64
			for len(msg) > 0 {
				f, ft, n := protowire.ConsumeTag(msg)
				if n < 0 {
					return nil, nil, bad
				}
				msg = msg[n:]
				switch {
				case num == 1 && ft == protowire.BytesType:
					v, n := protowire.ConsumeBytes(msg)
					if n < 0 {
						return nil, nil, bad
					}
					fields[f], msg = v, msg[n:]
				case num == 2 && f == 1 && ft == protowire.Fixed64Type:
					v, n := protowire.ConsumeFixed64(msg)
					if n < 0 {
						return nil, nil, bad
					}
					value, msg = math.Float64frombits(v), msg[n:]
				case num == 2 && f == 2 && ft == protowire.VarintType:
					v, n := protowire.ConsumeVarint(msg)
					if n < 0 {
						return nil, nil, bad
					}
					stamp, msg = int64(v), msg[n:]
				default:
					return nil, nil, bad
				}
			}
			switch num {
			case 1:
				s.Labels = append(s.Labels, metrics.Label{Name: string(fields[1]), Value: string(fields[2])})
			case 2:
				samples++
				s.Value = value
				ms = append(ms, stamp)
			default:
				return nil, nil, bad
			}
		}
		if samples != 1 {
			return nil, nil, bad
		}
		series = append(series, s)
	}
	return series, ms, nil
}

func TestWriteRequestRoundTrip(t *testing.T) {
	in := []metrics.Series{
		{Labels: []metrics.Label{{"__name__", "stampede_requests_total"}, {"mode", "http 503 CARD_SAVE_FAILED"}, {"shard", "1/1"}}, Value: 12345},
		{Labels: []metrics.Label{{"__name__", "stampede_request_duration_seconds_bucket"}, {"le", "+Inf"}}, Value: 0},
		{Labels: []metrics.Label{{"__name__", "x"}, {"v", strings.Repeat("é", 200)}}, Value: math.Inf(1)},
	}
	const ms = 1_764_620_000_123
	got, stamps, err := decodeWriteRequest(metrics.AppendWriteRequest(nil, in, ms))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, in)
	}
	for _, s := range stamps {
		if s != ms {
			t.Fatalf("timestamp %d, want %d", s, ms)
		}
	}
}

func FuzzWriteRequest(f *testing.F) {
	f.Add("stampede_requests_total", "mode", "http 503", 1.5, int64(1_764_620_000_000), uint8(3))
	f.Add("", "", "", 0.0, int64(0), uint8(1))
	f.Add("a", "le", "+Inf", math.NaN(), int64(-1), uint8(0))
	f.Fuzz(func(t *testing.T, name, label, value string, v float64, ms int64, n uint8) {
		var in []metrics.Series
		for i := range int(n % 8) {
			in = append(in, metrics.Series{Labels: []metrics.Label{{"__name__", name}, {label, value + strconv.Itoa(i)}}, Value: v + float64(i)})
		}
		got, stamps, err := decodeWriteRequest(metrics.AppendWriteRequest(nil, in, ms))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(in) || len(stamps) != len(in) {
			t.Fatalf("%d series back, want %d", len(got), len(in))
		}
		for i := range in {
			if !reflect.DeepEqual(got[i].Labels, in[i].Labels) || math.Float64bits(got[i].Value) != math.Float64bits(in[i].Value) || stamps[i] != ms {
				t.Fatalf("series %d: got %v @%d, want %v @%d", i, got[i], stamps[i], in[i], ms)
			}
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{":9464", "127.0.0.1:9464", "[::1]:0", "0.0.0.0:65535", "localhost", ":70000", ":-1", ":0x10", "", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := metrics.ParseAddr(s)
		if err != nil {
			if !errors.Is(err, replay.ErrBadInput) || !strings.Contains(err.Error(), "--metrics-addr") {
				t.Fatalf("%q: error %v does not wrap ErrBadInput naming the flag", s, err)
			}
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%q gave %q, not HOST:PORT: %v", s, addr, err)
		}
		_, inPort, _ := net.SplitHostPort(s)
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != inPort {
			t.Fatalf("%q gave port %q", s, port)
		}
		if strings.HasPrefix(s, ":") && host != "127.0.0.1" {
			t.Fatalf("%q listens on %q, want loopback", s, host)
		}
	})
}

func FuzzParseRemoteWriteURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9090/api/v1/write", "https://u:p@h/x", "ftp://h/", "::", "http:///x", "h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := metrics.ParseRemoteWriteURL(s)
		if err != nil {
			if !errors.Is(err, replay.ErrBadInput) {
				t.Fatalf("%q: %v does not wrap ErrBadInput", s, err)
			}
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("%q accepted as %v", s, u)
		}
	})
}
