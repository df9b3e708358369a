// Package bank simulates the banks and card processors behind an
// enrollment stack, the way they saturated on the Cashback launch day.
//
// Every downstream is a Station: Servers slots working in parallel, a
// bounded FIFO queue in front of them (when it is full: 503 QUEUE_FULL or a
// connection reset), a maximum wait in the queue (503 QUEUE_TIMEOUT), an
// optional token-bucket rate limit (429 with Retry-After), and a service
// time drawn per request from a distribution (constant, exponential,
// lognormal by median and p99, uniform). Latency rises with load because
// requests queue, not because a formula says so: with exponential service
// a station is an M/M/c queue and its mean wait matches Erlang C.
//
// On top, faults (see FaultSpec), each with a probability and a time
// window counted from the server's start: HTTP 500/502/503/504, a hang
// until the client gives up, a connection reset, a dribbled body,
// malformed JSON, an outage, a degradation of the service time.
//
// The HTTP API (API.md beside this file): card verification, PagoBancomat
// and co-badge searches at the processors iccrea, nexi and sia, and the
// IBAN account-holder check, which waits for the IBAN's bank (a station
// too). Answers are deterministic: BancomatCards and CobadgeCards compute
// what a search finds. The admin API under /admin/ reads and changes a
// station live; /metrics serves Prometheus metrics from a registry of the
// server's own.
//
// Three ways to run it:
//
//   - in a Go test: NewServer(ctx, DefaultConfig()) gives a Server on a loopback
//     port with URL and Close, like httptest;
//   - as a process: Serve(ctx, ServeOptions{...}) behind "stampede mocks
//     serve", with WriteDefault behind "stampede mocks config";
//   - embedded next to the reference stack: Listen, then Server.Station to
//     change a bank or processor in-process.
//
// The default banks file (DefaultConfig, documented there and in the file
// WriteDefault prints) gives the processors 64 slots with card verification
// at 80 ms median and 400 ms p99 (about 630 requests per second each), and
// an IBAN check of about 50 ms at the median.
//
// bank owns the stations, their faults, the banks file and the station
// metrics (their names, the collector, and the scraper and parser a
// saturation search reads them back with). It imports reports (the
// StationSample record), scenarios/synth and internal packages; it must not
// import replay, sim, mocks/stack or scenarios.
package bank
