package mappings

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/ivvy"
)

// iVvy lead field names as carried by events and sink records. A lead's
// contact fields are flattened with a "contact." prefix; lead custom fields
// are "customFields.<fieldId>".
const (
	IVvyName              = "name"
	IVvyDescription       = "description"
	IVvyContactID         = "contact.id"
	IVvyFirstName         = "contact.firstName"
	IVvyLastName          = "contact.lastName"
	IVvyEmail             = "contact.email"
	IVvyPhone             = "contact.phone"
	IVvyCompanyName       = "company.businessName"
	IVvyCustomFieldPrefix = "customFields."
)

// IVvyStandard maps canonical names to iVvy lead fields. company is read
// from company leads but never written: a company on a contact lead would
// turn it into a company lead, which changes iVvy's linking rules.
var IVvyStandard = map[string]string{
	FirstName:   IVvyFirstName,
	LastName:    IVvyLastName,
	Email:       IVvyEmail,
	Phone:       IVvyPhone,
	Description: IVvyDescription,
}

// IVvyLeads is the LeadCodec of iVvy leads. The iVvy lead id is assigned by
// iVvy; identity keys are the lower-cased contact email and, once the sink
// wrote our canonical id to the contact's externalId, that id (kind
// external). It is pure and safe for concurrent use.
type IVvyLeads struct {
	Catalog *Catalog
}

var _ LeadCodec = IVvyLeads{}

// Vendor implements LeadCodec.
func (IVvyLeads) Vendor() string { return "ivvy" }

// Decode implements LeadCodec. Unknown fields and custom fields outside the
// catalog are left out; a malformed email is ErrInvalid.
func (c IVvyLeads) Decode(fields map[string]string) (Lead, error) {
	l := make(Lead, len(fields))
	for name, v := range fields {
		if canon, ok := ivvyReverse[name]; ok {
			l[canon] = v
			continue
		}
		if name == IVvyCompanyName {
			l[Company] = v
			continue
		}
		if id, ok := strings.CutPrefix(name, IVvyCustomFieldPrefix); ok && c.Catalog != nil {
			if canon, ok := c.Catalog.ByIVvy(id); ok {
				l[canon] = v
			}
		}
	}
	if e, ok := l[Email]; ok && strings.TrimSpace(e) != "" {
		if _, err := NormalizeEmail(e); err != nil {
			return nil, fmt.Errorf("ivvy lead: %w", err)
		}
		l[Email] = strings.TrimSpace(e)
	}
	return l, nil
}

var ivvyReverse = invert(IVvyStandard)

// Encode implements LeadCodec: standard fields by their iVvy names, custom
// fields with an iVvy fieldId as customFields.<fieldId>.
func (c IVvyLeads) Encode(l Lead) map[string]string {
	out := make(map[string]string, len(l))
	for name, v := range l {
		if f, ok := IVvyStandard[name]; ok {
			out[f] = v
			continue
		}
		if c.Catalog == nil {
			continue
		}
		if f, ok := c.Catalog.Field(name); ok && f.IVvy != "" {
			out[IVvyCustomFieldPrefix+f.IVvy] = v
		}
	}
	return out
}

// Keys implements LeadCodec: the lower-cased email.
func (IVvyLeads) Keys(l Lead) []pipeline.Key {
	e := strings.ToLower(strings.TrimSpace(l[Email]))
	if e == "" {
		return nil
	}
	return []pipeline.Key{IVvyEmailKey(e)}
}

// NaturalKeys implements LeadCodec: the contact email, which the sink needs
// to create the lead's contact when the lead id is unknown.
func (IVvyLeads) NaturalKeys(l Lead) map[string]string {
	if e := strings.TrimSpace(l[Email]); e != "" {
		return map[string]string{IVvyEmail: e}
	}
	return map[string]string{}
}

// IVvyEmailKey is the identity key of an iVvy lead's contact email.
func IVvyEmailKey(email string) pipeline.Key {
	return pipeline.Key{Vendor: "ivvy", Entity: "lead", Kind: pipeline.KindEmail, Value: strings.ToLower(strings.TrimSpace(email))}
}

// IVvyExternalKey is the identity key of our canonical id written to the
// iVvy contact's externalId.
func IVvyExternalKey(canonicalID string) pipeline.Key {
	return pipeline.Key{Vendor: "ivvy", Entity: "lead", Kind: pipeline.KindExternal, Value: canonicalID}
}

// KindContact is the identity key kind of an iVvy lead's contact id. The
// contact is the person behind the lead, and iVvy does not change a lead's
// modifiedDate when its contact is edited: the link lets the poller map a
// changed contact to its lead, and the sink find the contact of a lead,
// without reading iVvy's lead list.
const KindContact = "contact"

// IVvyContactKey is the identity key of an iVvy lead's contact id.
func IVvyContactKey(contactID int64) pipeline.Key {
	return pipeline.Key{Vendor: "ivvy", Entity: "lead", Kind: KindContact, Value: strconv.FormatInt(contactID, 10)}
}

// EventKeys implements EventKeyer: the lead's contact id, when the event
// carries it.
func (IVvyLeads) EventKeys(fields map[string]string) []pipeline.Key {
	id, err := strconv.ParseInt(fields[IVvyContactID], 10, 64)
	if err != nil || id <= 0 {
		return nil
	}
	return []pipeline.Key{IVvyContactKey(id)}
}

// IVvyCustomFieldIDs lists the iVvy fieldIds configured in the catalog,
// sorted.
func IVvyCustomFieldIDs(cat *Catalog) []string { return sortedKeys(cat.byIVvy) }

// IVvyLeadFields flattens an iVvy lead into event fields (IVvy* names, lookup
// names as the sink reads them, and customFields.<id> for the custom fields
// present in the answer; absent ones are left out, not cleared). The poller
// publishes these, and the sink reads a lead back through them for replay.
func IVvyLeadFields(l ivvy.Lead) map[string]string {
	f := map[string]string{
		IVvyName: l.Name, IVvyDescription: string(l.Description),
		"stageName": l.StageName, "sourceName": l.SourceName, "type": string(l.Type), "quality": string(l.Quality),
		"channelName": l.ChannelName,
	}
	if c := l.Contact; c != nil && c.ID > 0 {
		maps.Copy(f, IVvyContactFields(ivvy.Contact{ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone}))
	}
	if co := l.Company; co != nil && co.ID > 0 {
		f[IVvyCompanyName] = co.BusinessName
	}
	for _, cv := range l.CustomFields {
		if cv.FieldID > 0 {
			f[IVvyCustomFieldPrefix+strconv.FormatInt(int64(cv.FieldID), 10)] = string(cv.Value)
		}
	}
	return f
}

// IVvyContactFields flattens a contact into the event fields a lead carries
// for it (contact.id and the contact.* fields of IVvyLeadFields).
func IVvyContactFields(c ivvy.Contact) map[string]string {
	return map[string]string{
		IVvyContactID: strconv.FormatInt(int64(c.ID), 10), IVvyFirstName: c.FirstName, IVvyLastName: c.LastName,
		IVvyEmail: c.Email, IVvyPhone: c.Phone,
	}
}
