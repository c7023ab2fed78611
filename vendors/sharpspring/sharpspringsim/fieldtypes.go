package sharpspringsim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FieldOption is one allowed value of a picklist, radio or checkbox custom
// field: Label is what people see, Value what the API stores and takes.
//
// getFields lists them on the field as "options": [{"label", "value",
// "displayOrder"}], every value a string. The vendor documents neither the
// member nor its shape (assumption: the shape one public client reads);
// crmsync also reads a list of strings and a value → label object.
type FieldOption struct {
	Label, Value string
}

// Typed custom fields (spec §3.2 dataType list). A value that is not of the
// field's type is refused with object error 205 "Invalid parameters" whose
// data.params names the field (the code SharpSpring documents for invalid
// parameters; the exact check the real API makes is unobserved, so the
// simulator takes the strictest reading). "" always clears, null is refused
// as on every custom field. Options.IgnoreFieldTypes turns the check off.
const (
	msgDate       = "Expected a date (Y-m-d)"
	msgDateTime   = "Expected a date and time (Y-m-d H:i:s)"
	msgNotOption  = "Value is not one of the field's options"
	msgIntRange   = "Integer out of range"
	dateLayout    = "2006-01-02"
	multiValueSep = ","
)

// choiceTypes are the dataTypes whose values come from the field's options.
var choiceTypes = map[string]bool{"picklist": true, "radio": true, "checkbox": true}

// customValue checks and normalizes v for custom field f: ints are stored
// in canonical form ("007" → "7"), flags as "0"/"1", dates, date-times and
// options as sent. Caller holds s.mu.
func (s *Server) customValue(f *field, v any) (*string, *paramInfo) {
	bad := func(msg string) (*string, *paramInfo) {
		return nil, &paramInfo{f.systemName, msg, &validFormat{Type: f.dataType, Length: atoiOr0(f.dataLength)}}
	}
	if s.cfg.ignoreFieldTypes || v == nil {
		p, problem := normalize(kindString, 0, v, s.cfg.rawLessThan)
		if problem != "" {
			return bad(problem)
		}
		return p, nil
	}
	if str, ok := v.(string); ok && str == "" {
		return strptr(""), nil // "" clears a field of any type
	}
	switch {
	case f.dataType == "int":
		n, ok := looseInt(v)
		if !ok {
			return bad(msgInteger)
		}
		// dataLength 11 is MySQL's int(11): a signed 32-bit column.
		if n < math.MinInt32 || n > math.MaxInt32 {
			return bad(msgIntRange)
		}
		return strptr(strconv.FormatInt(n, 10)), nil
	case f.dataType == "boolean" || f.dataType == "bit" || f.dataType == "checkbox" && len(f.options) == 0:
		// A checkbox without options is a single tick box (assumption).
		p, problem := normalize(kindFlag, 1, v, true)
		if problem != "" {
			return bad(problem)
		}
		return p, nil
	case f.dataType == "date":
		str, ok := v.(string)
		if _, err := time.Parse(dateLayout, str); !ok || err != nil {
			return bad(msgDate)
		}
		return strptr(str), nil
	case f.dataType == "datetime":
		str, ok := v.(string)
		if _, err := time.Parse(timeLayout, str); !ok || err != nil {
			return bad(msgDateTime)
		}
		return strptr(str), nil
	case f.dataType == "checkbox":
		// Several ticked options, separated by "," (assumption: the
		// separator is undocumented).
		str, ok := v.(string)
		if !ok {
			return bad(msgString)
		}
		var vals []string
		for _, part := range strings.Split(str, multiValueSep) {
			part = strings.TrimSpace(part)
			if !f.hasOption(part) {
				return bad(msgNotOption)
			}
			vals = append(vals, part)
		}
		return strptr(strings.Join(vals, multiValueSep)), nil
	case choiceTypes[f.dataType]:
		str, ok := scalarString(v)
		if !ok {
			return bad(msgString)
		}
		if !f.hasOption(str) {
			return bad(msgNotOption)
		}
		return strptr(str), nil
	}
	p, problem := normalize(kindString, 0, v, s.cfg.rawLessThan)
	if problem != "" {
		return bad(problem)
	}
	return p, nil
}

// hasOption reports whether v is the stored value of one of f's options
// (exact match: the API's comparison is unobserved, exact is strictest).
func (f *field) hasOption(v string) bool {
	for _, o := range f.options {
		if o.Value == v {
			return true
		}
	}
	return false
}

func atoiOr0(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// optionsJSON is the "options" member of a choice field in getFields.
func optionsJSON(opts []FieldOption) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i, o := range opts {
		if i > 0 {
			b.WriteByte(',')
		}
		var obj object
		obj.add("label", quote(o.Label))
		obj.add("value", quote(o.Value))
		obj.add("displayOrder", quote(strconv.Itoa(i)))
		b.Write(obj.bytes())
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// parseOptions reads a createFields "options" member: a list of
// {"label","value"} objects (value defaults to the label) or of strings.
func parseOptions(v any) ([]FieldOption, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list")
	}
	var out []FieldOption
	seen := map[string]bool{}
	for _, item := range list {
		var o FieldOption
		switch x := item.(type) {
		case string:
			o = FieldOption{Label: x, Value: x}
		case map[string]any:
			o.Label, _ = scalarString(x["label"])
			o.Value, _ = scalarString(x["value"])
			if o.Value == "" {
				o.Value = o.Label
			}
			if o.Label == "" {
				o.Label = o.Value
			}
		default:
			return nil, fmt.Errorf("an option is neither a string nor an object")
		}
		if o.Value == "" || strings.Contains(o.Value, multiValueSep) || seen[o.Value] {
			return nil, fmt.Errorf("option values must be non-empty, unique and without %q", multiValueSep)
		}
		seen[o.Value] = true
		out = append(out, o)
	}
	return out, nil
}
