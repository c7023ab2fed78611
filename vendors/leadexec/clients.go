package leadexec

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// ClientStatus is a client status name (AddEditClient's ClientStatus).
type ClientStatus string

// Client statuses (documented names).
const (
	StatusNew       ClientStatus = "New"
	StatusPending   ClientStatus = "Pending"
	StatusWorking   ClientStatus = "Working"
	StatusWaiting   ClientStatus = "Waiting"
	StatusDead      ClientStatus = "Dead"
	StatusInactive  ClientStatus = "Inactive"
	StatusActive    ClientStatus = "Active"
	StatusLate      ClientStatus = "Late"
	StatusSuspended ClientStatus = "Suspended"
	StatusClosed    ClientStatus = "Closed"
)

// ClientStatuses are the documented ClientStatus names in their documented
// order. GetClientList answers the status as an Int32 whose mapping is not
// documented; this package takes it as the position in this list (New = 0),
// as it does for the other enumerations.
var ClientStatuses = []ClientStatus{StatusNew, StatusPending, StatusWorking, StatusWaiting, StatusDead,
	StatusInactive, StatusActive, StatusLate, StatusSuspended, StatusClosed}

// StatusName returns the ClientStatus of GetClientList's Int32 status, and
// false for a number outside the documented list.
func StatusName(status int) (ClientStatus, bool) {
	if status < 0 || status >= len(ClientStatuses) {
		return "", false
	}
	return ClientStatuses[status], true
}

// ClientEdit creates or edits a client with AddEditClient.
type ClientEdit struct {
	Info      ClientEditInfo
	FieldData []FieldData
}

// ClientEditInfo is the Client (ClientItemType) of an edit. ClientUID 0
// creates a client (sent as LeadExec's -1). Zero-valued optional properties
// mean "leave as it is": EditClient reads the client first and sends its
// current value (AddEditClient takes the whole client); pointers send a zero
// value on purpose.
type ClientEditInfo struct {
	ClientUID    int64
	Status       ClientStatus
	UserUID      int64
	TimeOffset   *int
	TimeZoneName string
	Notes        *string
	ResellerUID  int64
	GroupUID     int64
	Username     string
	// Password is the web-portal password; required for a new client.
	// Secret: never in errors, String or LogValue.
	Password         string
	OverrideReassign *bool
}

// String describes the edit without the password.
func (i ClientEditInfo) String() string {
	pw := ""
	if i.Password != "" {
		pw = " Password:[REDACTED]"
	}
	return fmt.Sprintf("{ClientUID:%d Status:%s Username:%s%s}", i.ClientUID, i.Status, i.Username, pw)
}

// LogValue logs the edit without the password.
func (i ClientEditInfo) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("ClientUID", i.ClientUID), slog.String("Status", string(i.Status)),
		slog.String("Username", i.Username), slog.Bool("Password", i.Password != ""))
}

// FieldData sets one client field, by ClientFieldUID (see GetClientData).
type FieldData struct {
	ClientFieldUID int64
	Value          string
}

// AddEditClient is sent as a SOAP 1.1 request: its parameters are objects
// (Client, FieldData[]), which ASMX's HTTP GET and POST bindings cannot
// carry (shared/specs/vendors.md §1.1).
const soapEnvelopeNS = "http://schemas.xmlsoap.org/soap/envelope/"

type soapEnvelope struct {
	XMLName xml.Name `xml:"soap:Envelope"`
	Soap    string   `xml:"xmlns:soap,attr"`
	Body    soapBody `xml:"soap:Body"`
}

type soapBody struct {
	Call addEditClientCall
}

type addEditClientCall struct {
	XMLName   xml.Name
	NS        string          `xml:"xmlns,attr"`
	Key       string          `xml:"Key"`
	Client    soapClient      `xml:"Client"`
	FieldData []soapFieldData `xml:"FieldData>ClientFieldItemType"`
}

// soapClient is the ClientItemType, every documented property that is not
// obsolete, so that nothing is reset to a default.
type soapClient struct {
	ClientUID        int64  `xml:"ClientUID"`
	DateAdded        string `xml:"DateAdded,omitempty"`
	Status           string `xml:"Status"`
	UserUID          int64  `xml:"UserUID"`
	TimeOffset       int    `xml:"TimeOffset"`
	Notes            string `xml:"Notes"`
	TimeZoneName     string `xml:"TimeZoneName"`
	ResellerUID      int64  `xml:"ResellerUID"`
	GroupUID         int64  `xml:"GroupUID"`
	Username         string `xml:"Username"`
	Password         string `xml:"Password"`
	OverrideReassign bool   `xml:"OverrideReassign"`
}

type soapFieldData struct {
	ClientFieldUID int64  `xml:"ClientFieldUID"`
	FieldValue     string `xml:"FieldValue"`
}

// EditClient creates (Info.ClientUID 0) or edits a client with ASMX
// AddEditClient and returns its ClientUID.
//
// AddEditClient takes the whole client (a ClientItemType and the FieldData
// array), and LeadExec does not say what it does with properties or fields
// left out; the defensive reading is that they are reset. So an edit reads
// the client first (GetClientList, GetClientData) and sends every property
// and field with its current value, changed only where edit says: one edit
// is three requests, and a property changed in LeadExec between the read and
// the write is overwritten with the value read. A new client is sent with
// ClientUID -1, status Active unless given, ResellerUID -1 (none) and the
// given fields only.
//
// The answer is documented as the client's id; an answer without one is
// taken as success, and a new client's id is then found by its Username
// (usernames are unique in LeadExec). A new client without a Password, or
// a field LeadExec's client field list lacks, is refused before sending
// (ErrInvalidRequest). Errors are *Error: ErrNotFound for an unknown
// ClientUID, SOAP faults for refused requests (Permanent, or Transient for
// server faults), HTTP 429 and 5xx as for the other ASMX methods.
func (c *Client) EditClient(ctx context.Context, edit ClientEdit) (int64, error) {
	const op = "AddEditClient"
	in := edit.Info
	switch {
	case in.ClientUID < 0:
		return 0, invalidRequest(op, "ClientUID is negative (use 0 for a new client)")
	case in.ClientUID == 0 && in.Password == "":
		return 0, invalidRequest(op, "a new client needs a Password")
	}
	if in.Status != "" && !knownStatus(in.Status) {
		return 0, invalidRequest(op, fmt.Sprintf("Status %q is not a client status", shorten(string(in.Status))))
	}
	var call addEditClientCall
	if in.ClientUID == 0 {
		call.Client = soapClient{ClientUID: -1, DateAdded: FormatPacific(c.now()), Status: string(StatusActive), ResellerUID: -1}
		for _, fd := range edit.FieldData {
			call.FieldData = append(call.FieldData, soapFieldData{ClientFieldUID: fd.ClientFieldUID, FieldValue: fd.Value})
		}
	} else {
		cur, pw, found, err := c.clientForEdit(ctx, in.ClientUID)
		if err != nil {
			return 0, err
		}
		if !found {
			return 0, &Error{Op: op, Message: fmt.Sprintf("client %d does not exist", in.ClientUID), class: apierr.Permanent,
				err: ErrNotFound}
		}
		st, ok := StatusName(cur.Status)
		if !ok {
			return 0, invalidRequest(op, fmt.Sprintf("client %d has status %d, which is not a documented status: "+
				"not rewritten", in.ClientUID, cur.Status))
		}
		call.Client = soapClient{ClientUID: cur.ClientUID, DateAdded: FormatPacific(cur.DateAdded), Status: string(st),
			UserUID: cur.UserUID, TimeOffset: cur.TimeOffset, Notes: cur.Notes, TimeZoneName: cur.TimeZoneName,
			ResellerUID: cur.ResellerUID, GroupUID: cur.GroupUID, Username: cur.Username, Password: pw,
			OverrideReassign: cur.OverrideReassign}
		fields, err := c.GetClientData(ctx, in.ClientUID)
		if err != nil {
			return 0, err
		}
		known := map[int64]int{}
		for _, f := range fields {
			if f.Computed {
				continue
			}
			known[f.ClientFieldUID] = len(call.FieldData)
			call.FieldData = append(call.FieldData, soapFieldData{ClientFieldUID: f.ClientFieldUID, FieldValue: f.FieldValue})
		}
		for _, fd := range edit.FieldData {
			i, ok := known[fd.ClientFieldUID]
			if !ok {
				return 0, invalidRequest(op, fmt.Sprintf("client field %d is not a client field of the account", fd.ClientFieldUID))
			}
			call.FieldData[i].FieldValue = fd.Value
		}
	}
	cl := &call.Client
	if in.Status != "" {
		cl.Status = string(in.Status)
	}
	if in.UserUID != 0 {
		cl.UserUID = in.UserUID
	}
	if in.TimeOffset != nil {
		cl.TimeOffset = *in.TimeOffset
	}
	if in.TimeZoneName != "" {
		cl.TimeZoneName = in.TimeZoneName
	}
	if in.Notes != nil {
		cl.Notes = *in.Notes
	}
	if in.ResellerUID != 0 {
		cl.ResellerUID = in.ResellerUID
	}
	if in.GroupUID != 0 {
		cl.GroupUID = in.GroupUID
	}
	if in.Username != "" {
		cl.Username = in.Username
	}
	if in.Password != "" {
		cl.Password = in.Password
	}
	if in.OverrideReassign != nil {
		cl.OverrideReassign = *in.OverrideReassign
	}
	id, answered, err := c.addEditClient(ctx, call)
	if err != nil {
		return 0, err
	}
	switch {
	case answered && in.ClientUID != 0 && id != in.ClientUID:
		return 0, &Error{Op: op, HTTPStatus: http.StatusOK, Message: fmt.Sprintf("edited client %d but LeadExec answered %d",
			in.ClientUID, id), class: apierr.Transient, err: ErrMalformed}
	case answered:
		return id, nil
	case in.ClientUID != 0:
		return in.ClientUID, nil
	}
	// No id in the answer: find the new client by its unique username.
	list, err := c.GetClientList(ctx)
	if err != nil {
		return 0, err
	}
	for _, ci := range list {
		if cl.Username != "" && strings.EqualFold(ci.Username, cl.Username) {
			return ci.ClientUID, nil
		}
	}
	return 0, &Error{Op: op, HTTPStatus: http.StatusOK, Message: "AddEditClient answered no client id and no client has the new username",
		class: apierr.Transient, err: ErrMalformed}
}

func knownStatus(s ClientStatus) bool {
	for _, k := range ClientStatuses {
		if strings.EqualFold(string(k), string(s)) {
			return true
		}
	}
	return false
}

// clientForEdit reads one client from GetClientList with its web-portal
// password, which AddEditClient must be sent back (ClientInfo never keeps
// it).
func (c *Client) clientForEdit(ctx context.Context, uid int64) (ClientInfo, string, bool, error) {
	type withPassword struct {
		info ClientInfo
		pw   string
	}
	all, err := asmxArray(ctx, c, "GetClientList", nil, func(body []byte) ([]withPassword, error) {
		return parseArray(body, "client list", "ClientUID", func(n *xnode) (withPassword, error) {
			ci, err := clientInfoFrom(n)
			if err != nil {
				return withPassword{}, err
			}
			pw, _ := n.record().text("Password")
			return withPassword{info: ci, pw: pw}, nil
		})
	})
	if err != nil {
		return ClientInfo{}, "", false, err
	}
	for _, w := range all {
		if w.info.ClientUID == uid {
			return w.info, w.pw, true, nil
		}
	}
	return ClientInfo{}, "", false, nil
}

// addEditClient sends the SOAP call and reads the id LeadExec answers, if
// it answers one (answered false: a success without an id).
func (c *Client) addEditClient(ctx context.Context, call addEditClientCall) (id int64, answered bool, err error) {
	const op = "AddEditClient"
	if c.key == "" {
		return 0, false, missingCredentials(op, "Key")
	}
	call.XMLName = xml.Name{Local: "AddEditClient"}
	call.NS = c.ns
	call.Key = c.key
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(soapEnvelope{Soap: soapEnvelopeNS, Body: soapBody{Call: call}}); err != nil {
		return 0, false, invalidRequest(op, "encode request")
	}
	rq := request{op: op, method: http.MethodPost, url: c.api + ASMXPath, body: buf.Bytes(),
		ctype: "text/xml; charset=utf-8", header: http.Header{"SOAPAction": {`"` + c.ns + "AddEditClient" + `"`}},
		limit: MaxAccountBytes, secret: c.secrets(call.Client.Password)}
	resp, err := do(ctx, c.http, rq)
	if err != nil {
		return 0, false, err
	}
	if resp.status != http.StatusOK {
		return 0, false, soapError(op, resp, c.now())
	}
	id, answered, perr := ParseAddEditClientResponse(resp.body)
	if perr != nil {
		return 0, false, malformed(op, resp.status, perr.Error(), resp.body, resp.secret)
	}
	return id, answered, nil
}

// ParseAddEditClientResponse reads the SOAP answer of AddEditClient (any
// namespace and element case): the client id of <AddEditClientResult>
// (answered true), or none when the result is absent or empty (answered
// false; LeadExec's reference lists no return properties). An answer
// without an AddEditClientResponse, or whose result is not a positive
// integer, is an error. At most MaxAccountBytes are read by the caller.
func ParseAddEditClientResponse(body []byte) (id int64, answered bool, err error) {
	root, err := parseXMLBytes(body)
	if err != nil {
		return 0, false, fmt.Errorf("leadexec: AddEditClient answer: %w", err)
	}
	res := findElement(root, "AddEditClientResult")
	if res == nil || !res.leaf() || strings.TrimSpace(res.text) == "" {
		if findElement(root, "AddEditClientResponse") == nil {
			return 0, false, errors.New("leadexec: no AddEditClientResponse in the answer")
		}
		return 0, false, nil
	}
	n, err := parseInt64(res.text)
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("leadexec: client id %q is not a positive integer", shorten(res.text))
	}
	return n, true, nil
}

// findElement returns the first element with the local name (any case),
// depth first.
func findElement(n *xnode, name string) *xnode {
	if strings.EqualFold(n.name, name) {
		return n
	}
	for _, k := range n.kids {
		if f := findElement(k, name); f != nil {
			return f
		}
	}
	return nil
}

// soapError builds the error of a SOAP answer other than 200: a SOAP fault
// (HTTP 500) names its code and the .NET exception in faultstring
// ("System.Web.Services.Protocols.SoapException: Server was unable to
// process request. ---> System.ArgumentException: …"). A soap:Client fault
// and an argument or format exception are Permanent, a refused key Auth,
// other server faults Transient. Statuses other than 500 read as for the
// other ASMX methods.
func soapError(op string, resp *response, now time.Time) *Error {
	if resp.status != http.StatusInternalServerError {
		return statusError(op, "asmx", resp, now)
	}
	root, err := parseXMLBytes(resp.body)
	if err != nil {
		return statusError(op, "asmx", resp, now)
	}
	fs := findElement(root, "faultstring")
	if fs == nil {
		return statusError(op, "asmx", resp, now)
	}
	code := ""
	if fc := findElement(root, "faultcode"); fc != nil {
		code = fc.text
	}
	text := resp.secret.clean(strings.TrimSpace(fs.text))
	if i := strings.LastIndex(text, "---> "); i >= 0 {
		text = text[i+len("---> "):]
	}
	exception, msg := dotnetException([]byte(text))
	e := &Error{Op: op, HTTPStatus: resp.status, Exception: exception, Message: msg}
	class := asmxClass(exception, msg)
	switch {
	case class == apierr.Auth:
	case strings.HasSuffix(strings.ToLower(code), "client"), strings.HasSuffix(exception, "ArgumentException"),
		strings.HasSuffix(exception, "FormatException"), strings.HasSuffix(exception, "ArgumentOutOfRangeException"):
		class = apierr.Permanent
	}
	e.class = class
	switch class {
	case apierr.Auth:
		e.err = ErrInvalidCredentials
	case apierr.Permanent:
		e.err = ErrInvalidRequest
	}
	return e
}
