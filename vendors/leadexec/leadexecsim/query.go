package leadexecsim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// queryLeads answers POST /v1/leads/query/{LeadTypeUID} (bearer). The
// body is {Query, SortFields, SortOrder, Fields, StartDate, EndDate, Skip,
// Take}; StartDate and EndDate are required (RFC 3339, or without an
// offset or in US form, read as UTC). Leads whose DateAdded is in
// [StartDate, EndDate] and that match Query are sorted by DateAdded then
// UID (SortOrder "DESC" reverses; SortFields is otherwise ignored), then
// Skip and Take (0 or more than MaxTake is MaxTake) select the page.
//
// The answer's shape is not documented; the simulator answers
// {"Total": matches, "Skip", "Take", "Leads": [{"UID", "Properties":
// {"DateAdded": RFC 3339 UTC, "LeadType", "LeadSource" (VID), "Campaign"
// (AID), "IsValid", "PostID", V2 properties}, "Fields": {…}}]}. Fields, when
// given, limits the lead fields returned. Query supports {field: value}
// and {field: {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": v, "$in": [...]}}
// on lead fields (numbers compare numerically, other values as
// case-insensitive text); another operator is a 400.
func (s *Server) queryLeads(r *http.Request) simAnswer {
	if a := s.authorize(r); a != nil {
		return *a
	}
	lid, err := strconv.ParseInt(strings.TrimPrefix(strings.ToLower(strings.TrimSuffix(r.URL.Path, "/")), "/v1/leads/query/"), 10, 64)
	if err != nil {
		return apiMessage(http.StatusNotFound, "The resource cannot be found.")
	}
	s.mu.Lock()
	known := s.cfg.leadTypes[lid] != nil
	s.mu.Unlock()
	if !known {
		return apiMessage(http.StatusNotFound, fmt.Sprintf("Lead type %d was not found.", lid))
	}
	body, err := readBody(r)
	if err != nil {
		return apiMessage(http.StatusBadRequest, "The request body could not be read.")
	}
	var q struct {
		Query      map[string]any `json:"Query"`
		SortFields []string       `json:"SortFields"`
		SortOrder  string         `json:"SortOrder"`
		Fields     []string       `json:"Fields"`
		StartDate  string         `json:"StartDate"`
		EndDate    string         `json:"EndDate"`
		Skip       int            `json:"Skip"`
		Take       int            `json:"Take"`
	}
	if err := decodeJSON(body, &q); err != nil {
		return apiMessage(http.StatusBadRequest, "The request body is not valid JSON.")
	}
	start, err1 := parseQueryDate(q.StartDate)
	end, err2 := parseQueryDate(q.EndDate)
	switch {
	case q.StartDate == "" || q.EndDate == "":
		return apiMessage(http.StatusBadRequest, "StartDate and EndDate are required.")
	case err1 != nil || err2 != nil:
		return apiMessage(http.StatusBadRequest, "StartDate and EndDate must be dates (UTC).")
	case q.Skip < 0 || q.Take < 0:
		return apiMessage(http.StatusBadRequest, "Skip and Take must not be negative.")
	}
	match, err := compileFilter(q.Query)
	if err != nil {
		return apiMessage(http.StatusBadRequest, err.Error())
	}
	take := q.Take
	if take == 0 || take > s.cfg.maxTake {
		take = s.cfg.maxTake
	}

	s.mu.Lock()
	var hits []*StoredLead
	for _, uid := range s.byAdded.Between(start, end) {
		l := s.leads[uid]
		if l.LeadTypeUID == lid && !l.DateAdded.Before(start) && !l.DateAdded.After(end) && match(l.Fields) {
			hits = append(hits, l)
		}
	}
	slices.SortFunc(hits, func(a, b *StoredLead) int {
		if c := a.DateAdded.Compare(b.DateAdded); c != 0 {
			return c
		}
		return int(sign(a.UID - b.UID))
	})
	if strings.EqualFold(q.SortOrder, "desc") {
		slices.Reverse(hits)
	}
	total := len(hits)
	lo := min(q.Skip, total)
	page := hits[lo : lo+min(take, total-lo)]
	leads := make([]map[string]any, 0, len(page))
	for _, l := range page {
		leads = append(leads, leadJSON(l, q.Fields))
	}
	s.mu.Unlock()
	return jsonAnswer(http.StatusOK, map[string]any{"Total": total, "Skip": q.Skip, "Take": take, "Leads": leads})
}

func sign(n int64) int64 {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func leadJSON(l *StoredLead, only []string) map[string]any {
	props := map[string]any{
		"DateAdded": l.DateAdded.UTC().Format(time.RFC3339Nano), "LeadType": l.LeadTypeUID, "LeadSource": l.VID,
		"Campaign": l.AID, "IsValid": true, "PostID": l.PostID,
	}
	for k, v := range l.Properties {
		if _, clash := props[k]; !clash {
			props[k] = v
		}
	}
	fields := map[string]string{}
	for k, v := range l.Fields {
		if len(only) == 0 || slices.ContainsFunc(only, func(f string) bool { return strings.EqualFold(f, k) }) {
			fields[k] = v
		}
	}
	return map[string]any{"UID": l.UID, "Properties": props, "Fields": fields}
}

// parseQueryDate reads StartDate/EndDate: RFC 3339, or a wall-clock time
// (ISO or US form) taken as UTC.
func parseQueryDate(s string) (time.Time, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, l := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "1/2/2006 3:04:05 PM", "1/2/2006"} {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}

// compileFilter turns the Query object into a predicate on lead fields.
func compileFilter(q map[string]any) (func(map[string]string) bool, error) {
	type cond struct {
		field, op string
		arg       any
	}
	var conds []cond
	for field, spec := range q {
		ops, ok := spec.(map[string]any)
		if !ok {
			conds = append(conds, cond{field, "$eq", spec})
			continue
		}
		for op, arg := range ops {
			switch op {
			case "$eq", "$ne", "$gt", "$gte", "$lt", "$lte":
			case "$in":
				if _, ok := arg.([]any); !ok {
					return nil, fmt.Errorf("Query.%s.$in must be an array.", field)
				}
			default:
				return nil, fmt.Errorf("Query.%s: operator %s is not supported.", field, op)
			}
			conds = append(conds, cond{field, op, arg})
		}
	}
	return func(fields map[string]string) bool {
		for _, c := range conds {
			v := fieldFold(fields, c.field)
			switch c.op {
			case "$in":
				if !slices.ContainsFunc(c.arg.([]any), func(a any) bool { return compare(v, a) == 0 }) {
					return false
				}
			case "$eq":
				if compare(v, c.arg) != 0 {
					return false
				}
			case "$ne":
				if compare(v, c.arg) == 0 {
					return false
				}
			case "$gt":
				if compare(v, c.arg) <= 0 {
					return false
				}
			case "$gte":
				if compare(v, c.arg) < 0 {
					return false
				}
			case "$lt":
				if compare(v, c.arg) >= 0 {
					return false
				}
			case "$lte":
				if compare(v, c.arg) > 0 {
					return false
				}
			}
		}
		return true
	}, nil
}

func fieldFold(fields map[string]string, name string) string {
	if v, ok := fields[name]; ok {
		return v
	}
	for k, v := range fields {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// compare orders a field value against a query argument: numerically when
// both are numbers, else as case-insensitive text.
func compare(v string, arg any) int {
	var a string
	switch x := arg.(type) {
	case string:
		a = x
	case json.Number:
		a = x.String()
	case nil:
		a = ""
	default:
		a = fmt.Sprint(x)
	}
	fv, err1 := strconv.ParseFloat(strings.TrimSpace(v), 64)
	fa, err2 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	if err1 == nil && err2 == nil && !math.IsNaN(fv) && !math.IsNaN(fa) {
		switch {
		case fv < fa:
			return -1
		case fv > fa:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(v), strings.ToLower(a))
}
