package getleadsim

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/simkit"
)

// v3Reply is a V3 answer: status and JSON body (nil: no body).
type v3Reply struct {
	status int
	body   any
}

func v3Error(status int, code, msg string, ctx map[string]any) v3Reply {
	e := map[string]any{"message": msg, "code": code}
	if ctx != nil {
		e["context"] = ctx
	}
	return v3Reply{status, map[string]any{"message": msg, "error": e}}
}

func invalid(field, msg string) v3Reply {
	return v3Error(http.StatusUnprocessableEntity, "validation_error", msg, map[string]any{"field": field})
}

var notFound = v3Error(http.StatusNotFound, "not_found", "Lead not found.", nil)

// e164Pattern is a number as V3 takes it: "+", a non-zero digit, 8–14 more.
var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{8,14}$`)

// v3Route names a V3 request; ok is false for an unknown path or method.
func v3Route(method, path string) (name, id string, found bool) {
	p := strings.Trim(strings.TrimPrefix(path, "/api/v1"), "/")
	parts := strings.Split(p, "/")
	switch {
	case p == "meta" && method == http.MethodGet:
		return "meta", "", true
	case p == "leads" && method == http.MethodGet:
		return "leads.list", "", true
	case p == "leads" && method == http.MethodPost:
		return "leads.create", "", true
	case p == "leads/by-identifier" && method == http.MethodPatch:
		return "leads.by-identifier", "", true
	case len(parts) == 3 && parts[0] == "leads" && parts[2] == "notes" && method == http.MethodPost:
		return "leads.notes", parts[1], true
	case len(parts) == 2 && parts[0] == "leads" && parts[1] != "by-identifier" && method == http.MethodGet:
		return "leads.get", parts[1], true
	case len(parts) == 2 && parts[0] == "leads" && parts[1] != "by-identifier" && method == http.MethodPatch:
		return "leads.update", parts[1], true
	}
	return "", "", false
}

func (s *Server) serveV3(w http.ResponseWriter, r *http.Request, rec *LoggedRequest) {
	now := rec.Time.UTC()
	s.mu.Lock()
	s.stats.requests++
	s.mu.Unlock()
	name, id, found := v3Route(r.Method, r.URL.Path)
	if !found {
		s.writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found."})
		return
	}
	rec.Endpoint = name
	key, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer || !strings.HasPrefix(key, "ik_") || key != s.cfg.apiKey {
		s.writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthenticated."})
		return
	}
	// The body is read before any fault so that a held request notices
	// the client leaving (net/http watches the connection only after the
	// body has been read).
	var raw []byte
	var readErr error
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		raw, readErr = io.ReadAll(io.LimitReader(r.Body, 8<<20))
	}
	s.mu.Lock()
	s.stats.windows.Add(APIV3, now)
	retryAfter, allowed := s.takeV3(now)
	var d simkit.Decision[Fault]
	if allowed {
		s.stats.byEndpoint[name]++
		d = s.faults.Next(name)
	}
	release := s.lateDecided(d)
	s.mu.Unlock()
	defer release()
	if !allowed {
		s.tooMany(w, retryAfter)
		return
	}
	if s.inject(w, r, rec, d) {
		return
	}
	var body map[string]json.RawMessage
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		err := readErr
		if err == nil && len(bytes.TrimSpace(raw)) > 0 {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil {
			if d.Fault == FaultLateApply {
				return // nothing to apply, and no one to tell
			}
			s.writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Malformed JSON body.",
				"error": map[string]any{"message": "Malformed JSON body.", "code": "bad_request"}})
			return
		}
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodPatch
	if d.Fault == FaultLateApply {
		if write {
			s.mu.Lock()
			key := s.v3Key(name, id, body)
			s.mu.Unlock()
			s.late(key, func(now time.Time) { s.v3Do(r, name, id, body, now) })
		}
		return // a read held this long is a timeout
	}
	s.mu.Lock()
	rep := s.v3Do(r, name, id, body, now)
	if write && rep.status >= 200 && rep.status <= 299 {
		s.applied(s.v3Key(name, id, body))
	}
	s.mu.Unlock()
	if d.Fault == FaultDropAfterCommit {
		s.dropConnection(w)
		return
	}
	s.writeJSON(w, rep.status, rep.body)
}

// v3Do answers a V3 request that passed the faults. Caller holds s.mu.
func (s *Server) v3Do(r *http.Request, name, id string, body map[string]json.RawMessage, now time.Time) v3Reply {
	switch name {
	case "meta":
		return s.v3Meta()
	case "leads.list":
		return s.v3List(r, r.URL.Query())
	case "leads.create":
		return s.v3Create(body, now)
	case "leads.get":
		if l := s.leads[id]; l != nil {
			return v3Reply{http.StatusOK, map[string]any{"data": s.leadJSON(l)}}
		}
		return notFound
	case "leads.update":
		if l := s.leads[id]; l != nil {
			return s.v3Patch(l, body, now, v3Reply{status: http.StatusNoContent})
		}
		return notFound
	case "leads.by-identifier":
		l, e := s.byIdentifier(body)
		if e != nil {
			return *e
		}
		return s.v3Patch(l, body, now, v3Reply{http.StatusOK, map[string]any{"data": map[string]any{"lead_id": l.id}}})
	case "leads.notes":
		return s.v3Note(id, body, now)
	}
	return v3Reply{http.StatusNotFound, map[string]any{"message": "Not Found."}}
}

// v3Key names the lead a V3 write is for, as late writes match leads
// (leadKey). Caller holds s.mu.
func (s *Server) v3Key(name, id string, body map[string]json.RawMessage) string {
	var phone string
	var l *lead
	switch {
	case name == "leads.create":
		var phones []json.RawMessage
		_ = json.Unmarshal(body["phone_numbers"], &phones)
		if len(phones) > 0 {
			if p, ok := scalarString(phones[0]); ok {
				phone = p
			} else {
				var obj struct {
					Number string `json:"number"`
				}
				_ = json.Unmarshal(phones[0], &obj)
				phone = obj.Number
			}
		}
		l = s.findByE164(phone)
	case name == "leads.by-identifier" || id == "by-identifier":
		phone, _ = scalarString(body["phone_number"])
		l, _ = s.byIdentifier(body)
	default:
		l = s.leads[id]
	}
	return leadKey(l, phone)
}

func (s *Server) v3Meta() v3Reply {
	statuses := make([]map[string]any, len(s.cfg.statuses))
	for i, st := range s.cfg.statuses {
		statuses[i] = map[string]any{"id": i + 1, "name": st}
	}
	fields := make([]map[string]any, len(s.fieldOrder))
	for i, k := range s.fieldOrder {
		f := s.fieldDefs[k]
		allowed := make([]map[string]any, len(f.Options))
		for j, o := range f.Options {
			allowed[j] = map[string]any{"label": o.Label, "value": o.Value}
		}
		fields[i] = map[string]any{"field_key": k, "field_type": cmp.Or(f.Type, "text"), "allowed_values": allowed}
	}
	return v3Reply{http.StatusOK, map[string]any{"data": map[string]any{
		"statuses": statuses, "sources": []any{}, "agents": []any{}, "purposes": []any{}, "custom_fields": fields,
	}}}
}

// leadInput is a validated create or update body; nil pointers and maps
// are absent.
type leadInput struct {
	name, email, notes, source *string
	phones                     []string
	statusID                   int
	custom                     map[string]string
}

func scalarString(raw json.RawMessage) (string, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case nil:
		return "", true
	}
	return "", false
}

// scalarList reads a JSON list of scalars as one comma-separated value.
func scalarList(raw json.RawMessage) (string, bool) {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return "", false
	}
	vals := make([]string, 0, len(list))
	for _, item := range list {
		v, ok := scalarString(item)
		if !ok {
			return "", false
		}
		vals = append(vals, v)
	}
	return strings.Join(vals, ","), true
}

// Layouts V3 takes for date and date-time custom fields.
const (
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02T15:04:05"
)

// checkFieldValue says why v does not fit field f ("" when it does). A
// multi-select value is its stored values separated by commas.
func checkFieldValue(f Field, v string) string {
	allowed := func(x string) bool {
		for _, o := range f.Options {
			if o.Value == x {
				return true
			}
		}
		return false
	}
	switch f.Type {
	case "date":
		if _, err := time.Parse(dateLayout, v); err != nil || len(v) != len(dateLayout) {
			return "must be a date in YYYY-MM-DD format."
		}
	case "datetime":
		if _, err := time.Parse(dateTimeLayout, v); err != nil || len(v) != len(dateTimeLayout) {
			return "must be a date and time in YYYY-MM-DDTHH:mm:ss format."
		}
	case "number", "numeric":
		if n, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return "must be a number."
		}
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "must be an integer."
		}
	case "boolean":
		switch v {
		case "true", "false", "1", "0":
		default:
			return "must be true or false."
		}
	case "select":
		if !allowed(v) {
			return "must be one of the field's values (" + optionValues(f) + ")."
		}
	case "multiselect":
		for _, x := range strings.Split(v, ",") {
			if !allowed(strings.TrimSpace(x)) {
				return "has " + strconv.Quote(x) + ", not one of the field's values (" + optionValues(f) + ")."
			}
		}
	}
	return ""
}

func optionValues(f Field) string {
	vals := make([]string, len(f.Options))
	for i, o := range f.Options {
		vals[i] = o.Value
	}
	return strings.Join(vals, ", ")
}

// parseLeadInput validates a lead body without applying anything.
func (s *Server) parseLeadInput(body map[string]json.RawMessage) (leadInput, *v3Reply) {
	var in leadInput
	fail := func(r v3Reply) (leadInput, *v3Reply) { return leadInput{}, &r }
	for _, k := range []string{"name", "email", "notes", "source_id"} {
		raw, present := body[k]
		if !present {
			continue
		}
		v, good := scalarString(raw)
		if !good {
			return fail(invalid(k, "The "+k+" must be a string."))
		}
		switch k {
		case "name":
			in.name = &v
		case "email":
			if v != "" && !strings.Contains(v, "@") {
				return fail(invalid(k, "The email must be a valid email address."))
			}
			in.email = &v
		case "notes":
			in.notes = &v
		case "source_id":
			in.source = &v
		}
	}
	if raw, present := body["phone_numbers"]; present {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 || len(list) > 5 {
			return fail(invalid("phone_numbers", "The phone numbers must be a list of 1 to 5 numbers."))
		}
		for _, item := range list {
			var p string
			if json.Unmarshal(item, &p) != nil {
				var obj struct {
					Number string `json:"number"`
				}
				_ = json.Unmarshal(item, &obj)
				p = obj.Number
			}
			if !e164Pattern.MatchString(p) {
				return fail(invalid("phone_numbers", "The phone number "+strconv.Quote(p)+" must be in E.164 format."))
			}
			in.phones = append(in.phones, p)
		}
	}
	if raw, present := body["status_id"]; present {
		v, _ := scalarString(raw)
		id, err := strconv.Atoi(v)
		if err != nil || s.statusName(id) == "" {
			return fail(invalid("status_id", "The selected status id is invalid."))
		}
		in.statusID = id
	}
	if raw, present := body["custom_fields"]; present {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fail(invalid("custom_fields", "The custom fields must be an object."))
		}
		in.custom = map[string]string{}
		for k, rv := range obj {
			if !s.fieldKnown[k] {
				return fail(invalid("custom_fields."+k, "Unknown custom field "+strconv.Quote(k)+"."))
			}
			v, good := scalarString(rv)
			if !good && s.fieldDefs[k].Type == "multiselect" {
				v, good = scalarList(rv)
			}
			if !good {
				return fail(invalid("custom_fields."+k, "The custom field "+strconv.Quote(k)+" must be a scalar."))
			}
			if string(bytes.TrimSpace(rv)) == "null" {
				continue
			}
			if v != "" && !s.cfg.lenient {
				if why := checkFieldValue(s.fieldDefs[k], v); why != "" {
					return fail(invalid("custom_fields."+k, "The custom field "+strconv.Quote(k)+" "+why))
				}
			}
			in.custom[k] = v
		}
	}
	return in, nil
}

// apply writes a validated input; custom_fields replaces the whole set.
func (s *Server) apply(l *lead, in leadInput, now time.Time) {
	if in.name != nil {
		s.rename(l, *in.name, "v3", now)
	}
	if in.email != nil {
		l.email = *in.email
		s.noteEmail(l)
	}
	if in.notes != nil {
		l.notesField = *in.notes
	}
	if in.source != nil {
		l.source = *in.source
	}
	if in.phones != nil {
		s.setPhones(l, in.phones)
	}
	if in.statusID != 0 {
		l.statusID = in.statusID
	}
	if in.custom != nil {
		l.custom = in.custom // replace, not merge: keys not sent are gone
	}
	l.updated = now
}

// phonesTaken reports a number of phones that belongs to a lead other than
// self (nil for a new lead).
func (s *Server) phonesTaken(phones []string, self *lead) (string, bool) {
	for _, p := range phones {
		if other := s.findByE164(p); other != nil && other != self {
			return p, true
		}
	}
	return "", false
}

func (s *Server) v3Create(body map[string]json.RawMessage, now time.Time) v3Reply {
	in, e := s.parseLeadInput(body)
	if e != nil {
		return *e
	}
	if len(in.phones) == 0 {
		return invalid("phone_numbers", "The phone numbers field is required.")
	}
	if p, taken := s.phonesTaken(in.phones, nil); taken {
		return v3Error(http.StatusConflict, "duplicate_lead", "A lead with this phone number already exists.", map[string]any{"phone_number": p})
	}
	l := s.newLead(in.phones, now)
	s.stats.leads++
	s.apply(l, in, now)
	if in.notes != nil && *in.notes != "" {
		l.notes = append(l.notes, note{id: s.newID(now), content: *in.notes, at: now})
		s.stats.notes++
	}
	return v3Reply{http.StatusCreated, map[string]any{"data": map[string]any{"lead_id": l.id}}}
}

func (s *Server) v3Patch(l *lead, body map[string]json.RawMessage, now time.Time, success v3Reply) v3Reply {
	in, e := s.parseLeadInput(body)
	if e != nil {
		return *e
	}
	if p, taken := s.phonesTaken(in.phones, l); taken {
		return v3Error(http.StatusConflict, "duplicate_lead", "Another lead has this phone number.", map[string]any{"phone_number": p})
	}
	s.apply(l, in, now)
	return success
}

// byIdentifier finds the lead a by-identifier body names: phone_number
// first, else email.
func (s *Server) byIdentifier(body map[string]json.RawMessage) (*lead, *v3Reply) {
	phone, _ := scalarString(body["phone_number"])
	email, _ := scalarString(body["email"])
	switch {
	case phone != "":
		if !e164Pattern.MatchString(phone) {
			r := invalid("phone_number", "The phone number must be in E.164 format.")
			return nil, &r
		}
		if l := s.findByE164(phone); l != nil {
			return l, nil
		}
	case email != "":
		if l := s.findByEmail(email); l != nil {
			return l, nil
		}
	default:
		r := invalid("phone_number", "A phone number or an email is required.")
		return nil, &r
	}
	return nil, &notFound
}

func (s *Server) v3Note(id string, body map[string]json.RawMessage, now time.Time) v3Reply {
	var l *lead
	if id == "by-identifier" {
		var e *v3Reply
		if l, e = s.byIdentifier(body); e != nil {
			return *e
		}
	} else if l = s.leads[id]; l == nil {
		return notFound
	}
	content, _ := scalarString(body["content"])
	if strings.TrimSpace(content) == "" {
		return invalid("content", "The content field is required.")
	}
	title, _ := scalarString(body["title"])
	n := note{id: s.newID(now), title: title, content: content, at: now}
	l.notes = append(l.notes, n)
	s.stats.notes++
	return v3Reply{http.StatusCreated, map[string]any{"data": map[string]any{"note_id": n.id}}}
}

func (s *Server) leadJSON(l *lead) map[string]any {
	custom := make([]map[string]any, 0, len(l.custom))
	for _, k := range sortedKeys(l.custom) {
		custom = append(custom, map[string]any{"field_key": k, "value": l.custom[k]})
	}
	return map[string]any{
		"lead_id":       l.id,
		"name":          l.name,
		"email":         l.email,
		"phone_numbers": append([]string{}, l.phones...),
		"status_id":     l.statusID,
		"status":        map[string]any{"id": l.statusID, "name": s.statusName(l.statusID)},
		"source":        l.source,
		"notes":         l.notesField,
		"custom_fields": custom,
		"created_at":    timeJSON(l.created),
		"updated_at":    timeJSON(l.updated),
	}
}

// listCursor is the position of the last lead of a page.
type listCursor struct {
	T time.Time `json:"t"`
	I string    `json:"i"`
}

func parseTimeParam(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (s *Server) v3List(r *http.Request, q url.Values) v3Reply {
	perPage := s.cfg.perPage
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalid("per_page", "The per page must be a positive integer.")
		}
		perPage = min(n, s.cfg.maxPP)
	}
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "created_at"
	}
	if sortBy != "created_at" && sortBy != "updated_at" {
		return invalid("sort_by", "The selected sort by is invalid.")
	}
	desc := q.Get("sort_direction") != "asc"
	if d := q.Get("sort_direction"); d != "" && d != "asc" && d != "desc" {
		return invalid("sort_direction", "The selected sort direction is invalid.")
	}
	var from time.Time
	if v := q.Get("created_at[from]"); v != "" {
		t, good := parseTimeParam(v)
		if !good {
			return invalid("created_at.from", "The created at from is not a valid date.")
		}
		from = t
	}
	var after *listCursor
	if c := q.Get("cursor"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		var lc listCursor
		if err != nil || json.Unmarshal(raw, &lc) != nil {
			return invalid("cursor", "The cursor is invalid.")
		}
		after = &lc
	}
	statuses := q["status[]"]
	search := strings.ToLower(strings.TrimSpace(q.Get("search")))

	key := func(l *lead) time.Time {
		if sortBy == "updated_at" {
			return l.updated
		}
		return l.created
	}
	less := func(at time.Time, aid string, bt time.Time, bid string) bool {
		if !at.Equal(bt) {
			return at.Before(bt) != desc
		}
		if aid == bid {
			return false
		}
		return (aid < bid) != desc
	}
	var rows []*lead
	for _, id := range s.listCandidates(sortBy, desc, from, after) {
		l := s.leads[id]
		if !from.IsZero() && l.created.Before(from) {
			continue
		}
		if len(statuses) > 0 && !matchesStatus(statuses, l.statusID, s.statusName(l.statusID)) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(l.name+" "+l.email+" "+strings.Join(l.phones, " ")), search) {
			continue
		}
		if after != nil && !less(after.T, after.I, key(l), l.id) {
			continue
		}
		rows = append(rows, l)
	}
	sort.Slice(rows, func(i, j int) bool { return less(key(rows[i]), rows[i].id, key(rows[j]), rows[j].id) })
	var next any
	var nextLink any
	if len(rows) > perPage {
		rows = rows[:perPage]
		last := rows[len(rows)-1]
		b, _ := json.Marshal(listCursor{T: key(last), I: last.id})
		c := base64.RawURLEncoding.EncodeToString(b)
		next = c
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", c)
		nextLink = "http://" + r.Host + r.URL.Path + "?" + nq.Encode()
	}
	data := make([]map[string]any, len(rows))
	for i, l := range rows {
		data[i] = s.leadJSON(l)
	}
	return v3Reply{http.StatusOK, map[string]any{
		"data":  data,
		"meta":  map[string]any{"per_page": perPage, "next_cursor": next, "prev_cursor": nil},
		"links": map[string]any{"next": nextLink, "prev": nil},
	}}
}

// listCandidates are the leads a list can return, in no particular order:
// those created since its lower bound of created_at (created_at[from], or
// the cursor's place in an ascending list by created_at), or every lead.
// Caller holds s.mu.
func (s *Server) listCandidates(sortBy string, desc bool, from time.Time, after *listCursor) []string {
	lower := from
	if after != nil && sortBy == "created_at" && !desc && after.T.After(lower) {
		lower = after.T
	}
	if lower.IsZero() {
		return s.order
	}
	return s.byCreate.Since(lower)
}

func matchesStatus(want []string, id int, name string) bool {
	for _, w := range want {
		if w == strconv.Itoa(id) || strings.EqualFold(w, name) {
			return true
		}
	}
	return false
}
