package mappings

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Canonical lead field names. Custom fields use their catalog name.
const (
	FirstName   = "first_name"
	LastName    = "last_name"
	Email       = "email"
	Phone       = "phone"
	MobilePhone = "mobile_phone"
	Fax         = "fax"
	Company     = "company"
	Title       = "title"
	Street      = "street"
	City        = "city"
	State       = "state"
	Zip         = "zip"
	Country     = "country"
	Website     = "website"
	Description = "description"
	LeadStatus  = "lead_status"
)

var standardFields = map[string]bool{
	FirstName: true, LastName: true, Email: true, Phone: true, MobilePhone: true, Fax: true, Company: true,
	Title: true, Street: true, City: true, State: true, Zip: true, Country: true, Website: true,
	Description: true, LeadStatus: true,
}

func isStandard(name string) bool { return standardFields[name] }

// invert returns m with its keys and values swapped.
func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// IsLeadField says whether name is a canonical lead field: a standard field
// or a custom field of the catalog (which may be nil).
func IsLeadField(cat *Catalog, name string) bool {
	if isStandard(name) {
		return true
	}
	if cat == nil {
		return false
	}
	_, ok := cat.Field(name)
	return ok
}

// Lead is a canonical lead change: canonical field name → value. An absent
// field is unchanged; an empty value clears it.
type Lead map[string]string

// ErrInvalid marks a record that can never be mapped as it is (a missing or
// malformed key field). Such records are rejected or dead-lettered, never
// retried.
var ErrInvalid = errors.New("invalid record")

// NormalizeEmail trims and lower-cases an address and checks its form. The
// lower-cased address is the cross-vendor key (SharpSpring compares emails
// case-insensitively).
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: email is missing", ErrInvalid)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", fmt.Errorf("%w: email %q is not an address", ErrInvalid, s)
	}
	return strings.ToLower(s), nil
}
