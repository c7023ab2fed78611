package leadexecsim

import (
	"net/http"
	"slices"
)

// SetLeadType adds a lead type or replaces one (by UID) with new fields, as
// an account administrator would in LeadExec; posts and GetLeadFields see
// the change at once. Stored leads are kept.
func (s *Server) SetLeadType(lt LeadType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.setLeadType(lt)
}

// LeadTypeByUID returns a copy of a lead type with its fields.
func (s *Server) LeadTypeByUID(uid int64) (LeadType, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lt, ok := s.cfg.leadTypes[uid]
	if !ok {
		return LeadType{}, false
	}
	out := *lt
	out.Fields = slices.Clone(lt.Fields)
	return out, true
}

// getLeadFields answers /service.asmx/GetLeadFields (LeadTypeUID) with
// <ArrayOfLeadFieldItemType> of <LeadFieldItemType>, every documented
// property: LeadFieldUID, LeadTypeUID, Descriptor (the field's name),
// FieldDataType, Required, the obsolete Status and FmtError, Computed,
// Enumerated, Validation, InvalidChars, FormatString, isState,
// FieldDescription, display sizes, SpecialBit (by name) and FieldEnums. An
// unknown lead type answers an empty array, as GetClientData does for an
// unknown client.
func (s *Server) getLeadFields(r *http.Request) simAnswer {
	return s.asmxArrayOf(r, "LeadTypeUID", "ArrayOfLeadFieldItemType", s.writeLeadFields)
}

// writeLeadFields writes GetLeadFields' items for lead type lid, none for
// an unknown lead type. Caller holds s.mu.
func (s *Server) writeLeadFields(d *xmlDoc, lid int64) {
	lt := s.cfg.leadTypes[lid]
	if lt == nil {
		return
	}
	for _, f := range lt.Fields {
		d.open("LeadFieldItemType")
		d.int("LeadFieldUID", f.UID)
		d.int("LeadTypeUID", lt.UID)
		d.el("Descriptor", f.Name)
		d.el("FieldDataType", f.dataType())
		d.bool("Required", f.Required)
		d.bool("Status", true)
		d.bool("Computed", false)
		d.el("ComputedExpr", "")
		d.bool("Enumerated", false)
		d.el("Validation", "")
		d.el("InvalidChars", "")
		d.el("FmtError", "")
		d.el("FormatString", "")
		d.bool("isState", false)
		d.el("FieldDescription", "")
		d.int("ColSpan", 1)
		d.int("Width", 200)
		d.int("Height", 20)
		sb := f.SpecialBit
		if sb == "" {
			sb = "No_SpecialBit"
		}
		d.el("SpecialBit", sb)
		d.strings("FieldEnums", nil)
		d.close("LeadFieldItemType")
	}
}
