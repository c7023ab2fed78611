package sharpspring

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
)

// leadCursor is the lead poller's persisted state, JSON in the source
// cursor. Its format is versioned (V) and guarded by a golden test.
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
}

// recentLead is the updateTimestamp (UTC) and content hash last published.
type recentLead struct {
	TS   string `json:"ts"`
	Hash string `json:"h"`
}

const leadCursorVersion = 1

func decodeLeadCursor(s string) (leadCursor, error) {
	c := leadCursor{V: leadCursorVersion}
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("lead cursor: %w", err)
	}
	if c.V != leadCursorVersion {
		return c, fmt.Errorf("lead cursor: version %d is not supported", c.V)
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
	for len(buf) > 0 {
		d, n := binary.Uvarint(buf)
		if n <= 0 {
			return nil, fmt.Errorf("lead cursor: known ids are corrupt")
		}
		buf = buf[n:]
		prev += int64(d)
		set[prev] = true
	}
	return set, nil
}
