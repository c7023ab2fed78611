package leadexecsim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Response types (ResponseErrors), by number.
const (
	rtNoError = iota
	rtSystemIDMissing
	rtLeadTypeIDMissing
	rtVendorIDMissing
	rtNoAccountFound
	rtOutsideCriteria
	rtDuplicateLead
	rtAccountDisabled
	rtPostOverMax
	rtDataErrors
)

// ResponseTypes are LeadExec's ResponseErrors names; the index is the number.
var ResponseTypes = []string{"No_Error", "System_ID_Missing", "LeadType_ID_Missing", "Vendor_ID_Missing",
	"No_Account_Found", "Outside_Criteria", "Duplicate_Lead", "Account_Disabled", "Post_Over_Max", "Data_Errors"}

// posting is one lead as posted, V1 or V2.
type posting struct {
	vid, lid, aid string
	password      *string // nil: not sent
	fields        map[string]string
	props         map[string]string
	version       int
}

// postResult is the receiver's answer for one lead.
type postResult struct {
	postID   string
	valid    bool
	rtype    int
	details  string
	leadID   int64 // 0: empty
	aid      int64
	qcReview bool
	price    string
}

// insertV1 answers /processor/insert/general[/json|/xml][/async]: the
// parameters come from the query string, a form body or a flat JSON
// object; vid, lid, aid, password and response_type are matched
// case-insensitively. The answer is XML unless the path has a /json
// segment or response_type=json. Async posts are answered at once; the
// returnurl callback is not made.
func (s *Server) insertV1(r *http.Request) simAnswer {
	params, err := v1Params(r)
	if err != nil {
		return textAnswer(http.StatusBadRequest, "Bad Request: "+err.Error())
	}
	p := posting{fields: map[string]string{}, version: 1}
	asJSON := false
	for _, seg := range strings.Split(strings.ToLower(r.URL.Path), "/") {
		if seg == "json" {
			asJSON = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		switch strings.ToLower(k) {
		case "vid":
			p.vid = v
		case "lid":
			p.lid = v
		case "aid":
			p.aid = v
		case "password":
			p.password = &v
		case "response_type":
			asJSON = strings.EqualFold(v, "json")
		case "orderid", "returnurl", "access_token":
		default:
			p.fields[k] = v
		}
	}
	s.mu.Lock()
	res := s.post(p, s.cfg.now())
	s.mu.Unlock()
	if asJSON {
		return jsonAnswer(http.StatusOK, s.resultJSON(res))
	}
	return simAnswer{status: http.StatusOK, ctype: "text/xml; charset=utf-8", body: s.resultXML(res)}
}

// v1Params collects query and body parameters (body first, as
// HttpRequest.Params does not; the query wins only when the body lacks a
// name). Multiple values keep the first.
func v1Params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	add := func(v url.Values) {
		for k, vs := range v {
			if _, dup := out[k]; !dup && len(vs) > 0 {
				out[k] = vs[0]
			}
		}
	}
	if r.Method == http.MethodPost {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		t := bytes.TrimSpace(body)
		switch {
		case ct == "application/json" || (len(t) > 0 && t[0] == '{'):
			var m map[string]any
			if err := decodeJSON(t, &m); err != nil || m == nil {
				return nil, fmt.Errorf("body is not a JSON object")
			}
			for k, v := range m {
				out[k] = fieldText(v)
			}
		case len(t) > 0:
			v, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, fmt.Errorf("body is not form-encoded")
			}
			add(v)
		}
	}
	add(r.URL.Query())
	return out, nil
}

// v2Request is the V2 body.
type v2Request struct {
	Source *struct {
		VID       json.RawMessage `json:"vid"`
		AID       json.RawMessage `json:"aid"`
		LID       json.RawMessage `json:"lid"`
		SendDelay json.RawMessage `json:"sendDelay"`
		ReturnURL string          `json:"returnURL"`
	} `json:"source"`
	Leads []struct {
		Properties map[string]any `json:"properties"`
		Fields     map[string]any `json:"fields"`
	} `json:"leads"`
}

// insertV2 answers POST /v2/insert/general: the api-key header must be the
// posting key (else 401 {"message"}); the body is
// {source: {vid, aid, lid, sendDelay, returnURL}, leads: [{properties,
// fields}]}, with sendDelay required and 1..MaxV2Leads leads (else 400).
// The answer is a JSON array of per-lead responses in the V1 property set,
// in the order of the leads (LeadExec does not document it).
func (s *Server) insertV2(r *http.Request) simAnswer {
	if !equal(r.Header.Get("api-key"), s.cfg.postingKey) {
		return apiMessage(http.StatusUnauthorized, "Invalid or missing api-key.")
	}
	body, err := readBody(r)
	if err != nil {
		return apiMessage(http.StatusBadRequest, "The request body could not be read.")
	}
	var req v2Request
	if err := decodeJSON(body, &req); err != nil {
		return apiMessage(http.StatusBadRequest, "The request body is not valid JSON.")
	}
	switch {
	case req.Source == nil:
		return apiMessage(http.StatusBadRequest, "source is required.")
	case len(req.Source.SendDelay) == 0 || string(req.Source.SendDelay) == "null":
		return apiMessage(http.StatusBadRequest, "source.sendDelay is required.")
	case len(req.Leads) == 0:
		return apiMessage(http.StatusBadRequest, "leads must contain at least one lead.")
	case len(req.Leads) > s.cfg.maxV2Leads:
		return apiMessage(http.StatusBadRequest, fmt.Sprintf("leads may contain at most %d leads.", s.cfg.maxV2Leads))
	}
	if _, err := strconv.ParseFloat(rawText(req.Source.SendDelay), 64); err != nil {
		return apiMessage(http.StatusBadRequest, "source.sendDelay must be a number of hours.")
	}
	out := make([]map[string]any, 0, len(req.Leads))
	s.mu.Lock()
	now := s.cfg.now()
	for _, l := range req.Leads {
		p := posting{vid: rawText(req.Source.VID), lid: rawText(req.Source.LID), aid: rawText(req.Source.AID),
			fields: textMap(l.Fields), props: textMap(l.Properties), version: 2}
		out = append(out, s.resultJSON(s.post(p, now)))
	}
	s.mu.Unlock()
	return jsonAnswer(http.StatusOK, out)
}

// rawText renders a JSON scalar as text (strings unquoted).
func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	return t
}

func textMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fieldText(v)
	}
	return out
}

// fieldText is a decoded JSON value as a field value: a string as it is,
// null as "", anything else as its JSON.
func fieldText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// parseID reads a posted id; "", non-numeric and ≤ 0 are missing.
func parseID(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// post runs the receiver's checks on one lead and stores it when it
// passes. The checks, in order: identifiers (System_ID_Missing when none of
// vid, lid, aid is usable, then LeadType_ID_Missing, Vendor_ID_Missing),
// campaign (No_Account_Found for an unknown lead type, vid/aid pair or a
// wrong password), Account_Disabled, Data_Errors (every missing or invalid
// required-or-sent field named), Duplicate_Lead (same email or phone as a
// stored lead of the lead type; the answer carries the existing
// LeadIdentifier), Outside_Criteria (AllowedStates), Post_Over_Max
// (DayMax per Pacific day). Caller holds s.mu.
func (s *Server) post(p posting, now time.Time) postResult {
	res := postResult{postID: guid(s.newID(IDPost))}
	reject := func(rt int, details string) postResult {
		res.rtype, res.details = rt, details
		return res
	}
	vid, lid, aid := parseID(p.vid), parseID(p.lid), parseID(p.aid)
	switch {
	case vid == 0 && lid == 0 && aid == 0:
		return reject(rtSystemIDMissing, "No system identifiers were posted (vid, lid).")
	case lid == 0:
		return reject(rtLeadTypeIDMissing, "The lead type identifier (lid) is missing or invalid.")
	case vid == 0:
		return reject(rtVendorIDMissing, "The lead source identifier (vid) is missing or invalid.")
	}
	lt := s.cfg.leadTypes[lid]
	camp := s.findCampaign(vid, lid, aid)
	if lt == nil || camp == nil {
		return reject(rtNoAccountFound, "No campaign was found for this lead source and lead type.")
	}
	if camp.Password != "" && (p.password == nil || !equal(*p.password, camp.Password)) {
		return reject(rtNoAccountFound, "No campaign was found for this lead source and lead type.")
	}
	if camp.Disabled {
		return reject(rtAccountDisabled, "The campaign is disabled.")
	}
	fields, problems := s.validate(lt, p.fields)
	if len(problems) > 0 {
		return reject(rtDataErrors, strings.Join(problems, "; "))
	}
	if dup := s.duplicateOf(lt, fields); dup != 0 {
		res.leadID = dup
		return reject(rtDuplicateLead, fmt.Sprintf("Duplicate of lead %d.", dup))
	}
	if len(camp.AllowedStates) > 0 {
		for _, f := range lt.Fields {
			if f.Kind == KindState && !slices.ContainsFunc(camp.AllowedStates, func(st string) bool {
				return strings.EqualFold(st, fields[f.Name])
			}) {
				return reject(rtOutsideCriteria, fmt.Sprintf("%s %q is outside the campaign criteria.", f.Name, fields[f.Name]))
			}
		}
	}
	day := dayKey{aid: camp.AID, day: now.In(s.cfg.pacific).Format("2006-01-02")}
	if camp.DayMax > 0 && s.dayCounts[day] >= camp.DayMax {
		return reject(rtPostOverMax, fmt.Sprintf("The campaign's daily maximum of %d leads has been reached.", camp.DayMax))
	}
	s.dayCounts[day]++
	l := &StoredLead{UID: s.newID(IDLead), LeadTypeUID: lid, VID: vid, AID: camp.AID, DateAdded: now.UTC(),
		Fields: fields, Properties: p.props, PostID: res.postID, Version: p.version}
	s.storeLead(l)
	res.valid, res.leadID, res.aid, res.qcReview, res.price = true, l.UID, camp.AID, camp.PendingQCReview, camp.Price
	if res.price == "" {
		res.price = "0"
	}
	return res
}

// findCampaign resolves the campaign of a post: the given aid, which must
// belong to vid and lid, or else the enabled campaign of vid for lid with
// the lowest AID (a disabled one if none is enabled). Caller holds s.mu.
func (s *Server) findCampaign(vid, lid, aid int64) *Campaign {
	if aid != 0 {
		c := s.campaigns[aid]
		if c == nil || c.VID != vid || c.LID != lid {
			return nil
		}
		return c
	}
	var best *Campaign
	for _, id := range slices.Sorted(maps.Keys(s.campaigns)) {
		c := s.campaigns[id]
		if c.VID != vid || c.LID != lid {
			continue
		}
		if !c.Disabled {
			return c
		}
		if best == nil {
			best = c
		}
	}
	return best
}

var (
	emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$`)
	zipRE   = regexp.MustCompile(`^\d{5}(-\d{4})?$`)
	usState = map[string]bool{}
)

func init() {
	for _, st := range strings.Fields("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO " +
		"MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY") {
		usState[st] = true
	}
}

// validate maps posted fields to the lead type's names and checks them.
// It returns the kept fields and one problem per bad field: first each
// posted field the lead type does not have (by name), then the lead type's
// missing or invalid fields in its field order.
func (s *Server) validate(lt *LeadType, posted map[string]string) (map[string]string, []string) {
	byName := s.cfg.fieldsByName[lt.UID]
	fields := map[string]string{}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(posted)) {
		f, ok := byName[strings.ToLower(k)]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not a field of lead type %d", k, lt.UID))
			continue
		}
		if _, dup := fields[f.Name]; !dup {
			fields[f.Name] = strings.TrimSpace(posted[k])
		}
	}
	for _, f := range lt.Fields {
		v, sent := fields[f.Name]
		if v == "" {
			if f.Required {
				problems = append(problems, f.Name+" is required")
			}
			if sent {
				delete(fields, f.Name)
			}
			continue
		}
		if !validValue(f.Kind, v) || (f.Kind == KindText && !validOfType(f.dataType(), v)) {
			problems = append(problems, f.Name+" is invalid")
		}
	}
	return fields, problems
}

func validValue(k FieldKind, v string) bool {
	switch k {
	case KindEmail:
		return emailRE.MatchString(v)
	case KindPhone:
		d := digits(v)
		return len(d) == 10 || (len(d) == 11 && d[0] == '1')
	case KindState:
		return usState[strings.ToUpper(v)]
	case KindZip:
		return zipRE.MatchString(v)
	}
	return true
}

// validOfType reports whether v is a value of the FieldDataType named dt.
func validOfType(dt, v string) bool {
	v = strings.TrimSpace(v)
	switch dt {
	case "Int":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	case "Bigint":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "Money", "Decimal", "Float":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil && !strings.ContainsAny(v, "xXpP_nN")
	case "Bit":
		switch strings.ToLower(v) {
		case "0", "1", "true", "false":
			return true
		}
		return false
	case "DateTime":
		for _, l := range []string{"1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "1/2/2006"} {
			if _, err := time.Parse(l, v); err == nil {
				return true
			}
		}
		return false
	}
	return true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// dedupeKeys are a lead's duplicate-check keys: lower-cased emails and
// phone numbers as 10 digits.
func dedupeKeys(lt *LeadType, fields map[string]string) []string {
	var keys []string
	for _, f := range lt.Fields {
		v := fields[f.Name]
		switch {
		case v == "":
		case f.Kind == KindEmail:
			keys = append(keys, "e:"+strings.ToLower(v))
		case f.Kind == KindPhone:
			d := digits(v)
			if len(d) == 11 {
				d = d[1:]
			}
			keys = append(keys, "p:"+d)
		}
	}
	return keys
}

// duplicateOf returns the UID of the oldest stored lead of the lead type
// that shares an email or phone, or 0. Caller holds s.mu.
func (s *Server) duplicateOf(lt *LeadType, fields map[string]string) int64 {
	var found int64
	for _, k := range dedupeKeys(lt, fields) {
		if uid := s.dedupe[dedupeKey{lid: lt.UID, key: k}]; uid != 0 && (found == 0 || uid < found) {
			found = uid
		}
	}
	return found
}

type dedupeKey struct {
	lid int64
	key string
}

// decodeJSON decodes one JSON value keeping numbers exact.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// guid makes a deterministic GUID-shaped PostID from a counter.
func guid(n int64) string {
	return fmt.Sprintf("5e1ead00-0000-4000-8000-%012x", n)
}

// resultJSON is one response in the V1 property set. LeadIdentifier is
// null when the post failed (except Duplicate_Lead).
func (s *Server) resultJSON(r postResult) map[string]any {
	var rt any = ResponseTypes[r.rtype]
	if s.cfg.numericResponseType {
		rt = r.rtype
	}
	var id, aid any
	if r.leadID != 0 {
		id = r.leadID
	}
	if r.aid != 0 {
		aid = r.aid
	}
	price := json.Number("0")
	if r.price != "" {
		price = json.Number(r.price)
	}
	return map[string]any{
		"PostID": r.postID, "isValidPost": r.valid, "ResponseType": rt, "ResponseDetails": r.details,
		"LeadIdentifier": id, "VendorAccountAssigned": aid, "PendingQCReview": r.qcReview, "Price": price,
		"RedirectURL": "",
	}
}

// resultXML is the V1 XML answer: <PostResponse> in the service namespace,
// booleans lower-case, ResponseType by name, LeadIdentifier and
// VendorAccountAssigned empty when not assigned.
func (s *Server) resultXML(r postResult) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n")
	fmt.Fprintf(&b, `<PostResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="%s">`+"\r\n", xmlEscape(s.cfg.namespace))
	el := func(name, v string) {
		if v == "" {
			fmt.Fprintf(&b, "  <%s />\r\n", name)
			return
		}
		fmt.Fprintf(&b, "  <%s>%s</%s>\r\n", name, xmlEscape(v), name)
	}
	id, aid, price := "", "", r.price
	if r.leadID != 0 {
		id = strconv.FormatInt(r.leadID, 10)
	}
	if r.aid != 0 {
		aid = strconv.FormatInt(r.aid, 10)
	}
	if price == "" {
		price = "0"
	}
	el("PostID", r.postID)
	el("isValidPost", strconv.FormatBool(r.valid))
	el("ResponseType", ResponseTypes[r.rtype])
	el("ResponseDetails", r.details)
	el("LeadIdentifier", id)
	el("VendorAccountAssigned", aid)
	el("PendingQCReview", strconv.FormatBool(r.qcReview))
	el("Price", price)
	el("RedirectURL", "")
	b.WriteString("</PostResponse>")
	return b.Bytes()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
