package leadexecsim

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Format is the wire format of a delivery: how the mapped fields are put on
// the request. It corresponds to the delivery method type (HTTP POST, HTTP
// GET, XML/JSON) plus the Content-Type chosen on LeadExec's URL endpoint tab.
type Format string

// Delivery formats.
const (
	// FormatForm sends the fields as an application/x-www-form-urlencoded
	// body, LeadExec's default for an HTTP POST delivery method.
	FormatForm Format = "form"

	// FormatQuery appends the fields as name=value pairs to the URL's query
	// string (after any query already on the URL) and sends an empty body
	// with [Delivery.Method] (default POST; set GET for LeadExec's HTTP GET
	// delivery method type).
	FormatQuery Format = "query"

	// FormatJSON sends an application/json body holding one flat object
	// whose values are all strings.
	FormatJSON Format = "json"

	// FormatXML sends an application/xml body of the form
	// <Lead><Name>value</Name>…</Lead> preceded by an XML declaration.
	FormatXML Format = "xml"
)

// Defaults applied by [NewSender] to zero fields of a [Delivery].
const (
	DefaultMethod         = http.MethodPost
	DefaultFormat         = FormatForm
	DefaultIDField        = "LeadUID"
	DefaultResponseSearch = "success"
	DefaultRetryDelay     = 5 * time.Minute
	DefaultTimeout        = 30 * time.Second
)

// NoIDField as [Delivery.IDField] sends no lead id at all, modelling an
// operator who did not map LeadExec's lead id; receivers then have to fall
// back to another identity (e.g. a hash of email and phone).
const NoIDField = "-"

// MaxLoggedBody is the number of bytes of a response body kept in
// [Attempt.Body] and [Result.LastBody] (4 KiB). The search itself runs on up
// to maxSearchedBody bytes.
const MaxLoggedBody = 4 << 10

// maxSearchedBody bounds how much of a response is read and searched (1 MiB);
// the rest is discarded so a misbehaving receiver cannot exhaust memory.
const maxSearchedBody = 1 << 20

// Delivery is one buyer delivery method as configured in LeadExec: where and
// how to send a lead and how to decide from the reply whether it was
// accepted. Zero values mean the documented defaults; [NewSender] applies
// them, validates the result and copies the maps, so the caller may reuse
// the Delivery afterwards.
type Delivery struct {
	// URL is the receiver's address (LeadExec's DeliveryAddress). Required;
	// scheme http or https. A query already on it is kept; [FormatQuery]
	// appends to it.
	URL string

	// Method is the HTTP verb: GET, POST, PUT or PATCH (case-insensitive).
	// Default POST. GET is only allowed with [FormatQuery].
	Method string

	// Format is the wire format. Default [FormatForm].
	Format Format

	// BasicUser and BasicPassword enable HTTP Basic auth when BasicUser is
	// not empty (the authentication tab's "Basic").
	BasicUser, BasicPassword string

	// BearerToken, when set, is sent as "Authorization: Bearer <token>". At
	// most one of BasicUser and BearerToken may be set.
	BearerToken string

	// Headers are custom request headers. They are applied after the
	// content type and auth headers, so they can override them.
	Headers map[string]string

	// IDField is the outbound name that carries [Lead.UID] in decimal.
	// Default "LeadUID"; [NoIDField] ("-") sends no id. It is always the
	// first field of a rendered request, and it wins over a lead field that
	// has the same outbound name.
	IDField string

	// FieldMap maps lead field names to outbound names (LeadExec's field
	// mappings of type Lead Field). Nil sends every lead field under its own
	// name. When non-nil only mapped fields are sent; a mapped field missing
	// from the lead is sent with an empty value.
	FieldMap map[string]string

	// ResponseSearch is the text that must occur in the receiver's response
	// body for a send to count as delivered (LeadExec's "Result Search").
	// Default "success". The literal search is case-sensitive.
	ResponseSearch string

	// UseRegex makes ResponseSearch a regular expression (Go RE2 syntax, not
	// .NET's) that must match somewhere in the body.
	UseRegex bool

	// MaxRetries is how many times a failed send is retried, so a lead is
	// attempted at most 1+MaxRetries times per send. Default 0, which is
	// LeadExec's "Retry After Failure" toggle switched off; LeadExec's
	// guidance is 2–5.
	MaxRetries int

	// RetryDelay is the wait between a failed attempt and the next one.
	// Default 5 minutes (LeadExec's guidance is 5–15 minutes); tests set it
	// to a few milliseconds.
	RetryDelay time.Duration

	// Timeout bounds each attempt, including reading the response body.
	// Default 30 s, LeadExec's default.
	Timeout time.Duration

	// Client sends the requests. Default a new client whose Timeout is
	// Timeout. Timeout is enforced per attempt whatever the client.
	Client *http.Client

	// Now is the clock used for [Attempt.Time] and [Attempt.Duration].
	// Default [time.Now]. It does not affect RetryDelay waits.
	Now func() time.Time
}

// withDefaults returns d with every zero field set to its default. It does
// not validate.
func (d Delivery) withDefaults() Delivery {
	// Copy the maps so later changes by the caller cannot race with sends.
	d.Headers = maps.Clone(d.Headers)
	d.FieldMap = maps.Clone(d.FieldMap)
	d.Method = cmp.Or(strings.ToUpper(d.Method), DefaultMethod)
	d.Format = cmp.Or(d.Format, DefaultFormat)
	d.IDField = cmp.Or(d.IDField, DefaultIDField)
	d.ResponseSearch = cmp.Or(d.ResponseSearch, DefaultResponseSearch)
	d.RetryDelay = cmp.Or(d.RetryDelay, DefaultRetryDelay)
	d.Timeout = cmp.Or(d.Timeout, DefaultTimeout)
	if d.Client == nil {
		d.Client = &http.Client{Timeout: d.Timeout}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// validate reports every problem of a defaulted Delivery, each prefixed with
// the field it concerns, wrapped in ErrInvalidDelivery. The returned regexp
// is the compiled ResponseSearch when UseRegex is set.
func (d Delivery) validate() (*url.URL, *regexp.Regexp, error) {
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}

	var u *url.URL
	if d.URL == "" {
		add("URL: required")
	} else if pu, err := url.Parse(d.URL); err != nil {
		// The *url.Error text would repeat the URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		add("URL: %v", err)
	} else {
		switch {
		case pu.Scheme != "http" && pu.Scheme != "https":
			add("URL: scheme must be http or https")
		case pu.Host == "":
			add("URL: missing host")
		default:
			u = pu
		}
	}

	switch d.Format {
	case FormatForm, FormatQuery, FormatJSON, FormatXML:
	default:
		add("Format: unknown %q", string(d.Format))
	}

	switch d.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	case http.MethodGet:
		if d.Format != FormatQuery {
			add("Method: GET cannot carry a %s body; use FormatQuery", d.Format)
		}
	default:
		add("Method: unsupported %q (want GET, POST, PUT or PATCH)", d.Method)
	}

	if d.BasicUser != "" && d.BearerToken != "" {
		add("BasicUser, BearerToken: set one auth scheme, not both")
	}
	if d.BasicUser == "" && d.BasicPassword != "" {
		add("BasicPassword: set without BasicUser")
	}
	if strings.ContainsAny(d.BearerToken, "\r\n") {
		add("BearerToken: contains a line break")
	}

	for _, name := range slices.Sorted(maps.Keys(d.Headers)) {
		if !validHeaderName(name) {
			add("Headers[%q]: invalid header name", name)
		}
		if strings.ContainsAny(d.Headers[name], "\r\n") {
			add("Headers[%q]: value contains a line break", name)
		}
	}

	if d.IDField != NoIDField && d.Format == FormatXML && !validXMLName(d.IDField) {
		add("IDField: %q is not a valid XML element name", d.IDField)
	}

	seen := make(map[string]string, len(d.FieldMap))
	for _, field := range slices.Sorted(maps.Keys(d.FieldMap)) {
		out := d.FieldMap[field]
		switch {
		case out == "":
			add("FieldMap[%q]: empty outbound name", field)
		case out == d.IDField:
			add("FieldMap[%q]: outbound name %q is the IDField", field, out)
		case seen[out] != "":
			add("FieldMap[%q]: outbound name %q already used by %q", field, out, seen[out])
		case d.Format == FormatXML && !validXMLName(out):
			add("FieldMap[%q]: %q is not a valid XML element name", field, out)
		}
		if out != "" && seen[out] == "" {
			seen[out] = field
		}
	}

	var re *regexp.Regexp
	if d.UseRegex {
		var err error
		if re, err = regexp.Compile(d.ResponseSearch); err != nil {
			add("ResponseSearch: %v", err)
		}
	}

	if d.MaxRetries < 0 {
		add("MaxRetries: negative (%d)", d.MaxRetries)
	}
	if d.RetryDelay < 0 {
		add("RetryDelay: negative (%v)", d.RetryDelay)
	}
	if d.Timeout < 0 {
		add("Timeout: negative (%v)", d.Timeout)
	}

	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrInvalidDelivery, strings.Join(problems, "; "))
	}
	return u, re, nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
