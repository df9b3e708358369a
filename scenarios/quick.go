package scenarios

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

// QuickOptions describe a one-request scenario built from flags:
// stampede run --url URL --rate 6000/s --duration 30s.
type QuickOptions struct {
	URL      string        // the request's URL, http or https
	Rate     Rate          // arrivals (requests) per second, held for Duration
	Duration time.Duration // how long to hold Rate
	Method   string        // default GET
	Headers  []string      // "Key: Value", sent as written
	Body     []byte        // sent as written; nil for none
	Timeout  time.Duration // per-request timeout; 0 means the default 10s
}

// Quick builds the scenario "quick": one journey of one step sending the
// request as given (nothing in it is a template) at a constant rate. Its
// Target is the URL's scheme://host and the step's path is the URL's path
// and query. Bad options are an error wrapping ErrInvalid.
func Quick(o QuickOptions) (*Scenario, error) {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil:
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // without the URL it quotes whole
		}
		return nil, invalidf("--url %q: %w", clip(o.URL, 80), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, invalidf("--url %q: want an http:// or https:// URL", clip(o.URL, 80))
	case u.Host == "":
		return nil, invalidf("--url %q has no host", clip(o.URL, 80))
	case !(o.Rate > 0) || o.Rate > MaxRate:
		return nil, invalidf("--rate %s: want a positive rate up to %s", o.Rate, MaxRate)
	case o.Duration <= 0 || o.Duration > maxDuration:
		return nil, invalidf("--duration %s: want a positive duration up to %s", o.Duration, maxDuration)
	case o.Timeout < 0:
		return nil, invalidf("--timeout %s: want a positive duration", o.Timeout)
	}
	method := strings.ToUpper(o.Method)
	if method == "" {
		method = http.MethodGet
	}
	if !validHeaderName(method) {
		return nil, invalidf("--method %q is not an HTTP method", clip(o.Method, 40))
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	st := &Step{Name: "request", Method: method, Path: ConstTemplate(path)}
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !validHeaderName(name) {
			return nil, invalidf("--header %q: want \"Key: Value\"", clip(h, 80))
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r != '\t' && (r < ' ' || r == 0x7f) }) {
			return nil, invalidf("--header %q: a value must not hold a line break or control character", clip(h, 80))
		}
		st.Headers = append(st.Headers, Header{Name: http.CanonicalHeaderKey(name), Value: ConstTemplate(strings.TrimSpace(value))})
	}
	if o.Body != nil {
		st.Body = ConstTemplate(string(o.Body))
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &Scenario{
		Name:     "quick",
		Source:   "quick",
		Target:   u.Scheme + "://" + u.Host,
		Seed:     1,
		Profile:  &Profile{Stages: []Stage{{Kind: Hold, From: o.Rate, To: o.Rate, Duration: o.Duration}}},
		Journeys: []*Journey{{Name: "quick", Weight: 1, Steps: []*Step{st}}},
		HTTP:     HTTPOptions{Timeout: timeout, Version: "auto"},
		SLO:      reports.DefaultSLO,
		Embedded: Embedded{StackProfile: "naive"},
		Epoch:    epoch(),
	}, nil
}
