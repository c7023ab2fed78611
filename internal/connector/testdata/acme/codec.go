package acme

import (
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
)

// Acme lead field names, as carried in events, records and on the wire.
const (
	FieldGivenName  = "given_name"
	FieldFamilyName = "family_name"
	FieldEmail      = "email" // as written; Acme matches it without regard to case
	FieldPhone      = "phone"
	FieldCompany    = "company"
	FieldCity       = "city"
	FieldNotes      = "notes"
)

// Fields are every lead field Acme has.
var Fields = []string{FieldGivenName, FieldFamilyName, FieldEmail, FieldPhone, FieldCompany, FieldCity, FieldNotes}

// canonical maps Acme fields to canonical lead fields.
var canonical = map[string]string{
	FieldGivenName: mappings.FirstName, FieldFamilyName: mappings.LastName, FieldEmail: mappings.Email,
	FieldPhone: mappings.Phone, FieldCompany: mappings.Company, FieldCity: mappings.City, FieldNotes: mappings.Description,
}

// Codec is the mappings.LeadCodec of Acme leads. Acme keys a lead by its
// email, so the lower-cased email is its identity key and the email its
// natural key. Custom fields are not carried. It is a value type, safe for
// concurrent use.
type Codec struct{}

// Vendor implements mappings.LeadCodec.
func (Codec) Vendor() string { return Vendor }

// Decode implements mappings.LeadCodec. A malformed email is
// mappings.ErrInvalid.
func (Codec) Decode(fields map[string]string) (mappings.Lead, error) {
	l := make(mappings.Lead, len(fields))
	for k, v := range fields {
		name, ok := canonical[k]
		if !ok {
			continue
		}
		if k == FieldEmail {
			if v = strings.TrimSpace(v); v != "" {
				if _, err := mappings.NormalizeEmail(v); err != nil {
					return nil, fmt.Errorf("acme lead: %w", err)
				}
			}
		}
		l[name] = v
	}
	return l, nil
}

// Encode implements mappings.LeadCodec. Canonical fields Acme has no
// place for (mobile phone, address, title, custom fields, …) are left out.
func (Codec) Encode(l mappings.Lead) map[string]string {
	out := make(map[string]string, len(l))
	for f, name := range canonical {
		if v, ok := l[name]; ok {
			if f == FieldEmail {
				v = strings.TrimSpace(v)
			}
			out[f] = v
		}
	}
	return out
}

// Keys implements mappings.LeadCodec: the lower-cased email.
func (Codec) Keys(l mappings.Lead) []pipeline.Key {
	if e, err := mappings.NormalizeEmail(l[mappings.Email]); err == nil {
		return []pipeline.Key{{Vendor: Vendor, Entity: Entity, Kind: pipeline.KindEmail, Value: e}}
	}
	return nil
}

// NaturalKeys implements mappings.LeadCodec: the email, which Acme's batch
// upsert matches a lead by.
func (Codec) NaturalKeys(l mappings.Lead) map[string]string {
	if e := strings.TrimSpace(l[mappings.Email]); e != "" {
		return map[string]string{FieldEmail: e}
	}
	return nil
}
