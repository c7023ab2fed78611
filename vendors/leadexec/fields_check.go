package leadexec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/crmsync/crmsync/mappings"
)

// LeadFieldLister reads a lead type's fields (*Client implements it).
type LeadFieldLister interface {
	GetLeadFields(ctx context.Context, leadTypeUID int64) ([]LeadField, error)
}

// FieldCheck names the lead types crmsync uses: the one it posts leads to
// (the receiver's LID; 0 when no route writes LeadExec leads) and those it
// reads (the safety net's and backfill's lead types).
type FieldCheck struct {
	Post int64
	Read []int64
}

// LeadTypeFields is what CheckLeadFields learned of the lead type crmsync
// posts to: the names its receiver binds. The lead sink posts only these
// (see PostName). The zero value knows nothing and lets every field
// through. Safe for concurrent use; a field watch replaces it in place.
type LeadTypeFields struct {
	mu    sync.RWMutex
	known bool
	names map[string]string             // folded name → the lead type's spelling
	types map[string]mappings.FieldType // the lead type's spelling → its type, for typed fields
}

// Set replaces the lead type's fields.
func (t *LeadTypeFields) Set(fields []LeadField) {
	names := postNames(fields)
	types := map[string]mappings.FieldType{}
	for _, f := range fields {
		if ft, ok := f.Type(); ok {
			types[f.Descriptor] = ft
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.known, t.names, t.types = true, names, types
}

// Type returns the type of the field the lead type names postName, when
// values must be written as one (see LeadField.Type).
func (t *LeadTypeFields) Type(postName string) (mappings.FieldType, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ft, ok := t.types[postName]
	return ft, ok
}

// ValueFormat is how LeadExec's lead receiver takes typed values: dates
// and times as ASP.NET's en-US forms in Pacific Time (as every LeadExec
// time), bits as 1 and 0.
var ValueFormat = mappings.ValueFormat{Date: "1/2/2006", DateTime: "1/2/2006 3:04:05 PM", True: "1", False: "0", Location: Pacific}

// Type is the field's type for the values crmsync posts, from its
// FieldDataType: Int and Bigint are whole numbers, Money, Decimal and Float
// numbers, Bit a boolean, DateTime a date-time. A field with a SpecialBit
// (FirstName, PrimaryPhone, ...) is posted as it is: the receiver reads
// those by their meaning (a phone is a Bigint there, sent with its
// punctuation), and Varchar takes any text. ok is false for fields whose
// values are not converted.
func (f LeadField) Type() (ft mappings.FieldType, ok bool) {
	if f.HasSpecialBit() {
		return ft, false
	}
	switch f.FieldDataType {
	case DataTypeInt, DataTypeBigint:
		ft.Kind = mappings.KindInteger
	case DataTypeMoney, DataTypeDecimal, DataTypeFloat:
		ft.Kind = mappings.KindNumber
	case DataTypeBit:
		ft.Kind = mappings.KindBoolean
	case DataTypeDateTime:
		ft.Kind = mappings.KindDateTime
	default:
		return ft, false
	}
	return ft, true
}

// Known reports whether the fields were read.
func (t *LeadTypeFields) Known() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.known
}

// PostName returns the lead type's name for a field crmsync would post
// under name: the same name in the lead type's spelling, or, for a standard
// field (FirstName, Email, ...) the lead type names otherwise, the field
// carrying that SpecialBit. ok is false when the lead type has no such
// field; before the fields are known every name passes as it is.
func (t *LeadTypeFields) PostName(name string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.known {
		return name, true
	}
	n, ok := t.names[strings.ToLower(name)]
	return n, ok
}

// postNames maps each name crmsync may post (folded) to the lead type's
// field: every Descriptor, and each standard name whose SpecialBit field
// is named otherwise.
func postNames(fields []LeadField) map[string]string {
	names := make(map[string]string, len(fields))
	for _, f := range fields {
		names[strings.ToLower(f.Descriptor)] = f.Descriptor
	}
	for _, f := range fields {
		if !f.HasSpecialBit() {
			continue
		}
		for std := range mappings.LeadExecStandard {
			if foldName(std) == foldName(f.SpecialBit) {
				if _, named := names[strings.ToLower(std)]; !named {
					names[strings.ToLower(std)] = f.Descriptor
				}
			}
		}
	}
	return names
}

// CheckLeadFields reads the fields of every lead type fc names
// (GetLeadFields, one request each) and checks the standard lead fields
// (mappings.LeadExecStandard) and the catalog's LeadExec names against
// them. It returns the fields of fc.Post for LeadTypeFields.Set.
//
// Errors, which must stop crmsync from starting, name the lead type and the
// field:
//   - a lead type without fields (LeadExec answers none for a lead type
//     the account does not have);
//   - a Required field of the posted lead type that crmsync cannot fill:
//     neither a standard field (by name or SpecialBit) nor a catalog field,
//     so every post would be refused with Data_Errors;
//   - a catalog LeadExec name that none of the lead types has: a typo, or
//     a field removed in LeadExec; its values would never move.
//
// Warnings, which leave crmsync running: a catalog field that some lead
// types have but the posted one lacks, and standard fields the posted lead
// type lacks. Their values are not posted (the lead sink leaves them out
// rather than have LeadExec refuse or silently drop them).
func CheckLeadFields(ctx context.Context, c LeadFieldLister, fc FieldCheck, cat *mappings.Catalog) (posted []LeadField, warnings []string, err error) {
	types := slices.Clone(fc.Read)
	if fc.Post > 0 && !slices.Contains(types, fc.Post) {
		types = append(types, fc.Post)
	}
	slices.Sort(types)
	types = slices.Compact(types)
	byType := map[int64]map[string]bool{}
	var problems []string
	for _, lt := range types {
		fs, err := c.GetLeadFields(ctx, lt)
		if err != nil {
			return nil, nil, fmt.Errorf("leadexec: reading the fields of lead type %d (GetLeadFields): %w", lt, err)
		}
		if len(fs) == 0 {
			problems = append(problems, fmt.Sprintf("lead type %d has no fields (is it a lead type of this account?)", lt))
			continue
		}
		names := map[string]bool{}
		for n := range postNames(fs) {
			names[n] = true
		}
		byType[lt] = names
		if lt != fc.Post {
			continue
		}
		posted = fs
		fillable := map[string]bool{}
		for std := range mappings.LeadExecStandard {
			fillable[strings.ToLower(std)] = true
		}
		for _, cf := range cat.Fields() {
			if cf.LeadExec != "" {
				fillable[strings.ToLower(cf.LeadExec)] = true
			}
		}
		pn := postNames(fs)
		for _, f := range fs {
			if !f.Required || f.Computed {
				continue
			}
			canFill := fillable[strings.ToLower(f.Descriptor)]
			for name := range fillable {
				if pn[name] == f.Descriptor {
					canFill = true
				}
			}
			if !canFill {
				problems = append(problems, fmt.Sprintf("lead type %d requires field %q, which crmsync cannot fill "+
					"(it is neither a standard lead field nor a catalog field's leadexec name)", lt, f.Descriptor))
			}
		}
		var lacking []string
		for _, std := range slices.Sorted(maps.Keys(mappings.LeadExecStandard)) {
			if !names[strings.ToLower(std)] {
				lacking = append(lacking, std)
			}
		}
		if len(lacking) > 0 {
			warnings = append(warnings, fmt.Sprintf("leadexec lead type %d has no field %s: crmsync does not post these standard fields to it",
				lt, strings.Join(lacking, ", ")))
		}
	}
	for _, cf := range cat.Fields() {
		if cf.LeadExec == "" {
			continue
		}
		var have, lack []string
		for _, lt := range types {
			if names, ok := byType[lt]; ok {
				if names[strings.ToLower(cf.LeadExec)] {
					have = append(have, fmt.Sprint(lt))
				} else {
					lack = append(lack, fmt.Sprint(lt))
				}
			}
		}
		switch {
		case len(have) == 0 && len(lack) > 0:
			problems = append(problems, fmt.Sprintf("catalog field %q: %q is not a field of lead type %s",
				cf.Name, cf.LeadExec, strings.Join(lack, ", ")))
		case fc.Post > 0 && byType[fc.Post] != nil && !byType[fc.Post][strings.ToLower(cf.LeadExec)]:
			warnings = append(warnings, fmt.Sprintf("leadexec lead type %d, which crmsync posts to, has no field %q "+
				"(catalog field %q; lead type %s has it): its values are not posted", fc.Post, cf.LeadExec, cf.Name, strings.Join(have, ", ")))
		}
	}
	sort.Strings(warnings)
	if len(problems) > 0 {
		sort.Strings(problems)
		return posted, warnings, fmt.Errorf("leadexec: the lead fields do not match the account: %s; see GetLeadFields of the lead type, "+
			"and the catalog's leadexec names", strings.Join(problems, "; "))
	}
	return posted, warnings, nil
}
