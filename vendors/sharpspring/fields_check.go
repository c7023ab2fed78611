package sharpspring

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/crmsync/crmsync/mappings"
)

// FieldLister reads field definitions (*Client implements it).
type FieldLister interface {
	GetFields(ctx context.Context) ([]Field, error)
}

// CheckFields checks every SharpSpring system name of the field catalog
// against getFields (one request per 500 fields). A system name that is not
// a custom lead field of the account is an error naming each such name:
// the sync must not start, since every write of it would fail (205). A
// label that differs from the catalog's, or a field marked inactive, is a
// warning only: labels are display text and never a key, so a renamed
// label changes nothing. Catalog entries without a label are not compared.
//
// types, when not nil, takes the fields' types (dataType, options), which
// the lead sink converts values to. A catalog picklist, radio or checkbox
// whose options getFields does not list is a warning: its values are sent
// unchecked.
func CheckFields(ctx context.Context, c FieldLister, cat *mappings.Catalog, types *FieldTypes) (warnings []string, err error) {
	fields, err := c.GetFields(ctx)
	if err != nil {
		return nil, fmt.Errorf("sharpspring: reading fields (getFields): %w", err)
	}
	if types != nil {
		types.Set(fields)
	}
	lead := map[string]Field{}
	other := map[string]string{}
	for _, f := range fields {
		if f.Relationship == "lead" && f.IsCustom != "0" {
			lead[f.SystemName] = f
		} else {
			other[f.SystemName] = f.Relationship
		}
	}
	var problems []string
	for _, cf := range cat.Fields() {
		if cf.SharpSpring == "" {
			continue
		}
		f, ok := lead[cf.SharpSpring]
		switch {
		case !ok && other[cf.SharpSpring] != "":
			problems = append(problems, fmt.Sprintf("%s (catalog field %q) is a %s field, not a custom lead field", cf.SharpSpring, cf.Name, other[cf.SharpSpring]))
			continue
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (catalog field %q) does not exist", cf.SharpSpring, cf.Name))
			continue
		}
		if cf.Label != "" && f.Label != cf.Label {
			warnings = append(warnings, fmt.Sprintf("sharpspring field %s (catalog field %q) is labelled %q, the catalog says %q; the system name is the key, so nothing changes", cf.SharpSpring, cf.Name, f.Label, cf.Label))
		}
		if f.unchecked() {
			warnings = append(warnings, fmt.Sprintf("sharpspring field %s (catalog field %q) is a %s whose options getFields does not list; its values are sent as they are, unchecked", cf.SharpSpring, cf.Name, f.DataType))
		}
		if f.IsActive == "0" {
			warnings = append(warnings, fmt.Sprintf("sharpspring field %s (catalog field %q) is inactive", cf.SharpSpring, cf.Name))
		}
	}
	sort.Strings(warnings)
	if len(problems) > 0 {
		sort.Strings(problems)
		return warnings, fmt.Errorf("sharpspring: field catalog does not match the account: %s; use the systemName shown by getFields", strings.Join(problems, "; "))
	}
	return warnings, nil
}
