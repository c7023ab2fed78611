package ivvy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Int decodes a JSON number, a numeric string or null (0). iVvy's PHP back
// end is not consistent about quoting ids.
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("ivvy: %s is not an integer", b)
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// Text decodes any JSON scalar as a string (null → ""); arrays and objects
// (multi-select and address custom fields) keep their JSON text.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Text(s)
		return nil
	}
	if string(b) == "null" {
		*t = ""
		return nil
	}
	*t = Text(strings.TrimSpace(string(b)))
	return nil
}

// ParseTime reads an iVvy timestamp ("2006-01-02 15:04:05", optionally
// followed by " UTC") as UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "UTC"))
	return time.ParseInLocation(TimeLayout, s, time.UTC)
}

// parseOrZero is ParseTime, with the zero time for a missing or malformed
// timestamp.
func parseOrZero(s string) time.Time {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// FormatTime writes t as an iVvy timestamp in UTC, without the suffix.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Meta is a collection's paging information.
type Meta struct {
	TotalResults Int `json:"totalResults"`
	Start        Int `json:"start"`
	PerPage      Int `json:"perPage"`
	Count        Int `json:"count"`
}

// Page is one page of a collection.
type Page[T any] struct {
	Meta    Meta `json:"meta"`
	Results []T  `json:"results"`
}

// Done reports whether the page is the last one: the next start would be at
// or past totalResults, or the page came back empty.
func (p Page[T]) Done() bool {
	return len(p.Results) == 0 || int(p.Meta.Start)+len(p.Results) >= int(p.Meta.TotalResults)
}

// ListQuery selects a page of a collection. Start is a 0-based record
// offset, not a page number. Filter keys may carry modifiers (__CONTAINS,
// __GREATERTHAN (≥), __LESSTHAN (≤), __NOT, __EMPTY, ...).
type ListQuery struct {
	PerPage int            // 0: the server's default; over-cap values are clamped by iVvy
	Start   int            // record offset
	Filter  map[string]any // nil: no filter
}

func (q ListQuery) params() map[string]any {
	p := map[string]any{"start": q.Start}
	if q.PerPage > 0 {
		p["perPage"] = q.PerPage
	}
	if len(q.Filter) > 0 {
		p["filter"] = q.Filter
	}
	return p
}

// listPage reads one page of a list action.
func listPage[T any](ctx context.Context, c *Client, ns, action string, q ListQuery) (Page[T], error) {
	var p Page[T]
	err := c.Call(ctx, ns, action, q.params(), &p)
	return p, err
}

// CustomValue is a custom field value as read: leads carry
// {fieldId, fieldValue}, contacts and companies {fieldId, value}.
type CustomValue struct {
	FieldID     Int
	DisplayName string
	Value       Text
}

// UnmarshalJSON accepts both the lead and the contact shape.
func (c *CustomValue) UnmarshalJSON(b []byte) error {
	var raw struct {
		FieldID     Int    `json:"fieldId"`
		DisplayName string `json:"displayName"`
		FieldValue  *Text  `json:"fieldValue"`
		Value       *Text  `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	c.FieldID, c.DisplayName = raw.FieldID, raw.DisplayName
	switch {
	case raw.FieldValue != nil:
		c.Value = *raw.FieldValue
	case raw.Value != nil:
		c.Value = *raw.Value
	}
	return nil
}

// LeadCustomField is a lead custom field as written: {fieldId, fieldValue}.
type LeadCustomField struct {
	FieldID    int64  `json:"fieldId"`
	FieldValue string `json:"fieldValue"`
}

// ContactCustomField is a contact custom field as written: {fieldId, value}.
type ContactCustomField struct {
	FieldID int64  `json:"fieldId"`
	Value   string `json:"value"`
}
