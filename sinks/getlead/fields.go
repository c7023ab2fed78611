package getlead

import (
	"context"
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/getlead"
)

// valueFormat is how Getlead V3 takes typed custom field values: dates as
// YYYY-MM-DD, date-times as YYYY-MM-DDTHH:mm:ss without an offset (written
// in UTC), booleans as true/false, multi-select values separated by
// commas.
var valueFormat = mappings.ValueFormat{Date: "2006-01-02", DateTime: "2006-01-02T15:04:05", True: "true", False: "false", MultiSep: ","}

// fieldType turns a /meta custom field into the converter's type.
// text, textarea, email, phone and url are text; a type crmsync does not
// know is sent as it is.
func fieldType(d getlead.FieldDef) mappings.FieldType {
	var k mappings.FieldKind
	switch strings.ToLower(strings.TrimSpace(d.Type)) {
	case "text", "textarea", "email", "phone", "url":
		k = mappings.KindText
	case "number", "numeric", "decimal", "float":
		k = mappings.KindNumber
	case "integer", "int":
		k = mappings.KindInteger
	case "boolean", "bool", "checkbox":
		k = mappings.KindBoolean
	case "select", "dropdown", "radio":
		k = mappings.KindSelect
	case "multiselect", "multi_select", "multi-select":
		k = mappings.KindMultiSelect
	case "date":
		k = mappings.KindDate
	case "datetime", "date_time", "date-time":
		k = mappings.KindDateTime
	}
	t := mappings.FieldType{Kind: k}
	for _, o := range d.AllowedValues {
		t.Options = append(t.Options, mappings.FieldOption{Label: o.Label, Value: o.Value})
	}
	return t
}

// LoadFields reads GET /meta (V3): the statuses and the custom fields'
// types that writes convert values to. It returns a warning for each of
// keys (the catalog's Getlead keys) that /meta does not list: values of
// such a field are sent as they are, and Getlead refuses them if it has no
// such field. In classic mode it does nothing: the classic API has no
// field list and creates additional fields on first use.
func (s *LeadSink) LoadFields(ctx context.Context, keys []string) ([]string, error) {
	if s.v3 == nil {
		return nil, nil
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if err := s.loadMeta(ctx); err != nil {
		return nil, err
	}
	var warnings []string
	for _, k := range keys {
		if _, ok := s.types[k]; !ok && !standardFields[k] {
			warnings = append(warnings, fmt.Sprintf("getlead: the catalog's custom field %q is not among the account's custom fields (GET /meta); its values are sent unconverted and Getlead may refuse them", k))
		}
	}
	return warnings, nil
}

// loadMeta reads /meta into the cache. Caller holds metaMu.
func (s *LeadSink) loadMeta(ctx context.Context) error {
	m, err := s.v3.Meta(ctx)
	if err != nil {
		return err
	}
	types := make(map[string]mappings.FieldType, len(m.CustomFields))
	for _, d := range m.CustomFields {
		types[d.Key] = fieldType(d)
	}
	s.meta, s.types = &m, types
	return nil
}

// fieldTypes returns the custom fields' types, reading /meta when it was
// never read.
func (s *LeadSink) fieldTypes(ctx context.Context) (map[string]mappings.FieldType, error) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.types == nil {
		if err := s.loadMeta(ctx); err != nil {
			return nil, s.classify(err)
		}
	}
	return s.types, nil
}

// convertCustom returns the record's custom (additional) fields, each
// value written as its field's type (an empty value stays empty: it clears
// the field). A value that cannot be converted fails the record alone,
// permanently, naming the field and the value.
func (s *LeadSink) convertCustom(ctx context.Context, r *pipeline.Record) (map[string]string, error) {
	custom := map[string]string{}
	var types map[string]mappings.FieldType
	for k, v := range r.Fields {
		if standardFields[k] {
			continue
		}
		if types == nil && v != "" {
			var err error
			if types, err = s.fieldTypes(ctx); err != nil {
				return nil, err
			}
		}
		if v != "" {
			c, err := types[k].Convert(v, valueFormat)
			if err != nil {
				return nil, pipeline.Permanent("field-type", fmt.Errorf("getlead: custom field %q: %w", k, err))
			}
			v = c
		}
		custom[k] = v
	}
	return custom, nil
}

// sameValue reports whether the record's value of custom field k, written
// as its type, is what Getlead stores (a select label read back as its
// stored value, a date-time written to a date field read back as the date).
func (s *LeadSink) sameValue(types map[string]mappings.FieldType, k, recorded, stored string) bool {
	t, ok := types[k]
	if !ok || recorded == "" {
		return false
	}
	c, err := t.Convert(recorded, valueFormat)
	return err == nil && c == stored
}
