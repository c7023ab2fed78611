package ivvysim

import (
	"slices"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// modIndex lists record ids by the UTC second of their modifiedDate (see
// simkit.TimeIndex), so that a list filtered on "modified from t on" reads
// the records changed since t instead of every record: a poller asks that
// of an account of any size on every poll. It only narrows the candidates;
// every filter condition is still evaluated on each of them, so answers are
// the same as a full scan's.
type modIndex struct{ *simkit.TimeIndex[int64] }

func newModIndex() *modIndex { return &modIndex{simkit.NewTimeIndex[int64]()} }

func (x *modIndex) set(id int64, t time.Time) { x.Set(id, t) }

// since returns, ascending, the ids modified at or after the second of t.
func (x *modIndex) since(t time.Time) []int64 {
	out := x.Since(t)
	slices.Sort(out)
	return out
}

// modifiedFrom returns the lower bound of a modifiedDate ≥ condition when
// the index can answer it exactly: a plain timestamp in iVvy's layout
// (optionally with " UTC"), which the text comparison of a scan orders the
// same way as time. Any other value is left to the scan.
func modifiedFrom(conds []condition) (time.Time, bool) {
	for _, c := range conds {
		if c.key != "modifiedDate" || c.mod != "GREATERTHAN" || c.isNull {
			continue
		}
		v := strings.TrimSuffix(c.value, " UTC")
		t, err := time.ParseInLocation(timeLayout, v, time.UTC)
		if err != nil || t.Format(timeLayout) != v {
			continue
		}
		return t, true
	}
	return time.Time{}, false
}
