package leadexecsim

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// asmxParams reads ASMX HTTP GET (query) or HTTP POST (form body)
// parameters. Names are exact, as the spec assumes ASMX binds them.
func asmxParams(r *http.Request) (url.Values, *simAnswer) {
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	body, err := readBody(r)
	if err != nil {
		a := asmxError("System.Web.HttpException", "Maximum request length exceeded.")
		return nil, &a
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		a := asmxError("System.InvalidOperationException", "Request format is invalid: "+
			strings.TrimSpace(r.Header.Get("Content-Type"))+".")
		return nil, &a
	}
	return v, nil
}

// asmxError is an ASMX failure over HTTP GET/POST: HTTP 500 with the .NET
// exception as plain text.
func asmxError(exception, msg string) simAnswer {
	return textAnswer(http.StatusInternalServerError, exception+": "+msg+
		"\r\n   at System.Web.Services.Protocols.WebServiceHandler.CoreProcessRequest()\r\n")
}

// asmxAuth checks the parameters every method needs: Key, then each name
// in required. It returns the failure answer, or nil.
func (s *Server) asmxAuth(v url.Values, required ...string) *simAnswer {
	for _, name := range append([]string{"Key"}, required...) {
		if _, ok := v[name]; !ok {
			a := textAnswer(http.StatusInternalServerError, "System.InvalidOperationException: Missing parameter: "+name+
				".\r\n   at System.Web.Services.Protocols.ValueCollectionParameterReader.Read(NameValueCollection collection)\r\n"+
				"   at System.Web.Services.Protocols.HttpServerProtocol.ReadParameters()\r\n")
			return &a
		}
	}
	if !equal(v.Get("Key"), s.cfg.key) {
		a := asmxError("System.UnauthorizedAccessException", "Invalid API key.")
		return &a
	}
	return nil
}

// asmxInt64 reads the parameters of a method that takes one Int64 besides
// Key, checks them as asmxAuth does and converts the Int64 as the framework
// would: a value that is not one answers its conversion error. It returns
// the value, or the failure answer.
func (s *Server) asmxInt64(r *http.Request, name string) (int64, *simAnswer) {
	v, bad := asmxParams(r)
	if bad != nil {
		return 0, bad
	}
	if bad := s.asmxAuth(v, name); bad != nil {
		return 0, bad
	}
	raw := v.Get(name)
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil {
		a := textAnswer(http.StatusInternalServerError, "System.ArgumentException: Cannot convert "+raw+
			" to System.Int64.\r\nParameter name: type ---> System.FormatException: Input string was not in a correct format.\r\n")
		return 0, &a
	}
	return n, nil
}

// asmxArrayOf answers a method that takes one Int64, name, besides Key
// (read as asmxInt64 does) with the array document array, its items
// written by write with s.mu held.
func (s *Server) asmxArrayOf(r *http.Request, name, array string, write func(d *xmlDoc, n int64)) simAnswer {
	n, bad := s.asmxInt64(r, name)
	if bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.newArray(array)
	write(d, n)
	return d.end(array)
}

// xmlDoc writes an XmlSerializer-style array document.
type xmlDoc struct {
	b bytes.Buffer
}

func (s *Server) newArray(name string) *xmlDoc {
	d := &xmlDoc{}
	d.b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\r\n")
	fmt.Fprintf(&d.b, `<%s xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="%s">`+"\r\n",
		name, xmlEscape(s.cfg.namespace))
	return d
}

func (d *xmlDoc) open(name string)  { fmt.Fprintf(&d.b, "  <%s>\r\n", name) }
func (d *xmlDoc) close(name string) { fmt.Fprintf(&d.b, "  </%s>\r\n", name) }

// el writes a property; "" is an empty element (XmlSerializer writes a
// null string not at all, an empty one as <X />).
func (d *xmlDoc) el(name, v string) {
	if v == "" {
		fmt.Fprintf(&d.b, "    <%s />\r\n", name)
		return
	}
	fmt.Fprintf(&d.b, "    <%s>%s</%s>\r\n", name, xmlEscape(v), name)
}

func (d *xmlDoc) int(name string, v int64) { d.el(name, strconv.FormatInt(v, 10)) }
func (d *xmlDoc) bool(name string, v bool) { d.el(name, strconv.FormatBool(v)) }

// strings writes a string array property.
func (d *xmlDoc) strings(name string, vs []string) {
	if len(vs) == 0 {
		fmt.Fprintf(&d.b, "    <%s />\r\n", name)
		return
	}
	fmt.Fprintf(&d.b, "    <%s>\r\n", name)
	for _, v := range vs {
		fmt.Fprintf(&d.b, "      <string>%s</string>\r\n", xmlEscape(v))
	}
	fmt.Fprintf(&d.b, "    </%s>\r\n", name)
}

func (d *xmlDoc) end(name string) simAnswer {
	fmt.Fprintf(&d.b, "</%s>", name)
	return simAnswer{status: http.StatusOK, ctype: "text/xml; charset=utf-8", body: d.b.Bytes()}
}

// getClientList answers /service.asmx/GetClientList with
// <ArrayOfClientItemType> of <ClientItemType>, every documented property
// (obsolete ones with neutral values), DateAdded in Pacific Time, Status as
// the status name's position.
func (s *Server) getClientList(r *http.Request) simAnswer {
	v, bad := asmxParams(r)
	if bad != nil {
		return *bad
	}
	if bad := s.asmxAuth(v); bad != nil {
		return *bad
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.newArray("ArrayOfClientItemType")
	for _, uid := range slices.Sorted(maps.Keys(s.clients)) {
		c := s.clients[uid]
		d.open("ClientItemType")
		d.int("ClientUID", c.ClientUID)
		d.int("AccountUID", c.AccountUID)
		d.el("DateAdded", s.pacific(c.DateAdded))
		d.int("Status", int64(max(statusIndex(c.Status), 0)))
		d.int("InternalUID", 0)
		d.int("UserUID", c.UserUID)
		d.int("TimeOffset", int64(c.TimeOffset))
		d.el("Notes", c.Notes)
		d.bool("IsLocked", false)
		d.int("LockedBy", 0)
		d.el("DateLocked", "1/1/0001 12:00:00 AM")
		d.el("TimeZoneName", c.TimeZoneName)
		d.int("ResellerUID", c.ResellerUID)
		d.int("GroupUID", c.GroupUID)
		d.el("AutomationType", c.AutomationType)
		d.int("Priority", int64(c.Priority))
		d.int("DeliveryGroupUID", c.DeliveryGroupUID)
		d.el("Username", c.Username)
		d.el("Password", c.Password)
		d.bool("ShowLeadGrade", false)
		d.bool("ShowLeadSource", false)
		d.bool("ShowCampaign", true)
		d.bool("AllowCalls", false)
		d.bool("AllowReassign", false)
		d.int("UserAssigned", 0)
		d.bool("UseDeliveryTiers", false)
		d.bool("OverrideReassign", c.OverrideReassign)
		d.close("ClientItemType")
	}
	return d.end("ArrayOfClientItemType")
}

// getClientData answers /service.asmx/GetClientData (ClientUID) with
// <ArrayOfClientFieldItemType>: every account client field definition with
// the client's value. ClientUID that is not an Int64 is the framework's
// conversion error; an unknown client answers an empty array (LeadExec's
// behaviour is not documented).
func (s *Server) getClientData(r *http.Request) simAnswer {
	return s.asmxArrayOf(r, "ClientUID", "ArrayOfClientFieldItemType", s.writeClientData)
}

// writeClientData writes GetClientData's items for client uid, none for an
// unknown client. Caller holds s.mu.
func (s *Server) writeClientData(d *xmlDoc, uid int64) {
	c := s.clients[uid]
	if c == nil {
		return
	}
	for _, f := range s.cfg.clientFields {
		d.open("ClientFieldItemType")
		d.int("ClientFieldUID", f.ClientFieldUID)
		d.el("Descriptor", f.Descriptor)
		dt := f.DataType
		if dt == "" {
			dt = "Varchar"
		}
		d.el("DataType", dt)
		d.bool("Required", f.Required)
		d.bool("Status", true)
		d.bool("Computed", false)
		d.el("ComputedExpr", "")
		d.bool("Enumerated", len(f.Enums) > 0)
		d.strings("Enums", f.Enums)
		d.el("Validation", "")
		d.el("InvalidChars", "")
		d.el("FormatError", "")
		d.el("FormatString", "")
		sb := f.SpecialBit
		if sb == "" {
			sb = "NoSpecialBit"
		}
		d.el("SpecialBit", sb)
		d.bool("isState", f.IsState)
		d.el("FieldValue", c.Fields[f.ClientFieldUID])
		d.strings("PastValues", nil)
		d.close("ClientFieldItemType")
	}
}
