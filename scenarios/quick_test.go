package scenarios

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestQuick(t *testing.T) {
	s, err := Quick(QuickOptions{
		URL:      "https://api.example.com:8443/api/v1/wallet?page=2",
		Rate:     6000,
		Duration: 30 * time.Second,
		Method:   "post",
		Headers:  []string{"authorization: Bearer x", "X-Empty:"},
		Body:     []byte(`{"a":"{{not a template}}"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "quick" || s.Target != "https://api.example.com:8443" || s.HTTP.Timeout != 10*time.Second {
		t.Errorf("name %q target %q timeout %s", s.Name, s.Target, s.HTTP.Timeout)
	}
	if got := s.Profile.Arrivals(s.Profile.Duration()); got != 180_000 || s.Profile.Peak() != 6000 {
		t.Errorf("arrivals %v peak %v", got, s.Profile.Peak())
	}
	u, err := s.NewUser(0)
	if err != nil {
		t.Fatal(err)
	}
	j := s.PickJourney(u)
	req, err := j.Steps[0].Build(u, s.Target)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.URL != "https://api.example.com:8443/api/v1/wallet?page=2" ||
		req.Header.Get("Authorization") != "Bearer x" || len(req.Header["X-Empty"]) != 1 || string(req.Body) != `{"a":"{{not a template}}"}` {
		t.Errorf("request %+v body %s", req, req.Body)
	}
	if req.Header.Get("Content-Type") != "" {
		t.Errorf("quick mode added a Content-Type")
	}
	bare, err := Quick(QuickOptions{URL: "http://h", Rate: 1, Duration: time.Second, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st := bare.Journeys[0].Steps[0]; st.Method != "GET" || st.Path.String() != "/" || bare.HTTP.Timeout != time.Second {
		t.Errorf("defaults: method %q path %q timeout %s", st.Method, st.Path, bare.HTTP.Timeout)
	}
}

func TestQuickRejectsBadOptions(t *testing.T) {
	ok := QuickOptions{URL: "http://h/", Rate: 10, Duration: time.Second}
	tests := []struct {
		name   string
		change func(*QuickOptions)
	}{
		{"no scheme", func(o *QuickOptions) { o.URL = "h/x" }},
		{"ftp", func(o *QuickOptions) { o.URL = "ftp://h/x" }},
		{"no host", func(o *QuickOptions) { o.URL = "http:///x" }},
		{"bad URL", func(o *QuickOptions) { o.URL = "http://h/%zz" }},
		{"zero rate", func(o *QuickOptions) { o.Rate = 0 }},
		{"zero duration", func(o *QuickOptions) { o.Duration = 0 }},
		{"negative timeout", func(o *QuickOptions) { o.Timeout = -time.Second }},
		{"header without colon", func(o *QuickOptions) { o.Headers = []string{"Authorization Bearer"} }},
		{"bad method", func(o *QuickOptions) { o.Method = "GE T" }},
		{"CRLF in a header", func(o *QuickOptions) { o.Headers = []string{"X-A: b\r\nX-Injected: 1"} }},
		{"LF in a header", func(o *QuickOptions) { o.Headers = []string{"X-A: b\nc"} }},
		{"NUL in a header", func(o *QuickOptions) { o.Headers = []string{"X-A: b\x00"} }},
		{"duration over the cap", func(o *QuickOptions) { o.Duration = maxDuration + time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			if _, err := Quick(o); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Quick(%+v) = %v, want an error wrapping ErrInvalid", o, err)
			}
		})
	}
}

// FuzzQuick: whatever --url, --method and --header say, Quick either
// refuses them or builds a request that goes to the URL's host with a
// method that is a token and a header value free of line breaks, as given.
func FuzzQuick(f *testing.F) {
	f.Add("http://127.0.0.1:8080/x?y=1", "post", "X-A: b")
	f.Add("https://h/", "GET", "Authorization: Bearer t")
	f.Add("http://h/%zz", "G T", "X-A: b\r\nX-B: c")
	f.Add("ftp://h/", "", "no colon")
	f.Add("http://[::1]:80/", "PATCH", "X-Empty:")
	f.Fuzz(func(t *testing.T, rawURL, method, header string) {
		s, err := Quick(QuickOptions{URL: rawURL, Rate: 10, Duration: time.Second, Method: method, Headers: []string{header}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if len(err.Error()) > 600 { // short prefixes of the input, however long it is
				t.Fatalf("a %d-byte error: %q", len(err.Error()), err.Error())
			}
			return
		}
		u, err := s.NewUser(0)
		if err != nil {
			t.Fatal(err)
		}
		req, err := s.PickJourney(u).Steps[0].Build(u, s.Target)
		if err != nil {
			t.Fatalf("a quick scenario that cannot build its request: %v", err)
		}
		in, _ := url.Parse(rawURL)
		out, err := url.Parse(req.URL)
		if err != nil || out.Host != in.Host || out.Scheme != in.Scheme {
			t.Fatalf("request URL %q from --url %q (%v)", req.URL, rawURL, err)
		}
		if !validHeaderName(req.Method) || req.Method != strings.ToUpper(req.Method) {
			t.Fatalf("method %q from --method %q", req.Method, method)
		}
		name, value, _ := strings.Cut(header, ":")
		got := req.Header.Get(strings.TrimSpace(name))
		if strings.ContainsAny(got, "\r\n\x00") || got != strings.TrimSpace(value) {
			t.Fatalf("header %q sent as %q", header, got)
		}
	})
}
