package sharpspringsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxFieldsPage caps getFields' limit silently, like getLeads.
const maxFieldsPage = 500

// field is one field definition, standard or custom.
type field struct {
	id           int64
	relationship string
	systemName   string
	label        string
	source       string
	dataType     string
	dataLength   string
	isRequired   string
	custom       bool
	inCM         string // isAvailableInContactManager
	editableCM   string // isEditableInContactManager
	inForms      string // isAvailableInForms
	isActive     string
	options      []FieldOption // picklist, radio and checkbox custom fields
}

// knownDataTypes are the dataType values createFields accepts. Custom lead
// field values are checked against their type (fieldtypes.go).
var knownDataTypes = []string{
	"string", "text", "textarea", "hidden", "picklist", "country", "state", "boolean",
	"checkbox", "radio", "phone", "date", "datetime", "url", "bit", "int", "upload", "attachment",
}

func (s *Server) registerFieldMethods() {
	s.methods["getFields"] = methodSpec{read: (*Server).getFields}
	s.methods["createFields"] = methodSpec{write: (*Server).createFields}
	s.methods["deleteFields"] = methodSpec{write: (*Server).deleteFields}
}

// seedStandardFields registers the standard fields getFields lists.
// Standard fields report source "system" (assumption; unobserved).
func (s *Server) seedStandardFields() {
	add := func(rel string, f stdField) {
		if !f.inFields {
			return
		}
		length := ""
		if f.length > 0 {
			length = strconv.Itoa(f.length)
		}
		s.fields = append(s.fields, &field{
			id: s.nextFieldID, relationship: rel, systemName: f.name, label: f.label,
			source: "system", dataType: f.dataType, dataLength: length,
			isRequired: boolString(rel == "lead" && f.name == "emailAddress" || rel == "account" && f.name == "accountName"),
			inCM:       "1", editableCM: boolString(f.kind != kindReadOnly), inForms: "1", isActive: "1",
		})
		s.nextFieldID++
	}
	for _, f := range leadFields {
		add("lead", f)
	}
	for _, rel := range relationships[1:] {
		for _, f := range otherStdFields[rel] {
			add(rel, f)
		}
	}
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// customField returns the custom field of relationship rel with that
// systemName, or nil. Caller holds s.mu.
func (s *Server) customField(rel, systemName string) *field {
	for _, f := range s.fields {
		if f.custom && f.relationship == rel && f.systemName == systemName {
			return f
		}
	}
	return nil
}

// fieldJSON serializes f with every value as a string, in the order of the
// vendor's getFields sample.
func fieldJSON(f *field) []byte {
	var o object
	o.add("id", quote(strconv.FormatInt(f.id, 10)))
	o.add("relationship", quote(f.relationship))
	o.add("systemName", quote(f.systemName))
	o.add("label", quote(f.label))
	o.add("source", quote(f.source))
	o.add("dataType", quote(f.dataType))
	o.add("dataLength", quote(f.dataLength))
	o.add("isRequired", quote(f.isRequired))
	o.add("isCustom", quote(boolString(f.custom)))
	o.add("isAvailableInContactManager", quote(f.inCM))
	o.add("isEditableInContactManager", quote(f.editableCM))
	o.add("isAvailableInForms", quote(f.inForms))
	o.add("isActive", quote(f.isActive))
	if f.custom && choiceTypes[f.dataType] {
		o.add("options", optionsJSON(f.options))
	}
	return o.bytes()
}

// fieldWhereKeys are the where keys getFields filters on, by their value.
var fieldWhereKeys = map[string]func(*field) string{
	"id":           func(f *field) string { return strconv.FormatInt(f.id, 10) },
	"label":        func(f *field) string { return f.label },
	"systemName":   func(f *field) string { return f.systemName },
	"isCustom":     func(f *field) string { return boolString(f.custom) },
	"relationship": func(f *field) string { return f.relationship },
}

// getFields lists standard and custom fields of every relationship under
// "field". where is required ({} or []); its keys are id, label,
// systemName, isCustom and relationship (scalars, all must match); other
// keys give 205. limit is capped at 500; offset applies.
func (s *Server) getFields(c *call) outcome {
	raw, ok := c.params["where"]
	if !ok || isNull(raw) {
		return failOutcome(paramError(paramInfo{"where", msgRequired, &validFormat{Type: "hash", Required: true}}))
	}
	filters := map[string]string{}
	if !isEmptyArray(raw) {
		obj, ok := decodeObject(raw)
		if !ok {
			return failOutcome(paramError(paramInfo{"where", msgBadFormat, &validFormat{Type: "hash", Required: true}}))
		}
		for _, key := range sortedKeys(obj) {
			if fieldWhereKeys[key] == nil {
				c.note(fmt.Sprintf("where: unknown key %q", key))
				return failOutcome(paramError(paramInfo{key, "Unknown where key", nil}))
			}
			v, ok := scalarString(obj[key])
			if !ok {
				return failOutcome(paramError(paramInfo{key, msgString, &validFormat{Type: "string"}}))
			}
			if key == "id" {
				if n, ok := looseInt(obj[key]); ok {
					v = strconv.FormatInt(n, 10)
				}
			}
			filters[key] = v
		}
	}
	limit, offset, e := parsePaging(c.params, maxFieldsPage, maxFieldsPage)
	if e != nil {
		return failOutcome(e)
	}
	var match []*field
	for _, f := range s.fields {
		ok := true
		for key, want := range filters {
			if fieldWhereKeys[key](f) != want {
				ok = false
				break
			}
		}
		if ok {
			match = append(match, f)
		}
	}
	var items [][]byte
	for i := offset; i < len(match) && len(items) < limit; i++ {
		items = append(items, fieldJSON(match[i]))
	}
	return readOutcome("field", items)
}

// fieldKeys are the keys a createFields object may carry. Server-assigned
// id, systemName and isCustom are accepted and ignored, as are Freeform's
// optional readOnlyValue, hidden and calculated. options lists the allowed
// values of a picklist, radio or checkbox field (see FieldOption).
var fieldKeys = map[string]bool{
	"relationship": true, "label": true, "dataType": true, "source": true, "dataLength": true,
	"isRequired": true, "isAvailableInContactManager": true, "isEditableInContactManager": true,
	"isAvailableInForms": true, "isActive": true,
	"id": true, "systemName": true, "isCustom": true, "readOnlyValue": true, "hidden": true, "calculated": true,
	"options": true,
}

var fieldFlagKeys = []string{"isRequired", "isAvailableInContactManager", "isEditableInContactManager", "isAvailableInForms", "isActive"}

// createFields needs relationship (lead, account, opportunity), label and a
// known dataType; a missing or bad one gives object error 205. source, when
// sent, must be "sharpspring" (the sample says it MUST be; rejecting other
// values is the defensive choice). The systemName is generated.
func (s *Server) createFields(c *call, objects []json.RawMessage) outcome {
	return s.writeEach("creates", objects, func(i int, obj map[string]any) objResult {
		f, bad := s.fieldFromObject(obj)
		if len(bad) > 0 {
			for _, b := range bad {
				c.note(fmt.Sprintf("objects[%d].%s: %s", i, b.Param, b.Message))
			}
			return failed(paramError(bad...))
		}
		s.addCustomField(f, c.now)
		return objResult{ok: true, id: f.id, hasID: true}
	})
}

func (s *Server) fieldFromObject(obj map[string]any) (*field, []paramInfo) {
	var bad []paramInfo
	f := &field{source: "sharpspring", dataLength: "", isRequired: "0", inCM: "1", editableCM: "1", inForms: "0", isActive: "1"}
	str := func(key string, required bool, valid func(string) bool) string {
		v, present := obj[key]
		if !present {
			if required {
				bad = append(bad, paramInfo{key, msgRequired, &validFormat{Type: "string", Required: true}})
			}
			return ""
		}
		sv, ok := v.(string)
		if !ok || sv == "" || (valid != nil && !valid(sv)) {
			bad = append(bad, paramInfo{key, msgBadFormat, &validFormat{Type: "string", Required: required}})
			return ""
		}
		return sv
	}
	f.relationship = str("relationship", true, func(v string) bool { return slices.Contains(relationships, v) })
	f.label = str("label", true, nil)
	f.dataType = str("dataType", true, func(v string) bool { return slices.Contains(knownDataTypes, v) })
	if _, ok := obj["source"]; ok {
		f.source = str("source", false, func(v string) bool { return v == "sharpspring" })
	}
	if v, ok := obj["dataLength"]; ok && v != nil {
		n, ok := looseInt(v)
		if !ok || n < 0 {
			bad = append(bad, paramInfo{"dataLength", msgInteger, &validFormat{Type: "int", Length: 11}})
		}
		f.dataLength = strconv.FormatInt(n, 10)
	} else {
		f.dataLength = defaultDataLength(f.dataType)
	}
	if v, ok := obj["options"]; ok && v != nil {
		opts, err := parseOptions(v)
		switch {
		case err != nil:
			bad = append(bad, paramInfo{"options", "Invalid format: " + err.Error(), &validFormat{Type: "list"}})
		case !choiceTypes[f.dataType]:
			bad = append(bad, paramInfo{"options", "Only picklist, radio and checkbox fields have options", &validFormat{Type: "list"}})
		}
		f.options = opts
	}
	flags := map[string]*string{
		"isRequired": &f.isRequired, "isAvailableInContactManager": &f.inCM,
		"isEditableInContactManager": &f.editableCM, "isAvailableInForms": &f.inForms, "isActive": &f.isActive,
	}
	for _, key := range fieldFlagKeys {
		v, ok := obj[key]
		if !ok {
			continue
		}
		p, problem := normalize(kindFlag, 1, v, true)
		if problem != "" || p == nil {
			bad = append(bad, paramInfo{key, msgFlag, &validFormat{Type: "bit", Length: 1}})
			continue
		}
		*flags[key] = *p
	}
	if !s.cfg.ignoreUnknown {
		for _, key := range sortedKeys(obj) {
			if !fieldKeys[key] {
				bad = append(bad, paramInfo{key, "Unknown parameter", nil})
			}
		}
	}
	return f, bad
}

// defaultDataLength is the dataLength of a field created without one
// (assumed values; the sample shows 10000 for a textarea).
func defaultDataLength(dataType string) string {
	switch dataType {
	case "textarea":
		return "10000"
	case "bit", "boolean", "checkbox":
		return "1"
	case "int":
		return "11"
	case "date", "datetime":
		return "0"
	}
	return "255"
}

// addCustomField assigns f an id and systemName and stores it. A new
// custom lead field reads as "" on every existing lead. Caller holds s.mu.
func (s *Server) addCustomField(f *field, now time.Time) {
	f.custom = true
	f.id = s.nextFieldID
	s.nextFieldID++
	f.systemName = s.systemName(f.label, now)
	s.fields = append(s.fields, f)
}

// systemName is slug(label) + "_" + a PHP uniqid()-like 13-hex suffix (8
// hex digits of Unix seconds, 5 of microseconds). The slug turns every
// character other than [A-Za-z0-9] into "_" and keeps the label's case
// unless LowercaseSystemNames. Suffixes strictly increase, so names stay
// unique under a frozen test clock. Caller holds s.mu.
func (s *Server) systemName(label string, now time.Time) string {
	var b strings.Builder
	for _, r := range label {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	slug := b.String()
	if s.cfg.lowercaseSysNames {
		slug = strings.ToLower(slug)
	}
	us := now.UnixMicro()
	if us <= s.lastUniqid {
		us = s.lastUniqid + 1
	}
	s.lastUniqid = us
	return fmt.Sprintf("%s_%08x%05x", slug, us/1e6, us%1e6)
}

// deleteFields deletes custom fields by systemName. A standard field gives
// 211; an unknown systemName gives 404 (assumption, mirroring deleteLeads).
// Deleting a custom lead field drops its values from every lead.
func (s *Server) deleteFields(c *call, objects []json.RawMessage) outcome {
	return s.writeEach("deletes", objects, func(i int, obj map[string]any) objResult {
		name, ok := obj["systemName"].(string)
		if !ok || name == "" {
			return failed(paramError(paramInfo{"systemName", msgRequired, &validFormat{Type: "string", Required: true}}))
		}
		if !s.cfg.ignoreUnknown && len(obj) > 1 {
			c.note(fmt.Sprintf("objects[%d]: only systemName is supported", i))
			return failed(paramError(paramInfo{"systemName", msgRequired, &validFormat{Type: "string", Required: true}}))
		}
		idx := slices.IndexFunc(s.fields, func(f *field) bool { return f.systemName == name })
		switch {
		case idx < 0:
			return failed(newError(CodeRecordNotFound))
		case !s.fields[idx].custom:
			return failed(newError(CodeOnlyCustomDelete))
		}
		f := s.fields[idx]
		s.fields = slices.Delete(s.fields, idx, idx+1)
		if f.relationship == "lead" {
			for _, l := range s.leads {
				delete(l.vals, name)
			}
		}
		return objResult{ok: true}
	})
}
