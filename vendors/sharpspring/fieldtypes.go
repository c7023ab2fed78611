package sharpspring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/mappings"
)

// Value formats of typed fields. SharpSpring reads dates as Y-m-d and
// date-times as Y-m-d H:i:s, without a zone (spec §1.5: UTC on v1.2, the
// Company Profile zone on v1), and booleans as 0/1.
const (
	DateLayout = "2006-01-02"
	// MultiSeparator separates the ticked options of a checkbox field. The
	// vendor does not document it; "," is assumed.
	MultiSeparator = ","
)

// FieldOptions are the allowed values of a picklist, radio or checkbox
// field as getFields lists them. SharpSpring does not document the
// member; it is read defensively: a list of {"label", "value"} objects (a
// missing value is the label), a list of strings, or an object of value →
// label. Listed is false when the member is absent or of another shape:
// then the field's values cannot be checked and are sent as they are.
type FieldOptions struct {
	Listed  bool
	Options []mappings.FieldOption
}

// UnmarshalJSON never fails: an unreadable options member must not stop
// getFields from being read.
func (o *FieldOptions) UnmarshalJSON(b []byte) error {
	*o = FieldOptions{}
	b = bytes.TrimSpace(b)
	var list []json.RawMessage
	if json.Unmarshal(b, &list) == nil && list != nil {
		out := []mappings.FieldOption{}
		for _, raw := range list {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				if s == "" {
					return nil
				}
				out = append(out, mappings.FieldOption{Label: s, Value: s})
				continue
			}
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				return nil
			}
			label, value := scalarText(obj["label"]), scalarText(obj["value"])
			if value == "" {
				value = label
			}
			if label == "" {
				label = value
			}
			if value == "" {
				return nil
			}
			out = append(out, mappings.FieldOption{Label: label, Value: value})
		}
		*o = FieldOptions{Listed: true, Options: out}
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) == nil && obj != nil {
		out := []mappings.FieldOption{}
		for value, raw := range obj {
			label := scalarText(raw)
			if label == "" {
				label = value
			}
			out = append(out, mappings.FieldOption{Label: label, Value: value})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
		*o = FieldOptions{Listed: true, Options: out}
	}
	return nil
}

// scalarText is a JSON string or number as text; "" for anything else.
func scalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// Type is the field's type for the value converter: int → integer, date,
// datetime, boolean and bit → boolean, picklist and radio → select,
// checkbox → multi-select, anything else text. A checkbox listed with no
// options is a single tick box (boolean). A picklist, radio or checkbox
// whose options getFields does not list cannot be checked: its values are
// sent as they are (text) and SharpSpring judges them.
func (f Field) Type() mappings.FieldType {
	switch strings.ToLower(f.DataType) {
	case "int":
		return mappings.FieldType{Kind: mappings.KindInteger}
	case "date":
		return mappings.FieldType{Kind: mappings.KindDate}
	case "datetime":
		return mappings.FieldType{Kind: mappings.KindDateTime}
	case "boolean", "bit":
		return mappings.FieldType{Kind: mappings.KindBoolean}
	case "picklist", "radio":
		if f.Options.Listed {
			return mappings.FieldType{Kind: mappings.KindSelect, Options: f.Options.Options}
		}
	case "checkbox":
		switch {
		case f.Options.Listed && len(f.Options.Options) > 0:
			return mappings.FieldType{Kind: mappings.KindMultiSelect, Options: f.Options.Options}
		case f.Options.Listed:
			return mappings.FieldType{Kind: mappings.KindBoolean}
		}
	}
	return mappings.FieldType{Kind: mappings.KindText}
}

// unchecked reports whether the field's values come from options that
// getFields does not list, so crmsync cannot check them.
func (f Field) unchecked() bool {
	switch strings.ToLower(f.DataType) {
	case "picklist", "radio", "checkbox":
		return !f.Options.Listed
	}
	return false
}

// ValueFormat is how SharpSpring takes typed values, with dates and times
// written in zone (nil: UTC, the v1.2 endpoint).
func ValueFormat(zone *time.Location) mappings.ValueFormat {
	if zone == nil {
		zone = time.UTC
	}
	return mappings.ValueFormat{Date: DateLayout, DateTime: TimeLayout, True: "1", False: "0",
		MultiSep: MultiSeparator, Location: zone}
}

// FieldTypes holds the types of an account's custom lead fields as last
// read from getFields (CheckFields sets them at start-up and on every
// scheduled check), and converts values to them. Safe for concurrent use;
// before the first read no field has a type and values go unconverted.
type FieldTypes struct {
	format mappings.ValueFormat
	fields atomic.Pointer[map[string]typedField]
}

type typedField struct {
	label string
	typ   mappings.FieldType
}

// NewFieldTypes returns an empty set whose dates and times are written in
// zone: the endpoint's (UTC for v1.2, the Company Profile zone for v1).
func NewFieldTypes(zone *time.Location) *FieldTypes {
	return &FieldTypes{format: ValueFormat(zone)}
}

// Set replaces the types with those of fields' custom lead fields.
func (t *FieldTypes) Set(fields []Field) {
	m := make(map[string]typedField)
	for _, f := range fields {
		if f.Relationship == "lead" && f.IsCustom != "0" {
			m[f.SystemName] = typedField{label: f.Label, typ: f.Type()}
		}
	}
	t.fields.Store(&m)
}

// Convert writes v as field's type in SharpSpring's format. Fields without
// a known type (standard fields, fields not read yet) are unchanged. The
// error names the field, its label and the value.
func (t *FieldTypes) Convert(field, v string) (string, error) {
	if t == nil {
		return v, nil
	}
	m := t.fields.Load()
	if m == nil {
		return v, nil
	}
	f, ok := (*m)[field]
	if !ok {
		return v, nil
	}
	out, err := f.typ.Convert(v, t.format)
	if err == nil && f.typ.Kind == mappings.KindInteger && !intInRange(out) {
		err = &mappings.ConvertError{Value: v, Kind: f.typ.Kind, Reason: "outside SharpSpring's int range (-2147483648 to 2147483647)"}
	}
	if err != nil {
		return "", fmt.Errorf("sharpspring field %s (%q): %w", field, f.label, err)
	}
	return out, nil
}

// intInRange: SharpSpring's int field is MySQL int(11), a signed 32-bit
// column (assumption from its dataLength 11). "" (a clear) is in range.
func intInRange(s string) bool {
	if s == "" {
		return true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= -1<<31 && n < 1<<31
}
