package ivvysim

import (
	"net/mail"
	"strings"
)

// contactChange is a validated contact write, applied by apply.
type contactChange struct {
	target *contact // nil: create
	set    func(c *contact)
}

// prepareContact validates an addOrUpdateContact parameter set (also used
// for the inline contact of a lead, with path "contact."). Nothing is
// changed until apply. Contact-specific error codes are not documented; the
// generic 23016/23017 are used (assumed).
func (s *Server) prepareContact(p params, path string) (*contactChange, *apiError) {
	id, hasID, e := intParam(p, "id", path)
	if e != nil {
		return nil, e
	}
	vals := map[string]*string{}
	for _, k := range []string{"firstName", "lastName", "email", "phone", "externalId"} {
		v, e := strParam(p, k, path)
		if e != nil {
			return nil, e
		}
		vals[k] = v
	}
	if v := vals["email"]; v != nil && *v != "" {
		if a, err := mail.ParseAddress(*v); err != nil || a.Address != *v {
			return nil, invalid(path+"email", "must be a valid email address")
		}
	}
	custom, e := customFieldsParam(p, "value", path)
	if e != nil {
		return nil, e
	}
	for fid := range custom {
		if !s.hasFieldDef(fid) {
			return nil, invalid(path+"customFields", "unknown fieldId")
		}
	}
	var companies []int64
	if raw, ok := p["companies"]; ok && !isNull(raw) {
		var ids []Int
		if err := jsonUnmarshal(raw, &ids); err != nil {
			return nil, invalid(path+"companies", "must be an array of company ids")
		}
		for _, cid := range ids {
			if s.companies[int64(cid)] == nil {
				return nil, invalid(path+"companies", "unknown company id")
			}
			companies = append(companies, int64(cid))
		}
	}
	ch := &contactChange{}
	switch {
	case hasID:
		if ch.target = s.contacts[id]; ch.target == nil {
			return nil, invalid(path+"id", "the contact does not exist")
		}
	default:
		for _, k := range []string{"firstName", "lastName", "email"} {
			if v := vals[k]; v == nil || strings.TrimSpace(*v) == "" {
				return nil, missing(path + k)
			}
		}
		if boolParam(p, "updateIfExists") {
			ch.target = s.findContact(*vals["firstName"], *vals["lastName"], *vals["email"])
		}
	}
	ch.set = func(c *contact) {
		for k, v := range vals {
			if v == nil {
				continue
			}
			switch k {
			case "firstName":
				c.FirstName = *v
			case "lastName":
				c.LastName = *v
			case "email":
				c.Email = *v
			case "phone":
				c.Phone = *v
			case "externalId":
				c.ExternalID = *v
			}
		}
		for fid, v := range custom {
			c.CustomFields[fid] = v
		}
		for _, cid := range companies {
			c.link(cid)
		}
	}
	return ch, nil
}

func (c *contact) link(companyID int64) {
	for _, id := range c.Companies {
		if id == companyID {
			return
		}
	}
	c.Companies = append(c.Companies, companyID)
}

func (c *contact) belongsTo(companyID int64) bool {
	for _, id := range c.Companies {
		if id == companyID {
			return true
		}
	}
	return false
}

// apply performs the change; every write bumps modifiedDate (assumed: iVvy
// records a save even when no value changed).
func (s *Server) applyContact(ch *contactChange, cl *call) *contact {
	c := ch.target
	if c == nil {
		c = &contact{ID: s.newID("contact"), Created: cl.now, CustomFields: map[int64]string{}}
		s.contacts[c.ID] = c
		s.contactOrder = append(s.contactOrder, c.ID)
	}
	ch.set(c)
	s.noteContact(c)
	c.Modified = cl.now
	s.contactMod.set(c.ID, c.Modified)
	cl.written++
	return c
}

// findContact matches first name + last name + email, case-insensitively,
// lowest id first.
func (s *Server) findContact(first, last, email string) *contact {
	var best *contact
	ids := s.contactHints["email:"+strings.ToLower(email)]
	if email == "" {
		ids = s.contactOrder // no hint for an empty email
	}
	for _, id := range ids {
		c := s.contacts[id]
		if c != nil && strings.EqualFold(c.FirstName, first) && strings.EqualFold(c.LastName, last) && strings.EqualFold(c.Email, email) {
			if best == nil || c.ID < best.ID {
				best = c
			}
		}
	}
	return best
}

func (s *Server) hasFieldDef(id int64) bool {
	for _, f := range s.fieldDefs {
		if f.ID == id {
			return true
		}
	}
	return false
}

func (s *Server) addOrUpdateContact(c *call) (any, *apiError) {
	if len(c.params) == 0 {
		return nil, missing("firstName")
	}
	ch, e := s.prepareContact(c.params, "")
	if e != nil {
		return nil, e
	}
	ct := s.applyContact(ch, c)
	return map[string]any{"success": true, "id": ct.ID}, nil
}

// companyChange is a validated company write.
type companyChange struct {
	target *company
	set    func(*company)
}

func (s *Server) prepareCompany(p params, path string) (*companyChange, *apiError) {
	id, hasID, e := intParam(p, "id", path)
	if e != nil {
		return nil, e
	}
	name, e := strParam(p, "businessName", path)
	if e != nil {
		return nil, e
	}
	ext, e := strParam(p, "externalId", path)
	if e != nil {
		return nil, e
	}
	ch := &companyChange{}
	switch {
	case hasID:
		if ch.target = s.companies[id]; ch.target == nil {
			return nil, invalid(path+"id", "the company does not exist")
		}
	case name == nil || strings.TrimSpace(*name) == "":
		return nil, missing(path + "businessName")
	case boolParam(p, "updateIfExists"):
		for _, co := range s.companies {
			if strings.EqualFold(co.BusinessName, *name) && (ch.target == nil || co.ID < ch.target.ID) {
				ch.target = co
			}
		}
	}
	ch.set = func(co *company) {
		if name != nil {
			co.BusinessName = *name
		}
		if ext != nil {
			co.ExternalID = *ext
		}
	}
	return ch, nil
}

func (s *Server) applyCompany(ch *companyChange, cl *call) *company {
	co := ch.target
	created := co == nil
	if created {
		co = &company{ID: s.newID("company"), Created: cl.now}
		s.companies[co.ID] = co
	}
	ch.set(co)
	co.Modified = cl.now
	cl.written++
	return co
}

// addOrUpdateCompany answers {"success":true,"id":N} on create and only
// {"id":N} on update, as in the vendor's examples.
func (s *Server) addOrUpdateCompany(c *call) (any, *apiError) {
	ch, e := s.prepareCompany(c.params, "")
	if e != nil {
		return nil, e
	}
	created := ch.target == nil
	co := s.applyCompany(ch, c)
	if created {
		return map[string]any{"success": true, "id": co.ID}, nil
	}
	return map[string]any{"id": co.ID}, nil
}

func (s *Server) renderContact(c *contact) map[string]any {
	custom := make([]map[string]any, 0, len(c.CustomFields))
	for _, f := range s.fieldDefs {
		if v, ok := c.CustomFields[f.ID]; ok {
			custom = append(custom, map[string]any{"fieldId": f.ID, "displayName": f.DisplayName, "value": v})
		}
	}
	companies := make([]map[string]any, 0, len(c.Companies))
	for _, id := range c.Companies {
		if co := s.companies[id]; co != nil {
			companies = append(companies, map[string]any{"id": co.ID, "businessName": co.BusinessName})
		}
	}
	return map[string]any{
		"id": c.ID, "firstName": c.FirstName, "lastName": c.LastName, "email": c.Email, "phone": c.Phone,
		"externalId": c.ExternalID, "customFields": custom, "groups": []any{}, "companies": c.Companies,
		"companiesData": companies, "modifiedDate": ivvyTime(c.Modified), "isAnonymised": false,
	}
}

// getContactList filters on fromModifiedDate (≥), toModifiedDate (≤),
// externalId and companyId, plus modifiers on the item's scalar keys.
func (s *Server) getContactList(c *call) (any, *apiError) {
	pg, e := s.pageParams(c.params)
	if e != nil {
		return nil, e
	}
	var special []condition
	for _, k := range []struct{ key, mod string }{{"fromModifiedDate", "GREATERTHAN"}, {"toModifiedDate", "LESSTHAN"}} {
		if v, e := strParam(pg.filter, k.key, "filter."); e != nil {
			return nil, e
		} else if v != nil && *v != "" {
			if _, err := parseIVvyTime(*v); err != nil {
				return nil, invalid("filter."+k.key, "must be a timestamp yyyy-mm-dd HH:mm:ss")
			}
			special = append(special, condition{key: "modifiedDate", mod: k.mod, value: normTime(*v)})
		}
	}
	conds, e := conditions(pg.filter, func(k string) bool {
		return k != "fromModifiedDate" && k != "toModifiedDate"
	})
	if e != nil {
		return nil, e
	}
	conds = append(conds, special...)
	extID, byExt := exactValue(conds, "externalId")
	email, byEmail := exactValue(conds, "email")
	contactID, byID := exactValue(conds, "id")
	exact := func(ct *contact) bool {
		return (!byExt || strings.EqualFold(ct.ExternalID, extID)) && (!byEmail || strings.EqualFold(ct.Email, email)) &&
			(!byID || itoa(ct.ID) == contactID)
	}
	field := func(ct *contact, key string) (v string, present, known bool) {
		switch key {
		case "id":
			return itoa(ct.ID), true, true
		case "externalId":
			return ct.ExternalID, true, true
		case "email":
			return ct.Email, true, true
		case "companyId":
			for _, cid := range ct.Companies {
				for _, cond := range conds {
					if cond.key == "companyId" && compare(itoa(cid), cond.value) == 0 {
						return itoa(cid), true, true
					}
				}
			}
			return "", len(ct.Companies) > 0, true
		case "modifiedDate":
			// From the record, as rendered: a date filter over a large
			// history must not render every contact.
			return normTime(ivvyTime(ct.Modified)), true, true
		}
		return "", false, false
	}
	ids := s.contactCandidates(contactID, byID, extID, byExt, email, byEmail, conds)
	return matching(ids, s.contacts, exact, s.renderContact, field, conds, pg), nil
}

func (s *Server) getCustomFieldDefinition(c *call) (any, *apiError) {
	out := make([]map[string]any, 0, len(s.fieldDefs))
	for i, f := range s.fieldDefs {
		out = append(out, map[string]any{"fieldId": f.ID, "fieldType": f.Type, "displayName": f.DisplayName,
			"isRequired": false, "isActive": true, "sortOrder": i, "selectValues": map[string]any{}, "fileTypes": nil})
	}
	return out, nil
}
