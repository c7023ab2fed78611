package leadexecsim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// soapEnvelopeNS is the SOAP 1.1 envelope namespace.
const soapEnvelopeNS = "http://schemas.xmlsoap.org/soap/envelope/"

// xelem is an element of a SOAP request, read without caring for its
// children's order.
type xelem struct {
	XMLName xml.Name
	Text    string  `xml:",chardata"`
	Kids    []xelem `xml:",any"`
}

func (e *xelem) child(name string) *xelem {
	for i := range e.Kids {
		if e.Kids[i].XMLName.Local == name {
			return &e.Kids[i]
		}
	}
	return nil
}

// addEditClient answers AddEditClient, a SOAP 1.1 POST to /service.asmx
// with SOAPAction "{namespace}AddEditClient" (its parameters are objects,
// which ASMX's HTTP GET/POST bindings cannot carry: a form post to
// /service.asmx/AddEditClient answers the framework's 500).
//
// As documented, Client.ClientUID -1 creates a client and another value
// edits that client, and the answer is the client's id
// (<AddEditClientResult>). Where LeadExec says nothing, the simulator takes
// the reading that punishes a careless client: the Client is the whole
// client, so a property left out takes its XmlSerializer default (0, "",
// false; Status New), and FieldData is the whole set of the client's field
// values, so a field left out is cleared. DateAdded is kept on an edit.
// Problems answer HTTP 500 with a SOAP fault (soap:Client for a refused
// request, with the .NET exception in faultstring): an unknown ClientUID,
// a Status that is not a ClientStatus name, a Username another client has,
// a new client without a Password or a Required client field, a FieldData
// ClientFieldUID the account lacks, a Key that is wrong.
func (s *Server) addEditClient(r *http.Request) simAnswer {
	if !strings.EqualFold(strings.TrimSuffix(r.URL.Path, "/"), "/service.asmx") {
		return asmxError("System.InvalidOperationException",
			"AddEditClient Web Service method takes parameters of complex types; use SOAP.")
	}
	body, err := readBody(r)
	if err != nil {
		return soapFault("soap:Client", "System.Web.HttpException", "Maximum request length exceeded.")
	}
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	if action != s.cfg.namespace+"AddEditClient" {
		return soapFault("soap:Client", "System.Web.Services.Protocols.SoapException",
			"Server did not recognize the value of HTTP Header SOAPAction: "+action+".")
	}
	var env xelem
	d := xml.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&env); err != nil && err != io.EOF {
		return soapFault("soap:Client", "System.Xml.XmlException", "The request is not well-formed XML.")
	}
	var call *xelem
	if env.XMLName.Space == soapEnvelopeNS && env.XMLName.Local == "Envelope" {
		if b := env.child("Body"); b != nil && len(b.Kids) > 0 {
			call = &b.Kids[0]
		}
	}
	if call == nil || call.XMLName.Local != "AddEditClient" || call.XMLName.Space != s.cfg.namespace {
		return soapFault("soap:Client", "System.Web.Services.Protocols.SoapException",
			"Server did not recognize the request element (expected AddEditClient in "+s.cfg.namespace+").")
	}
	text := func(e *xelem, name string) (string, bool) {
		if e == nil {
			return "", false
		}
		c := e.child(name)
		if c == nil {
			return "", false
		}
		return strings.TrimSpace(c.Text), true
	}
	if key, _ := text(call, "Key"); !equal(key, s.cfg.key) {
		return soapFault("soap:Client", "System.UnauthorizedAccessException", "Invalid API key.")
	}
	ce := call.child("Client")
	if ce == nil {
		return soapFault("soap:Client", "System.ArgumentNullException", "Value cannot be null. Parameter name: Client")
	}
	// XmlSerializer: an absent property keeps its default.
	var c Client
	var bad string
	i64 := func(name string) int64 {
		v, ok := text(ce, name)
		if !ok || v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil && bad == "" {
			bad = fmt.Sprintf("Client.%s %q is not an Int64.", name, v)
		}
		return n
	}
	str := func(name string) string { v, _ := text(ce, name); return v }
	uid := i64("ClientUID")
	c.UserUID, c.ResellerUID, c.GroupUID = i64("UserUID"), i64("ResellerUID"), i64("GroupUID")
	c.TimeOffset = int(i64("TimeOffset"))
	c.Notes, c.TimeZoneName, c.Username, c.Password = str("Notes"), str("TimeZoneName"), str("Username"), str("Password")
	c.OverrideReassign = strings.EqualFold(str("OverrideReassign"), "true")
	c.Status = "New"
	if st, ok := text(ce, "Status"); ok && st != "" {
		i := statusIndex(st)
		if i < 0 {
			bad = fmt.Sprintf("Instance validation error: '%s' is not a valid value for ClientStatus.", st)
		} else {
			c.Status = ClientStatuses[i]
		}
	}
	if bad != "" {
		return soapFault("soap:Client", "System.InvalidOperationException", bad)
	}
	fields := map[int64]string{}
	if fd := call.child("FieldData"); fd != nil {
		for i := range fd.Kids {
			item := &fd.Kids[i]
			raw, _ := text(item, "ClientFieldUID")
			fid, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return soapFault("soap:Client", "System.InvalidOperationException",
					fmt.Sprintf("FieldData[%d].ClientFieldUID %q is not an Int64.", i, raw))
			}
			v, _ := text(item, "FieldValue")
			fields[fid] = v
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for fid := range fields {
		if s.fieldDef(fid) == nil {
			return soapFault("soap:Client", "System.ArgumentException", fmt.Sprintf("Client field %d does not exist.", fid))
		}
	}
	switch {
	case uid == -1:
		if c.Password == "" {
			return soapFault("soap:Client", "System.ArgumentException", "A password is required for a new client.")
		}
		for _, f := range s.cfg.clientFields {
			if f.Required && strings.TrimSpace(fields[f.ClientFieldUID]) == "" {
				return soapFault("soap:Client", "System.ArgumentException",
					fmt.Sprintf("Client field %q (%d) is required.", f.Descriptor, f.ClientFieldUID))
			}
		}
		c.AccountUID, c.DateAdded, c.AutomationType = s.cfg.accountUID, s.cfg.now(), "Price"
	default:
		stored, ok := s.clients[uid]
		if !ok {
			return soapFault("soap:Client", "System.ArgumentException", fmt.Sprintf("Client %d was not found.", uid))
		}
		c.ClientUID, c.AccountUID, c.DateAdded = uid, stored.AccountUID, stored.DateAdded
		c.AutomationType, c.Priority, c.DeliveryGroupUID = stored.AutomationType, stored.Priority, stored.DeliveryGroupUID
	}
	if c.Username != "" {
		for id, other := range s.clients {
			if id != c.ClientUID && strings.EqualFold(other.Username, c.Username) {
				return soapFault("soap:Client", "System.ArgumentException", "The username is already in use.")
			}
		}
	}
	if uid == -1 {
		c.ClientUID = s.newID(IDClient)
	}
	c.Fields = fields
	s.clients[c.ClientUID] = &c
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s" `+
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">`+
		`<soap:Body><AddEditClientResponse xmlns="%s"><AddEditClientResult>%d</AddEditClientResult>`+
		`</AddEditClientResponse></soap:Body></soap:Envelope>`, soapEnvelopeNS, xmlEscape(s.cfg.namespace), c.ClientUID)
	return simAnswer{status: http.StatusOK, ctype: "text/xml; charset=utf-8", body: b.Bytes()}
}

// soapFault is an ASMX SOAP 1.1 fault: HTTP 500, the exception wrapped as
// the framework does.
func soapFault(code, exception, msg string) simAnswer {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s"><soap:Body><soap:Fault>`+
		`<faultcode>%s</faultcode><faultstring>System.Web.Services.Protocols.SoapException: Server was unable to `+
		`process request. ---&gt; %s: %s</faultstring><detail /></soap:Fault></soap:Body></soap:Envelope>`,
		soapEnvelopeNS, code, exception, xmlEscape(msg))
	return simAnswer{status: http.StatusInternalServerError, ctype: "text/xml; charset=utf-8", body: b.Bytes()}
}
