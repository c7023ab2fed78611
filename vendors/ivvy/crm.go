package ivvy

import (
	"context"
	"fmt"
	"time"
)

// LeadInput is the body of contact?action=addOrUpdateLead. Zero ids and nil
// pointers are not sent. Create (ID 0) requires Name, SourceID, TypeID,
// StageID, QualityID (and SubtypeID when the type has subtypes); a contact
// lead (no CompanyID or Company) also needs ContactID or Contact, and
// IndustryID. An unknown ID answers 24216.
type LeadInput struct {
	ID                   int64             `json:"id,omitempty"`
	Name                 *string           `json:"name,omitempty"`
	Description          *string           `json:"description,omitempty"`
	SourceID             int64             `json:"sourceId,omitempty"`
	TypeID               int64             `json:"typeId,omitempty"`
	SubtypeID            int64             `json:"subtypeId,omitempty"`
	StageID              int64             `json:"stageId,omitempty"`
	QualityID            int64             `json:"qualityId,omitempty"`
	IndustryID           int64             `json:"industryId,omitempty"`
	ChannelID            int64             `json:"channelId,omitempty"`
	OwnerUserID          int64             `json:"ownerUserId,omitempty"`
	ContactID            int64             `json:"contactId,omitempty"`
	CompanyID            int64             `json:"companyId,omitempty"`
	CompanyLeadContactID int64             `json:"companyLeadContactId,omitempty"`
	Contact              *ContactInput     `json:"contact,omitempty"`
	CustomFields         []LeadCustomField `json:"customFields,omitempty"`
}

// AddOrUpdateLead creates (no ID) or updates a lead and returns its id.
// Note that it lives in the contact namespace, while reading is in crm.
func (c *Client) AddOrUpdateLead(ctx context.Context, in LeadInput) (int64, error) {
	return c.write(ctx, "contact", "addOrUpdateLead", in)
}

// LeadContact is the contact embedded in a lead as read.
type LeadContact struct {
	ID         Int    `json:"id"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	ExternalID Text   `json:"externalId"`
}

// LeadCompany is the company embedded in a lead as read.
type LeadCompany struct {
	ID           Int    `json:"id"`
	BusinessName string `json:"businessName"`
	Phone        string `json:"phone"`
	Email        string `json:"email"`
}

// Lead is a lead as read from crm?action=getLeadList.
type Lead struct {
	ID           Int           `json:"id"`
	Name         string        `json:"name"`
	Description  Text          `json:"description"`
	Contact      *LeadContact  `json:"contact"`
	Company      *LeadCompany  `json:"company"`
	QualityID    Int           `json:"qualityId"`
	Quality      Text          `json:"quality"`
	StageID      Int           `json:"stageId"`
	StageName    string        `json:"stageName"`
	TypeID       Int           `json:"typeId"`
	Type         Text          `json:"type"`
	SubtypeID    Int           `json:"subtypeId"`
	SourceID     Int           `json:"sourceId"`
	SourceName   string        `json:"sourceName"`
	ChannelID    Int           `json:"channelId"`
	ChannelName  string        `json:"channelName"`
	CreatedDate  string        `json:"createdDate"`
	ModifiedDate string        `json:"modifiedDate"`
	CustomFields []CustomValue `json:"customFields"`
}

// Modified parses ModifiedDate (UTC); the zero time when it is missing or
// malformed.
func (l Lead) Modified() time.Time { return parseOrZero(l.ModifiedDate) }

// GetLeadList returns one page of leads. iVvy documents no lead-specific
// filters; a filter may be ignored, so callers must check what comes back.
func (c *Client) GetLeadList(ctx context.Context, q ListQuery) (Page[Lead], error) {
	return listPage[Lead](ctx, c, "crm", "getLeadList", q)
}

// LookupItem is one entry of a lookup list (source, type, stage, quality,
// channel, industry). Types carry Subtypes, stages Reasons.
type LookupItem struct {
	ID       Int          `json:"id"`
	Name     string       `json:"name"`
	Subtypes []LookupItem `json:"subtypes,omitempty"`
	Reasons  []LookupItem `json:"reasons,omitempty"`
}

// LookupList names a lookup list.
type LookupList string

// Lookup lists used by addOrUpdateLead.
const (
	LeadSources   LookupList = "crm.getLeadSourceList"
	LeadTypes     LookupList = "crm.getLeadTypeList"
	LeadStages    LookupList = "crm.getLeadStageList"
	LeadQualities LookupList = "crm.getLeadQualityList"
	LeadChannels  LookupList = "crm.getLeadChannelList"
	Industries    LookupList = "account.getIndustryList"
)

func (l LookupList) split() (ns, action string) {
	for i := 0; i < len(l); i++ {
		if l[i] == '.' {
			return string(l[:i]), string(l[i+1:])
		}
	}
	return "", string(l)
}

// lookupPerPage is the page size asked for; iVvy clamps it per endpoint
// (100 for industries).
const lookupPerPage = 100

// maxLookupPages bounds paging through one lookup list.
const maxLookupPages = 100

// Lookup returns every entry of a lookup list, paging with start/perPage
// until totalResults.
func (c *Client) Lookup(ctx context.Context, list LookupList) ([]LookupItem, error) {
	ns, action := list.split()
	var all []LookupItem
	start := 0
	for range maxLookupPages {
		p, err := listPage[LookupItem](ctx, c, ns, action, ListQuery{PerPage: lookupPerPage, Start: start})
		if err != nil {
			return nil, err
		}
		all = append(all, p.Results...)
		if p.Done() {
			return all, nil
		}
		start += len(p.Results)
	}
	return nil, &Error{Namespace: ns, Action: action, Message: fmt.Sprintf("more than %d pages", maxLookupPages)}
}
