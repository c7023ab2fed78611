package leadexec

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Receiver paths on the leads host.
const (
	InsertV1Path = "/processor/insert/general"
	InsertV2Path = "/v2/insert/general"
)

// Source identifies where posted leads go, from a campaign's posting
// instructions.
type Source struct {
	VID int64 // lead source (vendor); required by LeadExec
	LID int64 // lead type; required by LeadExec
	AID int64 // campaign; 0 = not sent (LeadExec picks the campaign)
	// Password is the V1 posting password, when the instructions have one.
	// Secret.
	Password string
	// APIKey is the V2 api-key header value. Secret. Required by InsertV2.
	APIKey string
	// SendDelay is the V2 sendDelay in hours (LeadExec requires the
	// property; 0 sends at once).
	SendDelay int
	// ReturnURL, if set, asks LeadExec to call it when processing ends
	// (async posting).
	ReturnURL string
}

// LeadProperties are a V2 lead's properties.
type LeadProperties struct {
	Reference string  `json:"reference,omitempty"`
	NoSell    bool    `json:"noSell,omitempty"`
	OrderID   string  `json:"orderId,omitempty"`
	OfferIDs  []int64 `json:"offerIds,omitempty"`
}

// LeadPost is one lead for InsertV2.
type LeadPost struct {
	Properties LeadProperties
	// Fields maps lead-type field names (FirstName, Email, ...) to values.
	Fields map[string]string
}

// reservedV1 are the V1 parameters that are not lead fields.
var reservedV1 = map[string]bool{"vid": true, "lid": true, "aid": true, "password": true, "orderid": true,
	"returnurl": true, "response_type": true}

// InsertV1 posts one lead to the V1 receiver: a form POST to
// /processor/insert/general with vid, lid, aid, password and the lead's
// fields as name/value pairs. LeadExec answers XML (read by
// ParsePostResponse; JSON is read too).
//
// A lead LeadExec refuses is not an error: it comes back with
// IsValidPost=false and its ResponseType (see PostResponse.Outcome and
// PostResponse.Err). The error is an *Error for transport failures, non-2xx
// answers (401 is ErrInvalidCredentials) and unreadable answers
// (ErrMalformed, Transient: the lead may or may not have been taken, and a
// repeat is answered Duplicate_Lead if it was). A field named like a V1
// parameter (vid, lid, aid, password, orderid, returnurl, response_type;
// any case) is refused before anything is sent.
func (c *Client) InsertV1(ctx context.Context, src Source, fields map[string]string) (PostResponse, error) {
	const op = "InsertV1"
	form := url.Values{}
	for k, v := range fields {
		if reservedV1[strings.ToLower(k)] {
			return PostResponse{}, invalidRequest(op, fmt.Sprintf("field %q collides with a V1 parameter", shorten(k)))
		}
		form.Set(k, v)
	}
	setID(form, "vid", src.VID)
	setID(form, "lid", src.LID)
	setID(form, "aid", src.AID)
	if src.Password != "" {
		form.Set("password", src.Password)
	}
	if src.ReturnURL != "" {
		form.Set("returnurl", src.ReturnURL)
	}
	rq := request{op: op, method: http.MethodPost, url: c.leads + InsertV1Path, body: []byte(form.Encode()),
		ctype: "application/x-www-form-urlencoded", header: http.Header{"Accept": {"application/xml, application/json"}},
		limit: MaxPostResponseBytes, secret: c.secrets(src.Password, src.APIKey)}
	resp, err := do(ctx, c.http, rq)
	if err != nil {
		return PostResponse{}, err
	}
	if !ok(resp.status) {
		return PostResponse{}, statusError(op, "receiver", resp, c.now())
	}
	pr, perr := ParsePostResponse(resp.body, resp.header.Get("Content-Type"))
	if perr != nil {
		return PostResponse{}, malformed(op, resp.status, perr.Error(), resp.body, resp.secret)
	}
	return pr, nil
}

func setID(v url.Values, name string, id int64) {
	if id != 0 {
		v.Set(name, strconv.FormatInt(id, 10))
	}
}

type v2Body struct {
	Source v2Source `json:"source"`
	Leads  []v2Lead `json:"leads"`
}

type v2Source struct {
	VID       int64  `json:"vid,omitempty"`
	AID       int64  `json:"aid,omitempty"`
	LID       int64  `json:"lid,omitempty"`
	SendDelay int    `json:"sendDelay"`
	ReturnURL string `json:"returnURL,omitempty"`
}

type v2Lead struct {
	Properties LeadProperties    `json:"properties"`
	Fields     map[string]string `json:"fields"`
}

// InsertV2 posts leads to the V2 receiver: POST /v2/insert/general, JSON
// {source: {vid, aid, lid, sendDelay, returnURL}, leads: [{properties,
// fields}]}, header api-key. It returns one PostResponse per lead, in the
// order sent; refusals are in the responses, not the error (see InsertV1).
//
// LeadExec does not document the V2 answer. It is read as a JSON array of
// V1-style response objects, one per lead in order (an object wrapping such
// an array, or a single object for a single lead, is accepted too); a
// different count is ErrMalformed. No leads: nothing is sent.
func (c *Client) InsertV2(ctx context.Context, src Source, leads []LeadPost) ([]PostResponse, error) {
	const op = "InsertV2"
	if len(leads) == 0 {
		return nil, nil
	}
	if src.APIKey == "" {
		return nil, missingCredentials(op, "Source.APIKey")
	}
	b := v2Body{Source: v2Source{VID: src.VID, AID: src.AID, LID: src.LID, SendDelay: src.SendDelay, ReturnURL: src.ReturnURL},
		Leads: make([]v2Lead, len(leads))}
	for i, l := range leads {
		b.Leads[i] = v2Lead{Properties: l.Properties, Fields: l.Fields}
		if b.Leads[i].Fields == nil {
			b.Leads[i].Fields = map[string]string{}
		}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, invalidRequest(op, "encode request: "+err.Error())
	}
	rq := request{op: op, method: http.MethodPost, url: c.leads + InsertV2Path, body: body, ctype: "application/json",
		header: http.Header{"Accept": {"application/json"}, "Api-Key": {src.APIKey}},
		limit:  MaxPostResponseBytes, secret: c.secrets(src.Password, src.APIKey)}
	resp, err := do(ctx, c.http, rq)
	if err != nil {
		return nil, err
	}
	if !ok(resp.status) {
		return nil, statusError(op, "receiver", resp, c.now())
	}
	prs, perr := ParsePostResponses(resp.body, resp.header.Get("Content-Type"))
	if perr != nil {
		return nil, malformed(op, resp.status, perr.Error(), resp.body, resp.secret)
	}
	if len(prs) != len(leads) {
		return nil, malformed(op, resp.status, fmt.Sprintf("%d responses for %d leads", len(prs), len(leads)),
			resp.body, resp.secret)
	}
	return prs, nil
}
