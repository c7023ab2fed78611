package ivvy

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/sources/internal/poll"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// decodeCursor reads the lead poller's stored cursor. Anything the poller
// would not have written is an error naming the corrupt part: a garbled
// watermark sorts after every timestamp (the poller would publish nothing,
// silently), and a value read as empty would re-read all history.
func decodeCursor(raw string) (cursor, error) {
	var cur cursor
	if t := strings.TrimSpace(raw); !strings.HasPrefix(t, "{") {
		return cursor{}, fmt.Errorf("ivvy poller: stored cursor %s is not a JSON object", poll.QuoteShort(raw, 120))
	}
	if err := poll.DecodeCursor(raw, &cur); err != nil {
		return cursor{}, fmt.Errorf("ivvy poller: %w", err)
	}
	for _, f := range []struct{ name, ts string }{{"leads", cur.Leads}, {"contacts", cur.Contacts}} {
		if f.ts != "" && norm(f.ts) != f.ts {
			return cursor{}, fmt.Errorf("ivvy poller: stored cursor: %s watermark %s is not an iVvy time (%s)", f.name, poll.QuoteShort(f.ts, 120), ivvy.TimeLayout)
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
