package leadexecsim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Content types sent for each body format.
const (
	ContentTypeForm = "application/x-www-form-urlencoded"
	ContentTypeJSON = "application/json"
	ContentTypeXML  = "application/xml"
)

// Rendered is a lead rendered for one delivery: exactly what [Sender.Deliver]
// puts on the wire apart from auth and custom headers.
type Rendered struct {
	Method string
	// URL is the delivery URL; for [FormatQuery] it carries the fields.
	URL string
	// ContentType is empty for [FormatQuery], which sends no body.
	ContentType string
	// Body is empty for [FormatQuery].
	Body []byte
	// PostString is what LeadExec would log as the post string: the body,
	// or for [FormatQuery] the encoded fields appended to the URL.
	PostString string
}

// field is one outbound name/value pair.
type field struct{ name, value string }

// fields returns the outbound pairs for l in wire order: the id field first,
// then the rest sorted by outbound name so bodies are deterministic.
func (s *Sender) fields(l Lead) ([]field, error) {
	d := &s.d
	var fs []field
	if d.FieldMap == nil {
		fs = make([]field, 0, len(l.Fields)+1)
		for name, v := range l.Fields {
			if name == d.IDField {
				continue // the lead id wins over a lead field of the same name
			}
			if name == "" {
				return nil, fmt.Errorf("%w: lead %d has a field with an empty name", ErrRender, l.UID)
			}
			if d.Format == FormatXML && !validXMLName(name) {
				return nil, fmt.Errorf("%w: lead %d field %q is not a valid XML element name", ErrRender, l.UID, name)
			}
			fs = append(fs, field{name, v})
		}
	} else {
		fs = make([]field, 0, len(d.FieldMap)+1)
		for leadField, out := range d.FieldMap {
			fs = append(fs, field{out, l.Fields[leadField]})
		}
	}
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.name, b.name) })
	if d.IDField != NoIDField {
		fs = slices.Insert(fs, 0, field{d.IDField, strconv.FormatInt(l.UID, 10)})
	}
	return fs, nil
}

// Render returns the request [Sender.Deliver] would send for l, without
// sending it. It fails with [ErrRender] when l cannot be expressed in the
// delivery's format. Safe for concurrent use.
func (s *Sender) Render(l Lead) (Rendered, error) {
	fs, err := s.fields(l)
	if err != nil {
		return Rendered{}, err
	}
	r := Rendered{Method: s.d.Method, URL: s.d.URL}
	switch s.d.Format {
	case FormatForm:
		r.ContentType = ContentTypeForm
		r.Body = []byte(encodeForm(fs))
	case FormatQuery:
		q := encodeForm(fs)
		u := *s.u
		if u.RawQuery != "" && q != "" {
			u.RawQuery += "&" + q
		} else if q != "" {
			u.RawQuery = q
		}
		r.URL = u.String()
		r.PostString = q
		return r, nil
	case FormatJSON:
		r.ContentType = ContentTypeJSON
		r.Body = encodeJSON(fs)
	case FormatXML:
		r.ContentType = ContentTypeXML
		r.Body = encodeXML(fs)
	}
	r.PostString = string(r.Body)
	return r, nil
}

// encodeForm encodes fs as name=value pairs joined by '&', in order
// ([url.Values.Encode] would re-sort them and move the id field).
func encodeForm(fs []field) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(f.value))
	}
	return b.String()
}

// encodeJSON writes fs as one flat JSON object of strings, in order. '<',
// '>' and '&' are not escaped (the body is not HTML); invalid UTF-8 becomes
// U+FFFD, as with [json.Marshal].
func encodeJSON(fs []field) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	str := func(s string) {
		_ = enc.Encode(s)       // never fails for a string into a bytes.Buffer
		b.Truncate(b.Len() - 1) // Encode appends a newline
	}
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		str(f.name)
		b.WriteByte(':')
		str(f.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// encodeXML writes fs as <Lead><name>value</name>…</Lead> after an XML
// declaration. Names must already be valid XML names. Characters XML cannot
// carry become U+FFFD, as with [xml.EscapeText].
func encodeXML(fs []field) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Lead>")
	for _, f := range fs {
		b.WriteByte('<')
		b.WriteString(f.name)
		b.WriteByte('>')
		_ = xml.EscapeText(&b, []byte(f.value)) // a bytes.Buffer never fails
		b.WriteString("</")
		b.WriteString(f.name)
		b.WriteByte('>')
	}
	b.WriteString("</Lead>")
	return b.Bytes()
}

// validXMLName reports whether name can be used as an XML element name
// without a namespace prefix. It accepts ASCII only: a letter or '_'
// followed by letters, digits, '-', '_' or '.'. That is stricter than XML
// allows, which is fine for LeadExec field names and keeps every rendered
// body parseable by any XML parser.
func validXMLName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
