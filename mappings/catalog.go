// Package mappings translates records between vendors through one canonical
// model. Standard fields have built-in mappings; custom fields go through the
// field catalog, keyed by each vendor's stable identifier (SharpSpring system
// name, LeadExec field name, ...), never by a display label. Every function
// here is pure: same input, same output.
package mappings

import (
	"fmt"
	"regexp"
	"sort"
)

// CatalogField is one business field and its stable identifier at each
// vendor. Label is for people only and is never used as a key.
type CatalogField struct {
	Name        string `yaml:"name"`                  // canonical name, e.g. "favorite_color"
	Label       string `yaml:"label,omitempty"`       // display only
	SharpSpring string `yaml:"sharpspring,omitempty"` // custom field systemName, e.g. Favorite_Color_5a0dd86e6e290
	LeadExec    string `yaml:"leadexec,omitempty"`    // lead field name in LeadExec deliveries
	IVvy        string `yaml:"ivvy,omitempty"`        // iVvy custom field id (fieldId)
	Getlead     string `yaml:"getlead,omitempty"`     // Getlead additional-field key
}

// Catalog is the validated set of custom fields.
type Catalog struct {
	fields        []CatalogField
	bySharpSpring map[string]string // systemName → canonical
	byLeadExec    map[string]string // LeadExec name → canonical
	byIVvy        map[string]string // iVvy fieldId → canonical
	byGetlead     map[string]string // Getlead key → canonical
	byName        map[string]CatalogField
}

var (
	canonicalName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	ssSystemName   = regexp.MustCompile(`^[A-Za-z0-9_]+_[0-9a-f]{13}$`)
	leadExecField  = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)
	ivvyFieldID    = regexp.MustCompile(`^[0-9]+$`)
	errCatalogPath = "catalog[%d].%s: %s"
)

// NewCatalog validates fields and returns every problem found, each naming
// its position.
func NewCatalog(fields []CatalogField) (*Catalog, []error) {
	c := &Catalog{
		bySharpSpring: map[string]string{},
		byLeadExec:    map[string]string{},
		byIVvy:        map[string]string{},
		byGetlead:     map[string]string{},
		byName:        map[string]CatalogField{},
	}
	var errs []error
	bad := func(i int, key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(errCatalogPath, i, key, fmt.Sprintf(format, args...)))
	}
	for i, f := range fields {
		switch {
		case !canonicalName.MatchString(f.Name):
			bad(i, "name", "%q must be lower_snake_case", f.Name)
		case isStandard(f.Name):
			bad(i, "name", "%q is a standard field and needs no catalog entry", f.Name)
		case c.byName[f.Name].Name != "":
			bad(i, "name", "%q is listed twice", f.Name)
		}
		for _, id := range []struct {
			key, value, invalid string
			valid               *regexp.Regexp
			by                  map[string]string
		}{
			{"sharpspring", f.SharpSpring, "%q is not a SharpSpring system name (label_slug + _ + 13 hex digits); use the systemName from getFields, not the label", ssSystemName, c.bySharpSpring},
			{"leadexec", f.LeadExec, "%q is not a valid field name", leadExecField, c.byLeadExec},
			{"ivvy", f.IVvy, "%q is not an iVvy custom field id (a number)", ivvyFieldID, c.byIVvy},
			{"getlead", f.Getlead, "%q is not a valid field key", leadExecField, c.byGetlead},
		} {
			if id.value == "" {
				continue
			}
			if !id.valid.MatchString(id.value) {
				bad(i, id.key, id.invalid, id.value)
			} else if other, dup := id.by[id.value]; dup {
				bad(i, id.key, "%q is already used by %q", id.value, other)
			}
			id.by[id.value] = f.Name
		}
		c.byName[f.Name] = f
		c.fields = append(c.fields, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// Fields returns the catalog entries in configuration order.
func (c *Catalog) Fields() []CatalogField { return append([]CatalogField(nil), c.fields...) }

// SharpSpringSystemNames lists every configured SharpSpring system name,
// sorted, for the start-up check against getFields.
func (c *Catalog) SharpSpringSystemNames() []string { return sortedKeys(c.bySharpSpring) }

// sortedKeys lists the keys of m, sorted (empty, not nil, when m is).
func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Field returns the entry of a canonical name.
func (c *Catalog) Field(name string) (CatalogField, bool) {
	f, ok := c.byName[name]
	return f, ok
}

// ByIVvy returns the canonical name of an iVvy custom field id.
func (c *Catalog) ByIVvy(fieldID string) (string, bool) { n, ok := c.byIVvy[fieldID]; return n, ok }

// ByGetlead returns the canonical name of a Getlead additional-field key.
func (c *Catalog) ByGetlead(key string) (string, bool) { n, ok := c.byGetlead[key]; return n, ok }

// BySharpSpring returns the canonical name of a SharpSpring system name.
func (c *Catalog) BySharpSpring(systemName string) (string, bool) {
	n, ok := c.bySharpSpring[systemName]
	return n, ok
}

// ByLeadExec returns the canonical name of a LeadExec field name.
func (c *Catalog) ByLeadExec(name string) (string, bool) { n, ok := c.byLeadExec[name]; return n, ok }
