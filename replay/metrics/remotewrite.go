package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stampede-load/stampede/reports"
)

// Remote-write pushing: every interval the pusher gathers the registry and
// posts it as one remote-write v1 request (a protobuf WriteRequest,
// snappy-compressed). Counters are cumulative, so a push that fails loses
// resolution, never counts: the next one carries the totals. A failed push
// is retried twice with a short backoff and counted; it runs on the
// pusher's own goroutine, so it never slows the load.

// pushAttempts is how many times one push is tried.
const pushAttempts = 3

// OutputKind names remote write in reports.OutputStatus.
const OutputKind = "prometheus-remote-write"

type pusher struct {
	gather prometheus.Gatherer
	url    *url.URL
	every  time.Duration
	client *http.Client

	pushes   *prometheus.CounterVec // result: ok, failed
	retried  prometheus.Counter
	ctx      context.Context // cancelled by stop
	cancel   context.CancelFunc
	finished chan struct{} // closed when the loop has returned

	mu   sync.Mutex // one push at a time, so samples reach the endpoint in time order
	enc  encoder
	body []byte

	smu                  sync.Mutex // guards the status below
	nPush, nFail, nRetry int64
	down                 bool
	lastErr              string
}

func newPusher(g prometheus.Gatherer, reg prometheus.Registerer, u *url.URL, every time.Duration) *pusher {
	p := &pusher{
		gather: g,
		url:    u,
		every:  every,
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 2, IdleConnTimeout: 2 * every}},
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stampede", Name: "remote_write_pushes_total",
			Help: "Remote-write pushes, by result (ok, failed after retries)."}, []string{"result"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stampede", Name: "remote_write_retries_total",
			Help: "Remote-write attempts that were a retry of a failed one."}),
		finished: make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	reg.MustRegister(p.pushes, p.retried)
	p.pushes.WithLabelValues("ok")
	p.pushes.WithLabelValues("failed")
	return p
}

// start pushes every p.every until stop.
func (p *pusher) start() {
	go func() {
		defer close(p.finished)
		tick := time.NewTicker(p.every)
		defer tick.Stop()
		for {
			select {
			case <-p.ctx.Done():
				return
			case <-tick.C:
				p.pushNow(p.ctx)
			}
		}
	}()
}

// stop ends the loop, cancelling a push under way, and waits for it.
func (p *pusher) stop() {
	p.cancel()
	<-p.finished
}

// final pushes once more, within budget, and returns how the pushes have
// fared, that last one included: no other push can start in between.
func (p *pusher) final(budget time.Duration) reports.OutputStatus {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push(ctx)
	return p.status()
}

// attemptTimeout bounds one attempt: half the interval, 1 s to 10 s.
func (p *pusher) attemptTimeout() time.Duration {
	return min(max(p.every/2, time.Second), 10*time.Second)
}

// pushNow gathers the registry and pushes it, retrying.
func (p *pusher) pushNow(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.push(ctx)
}

// push is pushNow with p.mu held.
func (p *pusher) push(ctx context.Context) {
	var err error
	p.body, err = p.encode(p.body[:0], time.Now())
	if err == nil {
		for attempt := range pushAttempts {
			if attempt > 0 {
				p.retried.Inc()
				p.smu.Lock()
				p.nRetry++
				p.smu.Unlock()
				t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
				if ctx.Err() != nil {
					err = fmt.Errorf("%w (after %d attempts)", err, attempt)
					break
				}
			}
			var retry bool
			retry, err = p.post(ctx, p.body)
			if err == nil || !retry {
				break
			}
		}
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	p.nPush++
	p.down = err != nil
	if err != nil {
		p.nFail++
		p.lastErr = reports.Printable(err.Error())
		p.pushes.WithLabelValues("failed").Inc()
		return
	}
	p.pushes.WithLabelValues("ok").Inc()
}

// encode gathers the registry into a snappy-compressed WriteRequest,
// every sample at time now.
func (p *pusher) encode(dst []byte, now time.Time) ([]byte, error) {
	families, err := p.gather.Gather()
	if err != nil && len(families) == 0 {
		return dst, fmt.Errorf("gather: %w", err)
	}
	raw := p.enc.writeRequest(families, now.UnixMilli())
	return snappy.Encode(dst[:cap(dst)], raw), nil
}

// post sends one request; retry says whether a failure is worth retrying
// (transport errors, 5xx, 429), as the remote-write spec asks.
func (p *pusher) post(ctx context.Context, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.attemptTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url.String(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "stampede")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := p.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the status already
		}
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	return resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests, err
}

// status reports how the pushes fared, for the summary.
func (p *pusher) status() reports.OutputStatus {
	p.smu.Lock()
	defer p.smu.Unlock()
	u := *p.url
	u.User = nil
	return reports.OutputStatus{Kind: OutputKind, URL: u.String(), Pushes: p.nPush, Failed: p.nFail,
		Retries: p.nRetry, Down: p.down, LastError: p.lastErr}
}
