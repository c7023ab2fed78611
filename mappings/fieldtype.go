package mappings

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FieldKind is the type a vendor declares for one of its fields, reduced to
// what decides how a value is written.
type FieldKind int

const (
	// KindUnknown is a type crmsync does not know: the value is sent as it
	// is, as for text. It is the zero value so that a field whose type was
	// never read is never converted by a guess.
	KindUnknown FieldKind = iota
	KindText
	KindNumber
	KindInteger
	KindBoolean
	KindDate
	KindDateTime
	KindSelect
	KindMultiSelect
)

var kindNames = [...]string{"unknown", "text", "number", "integer", "boolean", "date", "date-time", "select", "multi-select"}

func (k FieldKind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "FieldKind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// FieldOption is one allowed value of a select: the value the vendor
// stores and the label its users see.
type FieldOption struct {
	Label, Value string
}

// FieldType is a vendor field's declared type and, for selects, its
// allowed values.
type FieldType struct {
	Kind    FieldKind
	Options []FieldOption
}

// ValueFormat is how a vendor takes typed values.
type ValueFormat struct {
	Date, DateTime string         // Go layouts, e.g. "2006-01-02", "2006-01-02 15:04:05"
	True, False    string         // e.g. "1", "0"
	MultiSep       string         // between the values of a multi-select; "," when empty
	Location       *time.Location // the zone dates and times are written in; UTC when nil
}

// ConvertError says why a value cannot be written to a field of a type.
// The record carrying it is dead-lettered with it; the rest of its batch
// is written.
type ConvertError struct {
	Value  string
	Kind   FieldKind
	Reason string
}

func (e *ConvertError) Error() string {
	v := e.Value
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	return fmt.Sprintf("value %q is not a valid %s: %s", v, e.Kind, e.Reason)
}

// Convert writes v as the field's type in the vendor's format. An empty
// value stays empty (it clears the field). Text and unknown types are sent
// unchanged.
func (t FieldType) Convert(v string, f ValueFormat) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	bad := func(reason string) (string, error) {
		return "", &ConvertError{Value: v, Kind: t.Kind, Reason: reason}
	}
	s := strings.TrimSpace(v)
	switch t.Kind {
	case KindNumber:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || strings.ContainsAny(s, "xXpP_") {
			return bad("want a decimal number such as 1250 or 12.5")
		}
		return s, nil
	case KindInteger:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "xXpP_") || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return bad("want a whole number")
		}
		return strconv.FormatInt(int64(n), 10), nil
	case KindBoolean:
		switch strings.ToLower(s) {
		case "1", "true", "yes", "y", "on", "t":
			return f.True, nil
		case "0", "false", "no", "n", "off", "f":
			return f.False, nil
		}
		return bad("want true or false (1/0, yes/no)")
	case KindDate, KindDateTime:
		tm, dateOnly, err := parseTime(s)
		if err != nil {
			return bad("want a date such as 2026-12-04, 12/4/2026 or 2026-12-04T15:04:05Z")
		}
		loc := f.Location
		if loc == nil {
			loc = time.UTC
		}
		if t.Kind == KindDate {
			if dateOnly {
				return tm.Format(f.Date), nil
			}
			return tm.In(loc).Format(f.Date), nil
		}
		if dateOnly {
			// A date alone is midnight where the vendor keeps its times.
			return time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, loc).Format(f.DateTime), nil
		}
		return tm.In(loc).Format(f.DateTime), nil
	case KindSelect:
		o, ok := t.option(s)
		if !ok {
			return bad("not one of " + t.optionList())
		}
		return o, nil
	case KindMultiSelect:
		sep := f.MultiSep
		if sep == "" {
			sep = ","
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
		out := make([]string, 0, len(parts))
		seen := map[string]bool{}
		for _, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			o, ok := t.option(p)
			if !ok {
				return bad(fmt.Sprintf("%q is not one of %s", p, t.optionList()))
			}
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
		return strings.Join(out, sep), nil
	}
	return v, nil
}

// option finds a select's stored value for s: by stored value first, then
// by label, then either ignoring case.
func (t FieldType) option(s string) (string, bool) {
	for _, o := range t.Options {
		if o.Value == s {
			return o.Value, true
		}
	}
	for _, o := range t.Options {
		if o.Label == s {
			return o.Value, true
		}
	}
	for _, o := range t.Options {
		if strings.EqualFold(o.Value, s) || strings.EqualFold(o.Label, s) {
			return o.Value, true
		}
	}
	return "", false
}

// Allows reports whether s is one of a select's stored values or labels.
func (t FieldType) Allows(s string) bool {
	_, ok := t.option(s)
	return ok
}

func (t FieldType) optionList() string {
	if len(t.Options) == 0 {
		return "the field's options (it has none)"
	}
	vals := make([]string, 0, len(t.Options))
	for i, o := range t.Options {
		if i == 10 {
			vals = append(vals, fmt.Sprintf("and %d more", len(t.Options)-10))
			break
		}
		if o.Label != "" && o.Label != o.Value {
			vals = append(vals, fmt.Sprintf("%q (%s)", o.Value, o.Label))
		} else {
			vals = append(vals, strconv.Quote(o.Value))
		}
	}
	return strings.Join(vals, ", ")
}

// timeLayouts are the written forms a date or time is read in. A form
// without a zone is UTC: canonical times are UTC. A date with slashes is
// month/day/year, as LeadExec (an American product, ASP.NET's en-US
// forms) writes dates; day/month/year is not read.
var timeLayouts = []struct {
	layout   string
	dateOnly bool
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05", false},
	{"2006-01-02T15:04", false},
	{"2006-01-02 15:04:05Z07:00", false},
	{"2006-01-02 15:04:05", false},
	{"2006-01-02 15:04", false},
	{"2006-01-02 15:04:05 MST", false},
	{"2006-01-02", true},
	{"1/2/2006 3:04:05 PM", false},
	{"1/2/2006 3:04 PM", false},
	{"1/2/2006 15:04:05", false},
	{"1/2/2006 15:04", false},
	{"1/2/2006", true},
}

func parseTime(s string) (time.Time, bool, error) {
	for _, l := range timeLayouts {
		if tm, err := time.Parse(l.layout, s); err == nil {
			return tm, l.dateOnly, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("unrecognised date %q", s)
}
