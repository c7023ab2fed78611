package sharpspring

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// leadCursor is the lead poller's persisted state, JSON in the source
// cursor. Its format is versioned (V) and guarded by golden tests. Members
// added within a version are optional and safe to ignore: Window came
// later in version 1, and a cursor without it (or a reader that ignores it)
// reads the window from the watermark again.
type leadCursor struct {
	V int `json:"v"`
	// Watermark is the end of the last window whose events were all
	// published, "Y-m-d H:i:s" in UTC. The next window starts at
	// Watermark − overlap.
	Watermark string `json:"watermark,omitempty"`
	// Recent holds, per lead id, what was last published for leads whose
	// updateTimestamp is inside the overlap still to be re-read, so a
	// re-read publishes nothing.
	Recent map[string]recentLead `json:"recent,omitempty"`
	// Known is the set of active lead ids the sweep checks (the last
	// sweep's listing plus every lead published since), as sorted ids,
	// delta- and varint-encoded, base64.
	Known string `json:"known,omitempty"`
	// SweptAt is when the last sweep finished (RFC 3339, UTC).
	SweptAt string `json:"swept_at,omitempty"`
	// Window is the window being read when a poll stopped part-way: the
	// next poll goes on with it from Next rather than read it again whole.
	Window *windowProgress `json:"window,omitempty"`
}

// windowProgress is a window read part-way: every lead changed in
// [Start, Next) is published, [Next, End] is still to read. All three are
// "Y-m-d H:i:s" in UTC and End is inclusive.
type windowProgress struct {
	Start string `json:"start"`
	End   string `json:"end"`
	Next  string `json:"next"`
}

func newWindowProgress(start, end, next time.Time) *windowProgress {
	f := func(t time.Time) string { return t.UTC().Format(sharpspring.TimeLayout) }
	return &windowProgress{Start: f(start), End: f(end), Next: f(next)}
}

// times returns the window's bounds and the first second still to read.
func (w *windowProgress) times() (start, end, next time.Time, err error) {
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"start", w.Start, &start}, {"end", w.End, &end}, {"next", w.Next, &next}} {
		if *f.t, err = time.Parse(sharpspring.TimeLayout, f.v); err != nil {
			return start, end, next, fmt.Errorf("lead cursor: window %s %q is not Y-m-d H:i:s", f.name, f.v)
		}
	}
	if end.Before(start) || next.Before(start) || next.After(end.Add(time.Second)) {
		return start, end, next, fmt.Errorf("lead cursor: window next %s is outside %s..%s", w.Next, w.Start, w.End)
	}
	return start, end, next, nil
}

// recentLead is the updateTimestamp (UTC) and content hash last published.
type recentLead struct {
	TS   string `json:"ts"`
	Hash string `json:"h"`
}

const leadCursorVersion = 1

// decodeLeadCursor reads a stored cursor ("" is a first run). A cursor
// that is not exactly what encode writes is an error naming the part that
// is corrupt: starting over would re-read (or skip) history silently.
func decodeLeadCursor(s string) (leadCursor, error) {
	if s == "" {
		return leadCursor{V: leadCursorVersion}, nil
	}
	var c leadCursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return leadCursor{}, fmt.Errorf("lead cursor: %w", err)
	}
	switch {
	case c.V == 0:
		return leadCursor{}, fmt.Errorf("lead cursor: no version; the stored value is not a lead cursor")
	case c.V != leadCursorVersion:
		return leadCursor{}, fmt.Errorf("lead cursor: version %d is not supported", c.V)
	}
	if c.Watermark != "" {
		if _, err := time.Parse(sharpspring.TimeLayout, c.Watermark); err != nil {
			return leadCursor{}, fmt.Errorf("lead cursor: watermark %q is not Y-m-d H:i:s", c.Watermark)
		}
	}
	if c.SweptAt != "" {
		if _, err := time.Parse(time.RFC3339, c.SweptAt); err != nil {
			return leadCursor{}, fmt.Errorf("lead cursor: swept_at %q is not an RFC 3339 time", c.SweptAt)
		}
	}
	for id, r := range c.Recent {
		if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
			return leadCursor{}, fmt.Errorf("lead cursor: recent lead id %q is not a lead id", id)
		}
		if _, err := time.Parse(sharpspring.TimeLayout, r.TS); err != nil {
			return leadCursor{}, fmt.Errorf("lead cursor: recent lead %s: ts %q is not Y-m-d H:i:s", id, r.TS)
		}
	}
	if _, err := decodeIDs(c.Known); err != nil {
		return leadCursor{}, err
	}
	if c.Window != nil {
		if _, _, _, err := c.Window.times(); err != nil {
			return leadCursor{}, err
		}
	}
	return c, nil
}

func (c leadCursor) encode() (string, error) {
	c.V = leadCursorVersion
	b, err := json.Marshal(c)
	return string(b), err
}

// encodeIDs packs a set of ids: sorted, delta-encoded unsigned varints,
// base64. SharpSpring ids come from a counter, so deltas are small and
// 100,000 ids take a few hundred kilobytes.
func encodeIDs(set map[int64]bool) string {
	ids := make([]int64, 0, len(set))
	for id := range set {
		if id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	buf := make([]byte, 0, len(ids)*3)
	var prev int64
	for _, id := range ids {
		buf = binary.AppendUvarint(buf, uint64(id-prev))
		prev = id
	}
	return base64.RawStdEncoding.EncodeToString(buf)
}

func decodeIDs(s string) (map[int64]bool, error) {
	set := map[int64]bool{}
	if s == "" {
		return set, nil
	}
	buf, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("lead cursor: known ids: %w", err)
	}
	var prev int64
	for i := 0; len(buf) > 0; i++ {
		d, n := binary.Uvarint(buf)
		if n <= 0 {
			return nil, fmt.Errorf("lead cursor: known ids are corrupt: id %d is cut off", i)
		}
		// encodeIDs writes positive ids in increasing order: every delta is
		// at least 1 and the sum stays an int64.
		if d == 0 || d > math.MaxInt64-uint64(prev) {
			return nil, fmt.Errorf("lead cursor: known ids are corrupt: id %d is out of order or out of range", i)
		}
		buf = buf[n:]
		prev += int64(d)
		set[prev] = true
	}
	return set, nil
}
