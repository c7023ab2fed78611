package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// StateConfig sizes the state-size measurement.
type StateConfig struct {
	// Leads delivered end to end; default 100,000.
	Leads int
	// Dir, if set, is where the instance's files are kept after the run
	// (created if needed); by default a temporary directory, removed.
	Dir string
	Say func(format string, args ...any)
}

// StateResult is the size of the state database after an end-to-end run.
type StateResult struct {
	Leads    int
	DBBytes  int64 // state.db
	WALBytes int64 // state.db-wal
}

// StatePerLeadTarget is the state's target size per lead, in bytes.
const StatePerLeadTarget = 1024

// PerLead is the state's size per lead, in bytes.
func (r StateResult) PerLead() float64 {
	return float64(r.DBBytes+r.WALBytes) / float64(r.Leads)
}

// Per100k is the state's size scaled to 100,000 leads, in bytes.
func (r StateResult) Per100k() float64 { return r.PerLead() * 100000 }

// Row is the result as a table row.
func (r StateResult) Row() Row {
	return Row{Name: "state", Measurement: "SQLite state size per lead",
		Result: fmt.Sprintf("%.0f bytes", r.PerLead()), Target: "≤ 1 KB per lead",
		Met: verdict(r.Leads > 0 && r.DBBytes > 0 && r.PerLead() <= StatePerLeadTarget),
		Notes: fmt.Sprintf("%.1f MiB per 100,000 leads; after %s leads webhook → SharpSpring and a clean stop: state.db %.1f MiB + state.db-wal %.1f MiB",
			r.Per100k()/mib, thousands(float64(r.Leads)), float64(r.DBBytes)/mib, float64(r.WALBytes)/mib)}
}

// State delivers leads end to end (one E2E run, limits off), stops the
// instance (which checkpoints the WAL into state.db) and measures state.db
// and state.db-wal.
func State(ctx context.Context, c StateConfig) (res StateResult, err error) {
	c.Leads = positiveOr(c.Leads, 100000)
	dir := c.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "crmsync-bench-*")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		return res, fmt.Errorf("%s already holds a state.db: the state row measures a new one", dir)
	}
	res.Leads = c.Leads
	if _, err := throughputRun(ctx, E2EConfig{Leads: c.Leads, Dir: dir, Say: c.Say}); err != nil {
		return res, err
	}
	if res.DBBytes, err = fileSize(filepath.Join(dir, "state.db")); err != nil {
		return res, err
	}
	res.WALBytes, err = fileSize(filepath.Join(dir, "state.db-wal"))
	return res, err
}

// fileSize is the size of a file, 0 when it does not exist.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
