package mappings

import (
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// Getlead lead field names as carried in events and records. They are the
// classic API's parameter names; the V3 sink and poller translate them to
// and from V3 JSON. Additional (custom) fields use their Getlead key from
// the catalog.
const (
	GetleadName        = "name"         // one name field: first and last joined by a space
	GetleadEmail       = "email"        // as written; the identity key is lower-cased
	GetleadCountryCode = "countrycode"  // digits, no "+", e.g. "91"
	GetleadMobile      = "mobileno"     // national significant number, digits only
	GetleadCompany     = "company_name" // classic only; V3 has no company field
	GetleadStatus      = "status"       // status name
	GetleadNote        = "note"         // append-only note text (canonical description)
)

// DefaultGetleadCountryCode is used when GetleadLeads.CountryCode is empty.
const DefaultGetleadCountryCode = "91"

// getleadStandard maps canonical names to Getlead fields (name and the phone
// are handled apart: they combine or split canonical fields).
var getleadStandard = map[string]string{
	Email:       GetleadEmail,
	Company:     GetleadCompany,
	LeadStatus:  GetleadStatus,
	Description: GetleadNote,
}

// GetleadLeads is the LeadCodec of Getlead leads. Getlead keys a lead by
// country code + mobile number, so the E.164 phone is its identity key and
// the lower-cased email a secondary one. It is a value type, safe for
// concurrent use.
type GetleadLeads struct {
	Catalog *Catalog
	// CountryCode applies to numbers written without an international
	// prefix; default DefaultGetleadCountryCode ("91").
	CountryCode string
}

func (c GetleadLeads) countryCode() string {
	if cc := strings.TrimPrefix(strings.TrimSpace(c.CountryCode), "+"); cc != "" {
		return cc
	}
	return DefaultGetleadCountryCode
}

// Vendor implements LeadCodec.
func (GetleadLeads) Vendor() string { return "getlead" }

// Decode implements LeadCodec. The name is split at its first space into
// first and last name; the mobile number becomes the canonical mobile_phone
// in E.164 form. A mobile number that is present but unusable, or a
// malformed email, is ErrInvalid.
func (c GetleadLeads) Decode(fields map[string]string) (Lead, error) {
	l := make(Lead, len(fields))
	for k, v := range fields {
		switch k {
		case GetleadName:
			first, last, _ := strings.Cut(strings.TrimSpace(v), " ")
			l[FirstName], l[LastName] = first, strings.TrimSpace(last)
		case GetleadEmail:
			if v = strings.TrimSpace(v); v != "" {
				if _, err := NormalizeEmail(v); err != nil {
					return nil, fmt.Errorf("getlead lead: %w", err)
				}
			}
			l[Email] = v
		case GetleadCountryCode:
			// read with the mobile number
		case GetleadMobile:
			if strings.TrimSpace(v) == "" {
				l[MobilePhone] = ""
				continue
			}
			cc := fields[GetleadCountryCode]
			if cc == "" {
				cc = c.countryCode()
			}
			e164, err := NormalizePhone(v, cc)
			if err != nil {
				return nil, fmt.Errorf("getlead lead: %w", err)
			}
			l[MobilePhone] = e164
		default:
			if name, ok := getleadCanonical(k); ok {
				l[name] = v
				continue
			}
			if c.Catalog != nil {
				if name, ok := c.Catalog.ByGetlead(k); ok {
					l[name] = v
				}
			}
		}
	}
	return l, nil
}

func getleadCanonical(field string) (string, bool) {
	for name, f := range getleadStandard {
		if f == field {
			return name, true
		}
	}
	return "", false
}

// Encode implements LeadCodec. first_name and last_name become one name
// (only the parts the lead carries; both empty clears it). The mobile phone,
// else the phone, becomes countrycode + mobileno; an unusable number is left
// out (Validate says why, and the sink refuses a lead without one). Fields
// without a Getlead place (title, address, website, …) are left out unless
// the catalog gives them an additional-field key.
func (c GetleadLeads) Encode(l Lead) map[string]string {
	out := make(map[string]string, len(l))
	first, hasFirst := l[FirstName]
	last, hasLast := l[LastName]
	if hasFirst || hasLast {
		out[GetleadName] = strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
	}
	if p, err := c.phone(l); err == nil {
		out[GetleadCountryCode], out[GetleadMobile] = p.CountryCode, p.National
	}
	for name, v := range l {
		if f, ok := getleadStandard[name]; ok {
			if name == Email {
				v = strings.TrimSpace(v)
			}
			out[f] = v
			continue
		}
		if c.Catalog == nil {
			continue
		}
		if f, ok := c.Catalog.Field(name); ok && f.Getlead != "" {
			out[f.Getlead] = v
		}
	}
	return out
}

// phone picks the lead's Getlead number: the mobile phone, else the phone.
func (c GetleadLeads) phone(l Lead) (PhoneNumber, error) {
	raw := strings.TrimSpace(l[MobilePhone])
	if raw == "" {
		raw = strings.TrimSpace(l[Phone])
	}
	if raw == "" {
		return PhoneNumber{}, fmt.Errorf("%w: getlead needs a mobile number (mobile_phone or phone) to identify the lead, and the lead has none", ErrInvalid)
	}
	p, err := ParsePhone(raw, c.countryCode())
	if err != nil {
		return PhoneNumber{}, fmt.Errorf("getlead identifies leads by mobile number: %w", err)
	}
	return p, nil
}

// Validate reports, wrapping ErrInvalid, why a lead cannot be written to
// Getlead: it has no usable mobile number.
func (c GetleadLeads) Validate(l Lead) error {
	_, err := c.phone(l)
	return err
}

// Keys implements LeadCodec: the E.164 phone, then the lower-cased email.
func (c GetleadLeads) Keys(l Lead) []pipeline.Key {
	var keys []pipeline.Key
	if p, err := c.phone(l); err == nil {
		keys = append(keys, GetleadPhoneKey(p.E164()))
	}
	if e, err := NormalizeEmail(l[Email]); err == nil {
		keys = append(keys, pipeline.Key{Vendor: "getlead", Entity: "lead", Kind: pipeline.KindEmail, Value: e})
	}
	return keys
}

// GetleadPhoneKey is the identity key of a Getlead lead with an E.164 phone.
func GetleadPhoneKey(e164 string) pipeline.Key {
	return pipeline.Key{Vendor: "getlead", Entity: "lead", Kind: pipeline.KindPhone, Value: e164}
}

// NaturalKeys implements LeadCodec: countrycode and mobileno (what every
// classic call is keyed by) and the email (V3's secondary identifier).
func (c GetleadLeads) NaturalKeys(l Lead) map[string]string {
	out := map[string]string{}
	if p, err := c.phone(l); err == nil {
		out[GetleadCountryCode], out[GetleadMobile] = p.CountryCode, p.National
	}
	if e := strings.TrimSpace(l[Email]); e != "" {
		out[GetleadEmail] = e
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
