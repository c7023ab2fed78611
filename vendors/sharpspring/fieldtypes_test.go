package sharpspring

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// The options member is undocumented: every plausible shape is read, and
// one that is not understood leaves the field unchecked instead of failing
// getFields.
func TestFieldOptionsAreReadDefensively(t *testing.T) {
	ab := []mappings.FieldOption{{Label: "Alpha", Value: "a"}, {Label: "Beta", Value: "b"}}
	for _, tc := range []struct {
		name, raw string
		want      FieldOptions
	}{
		{"objects", `[{"label":"Alpha","value":"a","displayOrder":"0"},{"label":"Beta","value":"b"}]`, FieldOptions{true, ab}},
		{"objects without value", `[{"label":"Alpha"}]`, FieldOptions{true, []mappings.FieldOption{{Label: "Alpha", Value: "Alpha"}}}},
		{"numeric values", `[{"label":"One","value":1}]`, FieldOptions{true, []mappings.FieldOption{{Label: "One", Value: "1"}}}},
		{"strings", `["a","b"]`, FieldOptions{true, []mappings.FieldOption{{Label: "a", Value: "a"}, {Label: "b", Value: "b"}}}},
		{"value to label", `{"b":"Beta","a":"Alpha"}`, FieldOptions{true, ab}},
		{"empty list", `[]`, FieldOptions{true, []mappings.FieldOption{}}},
		{"null", `null`, FieldOptions{}},
		{"a string", `"a,b"`, FieldOptions{}},
		{"list of lists", `[["a"]]`, FieldOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Field
			if err := json.Unmarshal([]byte(`{"systemName":"x","options":`+tc.raw+`}`), &f); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.Options, tc.want) {
				t.Errorf("got %+v, want %+v", f.Options, tc.want)
			}
		})
	}
}

func TestDataTypesMapToKinds(t *testing.T) {
	listed := FieldOptions{Listed: true, Options: []mappings.FieldOption{{Label: "A", Value: "a"}}}
	for _, tc := range []struct {
		dataType string
		options  FieldOptions
		want     mappings.FieldKind
	}{
		{"int", FieldOptions{}, mappings.KindInteger},
		{"date", FieldOptions{}, mappings.KindDate},
		{"datetime", FieldOptions{}, mappings.KindDateTime},
		{"boolean", FieldOptions{}, mappings.KindBoolean},
		{"bit", FieldOptions{}, mappings.KindBoolean},
		{"picklist", listed, mappings.KindSelect},
		{"radio", listed, mappings.KindSelect},
		{"checkbox", listed, mappings.KindMultiSelect},
		{"checkbox", FieldOptions{Listed: true, Options: []mappings.FieldOption{}}, mappings.KindBoolean},
		// Options not listed: nothing to check against, sent as they are.
		{"picklist", FieldOptions{}, mappings.KindText},
		{"checkbox", FieldOptions{}, mappings.KindText},
		{"text", FieldOptions{}, mappings.KindText},
		{"phone", FieldOptions{}, mappings.KindText},
		{"country", FieldOptions{}, mappings.KindText},
		{"something new", FieldOptions{}, mappings.KindText},
	} {
		if got := (Field{DataType: tc.dataType, Options: tc.options}).Type(); got.Kind != tc.want {
			t.Errorf("%s (options listed %v): %v, want %v", tc.dataType, tc.options.Listed, got.Kind, tc.want)
		}
	}
}

// The check at start-up reads the fields' types with the catalog, and
// warns about a catalog picklist whose options it cannot see.
func TestCheckFieldsReadsTypes(t *testing.T) {
	c, sim := simClient(t, sharpspringsim.Options{}, "1001")
	budget := sim.CreateField("lead", "Budget", "int")
	color := sim.CreateField("lead", "Color", "picklist", sharpspringsim.FieldOption{Label: "Deep Red", Value: "red"})
	cat, errs := mappings.NewCatalog([]mappings.CatalogField{{Name: "budget", SharpSpring: budget}, {Name: "color", SharpSpring: color}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	types := NewFieldTypes(nil)
	if v, err := types.Convert(budget, "12.0"); err != nil || v != "12.0" {
		t.Fatalf("before the first read values go unconverted: %q %v", v, err)
	}
	if w, err := CheckFields(context.Background(), c, cat, types); err != nil || len(w) != 0 {
		t.Fatalf("%v %v", w, err)
	}
	if v, err := types.Convert(budget, "12.0"); err != nil || v != "12" {
		t.Errorf("budget: %q %v", v, err)
	}
	if v, err := types.Convert(color, "DEEP RED"); err != nil || v != "red" {
		t.Errorf("color by label: %q %v", v, err)
	}
	_, err := types.Convert(color, "green")
	if err == nil || !strings.Contains(err.Error(), color) || !strings.Contains(err.Error(), `"Color"`) || !strings.Contains(err.Error(), `"green"`) {
		t.Errorf("color green: %v", err)
	}
	if v, err := types.Convert("firstName", "Ann"); err != nil || v != "Ann" {
		t.Errorf("a standard field is not converted: %q %v", v, err)
	}

	// A picklist listed without options (as an account might answer).
	var f Field
	_ = json.Unmarshal([]byte(`{"relationship":"lead","systemName":"`+color+`","dataType":"picklist","isCustom":"1"}`), &f)
	w, err := CheckFields(context.Background(), fixedFields{f}, cat, types)
	if err == nil || len(w) != 1 || !strings.Contains(w[0], "unchecked") {
		t.Errorf("warnings %v, err %v (budget is missing from this answer)", w, err)
	}
	if v, err := types.Convert(color, "green"); err != nil || v != "green" {
		t.Errorf("an unchecked picklist sends values as they are: %q %v", v, err)
	}
}

type fixedFields []Field

func (f fixedFields) GetFields(context.Context) ([]Field, error) { return f, nil }
