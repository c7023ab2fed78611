package sharpspringsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Page sizes (spec §5.1): getLeads caps limit silently at 500;
// getLeadsDateRange defaults to 500 and refuses more (209) unless
// Options.DateRangeMaxLimit says otherwise.
const (
	maxLeadsPage         = 500
	defaultDateRange     = 500
	maxObjectsPerRequest = 500
)

// lead is one stored lead. Values are kept in their stored (normalized,
// possibly HTML-encoded) string form; nil is null. Custom fields missing
// from vals read as "".
type lead struct {
	id      int64
	vals    map[string]*string // writable standard fields and custom fields by systemName
	created time.Time          // UTC
	updated time.Time          // UTC
}

// active reports active == "1". A lead whose active was set to null counts
// as inactive (assumption: what the API does with null is unknown).
func (l *lead) active() bool {
	v := l.vals["active"]
	return v != nil && *v == "1"
}

func (l *lead) emailKey() string {
	if v := l.vals["emailAddress"]; v != nil {
		return strings.ToLower(*v)
	}
	return ""
}

func strptr(s string) *string { return &s }

// newLeadValues are the values of a freshly created lead: standard strings
// null, active 1, leadStatus unqualified, scores 0 (assumed), the other
// nullable fields null.
func newLeadValues() map[string]*string {
	return map[string]*string{
		"active":            strptr("1"),
		"leadStatus":        strptr(statusUnqualified),
		"leadScore":         strptr("0"),
		"leadScoreWeighted": strptr("0"),
	}
}

func (s *Server) registerLeadMethods() {
	s.methods["createLeads"] = methodSpec{write: (*Server).createLeads}
	s.methods["updateLeads"] = methodSpec{write: func(s *Server, c *call, o []json.RawMessage) outcome { return s.updateLeads(c, o, false) }}
	s.methods["updateLeadsV2"] = methodSpec{write: func(s *Server, c *call, o []json.RawMessage) outcome { return s.updateLeads(c, o, true) }}
	s.methods["deleteLeads"] = methodSpec{write: (*Server).deleteLeads}
	s.methods["getLead"] = methodSpec{read: (*Server).getLead}
	s.methods["getLeads"] = methodSpec{read: (*Server).getLeads}
	s.methods["getLeadsDateRange"] = methodSpec{read: (*Server).getLeadsDateRange}
}

// insertLead stores l under a fresh id. Caller holds s.mu.
func (s *Server) insertLead(l *lead) {
	l.id = s.nextID
	s.nextID++
	s.leads[l.id] = l
	if k := l.emailKey(); k != "" {
		s.emails[k] = l.id
	}
	s.byCreate.Set(l.id, l.created)
	s.byUpdate.Set(l.id, l.updated)
}

// touchLead sets l's updateTimestamp. Caller holds s.mu.
func (s *Server) touchLead(l *lead, at time.Time) {
	l.updated = at.UTC()
	s.byUpdate.Set(l.id, l.updated)
}

// leadValue is the stored value of key on l, with unset custom fields as "".
func (s *Server) leadValue(l *lead, key string) *string {
	if v, ok := l.vals[key]; ok || leadFieldByName[key] != nil {
		return v
	}
	return strptr("")
}

// leadValues validates the writable keys of one lead object and returns
// their normalized values. "id" is left to the caller. Unknown and
// read-only keys give 205 unless IgnoreUnknownFields; for unknown keys
// data.params lists the valid standard parameters (as observed), for bad
// values it describes each offending parameter. Caller holds s.mu.
func (s *Server) leadValues(c *call, index int, obj map[string]any, create bool) (map[string]*string, *apiError) {
	vals := make(map[string]*string, len(obj))
	var unknown []string
	var bad []paramInfo
	for _, key := range sortedKeys(obj) {
		v := obj[key]
		if key == "id" {
			continue
		}
		f := leadFieldByName[key]
		var cf *field
		if f == nil {
			cf = s.customField("lead", key)
		}
		switch {
		case f != nil && f.inLead && f.kind == kindStatus:
			st, ok := v.(string)
			switch {
			case v == nil:
				bad = append(bad, paramInfo{key, msgNotNull, f.format(false)})
			case !ok:
				bad = append(bad, paramInfo{key, msgStatus, f.format(false)})
			case st == "" && create:
				// Empty on create means the default, unqualified.
			case st == statusContactWithOpp:
				// System-managed; the API ignores it silently.
			case writableStatuses[st]:
				vals[key] = strptr(st)
			default:
				bad = append(bad, paramInfo{key, msgStatus, f.format(false)})
			}
		case f != nil && f.inLead && f.kind != kindReadOnly:
			p, problem := normalize(f.kind, f.length, v, s.cfg.rawLessThan)
			if problem == "" && key == "emailAddress" && !create && *p == "" {
				problem = msgNotEmpty // emailAddress is required; it cannot be cleared
			}
			if problem != "" {
				bad = append(bad, paramInfo{key, problem, f.format(key == "emailAddress")})
				continue
			}
			vals[key] = p
		case cf != nil:
			p, problem := s.customValue(cf, v)
			if problem != nil {
				bad = append(bad, *problem)
				continue
			}
			vals[key] = p
		case s.cfg.ignoreUnknown:
		case readOnlyLeadKeys[key]:
			bad = append(bad, paramInfo{key, msgReadOnly, nil})
		default:
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		c.note(fmt.Sprintf("objects[%d]: unknown keys %q", index, unknown))
		return nil, paramError(validLeadParams()...)
	}
	if len(bad) > 0 {
		for _, b := range bad {
			c.note(fmt.Sprintf("objects[%d].%s: %s", index, b.Param, b.Message))
		}
		return nil, paramError(bad...)
	}
	return vals, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// createLeads: emailAddress is required (MissingEmailCode), an existing
// email in any case and on any lead, inactive included, gives 301, and a
// sent id is ignored.
func (s *Server) createLeads(c *call, objects []json.RawMessage) outcome {
	return s.writeEach("creates", objects, func(i int, obj map[string]any) objResult {
		vals, e := s.leadValues(c, i, obj, true)
		if e != nil {
			return failed(e)
		}
		email := vals["emailAddress"]
		if email == nil || *email == "" {
			code := s.cfg.missingEmailCode
			e := newError(code)
			if code == CodeInvalidParams || code == CodeMissingParameters {
				e.Data = paramsData{Params: []paramInfo{{"emailAddress", msgRequired, leadFieldByName["emailAddress"].format(true)}}}
			}
			c.note(fmt.Sprintf("objects[%d]: emailAddress missing", i))
			return failed(e)
		}
		if _, taken := s.emails[strings.ToLower(*email)]; taken {
			return failed(newError(CodeEntryExists))
		}
		l := &lead{vals: newLeadValues(), created: c.now.UTC(), updated: c.now.UTC()}
		for k, v := range vals {
			l.vals[k] = v
		}
		s.insertLead(l)
		return objResult{ok: true, id: l.id, hasID: true}
	})
}

// updateLeads implements the matching matrix of spec §7.6:
//   - id given: that lead; a new emailAddress changes the email, unless it
//     belongs to another lead: then only updateTimestamp changes and the
//     object still reports success;
//   - no id: the lead with that emailAddress (case-insensitive);
//   - unknown id, unknown email, or neither: silent success (v2: 404);
//   - nothing changed: 302 "No table rows affected".
func (s *Server) updateLeads(c *call, objects []json.RawMessage, v2 bool) outcome {
	return s.writeEach("updates", objects, func(i int, obj map[string]any) objResult {
		vals, e := s.leadValues(c, i, obj, false)
		if e != nil {
			return failed(e)
		}
		target, e := s.matchLead(obj, vals)
		if e != nil {
			c.note(fmt.Sprintf("objects[%d].id: %s", i, msgInteger))
			return failed(e)
		}
		if target == nil {
			if v2 {
				// Also for neither id nor email (assumption: undocumented).
				return failed(newError(CodeRecordNotFound))
			}
			c.note(fmt.Sprintf("objects[%d]: no matching lead; silent success", i))
			return objResult{ok: true, silent: true}
		}
		if email := vals["emailAddress"]; email != nil {
			if owner, taken := s.emails[strings.ToLower(*email)]; taken && owner != target.id {
				c.note(fmt.Sprintf("objects[%d]: email belongs to lead %d; only updateTimestamp touched", i, owner))
				s.touchLead(target, c.now)
				return objResult{ok: true}
			}
		}
		if !s.applyLead(target, vals) {
			return failed(newError(CodeNoRowsAffected))
		}
		s.touchLead(target, c.now)
		return objResult{ok: true}
	})
}

// matchLead finds the lead an update object addresses; nil when none. A
// null or non-numeric id gives 205 rather than falling back to the email
// (assumption: defensive).
func (s *Server) matchLead(obj map[string]any, vals map[string]*string) (*lead, *apiError) {
	if raw, ok := obj["id"]; ok {
		id, ok := looseInt(raw)
		if !ok {
			return nil, paramError(paramInfo{"id", msgInteger, &validFormat{Type: "int", Length: 20}})
		}
		return s.leads[id], nil
	}
	if email := vals["emailAddress"]; email != nil {
		if id, ok := s.emails[strings.ToLower(*email)]; ok {
			return s.leads[id], nil
		}
	}
	return nil, nil
}

// applyLead writes vals into l and reports whether anything changed.
// Values are compared in stored form, so re-sending a value that was
// normalized on the way in ("<" → "&lt;", "007" → "7") is no change.
func (s *Server) applyLead(l *lead, vals map[string]*string) bool {
	changed := false
	for _, key := range sortedKeys(vals) {
		v := vals[key]
		if key == "leadStatus" {
			if cur := l.vals[key]; cur != nil && *cur == statusContactWithOpp {
				continue // contactWithOpp cannot be changed through the API
			}
		}
		if equalValue(s.leadValue(l, key), v) {
			continue
		}
		if key == "emailAddress" {
			if old := l.emailKey(); old != "" && s.emails[old] == l.id {
				delete(s.emails, old)
			}
			if v != nil && *v != "" {
				s.emails[strings.ToLower(*v)] = l.id
			}
		}
		l.vals[key] = v
		changed = true
	}
	return changed
}

func equalValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// deleteLeads deletes by id only, hard, without a tombstone. An unknown id
// gives 404 (assumed; unverified).
func (s *Server) deleteLeads(c *call, objects []json.RawMessage) outcome {
	return s.writeEach("deletes", objects, func(i int, obj map[string]any) objResult {
		if !s.cfg.ignoreUnknown {
			var extra []string
			for _, k := range sortedKeys(obj) {
				if k != "id" {
					extra = append(extra, k)
				}
			}
			if len(extra) > 0 {
				c.note(fmt.Sprintf("objects[%d]: only id is supported, got %q", i, extra))
				return failed(paramError(paramInfo{"id", msgRequired, &validFormat{Type: "int", Length: 20, Required: true}}))
			}
		}
		raw, has := obj["id"]
		id, ok := looseInt(raw)
		if !has || !ok {
			return failed(paramError(paramInfo{"id", msgInteger, &validFormat{Type: "int", Length: 20, Required: true}}))
		}
		l := s.leads[id]
		if l == nil {
			return failed(newError(CodeRecordNotFound))
		}
		if k := l.emailKey(); k != "" && s.emails[k] == id {
			delete(s.emails, k)
		}
		delete(s.leads, id)
		s.byCreate.Remove(id)
		s.byUpdate.Remove(id)
		return objResult{ok: true}
	})
}

// leadView selects and formats the keys of serialized leads.
type leadView struct {
	zone *time.Location
	only map[string]bool // nil: every key
	omit map[string]bool // left out unless named in only
}

func (v leadView) want(key string) bool {
	if v.only != nil {
		return v.only[key]
	}
	return !v.omit[key]
}

// leadJSON serializes l with every scalar as a JSON string: standard fields
// in the §6.1 order (unset → null), then every custom lead field (unset →
// ""). Caller holds s.mu.
func (s *Server) leadJSON(l *lead, v leadView) []byte {
	var o object
	for _, f := range leadFields {
		if !f.inLead || !v.want(f.name) {
			continue
		}
		switch f.name {
		case "id":
			o.add(f.name, quote(strconv.FormatInt(l.id, 10)))
		case "updateTimestamp":
			o.add(f.name, quote(l.updated.In(v.zone).Format(timeLayout)))
		default:
			o.add(f.name, jsonStringOrNull(l.vals[f.name]))
		}
	}
	for _, cf := range s.fields {
		if cf.custom && cf.relationship == "lead" && v.want(cf.systemName) {
			o.add(cf.systemName, jsonStringOrNull(s.leadValue(l, cf.systemName)))
		}
	}
	return o.bytes()
}

func jsonStringOrNull(p *string) []byte {
	if p == nil {
		return []byte("null")
	}
	return quote(*p)
}

// phantomLead is the 2017 bug object: leadStatus "open", empty custom
// fields and no id.
func (s *Server) phantomLead() []byte {
	var o object
	o.add("leadStatus", quote("open"))
	for _, cf := range s.fields {
		if cf.custom && cf.relationship == "lead" {
			o.add(cf.systemName, quote(""))
		}
	}
	return o.bytes()
}

// getLead returns {"lead":[obj]} (inactive leads included) or {"lead":[]}.
func (s *Server) getLead(c *call) outcome {
	raw, ok := c.params["id"]
	if !ok || isNull(raw) {
		return failOutcome(paramError(paramInfo{"id", msgRequired, &validFormat{Type: "int", Length: 20, Required: true}}))
	}
	id, ok := looseIntParam(raw)
	if !ok {
		return failOutcome(paramError(paramInfo{"id", msgInteger, &validFormat{Type: "int", Length: 20, Required: true}}))
	}
	l := s.leads[id]
	if l == nil {
		if s.cfg.phantomGetLead {
			return readOutcome("lead", [][]byte{s.phantomLead()})
		}
		return readOutcome("lead", nil)
	}
	return readOutcome("lead", [][]byte{s.leadJSON(l, leadView{zone: c.zone})})
}

// leadWhere is a parsed getLeads where clause.
type leadWhere struct {
	idList    []int64  // non-nil when sent as a list
	emailList []string // non-nil when sent as a list; lower case
	id        *int64
	email     *string // lower case
}

func (w leadWhere) empty() bool {
	return w.idList == nil && w.emailList == nil && w.id == nil && w.email == nil
}

// parseLeadWhere reads where: {} or [] (required), keys id and
// emailAddress, each a scalar or a list. Other keys give 205: nothing shows
// the API honours them, and silently ignoring a filter would return every
// lead (defensive choice).
func parseLeadWhere(params map[string]json.RawMessage) (leadWhere, *apiError) {
	var w leadWhere
	badWhere := paramError(paramInfo{"where", msgBadFormat, &validFormat{Type: "hash", Required: true}})
	raw, ok := params["where"]
	if !ok || isNull(raw) {
		return w, paramError(paramInfo{"where", msgRequired, &validFormat{Type: "hash", Required: true}})
	}
	if isEmptyArray(raw) {
		return w, nil
	}
	obj, ok := decodeObject(raw)
	if !ok {
		return w, badWhere
	}
	for _, key := range sortedKeys(obj) {
		var e *apiError
		switch v := obj[key]; key {
		case "id":
			w.id, w.idList, e = whereValue(v, looseInt,
				paramError(paramInfo{"id", msgInteger, &validFormat{Type: "int", Length: 20}}))
		case "emailAddress":
			w.email, w.emailList, e = whereValue(v, lowerString,
				paramError(paramInfo{"emailAddress", msgString, &validFormat{Type: "string", Length: 150}}))
		default:
			e = paramError(paramInfo{"id", "Valid where key", &validFormat{Type: "int", Length: 20}},
				paramInfo{"emailAddress", "Valid where key", &validFormat{Type: "string", Length: 150}})
		}
		if e != nil {
			return w, e
		}
	}
	return w, nil
}

// whereValue reads the value of one where key, a scalar or a list of
// them, each converted by read; bad is the answer when read refuses one.
// It returns the scalar, or the list (non-nil, even when empty).
func whereValue[T any](v any, read func(any) (T, bool), bad *apiError) (*T, []T, *apiError) {
	items, isList := v.([]any)
	if !isList {
		x, ok := read(v)
		if !ok {
			return nil, nil, bad
		}
		return &x, nil, nil
	}
	list := make([]T, 0, len(items))
	for _, item := range items {
		x, ok := read(item)
		if !ok {
			return nil, nil, bad
		}
		list = append(list, x)
	}
	return nil, list, nil
}

// lowerString reads a scalar as a string in lower case, as emails are
// compared.
func lowerString(v any) (string, bool) {
	s, ok := scalarString(v)
	return strings.ToLower(s), ok
}

// match applies the vendor rule "if a list is used then non-list parameters
// are ignored, list<id> being selected first". An empty list matches
// nothing. Two scalars must both match (assumption: undocumented).
func (w leadWhere) match(l *lead) bool {
	switch {
	case w.idList != nil:
		return slices.Contains(w.idList, l.id)
	case w.emailList != nil:
		return l.emailKey() != "" && slices.Contains(w.emailList, l.emailKey())
	}
	if w.id != nil && *w.id != l.id {
		return false
	}
	if w.email != nil && *w.email != l.emailKey() {
		return false
	}
	return true
}

// parsePaging reads limit and offset. A missing limit means def; a limit
// above maxLimit (when > 0) is capped silently. limit < 1 or offset < 0 gives 205
// (undocumented; strict is the defensive choice).
func parsePaging(params map[string]json.RawMessage, def, maxLimit int) (limit, offset int, e *apiError) {
	limit = def
	if raw, ok := params["limit"]; ok && !isNull(raw) {
		n, ok := looseIntParam(raw)
		if !ok || n < 1 {
			return 0, 0, paramError(paramInfo{"limit", msgInteger, &validFormat{Type: "int", Length: 11}})
		}
		if maxLimit > 0 && n > int64(maxLimit) {
			n = int64(maxLimit)
		}
		limit = int(min(n, 1<<31))
	}
	if raw, ok := params["offset"]; ok && !isNull(raw) {
		n, ok := looseIntParam(raw)
		if !ok || n < 0 {
			return 0, 0, paramError(paramInfo{"offset", msgInteger, &validFormat{Type: "int", Length: 11}})
		}
		offset = int(min(n, 1<<31))
	}
	return limit, offset, nil
}

// parseLeadFields reads the optional fields list (systemNames). Absent,
// null or an empty list mean every field. An unknown name gives 205
// (defensive: a stale systemName should fail loudly).
func (s *Server) parseLeadFields(params map[string]json.RawMessage) (map[string]bool, *apiError) {
	raw, ok := params["fields"]
	if !ok || isNull(raw) {
		return nil, nil
	}
	bad := paramError(paramInfo{"fields", msgBadFormat, &validFormat{Type: "list<string>"}})
	v, ok := decodeValue(raw)
	if !ok {
		return nil, bad
	}
	list, ok := v.([]any)
	if !ok {
		return nil, bad
	}
	if len(list) == 0 {
		return nil, nil
	}
	only := make(map[string]bool, len(list))
	for _, item := range list {
		name, ok := item.(string)
		if !ok {
			return nil, bad
		}
		if f := leadFieldByName[name]; (f == nil || !f.inLead) && s.customField("lead", name) == nil {
			return nil, paramError(paramInfo{"fields", "Unknown field " + strconv.Quote(name), &validFormat{Type: "list<string>"}})
		}
		only[name] = true
	}
	return only, nil
}

// orderLeads sorts by id, or shuffles with RandomOrder. Caller holds s.mu.
func (s *Server) orderLeads(list []*lead) {
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	if s.cfg.randomOrder {
		s.orderRand.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	}
}

func page(list []*lead, limit, offset int) []*lead {
	if offset >= len(list) {
		return nil
	}
	list = list[offset:]
	if limit < len(list) {
		list = list[:limit]
	}
	return list
}

// whereCandidates are the leads a getLeads where clause can match: the
// ones its ids or emails name, or every lead. Caller holds s.mu.
func (s *Server) whereCandidates(w leadWhere) map[int64]*lead {
	var ids []int64
	switch {
	case w.idList != nil:
		ids = w.idList
	case w.emailList != nil:
		for _, e := range w.emailList {
			if id, ok := s.emails[e]; ok {
				ids = append(ids, id)
			}
		}
	case w.id != nil:
		ids = []int64{*w.id}
	case w.email != nil:
		if id, ok := s.emails[*w.email]; ok {
			ids = []int64{id}
		}
	default:
		return s.leads
	}
	out := make(map[int64]*lead, len(ids))
	for _, id := range ids {
		if l := s.leads[id]; l != nil {
			out[id] = l
		}
	}
	return out
}

// getLeads: where keys id/emailAddress (inactive leads included when keys
// are given; active only otherwise), limit capped at 500, offset, fields.
func (s *Server) getLeads(c *call) outcome {
	w, e := parseLeadWhere(c.params)
	if e != nil {
		return failOutcome(e)
	}
	limit, offset, e := parsePaging(c.params, maxLeadsPage, maxLeadsPage)
	if e != nil {
		return failOutcome(e)
	}
	only, e := s.parseLeadFields(c.params)
	if e != nil {
		return failOutcome(e)
	}
	var list []*lead
	for _, l := range s.whereCandidates(w) {
		if w.empty() && !l.active() {
			continue
		}
		if w.match(l) {
			list = append(list, l)
		}
	}
	s.orderLeads(list)
	view := leadView{zone: c.zone, only: only}
	var items [][]byte
	for _, l := range page(list, limit, offset) {
		items = append(items, s.leadJSON(l, view))
	}
	return readOutcome("lead", items)
}

// getLeadsDateRange: startDate/endDate ("Y-m-d H:i:s" in the version's
// zone, both bounds inclusive at one-second resolution) and timestamp
// create|update are required; inactive leads are left out; default limit
// 500; a larger limit gives 209, as the documented 500 objects per request
// allow (Options.DateRangeMaxLimit caps it silently or honours it instead);
// offset; fields. Objects omit leadScoreWeighted, as in the vendor's
// sample, unless fields asks for it.
func (s *Server) getLeadsDateRange(c *call) outcome {
	var bad []paramInfo
	dates := make(map[string]time.Time, 2)
	for _, name := range []string{"startDate", "endDate"} {
		format := &validFormat{Type: "datetime", Required: true}
		raw, ok := c.params[name]
		if !ok || isNull(raw) {
			bad = append(bad, paramInfo{name, msgRequired, format})
			continue
		}
		var str string
		if json.Unmarshal(raw, &str) != nil {
			bad = append(bad, paramInfo{name, msgBadFormat, format})
			continue
		}
		t, err := time.ParseInLocation(timeLayout, strings.TrimSpace(str), c.zone)
		if err != nil {
			bad = append(bad, paramInfo{name, msgBadFormat, format})
			continue
		}
		dates[name] = t
	}
	var which string
	tsFormat := &validFormat{Type: "picklist(create,update)", Required: true}
	if raw, ok := c.params["timestamp"]; !ok || isNull(raw) {
		bad = append(bad, paramInfo{"timestamp", msgRequired, tsFormat})
	} else if json.Unmarshal(raw, &which) != nil || (which != "create" && which != "update") {
		bad = append(bad, paramInfo{"timestamp", msgBadFormat, tsFormat})
	}
	if len(bad) > 0 {
		return failOutcome(paramError(bad...))
	}
	maxLimit := max(s.cfg.dateRangeMaxLimit, 0)
	if s.cfg.dateRangeMaxLimit == 0 {
		if n, ok := looseIntParam(c.params["limit"]); ok && n > maxObjectsPerRequest {
			c.note(fmt.Sprintf("limit %d is over the %d per request limit", n, maxObjectsPerRequest))
			return failOutcome(newError(CodeTooManyObjects))
		}
	}
	limit, offset, e := parsePaging(c.params, defaultDateRange, maxLimit)
	if e != nil {
		return failOutcome(e)
	}
	only, e := s.parseLeadFields(c.params)
	if e != nil {
		return failOutcome(e)
	}
	start, end := dates["startDate"], dates["endDate"]
	index := s.byUpdate
	if which == "create" {
		index = s.byCreate
	}
	var list []*lead
	for _, id := range index.Between(start, end) {
		l := s.leads[id]
		if !l.active() {
			continue
		}
		t := l.updated
		if which == "create" {
			t = l.created
		}
		t = t.Truncate(time.Second)
		if !t.Before(start) && !t.After(end) {
			list = append(list, l)
		}
	}
	s.orderLeads(list)
	view := leadView{zone: c.zone, only: only, omit: map[string]bool{"leadScoreWeighted": true}}
	var items [][]byte
	for _, l := range page(list, limit, offset) {
		items = append(items, s.leadJSON(l, view))
	}
	return readOutcome("lead", items)
}
