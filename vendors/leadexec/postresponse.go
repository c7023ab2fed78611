package leadexec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ResponseType is LeadExec's ResponseErrors enumeration: why a post was
// accepted or refused. Names are from the ASMX reference, numbers from the
// receiver documentation.
type ResponseType int

// Response types.
const (
	// ResponseUnknown is a name or number this package does not know.
	ResponseUnknown   ResponseType = -1
	NoError           ResponseType = 0 // No_Error: the lead was accepted
	SystemIDMissing   ResponseType = 1 // System_ID_Missing
	LeadTypeIDMissing ResponseType = 2 // LeadType_ID_Missing: no lid
	VendorIDMissing   ResponseType = 3 // Vendor_ID_Missing: no vid
	NoAccountFound    ResponseType = 4 // No_Account_Found: unknown vid/aid (or wrong password)
	OutsideCriteria   ResponseType = 5 // Outside_Criteria: the campaign does not take this lead
	DuplicateLead     ResponseType = 6 // Duplicate_Lead: LeadExec already has the lead
	AccountDisabled   ResponseType = 7 // Account_Disabled: the campaign is switched off
	PostOverMax       ResponseType = 8 // Post_Over_Max: the campaign's cap is reached
	DataErrors        ResponseType = 9 // Data_Errors: a field is missing or invalid
)

var responseNames = [...]string{"No_Error", "System_ID_Missing", "LeadType_ID_Missing", "Vendor_ID_Missing",
	"No_Account_Found", "Outside_Criteria", "Duplicate_Lead", "Account_Disabled", "Post_Over_Max", "Data_Errors"}

// String returns LeadExec's name ("Duplicate_Lead").
func (t ResponseType) String() string { return enumName(int(t), responseNames[:]) }

// MarshalText writes the name.
func (t ResponseType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a name or a number (see ParseResponseType).
func (t *ResponseType) UnmarshalText(b []byte) error {
	v, err := ParseResponseType(string(b))
	*t = v
	return err
}

// ParseResponseType reads a ResponseType by name (case and underscores
// ignored: "Duplicate_Lead", "duplicatelead") or number ("6"). A name or
// number outside the enumeration is ResponseUnknown without error: LeadExec
// may add values. Only empty input is an error.
func ParseResponseType(s string) (ResponseType, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ResponseUnknown, errors.New("leadexec: empty ResponseType")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 0 && n < len(responseNames) {
			return ResponseType(n), nil
		}
		return ResponseUnknown, nil
	}
	key := foldName(s)
	for i, name := range responseNames {
		if foldName(name) == key {
			return ResponseType(i), nil
		}
	}
	return ResponseUnknown, nil
}

// foldName lower-cases s and drops underscores, spaces and hyphens.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', ' ', '-':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// Outcome is what a post's answer means for the lead.
type Outcome int

// Outcomes.
const (
	// Accepted: LeadExec took the lead (No_Error).
	Accepted Outcome = iota
	// Exists: LeadExec already has the lead (Duplicate_Lead). Not an error
	// to retry; a retry of an in-doubt post ends here.
	Exists
	// Rejected: the lead, or the posting setup, is refused; posting it
	// again unchanged fails the same way. System_ID_Missing,
	// LeadType_ID_Missing, Vendor_ID_Missing, No_Account_Found,
	// Outside_Criteria, Account_Disabled and Data_Errors. Account_Disabled
	// may pass once an operator enables the campaign, but nothing in the
	// answer says when, so it is parked with the other rejections.
	Rejected
	// RetryLater: post again later. Post_Over_Max is a campaign cap (hour,
	// day or month) that resets, not a fault of the lead. Unknown response
	// types also land here: giving up too early loses data.
	RetryLater
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Exists:
		return "exists"
	case Rejected:
		return "rejected"
	case RetryLater:
		return "retry-later"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Outcome classifies the response type.
func (t ResponseType) Outcome() Outcome {
	switch t {
	case NoError:
		return Accepted
	case DuplicateLead:
		return Exists
	case SystemIDMissing, LeadTypeIDMissing, VendorIDMissing, NoAccountFound, OutsideCriteria,
		AccountDisabled, DataErrors:
		return Rejected
	}
	return RetryLater // PostOverMax and unknown values
}

// Permanent reports whether posting the same lead again can never succeed
// (Outcome Rejected). Duplicate_Lead is not permanent: the lead is there.
func (t ResponseType) Permanent() bool { return t.Outcome() == Rejected }

// PostResponse is LeadExec's answer to one posted lead.
type PostResponse struct {
	// PostID is LeadExec's log id of the post (a GUID).
	PostID string
	// IsValidPost is whether LeadExec accepted the lead.
	IsValidPost  bool
	ResponseType ResponseType
	// ResponseDetails is the human-readable reason, e.g. the field that is
	// missing or invalid (ResponseDetail in some LeadExec documents; both
	// spellings are read).
	ResponseDetails string
	// LeadIdentifier is LeadExec's lead id; 0 when the post failed.
	// The simulator also returns the existing lead's id with
	// Duplicate_Lead; real LeadExec may leave it empty.
	LeadIdentifier int64
	// VendorAccountAssigned is the campaign (AID) that took the lead.
	VendorAccountAssigned int64
	PendingQCReview       bool
	// Price is the lead's price as LeadExec wrote it (a decimal), "" when
	// absent. Kept as text so no money passes through a float.
	Price       string
	RedirectURL string
}

// Outcome classifies the answer. An accepted post (isValidPost true) is
// Accepted whatever its ResponseType; otherwise the ResponseType decides,
// and a refusal that claims No_Error is RetryLater (it contradicts itself).
func (r PostResponse) Outcome() Outcome {
	if r.IsValidPost {
		return Accepted
	}
	if o := r.ResponseType.Outcome(); o != Accepted {
		return o
	}
	return RetryLater
}

// Err returns nil when the lead is in LeadExec (Accepted or Exists), else a
// *RejectError carrying the response.
func (r PostResponse) Err() error {
	switch r.Outcome() {
	case Accepted, Exists:
		return nil
	}
	return &RejectError{Op: "post", Response: r}
}

// ParsePostResponse reads the receiver's answer to one lead: XML (a root
// element, normally <PostResponse>, in any namespace) or JSON (an object,
// possibly wrapped in {"PostResponse": {...}}, or a one-element array).
// The format is taken from the body's first character; contentType is only
// used when the body does not tell. Property names are matched
// case-insensitively; ResponseType may be a name or a number, booleans may
// be JSON booleans or strings, and LeadIdentifier may be empty.
func ParsePostResponse(body []byte, contentType string) (PostResponse, error) {
	rs, err := ParsePostResponses(body, contentType)
	if err != nil {
		return PostResponse{}, err
	}
	if len(rs) != 1 {
		return PostResponse{}, fmt.Errorf("leadexec: %d post responses where one was expected", len(rs))
	}
	return rs[0], nil
}

// ParsePostResponses reads an answer that may hold several responses (the
// V2 receiver): a JSON array of response objects, an object holding such an
// array under any key ("leads", "results", ...), a single response object,
// or XML with one <PostResponse> or an array of them. An answer with no
// response at all is an error.
func ParsePostResponses(body []byte, contentType string) ([]PostResponse, error) {
	t := bytes.TrimSpace(body)
	t = bytes.TrimPrefix(t, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	var format byte
	switch {
	case len(t) == 0:
		return nil, errors.New("leadexec: empty post response")
	case t[0] == '<':
		format = 'x'
	case t[0] == '{' || t[0] == '[':
		format = 'j'
	case strings.Contains(strings.ToLower(contentType), "xml"):
		format = 'x'
	default:
		format = 'j'
	}
	var (
		rs  []PostResponse
		err error
	)
	if format == 'x' {
		rs, err = postResponsesXML(t)
	} else {
		rs, err = postResponsesJSON(t)
	}
	if err == nil && len(rs) == 0 {
		err = errors.New("leadexec: post response holds no response")
	}
	return rs, err
}

func postResponsesXML(body []byte) ([]PostResponse, error) {
	root, err := parseXMLBytes(body)
	if err != nil {
		return nil, fmt.Errorf("leadexec: post response: %w", err)
	}
	var items []*xnode
	if isPostResponse(root.record()) {
		items = []*xnode{root}
	} else {
		items = xmlItems(root, "ResponseType")
		if len(items) == 0 {
			items = xmlItems(root, "isValidPost")
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("leadexec: post response: <%s> holds no response", shorten(root.name))
	}
	return convertAll(items, "leadexec: post response", func(n *xnode) (PostResponse, error) { return postResponseFrom(n.record()) })
}

func postResponsesJSON(body []byte) ([]PostResponse, error) {
	var v json.RawMessage
	if err := strictJSON(body, &v); err != nil {
		return nil, fmt.Errorf("leadexec: post response: %w", err)
	}
	objs, err := responseObjects(v, 0)
	if err != nil {
		return nil, fmt.Errorf("leadexec: post response: %w", err)
	}
	return convertAll(objs, "leadexec: post response", func(o jsonFields) (PostResponse, error) { return postResponseFrom(o.record()) })
}

// responseObjects finds the response objects in a JSON value.
func responseObjects(v json.RawMessage, depth int) ([]jsonFields, error) {
	if depth > 3 {
		return nil, errors.New("no response object found")
	}
	t := bytes.TrimSpace(v)
	if len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, err
		}
		return convertAll(arr, "element", func(el json.RawMessage) (jsonFields, error) { return jsonObject(el) })
	}
	o, err := jsonObject(t)
	if err != nil {
		return nil, err
	}
	if isPostResponse(o.record()) {
		return []jsonFields{o}, nil
	}
	// A wrapper: the one member that is an array or object.
	var inner []json.RawMessage
	for _, raw := range o {
		if rt := bytes.TrimSpace(raw); len(rt) > 0 && (rt[0] == '[' || rt[0] == '{') {
			inner = append(inner, raw)
		}
	}
	if len(inner) != 1 {
		return nil, errors.New("no isValidPost or ResponseType")
	}
	return responseObjects(inner[0], depth+1)
}

func isPostResponse(r record) bool {
	_, a := r.text("isValidPost")
	_, b := r.text("ResponseType")
	return a || b
}

// postResponseFrom converts one response's properties.
func postResponseFrom(rec record) (PostResponse, error) {
	if !isPostResponse(rec) {
		return PostResponse{}, errors.New("no isValidPost or ResponseType")
	}
	rd := &reader{rec: rec}
	r := PostResponse{
		PostID:                strings.TrimSpace(rd.str("PostID")),
		IsValidPost:           rd.bool("isValidPost"),
		LeadIdentifier:        rd.int64("LeadIdentifier"),
		VendorAccountAssigned: rd.int64("VendorAccountAssigned"),
		PendingQCReview:       rd.bool("PendingQCReview"),
		Price:                 strings.TrimSpace(rd.str("Price")),
		RedirectURL:           strings.TrimSpace(rd.str("RedirectURL")),
	}
	if d, ok := rec.text("ResponseDetails"); ok {
		r.ResponseDetails = d
	} else {
		r.ResponseDetails = rd.str("ResponseDetail")
	}
	if rd.err != nil {
		return PostResponse{}, rd.err
	}
	if s := strings.TrimSpace(rd.str("ResponseType")); s != "" {
		r.ResponseType, _ = ParseResponseType(s)
	} else if r.IsValidPost {
		r.ResponseType = NoError
	} else {
		r.ResponseType = ResponseUnknown
	}
	return r, nil
}
