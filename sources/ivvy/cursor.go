package ivvy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/vendors/ivvy"
)

// decodeCursor reads the lead poller's stored cursor. Anything the poller
// would not have written is an error naming the corrupt part: a garbled
// watermark sorts after every timestamp (the poller would publish nothing,
// silently), and a value read as empty would re-read all history.
func decodeCursor(raw string) (cursor, error) {
	var cur cursor
	if t := strings.TrimSpace(raw); !strings.HasPrefix(t, "{") {
		return cursor{}, fmt.Errorf("ivvy poller: stored cursor %s is not a JSON object", quoteShort(raw))
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cur); err != nil {
		return cursor{}, fmt.Errorf("ivvy poller: stored cursor %s: %w", quoteShort(raw), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return cursor{}, fmt.Errorf("ivvy poller: stored cursor %s has data after the object", quoteShort(raw))
	}
	for _, f := range []struct{ name, ts string }{{"leads", cur.Leads}, {"contacts", cur.Contacts}} {
		if f.ts != "" && norm(f.ts) != f.ts {
			return cursor{}, fmt.Errorf("ivvy poller: stored cursor: %s watermark %s is not an iVvy time (%s)", f.name, quoteShort(f.ts), ivvy.TimeLayout)
		}
	}
	return cur, nil
}

// maxOffset bounds a stored backfill offset, far beyond any iVvy collection,
// so that the next offset cannot overflow.
const maxOffset = math.MaxInt32

// parseOffset reads the backfill pager's cursor: the record offset of the
// next page, written by strconv.Itoa. Any other form is corrupt.
func parseOffset(cursor string) (int, error) {
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 || n > maxOffset || strconv.Itoa(n) != cursor {
		return 0, &pipelineCursorError{cursor}
	}
	return n, nil
}

// quoteShort quotes a stored value for a message, shortened.
func quoteShort(s string) string {
	const max = 120
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(string(bytes.ToValidUTF8([]byte(s[:max]), nil))) + "…"
}
