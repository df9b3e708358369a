package stack

import (
	"bufio"
	"encoding/json"
	"net/http"
)

// AuditReport is the body of GET /admin/audit: everything the stack stored,
// for reconciling with what clients were told. Rows come from one
// consistent snapshot, citizens by fiscal code, cards and activations in
// the order they were stored. HPANSalt is the salt the stack hashes card
// numbers with, so the audit can compute the hpan of each user's card.
type AuditReport struct {
	HPANSalt    string       `json:"hpanSalt"`
	Citizens    []Citizen    `json:"citizens"`
	Cards       []Card       `json:"cards"`
	Activations []Activation `json:"activations"`
}

// audit streams an AuditReport row by row, so memory stays flat whatever
// the size of the run. A failure midway aborts the connection: the client
// sees a truncated body, never a well-formed partial report.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	section := ""
	first := true
	// open starts a section; element writes one array element.
	open := func(name string) {
		if section == "" {
			salt, _ := json.Marshal(s.hpanSalt)
			bw.WriteString(`{"hpanSalt":` + string(salt) + `,"` + name + `":[`)
		} else {
			bw.WriteString(`],"` + name + `":[`)
		}
		section, first = name, true
	}
	element := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		_, err = bw.Write(b)
		return err
	}
	open("citizens")
	err := s.store.Audit(r.Context(), AuditVisitor{
		Citizen: func(c Citizen) error { return element(c) },
		Card: func(c Card) error {
			if section != "cards" {
				open("cards")
			}
			return element(c)
		},
		Activation: func(a Activation) error {
			for section != "activations" {
				open(pick(section == "citizens", "cards", "activations"))
			}
			return element(a)
		},
	})
	if err != nil && cw.n == 0 {
		s.storeFailure(w, r, err, "AUDIT_FAILED", messageTemporary)
		return
	}
	if err != nil {
		s.cfg.Logger.Error("audit failed midway", "err", err)
		panic(http.ErrAbortHandler)
	}
	for section != "activations" {
		open(pick(section == "citizens", "cards", "activations"))
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		s.cfg.Logger.Warn("audit: write failed", "err", err)
	}
}

// countingWriter counts the bytes that reached the client, setting the
// Content-Type before the first.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.n == 0 {
		c.w.Header().Set("Content-Type", "application/json")
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
