package leadexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// QueryPath is the lead data query endpoint on the data host; the lead type
// UID follows it.
const QueryPath = "/v1/leads/query/"

// Query selects a page of one lead type's leads.
type Query struct {
	// StartDate and EndDate bound DateAdded, both inclusive. Required.
	// They are sent in UTC.
	StartDate, EndDate time.Time
	// Skip and Take page through the matches. Take 0 leaves the page size
	// to LeadExec; the simulator caps it at 500.
	Skip, Take int
	// SortFields, SortOrder ("ASC"/"DESC") and Fields (the lead fields to
	// return) are sent when set. LeadExec sorts by DateAdded by default.
	SortFields []string
	SortOrder  string
	Fields     []string
	// Filter is the Mongo-style Query object ({"State": {"$eq": "CA"}});
	// nil sends none.
	Filter map[string]any
}

type queryBody struct {
	Query      map[string]any `json:"Query,omitempty"`
	SortFields []string       `json:"SortFields,omitempty"`
	SortOrder  string         `json:"SortOrder,omitempty"`
	Fields     []string       `json:"Fields,omitempty"`
	StartDate  string         `json:"StartDate"`
	EndDate    string         `json:"EndDate"`
	Skip       int            `json:"Skip"`
	Take       int            `json:"Take,omitempty"`
}

// LeadPage is one page of QueryLeads.
//
// The answer's shape is not documented beyond each lead's UID, Properties
// and Fields sections. This package assumes
//
//	{"Total": 1234, "Leads": [{"UID": 1, "Properties": {"DateAdded": "…Z", …},
//	  "Fields": {"FirstName": "…", …}, "TCPAInformation": {…}}, …]}
//
// with names matched case-insensitively, and also reads a bare array of
// leads (Total is then the page length).
type LeadPage struct {
	// Total is the number of leads matching the query (all pages); -1 when
	// the answer did not say.
	Total int
	Leads []Lead
}

// Next returns the query for the page after this one, and false when this
// page was the last (empty, or Skip+len reaches Total).
func (p LeadPage) Next(q Query) (Query, bool) {
	if len(p.Leads) == 0 {
		return q, false
	}
	q.Skip += len(p.Leads)
	if p.Total >= 0 && q.Skip >= p.Total {
		return q, false
	}
	return q, true
}

// Lead is one lead of the data API.
type Lead struct {
	UID int64
	// DateAdded is Properties.DateAdded, in UTC (the data API speaks UTC;
	// a value without an offset is taken as UTC).
	DateAdded time.Time
	// Properties are the lead's properties (source, campaign, state,
	// processing time, ...) as text; nested values keep their JSON.
	Properties map[string]string
	// Fields are the lead-type fields as text.
	Fields map[string]string
	// TCPA is the TCPAInformation section, when present.
	TCPA map[string]string
}

// QueryLeads reads one page of a lead type's leads added between
// q.StartDate and q.EndDate: POST {DataURL}/v1/leads/query/{leadTypeUID}
// with a bearer token. Missing dates are refused before sending
// (ErrInvalidRequest). Errors as EditClient.
func (c *Client) QueryLeads(ctx context.Context, leadTypeUID int64, q Query) (LeadPage, error) {
	const op = "QueryLeads"
	switch {
	case q.StartDate.IsZero() || q.EndDate.IsZero():
		return LeadPage{}, invalidRequest(op, "StartDate and EndDate are required")
	case q.EndDate.Before(q.StartDate):
		return LeadPage{}, invalidRequest(op, "EndDate is before StartDate")
	case q.Skip < 0 || q.Take < 0:
		return LeadPage{}, invalidRequest(op, "Skip and Take must not be negative")
	}
	body, err := json.Marshal(queryBody{Query: q.Filter, SortFields: q.SortFields, SortOrder: q.SortOrder,
		Fields: q.Fields, StartDate: q.StartDate.UTC().Format(time.RFC3339Nano),
		EndDate: q.EndDate.UTC().Format(time.RFC3339Nano), Skip: q.Skip, Take: q.Take})
	if err != nil {
		return LeadPage{}, invalidRequest(op, "encode query: "+err.Error())
	}
	rq := request{op: op, method: http.MethodPost, url: c.data + QueryPath + strconv.FormatInt(leadTypeUID, 10),
		body: body, ctype: "application/json", header: http.Header{"Accept": {"application/json"}},
		limit: MaxQueryBytes, secret: c.secrets()}
	resp, err := c.bearer(ctx, rq)
	if err != nil {
		return LeadPage{}, err
	}
	if !ok(resp.status) {
		return LeadPage{}, statusError(op, "rest", resp, c.now())
	}
	page, perr := parseLeadPage(resp.body)
	if perr != nil {
		return LeadPage{}, malformed(op, resp.status, perr.Error(), resp.body, resp.secret)
	}
	return page, nil
}

// ParseLeadPage reads a lead query answer (see LeadPage for the assumed
// shape). At most MaxQueryBytes are read. Every lead needs a UID (top level,
// or Properties.UID / LeadUID).
func ParseLeadPage(r io.Reader) (LeadPage, error) {
	body, err := readLimited(r, MaxQueryBytes)
	if err != nil {
		return LeadPage{}, fmt.Errorf("leadexec: lead page: %w", err)
	}
	return parseLeadPage(body)
}

func parseLeadPage(body []byte) (LeadPage, error) {
	t := bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\xef\xbb\xbf"))
	var raw json.RawMessage
	if err := strictJSON(t, &raw); err != nil {
		return LeadPage{}, fmt.Errorf("leadexec: lead page: %w", err)
	}
	page := LeadPage{Total: -1}
	var leads []json.RawMessage
	if len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &leads); err != nil {
			return LeadPage{}, fmt.Errorf("leadexec: lead page: %w", err)
		}
		page.Total = len(leads)
	} else {
		o, err := jsonObject(t)
		if err != nil {
			return LeadPage{}, fmt.Errorf("leadexec: lead page: %w", err)
		}
		if v, ok := o.text("Total"); ok && strings.TrimSpace(v) != "" {
			n, err := parseInt64(v)
			if err != nil || n < 0 || n > 1<<40 {
				return LeadPage{}, fmt.Errorf("leadexec: lead page: Total %q is not a count", shorten(v))
			}
			page.Total = int(n)
		}
		lr, ok := o.lookup("Leads")
		if !ok {
			return LeadPage{}, errors.New("leadexec: lead page: no Leads")
		}
		if s := bytes.TrimSpace(lr); !bytes.Equal(s, []byte("null")) {
			if err := json.Unmarshal(s, &leads); err != nil {
				return LeadPage{}, fmt.Errorf("leadexec: lead page: Leads: %w", err)
			}
		}
	}
	page.Leads = make([]Lead, 0, len(leads))
	for i, lr := range leads {
		l, err := leadFrom(lr)
		if err != nil {
			return LeadPage{}, fmt.Errorf("leadexec: lead page: lead %d: %w", i, err)
		}
		page.Leads = append(page.Leads, l)
	}
	return page, nil
}

func leadFrom(raw json.RawMessage) (Lead, error) {
	o, err := jsonObject(raw)
	if err != nil {
		return Lead{}, err
	}
	var l Lead
	if l.Properties, err = section(o, "Properties"); err != nil {
		return Lead{}, err
	}
	if l.Fields, err = section(o, "Fields"); err != nil {
		return Lead{}, err
	}
	if l.TCPA, err = section(o, "TCPAInformation"); err != nil {
		return Lead{}, err
	}
	uid, ok := o.text("UID")
	if !ok || strings.TrimSpace(uid) == "" {
		uid, ok = record(l.Properties).textFold("UID", "LeadUID")
	}
	if !ok {
		return Lead{}, errors.New("no UID")
	}
	if l.UID, err = parseInt64(uid); err != nil || l.UID <= 0 {
		return Lead{}, fmt.Errorf("UID %q is not a positive integer", shorten(uid))
	}
	if d, ok := record(l.Properties).textFold("DateAdded"); ok && strings.TrimSpace(d) != "" {
		if l.DateAdded, err = parseUTC(d); err != nil {
			return Lead{}, fmt.Errorf("DateAdded: %w", err)
		}
	}
	return l, nil
}

// textFold looks names up in a map keyed as sent: an exact match first,
// then a case-insensitive one in sorted key order (never map order).
func (r record) textFold(names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := r[n]; ok {
			return v, true
		}
		var keys []string
		for k := range r {
			if strings.EqualFold(k, n) {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			slices.Sort(keys)
			return r[keys[0]], true
		}
	}
	return "", false
}

// section reads a member object as text values keyed as sent; absent or
// null is nil.
func section(o jsonFields, name string) (map[string]string, error) {
	raw, ok := o.lookup(name)
	if !ok {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	if bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, fmt.Errorf("%s is not an object", name)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = scalarText(v)
	}
	return out, nil
}

// parseUTC reads a data API timestamp: RFC 3339 with an offset or Z, or
// the same without one (UTC), or the US form (UTC).
func parseUTC(s string) (time.Time, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, l := range wallLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", shorten(s))
}
