package ivvysim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
)

func leadInvalid(why string) *apiError {
	return newErr(http.StatusBadRequest, CodeLeadInvalid, "The lead details are invalid", why)
}

// addOrUpdateLead follows the seed document and spec §2.4: no id → create
// (name, sourceId, typeId, stageId, qualityId required; subtypeId when the
// type has subtypes); a company lead (companyId or company) needs a contact
// of that company, a contact lead a contact and industryId. Unknown id →
// 24216; empty request → 24215; unknown lookup ids → 24218. Custom fields
// are {fieldId, fieldValue}. Unknown keys are ignored. Everything is
// validated before anything is stored.
func (s *Server) addOrUpdateLead(c *call) (any, *apiError) {
	p := c.params
	if len(p) == 0 {
		return nil, errEmptyRequest
	}
	id, hasID, e := intParam(p, "id", "")
	if e != nil {
		return nil, e
	}
	var target *lead
	if hasID {
		if target = s.leads[id]; target == nil {
			return nil, newErr(http.StatusBadRequest, CodeLeadNotFound, "The lead does not exist")
		}
	}
	name, e := strParam(p, "name", "")
	if e != nil {
		return nil, e
	}
	desc, e := strParam(p, "description", "")
	if e != nil {
		return nil, e
	}
	ids := map[string]int64{}
	for _, k := range []string{"sourceId", "typeId", "subtypeId", "stageId", "stageReasonId", "qualityId", "industryId",
		"channelId", "ownerUserId", "contactId", "companyId", "companyLeadContactId"} {
		n, ok, e := intParam(p, k, "")
		if e != nil {
			return nil, e
		}
		if ok {
			ids[k] = n
		}
	}
	if !hasID {
		if name == nil || *name == "" {
			return nil, missing("name")
		}
		for _, k := range []string{"sourceId", "typeId", "stageId", "qualityId"} {
			if _, ok := ids[k]; !ok {
				return nil, missing(k)
			}
		}
	}
	for k, list := range map[string]string{"sourceId": ListSources, "typeId": ListTypes, "stageId": ListStages,
		"qualityId": ListQualities, "industryId": ListIndustry, "channelId": ListChannels} {
		if v, ok := ids[k]; ok {
			if _, found := s.lookupByID(list, v); !found {
				return nil, leadInvalid(fmt.Sprintf("'%s' %d does not exist", k, v))
			}
		}
	}
	typeID := ids["typeId"]
	if typeID == 0 && target != nil {
		typeID = target.TypeID
	}
	if t, ok := s.lookupByID(ListTypes, typeID); ok {
		sub, hasSub := ids["subtypeId"]
		if !hasSub && target != nil && ids["typeId"] == 0 {
			sub, hasSub = target.SubtypeID, target.SubtypeID != 0
		}
		if len(t.Subs) > 0 && !hasSub {
			return nil, missing("subtypeId")
		}
		if hasSub && !hasSub2(t.Subs, sub) {
			return nil, leadInvalid(fmt.Sprintf("'subtypeId' %d is not a subtype of type %d", sub, typeID))
		}
	}
	custom, e := customFieldsParam(p, "fieldValue", "")
	if e != nil {
		return nil, e
	}
	for fid := range custom {
		if s.cfg.leadCustom != nil && !s.cfg.leadCustom[fid] {
			return nil, invalid("customFields", fmt.Sprintf("unknown lead custom field %d", fid))
		}
	}

	// Linking: company lead or contact lead.
	var contactCh *contactChange
	if cp, ok, e := objParam(p, "contact", ""); e != nil {
		return nil, e
	} else if ok {
		if contactCh, e = s.prepareContact(cp, "contact."); e != nil {
			return nil, e
		}
	}
	var companyCh *companyChange
	if cp, ok, e := objParam(p, "company", ""); e != nil {
		return nil, e
	} else if ok {
		if companyCh, e = s.prepareCompany(cp, "company."); e != nil {
			return nil, e
		}
	}
	contactID := ids["companyLeadContactId"]
	if contactID == 0 {
		contactID = ids["contactId"]
	}
	if contactID != 0 && s.contacts[contactID] == nil {
		return nil, leadInvalid(fmt.Sprintf("contact %d does not exist", contactID))
	}
	if contactCh != nil && contactCh.target != nil && contactID != 0 && contactCh.target.ID != contactID {
		return nil, leadInvalid("the inline contact is not the contact given by id")
	}
	companyID, companyLead := ids["companyId"], companyCh != nil
	if companyID != 0 {
		if s.companies[companyID] == nil {
			return nil, leadInvalid(fmt.Sprintf("company %d does not exist", companyID))
		}
		companyLead = true
	}
	hasContact := contactID != 0 || contactCh != nil
	switch {
	case companyLead:
		if !hasID && !hasContact {
			return nil, missing("companyLeadContactId")
		}
		// An inline contact sent with the company is linked to it; a
		// contact given by id must already belong to it.
		if contactCh == nil && contactID != 0 && companyCh == nil && !s.contacts[contactID].belongsTo(companyID) {
			return nil, leadInvalid(fmt.Sprintf("contact %d does not belong to company %d", contactID, companyID))
		}
	case !hasID:
		if !hasContact {
			return nil, missing("contactId")
		}
		if _, ok := ids["industryId"]; !ok {
			return nil, missing("industryId")
		}
	}

	// Apply.
	l := target
	if l == nil {
		l = &lead{ID: s.newID("lead"), Created: c.now, CustomFields: map[int64]string{}}
		s.leads[l.ID] = l
		s.leadOrder = append(s.leadOrder, l.ID)
	}
	if companyCh != nil {
		companyID = s.applyCompany(companyCh, c).ID
	}
	if contactCh != nil {
		contactID = s.applyContact(contactCh, c).ID
	}
	if companyLead && contactID != 0 {
		s.contacts[contactID].link(companyID)
	}
	if contactID != 0 {
		l.ContactID = contactID
		s.noteLead(l)
	}
	if companyLead {
		l.CompanyID = companyID
	}
	if name != nil && *name != "" {
		l.Name = *name
	}
	if desc != nil {
		l.Description = *desc
	}
	for k, v := range ids {
		switch k {
		case "sourceId":
			l.SourceID = v
		case "typeId":
			l.TypeID = v
			if _, ok := ids["subtypeId"]; !ok {
				l.SubtypeID = 0
			}
		case "subtypeId":
			l.SubtypeID = v
		case "stageId":
			l.StageID = v
		case "stageReasonId":
			l.StageReasonID = v
		case "qualityId":
			l.QualityID = v
		case "industryId":
			l.IndustryID = v
		case "channelId":
			l.ChannelID = v
		case "ownerUserId":
			l.OwnerUserID = v
		}
	}
	// Lead custom fields are merged per field (assumed; unlike contact
	// groups, nothing documents that the array replaces the whole set).
	for fid, v := range custom {
		l.CustomFields[fid] = v
	}
	l.Modified = c.now
	s.leadMod.set(l.ID, l.Modified)
	c.written++
	return map[string]any{"success": true, "id": l.ID}, nil
}

func hasSub2(subs []LookupItem, id int64) bool {
	for _, s := range subs {
		if s.ID == id {
			return true
		}
	}
	return false
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// renderLead is a getLeadList item (spec §2.5). The embedded contact has
// id, firstName, lastName, email and phone only, as documented.
func (s *Server) renderLead(l *lead) map[string]any {
	item := map[string]any{
		"id": l.ID, "name": l.Name, "description": l.Description, "ownerUser": nil,
		"contact": nil, "company": nil, "currentBookingId": nil,
		"qualityId": nullID(l.QualityID), "quality": s.lookupName(ListQualities, l.QualityID),
		"stageId": nullID(l.StageID), "stageName": s.lookupName(ListStages, l.StageID),
		"stageReasonId": nullID(l.StageReasonID), "stageReasonName": nil,
		"adminStatusChangedDate": nil,
		"typeId":                 nullID(l.TypeID), "type": s.lookupName(ListTypes, l.TypeID), "subtypeId": nullID(l.SubtypeID),
		"sourceId": nullID(l.SourceID), "sourceName": s.lookupName(ListSources, l.SourceID),
		"channelId": nullID(l.ChannelID), "channelName": s.lookupName(ListChannels, l.ChannelID),
		"leadBccEmail": nil, "closedDate": nil, "lostToCompetition": nil,
		"createdDate": ivvyTime(l.Created), "modifiedDate": ivvyTime(l.Modified),
	}
	if ct := s.contacts[l.ContactID]; ct != nil {
		item["contact"] = map[string]any{"id": ct.ID, "firstName": ct.FirstName, "lastName": ct.LastName, "email": ct.Email, "phone": ct.Phone}
	}
	if co := s.companies[l.CompanyID]; co != nil {
		item["company"] = map[string]any{"id": co.ID, "businessName": co.BusinessName, "businessNumber": "", "phone": "", "email": ""}
	}
	if !s.cfg.omitLeadCustom {
		fids := make([]int64, 0, len(l.CustomFields))
		for fid := range l.CustomFields {
			fids = append(fids, fid)
		}
		sort.Slice(fids, func(i, j int) bool { return fids[i] < fids[j] })
		custom := make([]map[string]any, 0, len(fids))
		for _, fid := range fids {
			custom = append(custom, map[string]any{"fieldId": fid, "fieldValue": l.CustomFields[fid]})
		}
		item["customFields"] = custom
	}
	return item
}

// getLeadList lists leads by id. No lead filters are documented: by
// default (LeadFiltersRefused) any filter key is refused with 400/23016;
// with LeadFiltersHonoured filters apply to the item's top-level scalar
// keys plus contactId and companyId, with the generic modifiers; with
// LeadFiltersIgnored they are dropped.
func (s *Server) getLeadList(c *call) (any, *apiError) {
	pg, e := s.pageParams(c.params)
	if e != nil {
		return nil, e
	}
	var conds []condition
	switch s.cfg.leadFilters {
	case LeadFiltersRefused:
		if len(pg.filter) > 0 {
			keys := slices.Sorted(maps.Keys(pg.filter))
			return nil, invalid("filter", fmt.Sprintf("unknown filter %q", keys[0]))
		}
	case LeadFiltersHonoured:
		if conds, e = conditions(pg.filter, func(string) bool { return true }); e != nil {
			return nil, e
		}
	}
	if len(conds) == 0 {
		// Unfiltered: render the page only, so paging through a large
		// history stays linear.
		total := len(s.leadOrder)
		from := min(pg.start, total)
		ids := s.leadOrder[from:min(from+pg.perPage, total)]
		items := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			items = append(items, s.renderLead(s.leads[id]))
		}
		return pageOf(items, total, pg), nil
	}
	contactID, byContact := exactValue(conds, "contactId")
	leadID, byID := exactValue(conds, "id")
	exact := func(l *lead) bool {
		return (!byContact || itoa(l.ContactID) == contactID) && (!byID || itoa(l.ID) == leadID)
	}
	field := func(l *lead, key string) (v string, present, known bool) {
		switch key {
		case "id":
			return itoa(l.ID), true, true
		case "contactId":
			return itoa(l.ContactID), l.ContactID != 0, true
		case "companyId":
			return itoa(l.CompanyID), l.CompanyID != 0, true
		case "modifiedDate":
			// From the record, not its rendering: a date filter over
			// a large history must not render every lead.
			return normTime(ivvyTime(l.Modified)), true, true
		case "createdDate":
			return normTime(ivvyTime(l.Created)), true, true
		}
		return "", false, false
	}
	ids := s.leadCandidates(leadID, byID, contactID, byContact, conds)
	return matching(ids, s.leads, exact, s.renderLead, field, conds, pg), nil
}
