package bank

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// adminRoutes registers the admin API on mux.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/admin/stations", s.adminStations)
	mux.HandleFunc("/admin/stations/{name}", s.adminStation)
	mux.HandleFunc("/admin/reset", s.adminReset)
}

// stationView is a station as the admin API shows it. Config uses the keys
// and units of the banks file (durations as "80ms").
type stationView struct {
	Name   string         `json:"name"`
	Kind   string         `json:"kind"`
	Config map[string]any `json:"config"`
	Stats  statsView      `json:"stats"`
}

type statsView struct {
	InFlight      int               `json:"in_flight"`
	Busy          int               `json:"busy"`
	QueueLength   int               `json:"queue_length"`
	Requests      map[string]uint64 `json:"requests"`
	MeanLatencyMS float64           `json:"mean_latency_ms"`
	MeanWaitMS    float64           `json:"mean_wait_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// configNode is st's whole current configuration as a banks-file section.
func (s *Server) configNode(st *Station) *yaml.Node {
	sc := st.Config()
	switch st.kind {
	case KindProcessor:
		return processorNode(ProcessorConfig{StationConfig: sc, CobadgePending: time.Duration(s.processors[st.name].pending.Load())}, nil, true)
	case KindIBAN:
		return ibanNode(IBANConfig{StationConfig: sc, BankTimeout: time.Duration(s.bankTimeout.Load())}, true)
	default:
		b := s.bankInfo[st.name]
		b.StationConfig = sc
		return bankNode(b, nil, true)
	}
}

func (s *Server) view(st *Station) stationView {
	v := stationView{Name: st.name, Kind: st.kind}
	if err := s.configNode(st).Decode(&v.Config); err != nil {
		v.Config = map[string]any{"error": err.Error()}
	}
	stats := st.Stats()
	v.Stats = statsView{InFlight: stats.InFlight, Busy: stats.Busy, QueueLength: stats.QueueLength,
		Requests: stats.Requests, MeanLatencyMS: ms(stats.MeanLatency), MeanWaitMS: ms(stats.MeanWait)}
	return v
}

// uptime is the server's age, in seconds like "80.266s": where fault
// windows (offsets from the start) are now.
func (s *Server) uptime() string {
	return strconv.FormatFloat(time.Since(s.start).Seconds(), 'f', 3, 64) + "s"
}

func (s *Server) adminStations(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	views := make([]stationView, len(s.stations))
	for i, st := range s.stations {
		views[i] = s.view(st)
	}
	writeJSON(w, http.StatusOK, struct {
		Uptime   string        `json:"uptime"`
		Stations []stationView `json:"stations"`
	}{s.uptime(), views})
}

func (s *Server) adminStation(w http.ResponseWriter, r *http.Request) {
	st := s.byName[r.PathValue("name")]
	if st == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_STATION", "no station "+r.PathValue("name"))
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPatch:
		if err := s.patchStation(w, r, st); err != nil {
			return
		}
	default:
		w.Header().Set("Allow", "GET, PATCH")
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed here; use GET or PATCH")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Uptime string `json:"uptime"`
		stationView
	}{s.uptime(), s.view(st)})
}

// errAnswered says a handler's helper has already answered.
var errAnswered = errors.New("answered")

// patchStation applies a PATCH body to st, or answers 400/413 and returns
// errAnswered.
func (s *Server) patchStation(w http.ResponseWriter, r *http.Request, st *Station) error {
	body, err := readBody(w, r)
	if err != nil {
		var re *requestError
		errors.As(err, &re)
		writeError(w, re.status, re.code, re.msg)
		return errAnswered
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "body is not JSON: want the station's config keys, e.g. {\"servers\": 8}")
		return errAnswered
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.applyPatch(st, body); err != nil {
		var problems []string
		for _, e := range unjoin(err) {
			problems = append(problems, e.Error())
		}
		writeJSON(w, http.StatusBadRequest, struct {
			errorBody
			Problems []string `json:"problems"`
		}{errorBody{Code: "INVALID_CONFIG", Message: err.Error()}, problems})
		return errAnswered
	}
	return nil
}

// applyPatch decodes a JSON body (valid JSON is valid YAML, so the banks
// file's decoder reads it, with its lines) onto st's current configuration,
// validates the result, and applies it. Keys left out keep their values;
// service, rate_limit and faults are replaced as a whole.
func (s *Server) applyPatch(st *Station, body []byte) error {
	// JSON allows tabs where YAML does not; outside strings they are only
	// spacing, and valid JSON has none inside strings.
	body = bytes.ReplaceAll(body, []byte{'\t'}, []byte{' '})
	d := &decoder{p: newProblems("request body", map[string]origin{})}
	root := d.p.d.Parse(body)
	if d.p.d.Failed() {
		return d.p.err()
	}
	sc := st.Config()
	name := st.name
	switch st.kind {
	case KindProcessor:
		p := s.processors[name]
		pc := ProcessorConfig{StationConfig: sc, CobadgePending: time.Duration(p.pending.Load())}
		d.mapping(root, name, d.processorFields(&pc, name))
		pc.validate(d.p, name)
		if err := d.p.err(); err != nil {
			return err
		}
		if err := st.SetConfig(pc.StationConfig); err != nil {
			return err
		}
		p.pending.Store(int64(pc.CobadgePending))
	case KindIBAN:
		ic := IBANConfig{StationConfig: sc, BankTimeout: time.Duration(s.bankTimeout.Load())}
		d.mapping(root, name, d.ibanFields(&ic, name))
		ic.validate(d.p, name)
		if err := d.p.err(); err != nil {
			return err
		}
		if err := st.SetConfig(ic.StationConfig); err != nil {
			return err
		}
		s.bankTimeout.Store(int64(ic.BankTimeout))
	default:
		was := s.bankInfo[name]
		b := was
		b.StationConfig = sc
		d.mapping(root, name, d.bankFields(&b, name))
		b.validate(d.p, name)
		for _, k := range []struct {
			key     string
			changed bool
		}{{"abi", b.ABI != was.ABI}, {"name", b.Name != was.Name}, {"weight", b.Weight != was.Weight}} {
			if k.changed {
				d.p.add(name+"."+k.key, "cannot be changed live")
			}
		}
		if err := d.p.err(); err != nil {
			return err
		}
		return st.SetConfig(b.StationConfig)
	}
	return nil
}

// unjoin lists the errors inside an errors.Join, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	targets := s.stations
	if name := r.URL.Query().Get("station"); name != "" {
		st := s.byName[name]
		if st == nil {
			writeError(w, http.StatusNotFound, "UNKNOWN_STATION", "no station "+name)
			return
		}
		targets = []*Station{st}
	}
	names := make([]string, len(targets))
	for i, st := range targets {
		st.ResetStats()
		names[i] = st.name
	}
	writeJSON(w, http.StatusOK, struct {
		Reset []string `json:"reset"`
	}{names})
}
