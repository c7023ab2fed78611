package mappings

import (
	"fmt"
	"strings"
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
