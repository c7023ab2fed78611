package mappings

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFieldTypeConvert(t *testing.T) {
	ss := ValueFormat{Date: "2006-01-02", DateTime: "2006-01-02 15:04:05", True: "1", False: "0"}
	gl := ValueFormat{Date: "2006-01-02", DateTime: "2006-01-02T15:04:05", True: "true", False: "false", MultiSep: ";"}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	ssNY := ss
	ssNY.Location = ny
	budget := FieldType{Kind: KindSelect, Options: []FieldOption{{Label: "25000", Value: "_25000"}, {Label: "50000", Value: "_50000"}, {Label: "Large", Value: "L"}}}
	cases := []struct {
		name string
		t    FieldType
		f    ValueFormat
		in   string
		want string
	}{
		{"empty clears", FieldType{Kind: KindDate}, ss, "  ", ""},
		{"text unchanged", FieldType{Kind: KindText}, ss, " a,b ", " a,b "},
		{"unknown unchanged", FieldType{}, ss, "2026-12-04T10:00:00Z", "2026-12-04T10:00:00Z"},
		{"number", FieldType{Kind: KindNumber}, ss, " 12.50 ", "12.50"},
		{"negative number", FieldType{Kind: KindNumber}, ss, "-3", "-3"},
		{"integer", FieldType{Kind: KindInteger}, ss, "42", "42"},
		{"integer from whole float", FieldType{Kind: KindInteger}, ss, "42.0", "42"},
		{"boolean yes", FieldType{Kind: KindBoolean}, ss, "Yes", "1"},
		{"boolean false", FieldType{Kind: KindBoolean}, gl, "0", "false"},
		{"date from date", FieldType{Kind: KindDate}, gl, "2026-12-04", "2026-12-04"},
		{"date from RFC 3339", FieldType{Kind: KindDate}, gl, "2026-12-04T23:30:00Z", "2026-12-04"},
		{"date in the vendor's zone", FieldType{Kind: KindDate}, ssNY, "2026-12-05T02:00:00Z", "2026-12-04"},
		{"date from iVvy time", FieldType{Kind: KindDate}, gl, "2026-12-04 08:00:00 UTC", "2026-12-04"},
		{"date from LeadExec's month/day/year", FieldType{Kind: KindDate}, gl, "3/10/2026", "2026-03-10"},
		{"date-time from LeadExec's form", FieldType{Kind: KindDateTime}, gl, "03/10/2026 2:05:09 PM", "2026-03-10T14:05:09"},
		{"date-time without offset", FieldType{Kind: KindDateTime}, gl, "2026-12-04T08:09:10+02:00", "2026-12-04T06:09:10"},
		{"date-time in the vendor's zone", FieldType{Kind: KindDateTime}, ssNY, "2026-12-04T15:00:00Z", "2026-12-04 10:00:00"},
		{"date-time from a date", FieldType{Kind: KindDateTime}, ss, "2026-12-04", "2026-12-04 00:00:00"},
		{"select by stored value", budget, gl, "_25000", "_25000"},
		{"select by label", budget, gl, "25000", "_25000"},
		{"select ignoring case", budget, gl, "large", "L"},
		{"multi-select", FieldType{Kind: KindMultiSelect, Options: budget.Options}, gl, "25000, large;_25000", "_25000;L"},
	}
	for _, c := range cases {
		got, err := c.t.Convert(c.in, c.f)
		if err != nil || got != c.want {
			t.Errorf("%s: Convert(%q) = %q, %v; want %q", c.name, c.in, got, err, c.want)
		}
	}
}

func TestFieldTypeConvertRefuses(t *testing.T) {
	f := ValueFormat{Date: "2006-01-02", DateTime: "2006-01-02 15:04:05", True: "1", False: "0"}
	budget := FieldType{Kind: KindSelect, Options: []FieldOption{{Label: "25000", Value: "_25000"}}}
	cases := []struct {
		t      FieldType
		in     string
		reason string
	}{
		{FieldType{Kind: KindNumber}, "12,5", "decimal number"},
		{FieldType{Kind: KindNumber}, "NaN", "decimal number"},
		{FieldType{Kind: KindNumber}, "0x1F", "decimal number"},
		{FieldType{Kind: KindInteger}, "4.5", "whole number"},
		{FieldType{Kind: KindBoolean}, "maybe", "true or false"},
		{FieldType{Kind: KindDate}, "31/12/2026", "date"},
		{FieldType{Kind: KindDateTime}, "tomorrow", "date"},
		{budget, "30000", `"_25000" (25000)`},
		{FieldType{Kind: KindMultiSelect, Options: budget.Options}, "25000,30000", `"30000" is not one of`},
	}
	for _, c := range cases {
		got, err := c.t.Convert(c.in, f)
		var ce *ConvertError
		if !errors.As(err, &ce) {
			t.Errorf("%s %q: got %q, %v; want a ConvertError", c.t.Kind, c.in, got, err)
			continue
		}
		if ce.Value != c.in || ce.Kind != c.t.Kind || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s %q: error %q (%+v), want it to say %q", c.t.Kind, c.in, err, ce, c.reason)
		}
	}
}

func TestFieldTypeAllows(t *testing.T) {
	st := FieldType{Kind: KindSelect, Options: []FieldOption{{Label: "Open", Value: "open"}, {Label: "Qualified", Value: "qualified"}}}
	if !st.Allows("Qualified") || !st.Allows("open") || st.Allows("won") {
		t.Fatal("Allows does not match the options by value and label")
	}
}
