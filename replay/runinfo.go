package replay

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stampede-load/stampede/internal/textfile"
)

// RunInfoFile is the run folder's record of how the run was made.
const RunInfoFile = "run.json"

// RunInfo records how a run was made, so that it can be repeated or its
// synthetic users recreated (the audit derives each user's fiscal code and
// card from the scenario, the seed and the user index).
type RunInfo struct {
	Scenario  string    `json:"scenario"`
	Source    string    `json:"source"` // "stock:NAME", a file path, or "quick"
	Seed      int64     `json:"seed"`
	Target    string    `json:"target"`             // the URL replayed against
	Embedded  string    `json:"embedded,omitempty"` // the embedded stack's profile, when the target was embedded
	TimeScale float64   `json:"time_scale"`
	RateScale float64   `json:"rate_scale"`
	Shard     string    `json:"shard,omitempty"` // k/n
	Gates     []string  `json:"gates,omitempty"` // the gates the run judges (the scenario's and --gate), so a report of a run killed before its summary judges them too
	StartedAt time.Time `json:"started_at"`      // the schedule's zero: --start-at when given

	// StartAt is the shared start (--start-at) a shard was given; Clock is
	// this process's wall clock when it was ready to start, and
	// StartOffsetMs how late it was (negative: early, so it waited).
	StartAt       time.Time `json:"start_at,omitzero"`
	Clock         time.Time `json:"clock"`
	StartOffsetMs float64   `json:"start_offset_ms,omitempty"`
}

// writeRunInfo writes info to the run folder.
func writeRunInfo(dir string, info RunInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, RunInfoFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("run info: %w", err)
	}
	return nil
}

// ReadRunInfo reads the record of the run in folder dir.
func ReadRunInfo(dir string) (RunInfo, error) {
	var info RunInfo
	b, err := textfile.Read(filepath.Join(dir, RunInfoFile), textfile.MaxConfig)
	if err != nil {
		return info, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%w: %s: %w", ErrBadInput, filepath.Join(dir, RunInfoFile), err)
	}
	return info, nil
}
