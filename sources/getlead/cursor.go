package getlead

import (
	"fmt"
	"strings"
	"time"

	"github.com/crmsync/crmsync/sources/internal/poll"
)

// decodeCursor reads the poller's stored cursor. Anything the poller would
// not have written is an error naming the corrupt part; in particular a
// value without "from" is not read as "from the beginning", which would
// re-read all of Getlead's history.
func decodeCursor(raw string) (Cursor, error) {
	var c struct {
		From *time.Time `json:"from"`
		Seen []string   `json:"seen"`
	}
	if err := poll.DecodeCursor(raw, &c); err != nil {
		return Cursor{}, err
	}
	if c.From == nil {
		return Cursor{}, fmt.Errorf("stored cursor %s has no \"from\" time", poll.QuoteShort(raw, 120))
	}
	for i, id := range c.Seen {
		if strings.TrimSpace(id) == "" {
			return Cursor{}, fmt.Errorf("stored cursor: seen[%d] is not a lead id", i)
		}
	}
	return Cursor{From: c.From.UTC(), Seen: c.Seen}, nil
}
