package getlead

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
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
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Cursor{}, fmt.Errorf("stored cursor %s is not readable: %w", quoteShort(raw), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Cursor{}, fmt.Errorf("stored cursor %s has data after the object", quoteShort(raw))
	}
	if c.From == nil {
		return Cursor{}, fmt.Errorf("stored cursor %s has no \"from\" time", quoteShort(raw))
	}
	for i, id := range c.Seen {
		if strings.TrimSpace(id) == "" {
			return Cursor{}, fmt.Errorf("stored cursor: seen[%d] is not a lead id", i)
		}
	}
	return Cursor{From: c.From.UTC(), Seen: c.Seen}, nil
}

// quoteShort quotes a stored value for a message, shortened.
func quoteShort(s string) string {
	const max = 120
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "…"
}
