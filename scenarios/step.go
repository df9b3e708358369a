package scenarios

import (
	"fmt"
	"net/http"
	"slices"
)

// Request is a step made concrete for one user: what the engine sends.
type Request struct {
	Method string
	URL    string
	Header http.Header // the step's headers; the engine adds the scenario's HTTP.Headers for names not set here
	Body   []byte      // nil for no body; may be shared between requests, so read-only
}

// Build renders the step for user u against base, the target's URL without
// a trailing slash ("http://127.0.0.1:8080" or "https://host/prefix").
// Header holds the step's headers (its own over its journey's, and the
// default Content-Type), not the scenario's HTTP.Headers: the engine adds
// those for the names Build left unset. Templates that draw from the user's
// generator (uuid, randInt) give new values on every call, so a retry that
// must carry the same Idempotency-Key resends the Request it already has.
func (st *Step) Build(u *User, base string) (*Request, error) {
	path, err := st.Path.Execute(u)
	if err != nil {
		return nil, fmt.Errorf("step %s: path: %w", st.Name, err)
	}
	req := &Request{Method: st.Method, URL: base + path, Header: make(http.Header, len(st.Headers))}
	for _, h := range st.Headers {
		v, err := h.Value.Execute(u)
		if err != nil {
			return nil, fmt.Errorf("step %s: header %s: %w", st.Name, h.Name, err)
		}
		req.Header[h.Name] = []string{v}
	}
	if st.Body != nil {
		if req.Body, err = st.Body.bytes(u); err != nil {
			return nil, fmt.Errorf("step %s: body: %w", st.Name, err)
		}
	}
	return req, nil
}

// Succeeded reports whether a response status counts as success: one of
// Expect, or any 2xx when Expect is empty.
func (st *Step) Succeeded(code int) bool {
	if len(st.Expect) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(st.Expect, code)
}

// ExtractFrom sets the user's variables from a JSON response body, one per
// Extraction: strings as they are, numbers as written, booleans as true or
// false, objects and arrays as compact JSON. A body that is not JSON, or a
// path that is missing or null, is an error naming the step and the path;
// the variables found before it are set. A step with nothing to extract
// never reads the body.
func (st *Step) ExtractFrom(u *User, body []byte) error {
	if len(st.Extract) == 0 {
		return nil
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return fmt.Errorf("step %s: extract: %w", st.Name, err)
	}
	for i := range st.Extract {
		x := &st.Extract[i]
		p := x.path
		if p == nil {
			if p, err = parsePath(x.Path); err != nil {
				return fmt.Errorf("step %s: extract %s: %w", st.Name, x.Var, err)
			}
		}
		v, ok := p.lookup(doc)
		if !ok {
			return fmt.Errorf("step %s: extract %s: path %q not found in the response", st.Name, x.Var, x.Path)
		}
		s, ok := text(v)
		if !ok {
			return fmt.Errorf("step %s: extract %s: path %q is null in the response", st.Name, x.Var, x.Path)
		}
		if u.Vars == nil {
			u.Vars = make(map[string]string, len(st.Extract))
		}
		u.Vars[x.Var] = s
	}
	return nil
}

// Again reports whether a polled step goes another round: the response is
// JSON and its Field still equals While. The engine also stops after Max
// rounds in all, and extracts from the last round's body.
func (p *Poll) Again(body []byte) bool {
	doc, err := decodeJSON(body)
	if err != nil {
		return false
	}
	path := p.field
	if path == nil {
		if path, err = parsePath(p.Field); err != nil {
			return false
		}
	}
	v, ok := path.lookup(doc)
	if !ok {
		return false
	}
	s, ok := text(v)
	return ok && s == p.While
}

// Vars returns the names of the user variables the step's path, headers
// and body read ({{.Vars.NAME}}), each once: a step whose variables an
// earlier step failed to extract cannot be built, and its journey ends
// there. An engine that models requests instead of rendering them checks
// these.
func (st *Step) Vars() []string {
	var names []string
	add := func(t *Template) {
		if t == nil {
			return
		}
		for _, r := range t.refs {
			if len(r) == 2 && r[0] == "Vars" && !slices.Contains(names, r[1]) {
				names = append(names, r[1])
			}
		}
	}
	add(st.Path)
	for _, h := range st.Headers {
		add(h.Value)
	}
	add(st.Body)
	return names
}
