package mappings

import (
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// SharpSpringStandard maps canonical names to SharpSpring lead fields.
var SharpSpringStandard = map[string]string{
	FirstName:   "firstName",
	LastName:    "lastName",
	Email:       "emailAddress",
	Phone:       "phoneNumber",
	MobilePhone: "mobilePhoneNumber",
	Fax:         "faxNumber",
	Company:     "companyName",
	Title:       "title",
	Street:      "street",
	City:        "city",
	State:       "state",
	Zip:         "zipcode",
	Country:     "country",
	Website:     "website",
	Description: "description",
	LeadStatus:  "leadStatus",
}

// SharpSpringEmailField is the SharpSpring lead key field.
const SharpSpringEmailField = "emailAddress"

// ToSharpSpring turns a canonical lead into SharpSpring lead fields: standard
// fields by their API names, custom fields by system name. Canonical fields
// without a SharpSpring column are left out.
func ToSharpSpring(l Lead, cat *Catalog) map[string]string {
	out := make(map[string]string, len(l))
	for name, v := range l {
		if f, ok := SharpSpringStandard[name]; ok {
			out[f] = v
			continue
		}
		if f, ok := cat.byName[name]; ok && f.SharpSpring != "" {
			out[f.SharpSpring] = v
		}
	}
	return out
}

// FromSharpSpring turns a SharpSpring lead as read from the API into a
// canonical lead. Values are HTML-unescaped, because values entered in the
// SharpSpring UI come back encoded (&amp;, &#039;) and would otherwise look
// changed on every read.
func FromSharpSpring(rec map[string]string, cat *Catalog) Lead {
	rev := invert(SharpSpringStandard)
	l := make(Lead)
	for f, v := range rec {
		v = html.UnescapeString(v)
		if c, ok := rev[f]; ok {
			l[c] = v
			continue
		}
		if c, ok := cat.bySharpSpring[f]; ok {
			l[c] = v
		}
	}
	return l
}

func sortStrings(s []string) { sort.Strings(s) }

// SharpSpringLeads is the LeadCodec of SharpSpring leads: standard fields by
// their API names (SharpSpringStandard), custom fields by systemName through
// the catalog. Decode HTML-unescapes every value (UI-entered values come
// back encoded) and checks the email when one is present. The zero value
// (no catalog) maps standard fields only.
//
// Values, when set, converts custom field values to the fields' SharpSpring
// types on Encode, so that what a route records as written is what
// SharpSpring will hold. A value it cannot convert is left as it is: the
// sink converts again and dead-letters that record with the reason.
type SharpSpringLeads struct {
	Catalog *Catalog
	Values  ValueConverter
}

// ValueConverter converts a value of a vendor field (by its vendor name)
// to the field's type; fields it has no type for are returned unchanged.
type ValueConverter interface {
	Convert(field, value string) (string, error)
}

// Vendor implements LeadCodec.
func (SharpSpringLeads) Vendor() string { return "sharpspring" }

// Decode implements LeadCodec. A malformed emailAddress (SharpSpring does
// not validate it) is ErrInvalid: the lead cannot be keyed elsewhere.
func (c SharpSpringLeads) Decode(fields map[string]string) (Lead, error) {
	l := FromSharpSpring(fields, c.catalog())
	if e, ok := l[Email]; ok {
		if _, err := NormalizeEmail(e); err != nil {
			return nil, fmt.Errorf("sharpspring lead: %w", err)
		}
		l[Email] = strings.TrimSpace(e)
	}
	return l, nil
}

// Encode implements LeadCodec.
func (c SharpSpringLeads) Encode(l Lead) map[string]string {
	out := ToSharpSpring(l, c.catalog())
	if c.Values != nil {
		for f, v := range out {
			if _, std := sharpSpringStandardFields[f]; std || v == "" {
				continue
			}
			if conv, err := c.Values.Convert(f, v); err == nil {
				out[f] = conv
			}
		}
	}
	return out
}

// sharpSpringStandardFields are the SharpSpring names of SharpSpringStandard.
var sharpSpringStandardFields = invert(SharpSpringStandard)

// Keys implements LeadCodec: the lower-cased email (SharpSpring compares
// emails case-insensitively); the SharpSpring id is assigned by SharpSpring.
func (SharpSpringLeads) Keys(l Lead) []pipeline.Key { return emailKey("sharpspring", l) }

// NaturalKeys implements LeadCodec: emailAddress addresses a lead whose id
// is unknown.
func (SharpSpringLeads) NaturalKeys(l Lead) map[string]string {
	if e := strings.TrimSpace(l[Email]); e != "" {
		return map[string]string{SharpSpringEmailField: e}
	}
	return nil
}

func (c SharpSpringLeads) catalog() *Catalog {
	if c.Catalog == nil {
		return emptyCatalog
	}
	return c.Catalog
}

var emptyCatalog, _ = NewCatalog(nil)
