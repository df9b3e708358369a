package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/stampede-load/stampede/replay"
	"github.com/stampede-load/stampede/replay/metrics"
	"github.com/stampede-load/stampede/scenarios"
)

// metricsOptions are the flags that show a run live to Prometheus.
type metricsOptions struct {
	metricsAddr string
	remoteWrite string
	pushEvery   time.Duration
	linger      time.Duration
}

func (o *metricsOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve the run's Prometheus metrics on HOST:PORT/metrics (:PORT listens on loopback only), e.g. :9464")
	f.StringVar(&o.remoteWrite, "prometheus-remote-write", "", "push the run's metrics to this Prometheus remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write")
	f.DurationVar(&o.pushEvery, "prometheus-remote-write-every", metrics.DefaultPushEvery, "how often to push with --prometheus-remote-write")
	f.DurationVar(&o.linger, "metrics-linger", 15*time.Second, "after the run, keep --metrics-addr up until one more scrape, at most this long (0: close at once)")
}

// start starts the metrics sink when a flag asks for it and adds it to
// ro's sinks; the caller calls the returned function once the run is over.
func (o *metricsOptions) start(st *state, quiet bool, sc *scenarios.Scenario, ro *replay.Options) (stop func(), err error) {
	if o.metricsAddr == "" && o.remoteWrite == "" {
		return func() {}, nil
	}
	if o.pushEvery <= 0 {
		return nil, fmt.Errorf("%w: --prometheus-remote-write-every %s must be positive", errUsage, o.pushEvery)
	}
	if o.linger < 0 {
		return nil, fmt.Errorf("%w: --metrics-linger %s must not be negative", errUsage, o.linger)
	}
	sink, err := metrics.Start(metrics.Options{
		Info: metrics.Info{Scenario: sc.Name, Seed: sc.Seed, Shard: ro.Info.Shard,
			TimeScale: ro.Info.TimeScale, RateScale: ro.Info.RateScale},
		Addr:        o.metricsAddr,
		RemoteWrite: o.remoteWrite,
		PushEvery:   o.pushEvery,
	})
	if err != nil {
		return nil, err
	}
	if addr := sink.Addr(); addr != "" && !quiet {
		fmt.Fprintf(st.stderr, "metrics on http://%s/metrics\n", addr)
	}
	ro.Sinks = append(ro.Sinks, sink)
	return func() {
		// The scraper's last copy of the figures should be the final one.
		// A second interrupt still exits at once.
		if sink.Addr() != "" && o.linger > 0 && !quiet {
			fmt.Fprintf(st.stderr, "metrics: waiting up to %s for a last scrape of http://%s/metrics\n", o.linger, sink.Addr())
		}
		sink.Linger(o.linger)
		sink.Close()
	}, nil
}
