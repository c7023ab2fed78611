package ivvysim

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// modIndex lists record ids by the UTC second of their modifiedDate, so that
// a list filtered on "modified from t on" reads the records changed since t
// instead of every record: a poller asks that of an account of any size on
// every poll. It only narrows the candidates; every filter condition is
// still evaluated on each of them, so answers are the same as a full scan's.
type modIndex struct {
	at   map[int64]int64              // id → second
	ids  map[int64]map[int64]struct{} // second → ids
	secs []int64                      // seconds that hold ids, ascending
}

func newModIndex() *modIndex {
	return &modIndex{at: map[int64]int64{}, ids: map[int64]map[int64]struct{}{}}
}

// set records that id was modified at t.
func (x *modIndex) set(id int64, t time.Time) {
	sec := t.Unix()
	if old, ok := x.at[id]; ok {
		if old == sec {
			return
		}
		x.remove(id)
	}
	x.at[id] = sec
	b := x.ids[sec]
	if b == nil {
		b = map[int64]struct{}{}
		x.ids[sec] = b
		i, _ := slices.BinarySearch(x.secs, sec)
		x.secs = slices.Insert(x.secs, i, sec)
	}
	b[id] = struct{}{}
}

// remove forgets id.
func (x *modIndex) remove(id int64) {
	sec, ok := x.at[id]
	if !ok {
		return
	}
	delete(x.at, id)
	b := x.ids[sec]
	delete(b, id)
	if len(b) == 0 {
		delete(x.ids, sec)
		if i, found := slices.BinarySearch(x.secs, sec); found {
			x.secs = slices.Delete(x.secs, i, i+1)
		}
	}
}

// since returns, ascending, the ids modified at or after the second of t.
func (x *modIndex) since(t time.Time) []int64 {
	i, _ := slices.BinarySearch(x.secs, t.Unix())
	var out []int64
	for _, sec := range x.secs[i:] {
		for id := range x.ids[sec] {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
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
