package ivvysim

import (
	"slices"
	"strconv"
	"strings"
)

// noteContact records a contact's externalId and email in the hints.
// Caller holds s.mu.
func (s *Server) noteContact(c *contact) {
	for _, k := range []string{"ext:" + strings.ToLower(c.ExternalID), "email:" + strings.ToLower(c.Email)} {
		if strings.HasSuffix(k, ":") || slices.Contains(s.contactHints[k], c.ID) {
			continue
		}
		s.contactHints[k] = append(s.contactHints[k], c.ID)
	}
}

// noteLead records a lead's contact in the hints. Caller holds s.mu.
func (s *Server) noteLead(l *lead) {
	if l.ContactID != 0 && !slices.Contains(s.leadsByContact[l.ContactID], l.ID) {
		s.leadsByContact[l.ContactID] = append(s.leadsByContact[l.ContactID], l.ID)
	}
}

// candidates returns ids to check, ascending: the hinted ones, or all.
func candidates(all, hinted []int64, useHint bool) []int64 {
	if !useHint {
		return all
	}
	out := slices.Clone(hinted)
	slices.Sort(out)
	return slices.Compact(out)
}

// contactCandidates are the contacts a list filtered by id, externalId,
// email or a modified date can return. Caller holds s.mu.
func (s *Server) contactCandidates(id string, byID bool, ext string, byExt bool, email string, byEmail bool, conds []condition) []int64 {
	switch {
	case byID:
		return idCandidate(id)
	case byExt:
		return candidates(nil, s.contactHints["ext:"+strings.ToLower(ext)], true)
	case byEmail:
		return candidates(nil, s.contactHints["email:"+strings.ToLower(email)], true)
	}
	if from, ok := modifiedFrom(conds); ok {
		return s.contactMod.since(from)
	}
	return s.contactOrder
}

// idCandidate is the record a list filtered by id can return: none when
// id is not a number.
func idCandidate(id string) []int64 {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	return []int64{n}
}

// leadCandidates are the leads a list filtered by id, contactId or a
// modified date can return. Caller holds s.mu.
func (s *Server) leadCandidates(id string, byID bool, contactID string, byContact bool, conds []condition) []int64 {
	switch {
	case byID:
		return idCandidate(id)
	case byContact:
		n, err := strconv.ParseInt(contactID, 10, 64)
		if err != nil {
			return nil
		}
		return candidates(nil, s.leadsByContact[n], true)
	}
	if from, ok := modifiedFrom(conds); ok {
		return s.leadMod.since(from)
	}
	return s.leadOrder
}
