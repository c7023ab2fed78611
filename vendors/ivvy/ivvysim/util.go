package ivvysim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Int decodes a number or a numeric string.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = Int(v)
	return err
}

func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func parseIVvyTime(s string) (time.Time, error) {
	return time.ParseInLocation(timeLayout, normTime(s), time.UTC)
}

// normTime strips the optional " UTC" so timestamps compare as text.
func normTime(s string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "UTC"))
}
