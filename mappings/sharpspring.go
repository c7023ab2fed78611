package mappings

import (
	"html"
	"sort"
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
	rev := make(map[string]string, len(SharpSpringStandard))
	for c, f := range SharpSpringStandard {
		rev[f] = c
	}
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
