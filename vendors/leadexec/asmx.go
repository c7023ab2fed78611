package leadexec

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ASMXPath is the account web service; methods are /service.asmx/{Method}.
const ASMXPath = "/service.asmx"

// asmx calls one ASMX method over HTTP POST (form parameters in, bare XML
// out) with the Key, and returns the body of a 200 answer.
func (c *Client) asmx(ctx context.Context, method string, params url.Values) ([]byte, error) {
	if c.key == "" {
		return nil, missingCredentials(method, "Key")
	}
	form := url.Values{"Key": {c.key}}
	for k, v := range params {
		form[k] = v
	}
	rq := request{op: method, method: http.MethodPost, url: c.api + ASMXPath + "/" + method, body: []byte(form.Encode()),
		ctype: "application/x-www-form-urlencoded", header: http.Header{"Accept": {"text/xml, application/xml"}},
		limit: MaxAccountBytes, secret: c.secrets()}
	resp, err := do(ctx, c.http, rq)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, statusError(method, "asmx", resp, c.now())
	}
	return resp.body, nil
}

// GetClientList returns every client (buyer) of the account, from ASMX
// GetClientList. Errors: *Error; the service's HTTP 500 answers carry the
// .NET exception (Exception, Message) and are Permanent for refused
// parameters, Auth for a refused Key, Transient otherwise. ErrMalformed
// (Transient) when the XML cannot be read.
func (c *Client) GetClientList(ctx context.Context) ([]ClientInfo, error) {
	return asmxArray(ctx, c, "GetClientList", nil, parseClientList)
}

// GetClientData returns the client fields of one client (ASMX
// GetClientData): every account client field with this client's value.
// Find the standard ones by SpecialBit (see FieldBySpecialBit), not by
// Descriptor. Errors as GetClientList.
func (c *Client) GetClientData(ctx context.Context, clientUID int64) ([]ClientField, error) {
	return asmxArray(ctx, c, "GetClientData", url.Values{"ClientUID": {strconv.FormatInt(clientUID, 10)}}, parseClientData)
}

// asmxArray calls the ASMX method op and parses its answer with parse; an
// answer parse cannot read is ErrMalformed.
func asmxArray[T any](ctx context.Context, c *Client, op string, params url.Values, parse func([]byte) ([]T, error)) ([]T, error) {
	body, err := c.asmx(ctx, op, params)
	if err != nil {
		return nil, err
	}
	out, err := parse(body)
	if err != nil {
		return nil, malformed(op, http.StatusOK, err.Error(), body, c.secrets())
	}
	return out, nil
}

// ClientInfo is one client as GetClientList returns it. The web-portal
// Password the service also returns is never kept; obsolete properties
// (InternalUID, Image, IsLocked, LockedBy, DateLocked, LockedReason,
// OutLookUID) are dropped.
type ClientInfo struct {
	ClientUID  int64
	AccountUID int64
	// DateAdded is read from Pacific Time (see ParsePacific).
	DateAdded time.Time
	// Status is LeadExec's Int32 client status; its mapping to the
	// ClientStatus names is not documented.
	Status           int
	UserUID          int64
	TimeOffset       int
	Notes            string
	TimeZoneName     string
	ResellerUID      int64
	GroupUID         int64
	AutomationType   string // Price, Priority or RoundRobin
	Priority         int
	DeliveryGroupUID int64
	Username         string
	ShowLeadGrade    bool
	ShowLeadSource   bool
	ShowCampaign     bool
	AllowCalls       bool
	AllowReassign    bool
	UserAssigned     int64
	UseDeliveryTiers bool
	OverrideReassign bool
	// Extra holds leaf properties this package does not know, by element
	// name, so additions by LeadExec are not lost.
	Extra map[string]string
}

// clientProps are the GetClientList properties read into ClientInfo fields
// or deliberately dropped (lower case).
var clientProps = map[string]bool{
	"clientuid": true, "accountuid": true, "dateadded": true, "status": true, "useruid": true, "timeoffset": true,
	"notes": true, "timezonename": true, "reselleruid": true, "groupuid": true, "automationtype": true,
	"priority": true, "deliverygroupuid": true, "username": true, "showleadgrade": true, "showleadsource": true,
	"showcampaign": true, "allowcalls": true, "allowreassign": true, "userassigned": true,
	"usedeliverytiers": true, "overridereassign": true,
	// dropped
	"password": true, "internaluid": true, "image": true, "islocked": true, "lockedby": true, "datelocked": true,
	"lockedreason": true, "outlookuid": true,
}

// ParseClientList reads a GetClientList answer: an XmlSerializer array
// (<ArrayOfX xmlns="…"><X>…</X>…</ArrayOfX>) whose element names and
// namespace are not relied on; properties are read by local name, case
// insensitively. At most MaxAccountBytes are read. Every item must have a
// ClientUID.
func ParseClientList(r io.Reader) ([]ClientInfo, error) {
	return readArray(r, "client list", parseClientList)
}

func parseClientList(body []byte) ([]ClientInfo, error) {
	return parseArray(body, "client list", "ClientUID", clientInfoFrom)
}

// readArray reads at most MaxAccountBytes of an ASMX answer and parses them
// with parse; what names the answer in errors.
func readArray[T any](r io.Reader, what string, parse func([]byte) ([]T, error)) ([]T, error) {
	body, err := readLimited(r, MaxAccountBytes)
	if err != nil {
		return nil, fmt.Errorf("leadexec: %s: %w", what, err)
	}
	return parse(body)
}

// parseArray reads an XmlSerializer array whose items carry key, each item
// turned by from; what names the answer in errors.
func parseArray[T any](body []byte, what, key string, from func(*xnode) (T, error)) ([]T, error) {
	root, err := parseXMLBytes(body)
	if err != nil {
		return nil, fmt.Errorf("leadexec: %s: %w", what, err)
	}
	return convertAll(xmlItems(root, key), "leadexec: "+what+" item", from)
}

func clientInfoFrom(n *xnode) (ClientInfo, error) {
	rec := n.record()
	if _, ok := rec.text("ClientUID"); !ok {
		return ClientInfo{}, fmt.Errorf("<%s> has no ClientUID", shorten(n.name))
	}
	rd := &reader{rec: rec}
	ci := ClientInfo{
		ClientUID: rd.int64("ClientUID"), AccountUID: rd.int64("AccountUID"), Status: rd.int("Status"),
		UserUID: rd.int64("UserUID"), TimeOffset: rd.int("TimeOffset"), Notes: rd.str("Notes"),
		TimeZoneName: rd.str("TimeZoneName"), ResellerUID: rd.int64("ResellerUID"), GroupUID: rd.int64("GroupUID"),
		AutomationType: strings.TrimSpace(rd.str("AutomationType")), Priority: rd.int("Priority"),
		DeliveryGroupUID: rd.int64("DeliveryGroupUID"), Username: rd.str("Username"),
		ShowLeadGrade: rd.bool("ShowLeadGrade"), ShowLeadSource: rd.bool("ShowLeadSource"),
		ShowCampaign: rd.bool("ShowCampaign"), AllowCalls: rd.bool("AllowCalls"), AllowReassign: rd.bool("AllowReassign"),
		UserAssigned: rd.int64("UserAssigned"), UseDeliveryTiers: rd.bool("UseDeliveryTiers"),
		OverrideReassign: rd.bool("OverrideReassign"),
	}
	if rd.err != nil {
		return ClientInfo{}, rd.err
	}
	if ci.ClientUID == 0 && strings.TrimSpace(rd.str("ClientUID")) == "" {
		return ClientInfo{}, fmt.Errorf("empty ClientUID")
	}
	var err error
	if ci.DateAdded, err = ParsePacific(rd.str("DateAdded")); err != nil {
		return ClientInfo{}, fmt.Errorf("DateAdded: %w", err)
	}
	for _, k := range n.kids {
		if k.leaf() && !clientProps[strings.ToLower(k.name)] {
			if ci.Extra == nil {
				ci.Extra = map[string]string{}
			}
			if _, dup := ci.Extra[k.name]; !dup {
				ci.Extra[k.name] = k.text
			}
		}
	}
	return ci, nil
}

// ClientField is one client field with a client's value (GetClientData).
type ClientField struct {
	ClientFieldUID int64
	Descriptor     string
	DataType       DataType
	Required       bool
	Computed       bool
	ComputedExpr   string
	Enumerated     bool
	Enums          []string
	Validation     string
	InvalidChars   string
	FormatError    string
	FormatString   string
	// SpecialBit is the system meaning of the field (Email, State, ...);
	// SpecialUnknown for a value this package does not know.
	SpecialBit SpecialBit
	// IsState: the value is a US state UID.
	IsState    bool
	FieldValue string
	// PastValues are the texts of the PastValues array's simple items.
	PastValues []string
}

// FieldBySpecialBit returns the first field with the given SpecialBit.
func FieldBySpecialBit(fields []ClientField, b SpecialBit) (ClientField, bool) {
	for _, f := range fields {
		if f.SpecialBit == b {
			return f, true
		}
	}
	return ClientField{}, false
}

// ParseClientData reads a GetClientData answer, an XmlSerializer array of
// client fields (any element names and namespace). At most MaxAccountBytes
// are read. Every item must have a ClientFieldUID.
func ParseClientData(r io.Reader) ([]ClientField, error) {
	return readArray(r, "client data", parseClientData)
}

func parseClientData(body []byte) ([]ClientField, error) {
	return parseArray(body, "client data", "ClientFieldUID", clientFieldFrom)
}

func clientFieldFrom(n *xnode) (ClientField, error) {
	rec := n.record()
	if v, ok := rec.text("ClientFieldUID"); !ok || strings.TrimSpace(v) == "" {
		return ClientField{}, fmt.Errorf("<%s> has no ClientFieldUID", shorten(n.name))
	}
	rd := &reader{rec: rec}
	f := ClientField{
		ClientFieldUID: rd.int64("ClientFieldUID"), Descriptor: rd.str("Descriptor"), Required: rd.bool("Required"),
		Computed: rd.bool("Computed"), ComputedExpr: rd.str("ComputedExpr"), Enumerated: rd.bool("Enumerated"),
		Validation: rd.str("Validation"), InvalidChars: rd.str("InvalidChars"), FormatError: rd.str("FormatError"),
		FormatString: rd.str("FormatString"), IsState: rd.bool("isState"), FieldValue: rd.str("FieldValue"),
	}
	if rd.err != nil {
		return ClientField{}, rd.err
	}
	f.DataType = ParseDataType(rd.str("DataType"))
	f.SpecialBit = ParseSpecialBit(rd.str("SpecialBit"))
	if e := n.child("Enums"); e != nil {
		f.Enums = e.texts()
	}
	if p := n.child("PastValues"); p != nil {
		f.PastValues = p.texts()
	}
	return f, nil
}

// SpecialBit is LeadExec's ClientFieldSpecialBit: the system meaning of a
// client field. The names are documented; the numbers follow the
// documented order (NoSpecialBit = 0), which is an inference.
type SpecialBit int

// Special bits.
const (
	SpecialUnknown           SpecialBit = -1 // a value this package does not know
	SpecialNone              SpecialBit = 0  // NoSpecialBit
	SpecialCompany           SpecialBit = 1
	SpecialFirstName         SpecialBit = 2
	SpecialLastName          SpecialBit = 3
	SpecialEmail             SpecialBit = 4
	SpecialPrimaryPhone      SpecialBit = 5
	SpecialPrimaryPhoneExt   SpecialBit = 6
	SpecialAlternatePhone    SpecialBit = 7
	SpecialAddress           SpecialBit = 8
	SpecialCity              SpecialBit = 9
	SpecialState             SpecialBit = 10
	SpecialZip               SpecialBit = 11
	SpecialAlternatePhoneExt SpecialBit = 12
	SpecialFaxNumber         SpecialBit = 13
	SpecialComments          SpecialBit = 14
	SpecialJobTitle          SpecialBit = 15
	SpecialWebSite           SpecialBit = 16
	SpecialMobilePhone       SpecialBit = 17
)

var specialNames = [...]string{"NoSpecialBit", "Company", "FirstName", "LastName", "Email", "PrimaryPhone",
	"PrimaryPhoneExt", "AlternatePhone", "Address", "City", "State", "Zip", "AlternatePhoneExt", "FaxNumber",
	"Comments", "JobTitle", "WebSite", "MobilePhone"}

// String returns LeadExec's name ("PrimaryPhone").
func (b SpecialBit) String() string { return enumName(int(b), specialNames[:]) }

// MarshalText writes the name.
func (b SpecialBit) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// ParseSpecialBit reads a SpecialBit by name (case-insensitive) or number.
// "" is SpecialNone; anything else unknown is SpecialUnknown.
func ParseSpecialBit(s string) SpecialBit {
	return SpecialBit(parseEnum(s, specialNames[:], int(SpecialUnknown)))
}

// DataType is LeadExec's field data type. Numbers follow the documented
// order (No_DataType = 0), an inference.
type DataType int

// Data types.
const (
	DataTypeUnknown  DataType = -1
	DataTypeNone     DataType = 0 // No_DataType
	DataTypeInt      DataType = 1
	DataTypeBigint   DataType = 2
	DataTypeBit      DataType = 3
	DataTypeMoney    DataType = 4
	DataTypeDecimal  DataType = 5
	DataTypeFloat    DataType = 6
	DataTypeDateTime DataType = 7
	DataTypeVarchar  DataType = 8
)

var dataTypeNames = [...]string{"No_DataType", "Int", "Bigint", "Bit", "Money", "Decimal", "Float", "DateTime", "Varchar"}

// String returns LeadExec's name ("Varchar").
func (d DataType) String() string { return enumName(int(d), dataTypeNames[:]) }

// MarshalText writes the name.
func (d DataType) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ParseDataType reads a DataType by name (case and underscores ignored) or
// number; "" is DataTypeNone, anything else unknown DataTypeUnknown.
func ParseDataType(s string) DataType {
	return DataType(parseEnum(s, dataTypeNames[:], int(DataTypeUnknown)))
}

// enumName is names[i], or "Unknown" for a number outside names.
func enumName(i int, names []string) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "Unknown"
}

// parseEnum maps a name (folded) or number to its index; "" is 0.
func parseEnum(s string, names []string, unknown int) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 0 && n < len(names) {
			return n
		}
		return unknown
	}
	key := foldName(s)
	for i, name := range names {
		if foldName(name) == key {
			return i
		}
	}
	return unknown
}
