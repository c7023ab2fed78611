package poll

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DecodeCursor reads raw, a stored cursor, into v: one JSON value with no
// field v does not know and nothing after it. Its error names the cursor
// ("stored cursor … is not readable: …" or "… has data after the
// object").
func DecodeCursor(raw string, v any) error {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("stored cursor %s is not readable: %w", QuoteShort(raw, 120), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("stored cursor %s has data after the object", QuoteShort(raw, 120))
	}
	return nil
}

// BadBackfillCursor is the error of a backfill named name (such as
// "getlead lead backfill") whose stored cursor raw cannot be resumed from,
// saying why and wrapping sentinel.
func BadBackfillCursor(name, raw, why string, sentinel error) error {
	return fmt.Errorf("%s: stored cursor %s: %s: %w (start a new run: give other --since/--until)",
		name, QuoteShort(raw, 80), why, sentinel)
}

// QuoteShort quotes a stored value for a message: its first max bytes,
// made valid UTF-8, and "…" after the quote when it was longer.
func QuoteShort(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "…"
}
