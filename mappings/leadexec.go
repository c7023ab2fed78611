package mappings

import (
	"fmt"
	"strings"

	"github.com/crmsync/crmsync/pipeline"
)

// LeadExecStandard maps LeadExec lead field names (as named in the lead type
// and the delivery's field mappings; LeadExec's SpecialBit names) to
// canonical names.
var LeadExecStandard = map[string]string{
	"FirstName":    FirstName,
	"LastName":     LastName,
	"Email":        Email,
	"PrimaryPhone": Phone,
	"MobilePhone":  MobilePhone,
	"FaxNumber":    Fax,
	"Company":      Company,
	"JobTitle":     Title,
	"Address":      Street,
	"City":         City,
	"State":        State,
	"Zip":          Zip,
	"Country":      Country,
	"WebSite":      Website,
	"Comments":     Description,
}

// FromLeadExec turns the fields of a LeadExec lead into a canonical lead.
// Fields that are neither standard nor in the catalog are not synced and are
// returned in ignored, sorted, so callers can count them.
func FromLeadExec(fields map[string]string, cat *Catalog) (lead Lead, ignored []string, err error) {
	lead = make(Lead, len(fields))
	for name, v := range fields {
		if c, ok := LeadExecStandard[name]; ok {
			lead[c] = v
			continue
		}
		if c, ok := cat.byLeadExec[name]; ok {
			lead[c] = v
			continue
		}
		ignored = append(ignored, name)
	}
	if e, ok := lead[Email]; ok {
		if _, err := NormalizeEmail(e); err != nil {
			return nil, nil, fmt.Errorf("leadexec lead: %w", err)
		}
		lead[Email] = strings.TrimSpace(e)
	}
	sortStrings(ignored)
	return lead, ignored, nil
}

// LeadExecLeads is the LeadCodec of LeadExec leads (field names as in the
// lead type and the delivery's field mappings).
type LeadExecLeads struct{ Catalog *Catalog }

// Vendor implements LeadCodec.
func (LeadExecLeads) Vendor() string { return "leadexec" }

// Decode implements LeadCodec.
func (c LeadExecLeads) Decode(fields map[string]string) (Lead, error) {
	l, _, err := FromLeadExec(fields, c.Catalog)
	return l, err
}

// Encode implements LeadCodec.
func (c LeadExecLeads) Encode(l Lead) map[string]string {
	rev := invert(LeadExecStandard)
	out := make(map[string]string, len(l))
	for name, v := range l {
		if f, ok := rev[name]; ok {
			out[f] = v
			continue
		}
		if f, ok := c.Catalog.byName[name]; ok && f.LeadExec != "" {
			out[f.LeadExec] = v
		}
	}
	return out
}

// Keys implements LeadCodec: LeadExec's own id is assigned by LeadExec, so
// only the email can be derived.
func (LeadExecLeads) Keys(l Lead) []pipeline.Key { return emailKey("leadexec", l) }

// NaturalKeys implements LeadCodec.
func (LeadExecLeads) NaturalKeys(l Lead) map[string]string {
	if e := l[Email]; e != "" {
		return map[string]string{"Email": e}
	}
	return nil
}

func emailKey(vendor string, l Lead) []pipeline.Key {
	if e := strings.TrimSpace(l[Email]); e != "" {
		return []pipeline.Key{{Vendor: vendor, Entity: "lead", Kind: pipeline.KindEmail, Value: strings.ToLower(e)}}
	}
	return nil
}
