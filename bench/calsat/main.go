// Command calsat measures how well a calibrated model predicts the
// embedded stack's saturation point: it measures a non-saturating run of
// the embedded stack (a one-step saturate at -calibrate-rate, which also
// reads the bank mocks' metrics), fits a model to it with `stampede
// calibrate`, runs the saturation search on that model (`stampede sim
// saturate`), runs the same search on the embedded stack (`stampede
// saturate`), and prints both saturation points and the relative error:
//
//	go run ./bench/calsat
//	go run ./bench/calsat -record cmd/stampede/testdata/calsat   # refresh the CI pin
//
// The measured search is real time (4-5 minutes on a 2-core machine); the
// simulated one takes a second. With -record it writes the calibrated
// model and the measured figure where TestCalibratedModelPredictsSaturation
// reads them. It sends traffic only to the embedded stack on loopback, for
// bounded steps.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stampede-load/stampede/reports"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/calsat:", err)
		os.Exit(1)
	}
}

// Measured is the record -record writes: the measured saturation point a
// calibrated model is held to, and how it was measured.
type Measured struct {
	Commands    []string  `json:"commands"`
	When        time.Time `json:"when"`
	Load        string    `json:"load"`           // uptime's load averages before the measured search
	OfferedRate float64   `json:"offered_rate"`   // the measured saturation point, requests/s offered
	Simulated   float64   `json:"simulated"`      // the calibrated model's, when recorded
	RelativeErr float64   `json:"relative_error"` // (simulated - measured) / measured
}

func run() error {
	bin := flag.String("stampede", "", "stampede binary (default: built from this checkout)")
	profile := flag.String("profile", "naive", "embedded stack profile")
	rateScale := flag.String("rate-scale", "0.2", "embedded stack capacity scale")
	calRate := flag.String("calibrate-rate", "6/s", "journey rate of the non-saturating run the model is calibrated from")
	calDuration := flag.String("calibrate-duration", "60s", "its length")
	start := flag.String("start", "4/s", "saturation search: first step")
	step := flag.String("step", "4/s", "saturation search: step")
	stepDuration := flag.String("step-duration", "20s", "saturation search: each step's length")
	record := flag.String("record", "", "write model.yaml and measured.json into this folder")
	keep := flag.Bool("keep", false, "keep the work folder")
	flag.Parse()

	work, err := os.MkdirTemp("", "stampede-calsat-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(work)
	} else {
		fmt.Println("work folder:", work)
	}
	stampede := *bin
	if stampede == "" {
		stampede = filepath.Join(work, "stampede")
		if err := sh(nil, "go", "build", "-o", stampede, "./cmd/stampede"); err != nil {
			return fmt.Errorf("building stampede: %w", err)
		}
	}
	calRun, model := filepath.Join(work, "calibration-run"), filepath.Join(work, "model.yaml")
	simSat, measSat := filepath.Join(work, "sim-saturate"), filepath.Join(work, "saturate")
	search := []string{"--start", *start, "--step", *step, "--step-duration", *stepDuration, "--refine"}
	commands := [][]string{
		{"saturate", "step", "--start", *calRate, "--step", *calRate, "--max", *calRate, "--step-duration", *calDuration,
			"--rate-scale", *rateScale, "--stack-profile", *profile, "--quiet", "--no-report", "--out", calRun},
		{"calibrate", calRun, "--out", model},
		append([]string{"sim", "saturate", "step", "--model", model, "--no-report", "--out", simSat}, search...),
		append([]string{"saturate", "step", "--rate-scale", *rateScale, "--stack-profile", *profile, "--quiet", "--no-report", "--out", measSat}, search...),
	}
	var load string
	for i, args := range commands {
		if i == 3 {
			load = uptime()
		}
		fmt.Printf("$ stampede %s\n", strings.Join(args, " "))
		if err := sh(os.Stdout, stampede, args...); err != nil && !isGateFailure(err) {
			return fmt.Errorf("stampede %s: %w", args[0], err)
		}
	}
	cal, err := readSaturation(calRun)
	if err != nil {
		return err
	}
	if len(cal.Steps) != 1 || !cal.Steps[0].Pass {
		return fmt.Errorf("the calibration run at %s saturated (%s): lower -calibrate-rate", *calRate, cal.Stopped)
	}
	simulated, err := saturationPoint(simSat)
	if err != nil {
		return err
	}
	measured, err := saturationPoint(measSat)
	if err != nil {
		return err
	}
	rel := (simulated - measured) / measured
	fmt.Printf("\nsaturation point of the %s embedded stack (requests/s offered), load average %s\n", *profile, load)
	fmt.Printf("  measured (stampede saturate)                  %8.1f/s\n", measured)
	fmt.Printf("  calibrated model (stampede sim saturate)      %8.1f/s\n", simulated)
	fmt.Printf("  relative error                                %+8.1f%% (bound ±15%%)\n", 100*rel)
	if *record != "" {
		if err := os.MkdirAll(*record, 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(model)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*record, "model.yaml"), b, 0o644); err != nil {
			return err
		}
		m := Measured{When: time.Now().UTC().Truncate(time.Second), Load: load, OfferedRate: measured, Simulated: simulated,
			RelativeErr: math.Round(rel*1e4) / 1e4}
		for _, args := range commands {
			m.Commands = append(m.Commands, "stampede "+strings.Join(args, " "))
		}
		out, _ := json.MarshalIndent(m, "", "  ")
		if err := os.WriteFile(filepath.Join(*record, "measured.json"), append(out, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Println("recorded in", *record)
	}
	return nil
}

func readSaturation(dir string) (*reports.SaturationReport, error) {
	f, err := os.Open(filepath.Join(dir, "saturation.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return reports.DecodeSaturationReport(f)
}

// saturationPoint is a search's saturation point, requests/s offered.
func saturationPoint(dir string) (float64, error) {
	r, err := readSaturation(dir)
	if err != nil {
		return 0, err
	}
	if r.Saturation == nil || !r.Saturation.Saturated {
		return 0, fmt.Errorf("%s: no saturation found (%s)", dir, r.Stopped)
	}
	return r.Saturation.OfferedRate, nil
}

// isGateFailure is stampede's exit code 3: a search that saturated has
// steps that failed, which is what it is for.
func isGateFailure(err error) bool {
	e, ok := err.(*exec.ExitError)
	return ok && e.ExitCode() == 3
}

func uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func sh(stdout *os.File, name string, args ...string) error {
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Dir = repoRoot()
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	return cmd.Run()
}

// repoRoot is the module root, where the harness is run from.
func repoRoot() string {
	wd, _ := os.Getwd()
	for d := wd; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return wd
}
