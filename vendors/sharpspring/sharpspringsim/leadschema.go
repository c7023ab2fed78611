package sharpspringsim

import (
	"html"
	"math"
	"strconv"
	"strings"
)

// valueKind is how a standard field's values are validated and stored.
type valueKind int

const (
	kindString   valueKind = iota // varchar/text; not nullable; "" clears
	kindID                        // bigint reference; nullable; "" is rejected
	kindInt                       // smallint; not nullable
	kindFlag                      // tinyint(1) "0"/"1"; nullable; "" is rejected
	kindStatus                    // leadStatus picklist
	kindReadOnly                  // id, updateTimestamp, crmID…: never writable
)

func (k valueKind) nullable() bool { return k == kindID || k == kindFlag }

// stdField is one standard field of a relationship.
type stdField struct {
	name     string
	label    string
	kind     valueKind
	length   int    // characters or digits; 0 = unbounded
	dataType string // as getFields reports it
	inLead   bool   // serialized in lead objects
	inFields bool   // listed by getFields
}

// leadFields lists the standard lead fields. Lead objects serialize the
// inLead ones in this order (spec §6.1), then every custom lead field.
// persona and trackingID are in the vendor schema but not in the 2016
// sample; they are serialized after leadStatus (assumption). createTimestamp
// is kept on each lead for timestamp:"create" queries but not serialized,
// as it is absent from the official samples (assumption).
// getFields lists crmID and the bounce/qualification flags but not accountID
// or active, as observed against v1.117.
var leadFields = []stdField{
	{"id", "Lead ID", kindReadOnly, 20, "int", true, true},
	{"accountID", "Account ID", kindID, 20, "int", true, false},
	{"ownerID", "Owner", kindID, 20, "int", true, true},
	{"companyName", "Company Name", kindString, 100, "text", true, true},
	{"title", "Title", kindString, 255, "text", true, true},
	{"firstName", "First Name", kindString, 50, "text", true, true},
	{"lastName", "Last Name", kindString, 50, "text", true, true},
	{"street", "Street", kindString, 255, "text", true, true},
	{"city", "City", kindString, 255, "text", true, true},
	{"country", "Country", kindString, 255, "country", true, true},
	{"state", "State", kindString, 50, "state", true, true},
	{"zipcode", "Zip", kindString, 50, "text", true, true},
	{"emailAddress", "Email", kindString, 150, "email", true, true},
	{"website", "Website", kindString, 255, "url", true, true},
	{"phoneNumber", "Phone Number", kindString, 255, "phone", true, true},
	{"officePhoneNumber", "Office Phone Number", kindString, 255, "phone", true, true},
	{"phoneNumberExtension", "Extension", kindString, 255, "text", true, true},
	{"mobilePhoneNumber", "Mobile Phone", kindString, 255, "phone", true, true},
	{"faxNumber", "Fax", kindString, 255, "phone", true, true},
	{"description", "Description", kindString, 0, "textarea", true, true},
	{"campaignID", "Campaign", kindID, 20, "int", true, true},
	{"leadScore", "Lead Score", kindInt, 6, "int", true, true},
	{"industry", "Industry", kindString, 255, "text", true, true},
	{"active", "Active", kindFlag, 1, "bit", true, false},
	{"isUnsubscribed", "Is Unsubscribed", kindFlag, 1, "bit", true, true},
	{"updateTimestamp", "Update Timestamp", kindReadOnly, 0, "datetime", true, true},
	{"leadScoreWeighted", "Lead Score Weighted", kindInt, 6, "int", true, true},
	{"leadStatus", "Lead Status", kindStatus, 0, "picklist", true, true},
	{"persona", "Persona", kindString, 128, "picklist", true, true},
	{"trackingID", "Tracking ID", kindString, 255, "text", true, true},
	{"crmID", "CRM ID", kindReadOnly, 255, "text", false, true},
	{"numBounces", "Number of Bounces", kindReadOnly, 11, "int", false, true},
	{"hardBounced", "Hard Bounced Email Address", kindReadOnly, 11, "int", false, true},
	{"hasOpportunity", "Has an Opportunity", kindReadOnly, 1, "bit", false, true},
	{"isQualified", "Is Qualified", kindReadOnly, 1, "bit", false, true},
	{"isContact", "Is Contact", kindReadOnly, 1, "bit", false, true},
}

// otherStdFields are the standard account and opportunity fields getFields
// lists. Only their metadata exists this round.
var otherStdFields = map[string][]stdField{
	"account": {
		{"accountName", "Account Name", kindString, 255, "text", false, true},
		{"ownerID", "Owner", kindID, 20, "int", false, true},
		{"industry", "Industry", kindString, 255, "text", false, true},
		{"phone", "Phone", kindString, 255, "phone", false, true},
		{"website", "Website", kindString, 255, "url", false, true},
		{"annualRevenue", "Annual Revenue", kindInt, 18, "int", false, true},
		{"numberOfEmployees", "Number of Employees", kindInt, 18, "int", false, true},
		{"yearStarted", "Year Started", kindInt, 18, "int", false, true},
		{"billingCity", "Billing City", kindString, 255, "text", false, true},
		{"billingCountry", "Billing Country", kindString, 255, "country", false, true},
		{"billingState", "Billing State", kindString, 255, "state", false, true},
		{"billingStreetAddress", "Billing Street Address", kindString, 255, "text", false, true},
		{"billingPostalCode", "Billing Postal Code", kindString, 50, "text", false, true},
		{"shippingCity", "Shipping City", kindString, 255, "text", false, true},
		{"shippingCountry", "Shipping Country", kindString, 255, "country", false, true},
		{"shippingState", "Shipping State", kindString, 255, "state", false, true},
		{"shippingStreetAddress", "Shipping Street Address", kindString, 255, "text", false, true},
		{"shippingPostalCode", "Shipping Postal Code", kindString, 50, "text", false, true},
	},
	"opportunity": {
		{"opportunityName", "Opportunity Name", kindString, 255, "text", false, true},
		{"ownerID", "Owner", kindID, 20, "int", false, true},
		{"dealStageID", "Deal Stage", kindID, 20, "picklist", false, true},
		{"accountID", "Account", kindID, 20, "int", false, true},
		{"campaignID", "Campaign", kindID, 20, "int", false, true},
		{"probability", "Probability", kindInt, 11, "int", false, true},
		{"amount", "Amount", kindString, 255, "text", false, true},
		{"isClosed", "Is Closed", kindFlag, 1, "bit", false, true},
		{"isWon", "Is Won", kindFlag, 1, "bit", false, true},
		{"closeDate", "Close Date", kindString, 0, "date", false, true},
	},
}

// relationships in the order getFields lists them.
var relationships = []string{"lead", "account", "opportunity"}

var leadFieldByName = func() map[string]*stdField {
	m := make(map[string]*stdField, len(leadFields))
	for i := range leadFields {
		m[leadFields[i].name] = &leadFields[i]
	}
	return m
}()

// readOnlyLeadKeys are lead keys a client may know but may not write.
// Sending updateTimestamp is rejected (205) rather than ignored: it was
// writable in 2016 and not later, and the spec says never to send it, so the
// defensive choice is to make a client that sends it fail in tests.
var readOnlyLeadKeys = map[string]bool{
	"updateTimestamp": true, "createTimestamp": true,
	"crmID": true, "numBounces": true, "hardBounced": true,
	"hasOpportunity": true, "isQualified": true, "isContact": true,
}

// Lead statuses. contactWithOpp is system-managed: writes of it, and writes
// to a lead that has it, are silently ignored.
const (
	statusUnqualified    = "unqualified"
	statusContactWithOpp = "contactWithOpp"
)

var writableStatuses = map[string]bool{"unqualified": true, "open": true, "qualified": true, "contact": true}

// validLeadParams is the data.params list of a 205 for unknown keys: the
// writable standard fields plus id, without custom fields or crmID (as
// observed).
func validLeadParams() []paramInfo {
	var out []paramInfo
	for _, f := range leadFields {
		if !f.inLead || (f.kind == kindReadOnly && f.name != "id") {
			continue
		}
		out = append(out, paramInfo{Param: f.name, Message: "Valid parameter", ValidFormat: f.format(f.name == "emailAddress")})
	}
	return out
}

func (f stdField) format(required bool) *validFormat {
	return &validFormat{Type: f.formatType(), Length: f.length, Required: required}
}

func (f stdField) formatType() string {
	switch f.kind {
	case kindID, kindInt:
		return "int"
	case kindFlag:
		return "bit"
	case kindStatus:
		return "picklist"
	}
	if f.dataType == "datetime" {
		return "datetime"
	}
	return "string"
}

// Problems reported in data.params[].message.
const (
	msgNotNull   = "Value may not be null"
	msgNotEmpty  = "Value may not be empty"
	msgString    = "Expected data of type string"
	msgInteger   = "Expected data of type integer"
	msgFlag      = "Expected 0 or 1"
	msgStatus    = "Invalid lead status"
	msgReadOnly  = "Parameter is read-only"
	msgRequired  = "Missing required parameter"
	msgBadFormat = "Invalid format"
)

// normalize turns a decoded JSON value (numbers as json.Number) into the
// stored form of a field of kind k, or returns the problem. Stored values
// are canonical ("007" → "7") so that change detection compares like with
// like. Strings get the API's "<" → "&lt;" treatment unless rawLT.
func normalize(k valueKind, length int, v any, rawLT bool) (*string, string) {
	if v == nil {
		if k.nullable() {
			return nil, ""
		}
		return nil, msgNotNull
	}
	switch k {
	case kindString:
		s, ok := scalarString(v)
		if !ok {
			return nil, msgString
		}
		if !rawLT {
			s = encodeLessThan(s)
		}
		return &s, ""
	case kindID:
		if s, ok := v.(string); ok && s == "" {
			return nil, msgNotEmpty
		}
		n, ok := looseInt(v)
		if !ok || n < 0 {
			return nil, msgInteger
		}
		s := strconv.FormatInt(n, 10)
		return &s, ""
	case kindInt:
		n, ok := looseInt(v)
		if !ok || n < math.MinInt16 || n > math.MaxInt16 {
			return nil, msgInteger
		}
		s := strconv.FormatInt(n, 10)
		return &s, ""
	case kindFlag:
		// JSON true/false is untested against the real API; rejecting it
		// is the defensive choice (clients should send 0/1 or "0"/"1").
		n, ok := looseInt(v)
		if !ok || (n != 0 && n != 1) {
			if s, isStr := v.(string); isStr && s == "" {
				return nil, msgNotEmpty
			}
			return nil, msgFlag
		}
		s := strconv.FormatInt(n, 10)
		return &s, ""
	case kindStatus:
		s, ok := v.(string)
		if !ok {
			return nil, msgStatus
		}
		return &s, ""
	}
	return nil, msgReadOnly
}

// parseInteger parses a decimal integer, also accepting an integral float
// form such as "5.0" or "1e3".
func parseInteger(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// encodeLessThan reproduces the API storing "<" as "&lt;" except when it is
// the last character (spec §7.11).
func encodeLessThan(s string) string {
	if len(s) < 2 || !strings.Contains(s[:len(s)-1], "<") {
		return s
	}
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		if s[j] == '<' && j < len(s)-1 {
			b.WriteString("&lt;")
			continue
		}
		b.WriteByte(s[j])
	}
	return b.String()
}

// uiEncodeStandard is how the web UI stores standard string fields: PHP
// htmlspecialchars with ENT_QUOTES.
var uiEncodeStandard = strings.NewReplacer("&", "&amp;", `"`, "&quot;", "'", "&#039;", "<", "&lt;", ">", "&gt;").Replace

// uiEncodeCustom is how the web UI stores custom fields. The spec only says
// the escaping differs from standard fields; numeric entities as produced
// by html.EscapeString (&#39; &#34;) are an assumption.
func uiEncodeCustom(s string) string { return html.EscapeString(s) }
