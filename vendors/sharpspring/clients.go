package sharpspring

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/vendors/sharpspring/internal/region"
)

// AgencyClient is a client (sub-account) as getClients returns it: every
// scalar as a string, JSON null as an absent key. The documented keys are
// id, companyName, streetAddress, zipCode, country, state and city.
type AgencyClient map[string]string

// ID returns the client's id, 0 if it has none.
func (c AgencyClient) ID() int64 {
	n, _ := strconv.ParseInt(c["id"], 10, 64)
	return n
}

// GetClients calls getClients: every active client the agency account
// manages. The hasMore flag SharpSpring sends with it is buggy and of
// unclear meaning; it is ignored (no paging parameters exist). A
// non-reseller account gets error 305.
func (c *Client) GetClients(ctx context.Context) ([]AgencyClient, error) {
	var res struct {
		Clients []map[string]any `json:"getAllcompanyProfileManagedBys"`
	}
	if err := c.Call(ctx, "getClients", map[string]any{}, &res); err != nil {
		return nil, err
	}
	out := make([]AgencyClient, 0, len(res.Clients))
	for _, l := range decodeLeads(res.Clients) {
		out = append(out, AgencyClient(l))
	}
	return out, nil
}

// Client parameters by type, as createClient and updateClient take them.
var (
	clientIntParams  = []string{"salesStartHour", "salesEndHour"}
	clientBoolParams = []string{"disallowClientRebrand", "hideGoogleAdWords", "displayCallTrackingSettings"}
	// ClientParams are every parameter createClient accepts.
	ClientParams = []string{
		"companyName", "streetAddress", "zipCode", "country", "state", "city", "salesPhone",
		"defaultCurrency", "locale", "salesStartHour", "salesEndHour", "salesOfficialTimeZone",
		"disallowClientRebrand", "hideGoogleAdWords", "displayCallTrackingSettings",
		"userEmail", "userPassword", "userDisplayName",
	}
	// ClientUpdateParams are the parameters updateClient accepts besides id
	// (companyName and the user keys are not among them).
	ClientUpdateParams = slices.Clip(ClientParams[1:15])
	// ClientLocales are the locale values the API accepts.
	ClientLocales = region.Locales()
)

// ClientObject turns string fields into createClient/updateClient
// parameters: hours as integers, flags as booleans ("1"/"true"), the rest
// as strings. Call ValidateClient first.
func ClientObject(fields map[string]string) map[string]any {
	obj := make(map[string]any, len(fields))
	for k, v := range fields {
		switch {
		case slices.Contains(clientIntParams, k):
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			obj[k] = n
		case slices.Contains(clientBoolParams, k):
			obj[k] = v == "1" || strings.EqualFold(v, "true")
		default:
			obj[k] = v
		}
	}
	return obj
}

// ValidateClient checks client fields before they are sent, as SharpSpring
// would, and returns the error SharpSpring would answer (same code, a
// message saying crmsync found it), or nil. On create companyName and
// salesPhone are required (206) and the user keys come all three or none
// (223) with an email address as userEmail (218). Always: country is ISO
// 3166-1 alpha-2 (215; "UK", given as an example by the vendor, is
// accepted), locale is one of ClientLocales and the sales hours are 0–24
// (205), flags are booleans (205), and keys outside ClientParams
// (ClientUpdateParams on update) are refused (205).
func ValidateClient(fields map[string]string, create bool) *Error {
	method := "updateClient"
	allowed := ClientUpdateParams
	if create {
		method, allowed = "createClient", ClientParams
	}
	bad := func(code int, format string, a ...any) *Error {
		return &Error{Method: method, Code: code, Message: fmt.Sprintf(format, a...) + " (checked by crmsync before sending)"}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return bad(205, "Invalid parameters: %s is not a %s parameter", k, method)
		}
	}
	if create {
		var missing []string
		for _, k := range []string{"companyName", "salesPhone"} {
			if strings.TrimSpace(fields[k]) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return bad(206, "Missing parameters: %s", strings.Join(missing, ", "))
		}
		n := 0
		for _, k := range []string{"userEmail", "userPassword", "userDisplayName"} {
			if fields[k] != "" {
				n++
			}
		}
		if n > 0 && n < 3 {
			return bad(223, "userEmail, userPassword and userDisplayName are all required to create a user")
		}
		if e := fields["userEmail"]; e != "" {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
				return bad(218, "Invalid username: userEmail must be an email address")
			}
		}
	} else if p, ok := fields["salesPhone"]; ok && strings.TrimSpace(p) == "" {
		return bad(205, "Invalid parameters: salesPhone cannot be cleared")
	}
	if c := fields["country"]; c != "" && !IsCountryCode(c) {
		return bad(215, "Invalid country code %q: expected ISO 3166-1 alpha-2", c)
	}
	if l := fields["locale"]; l != "" && !slices.Contains(ClientLocales, l) {
		return bad(205, "Invalid parameters: locale %q is not one of %s", l, strings.Join(ClientLocales, " "))
	}
	for _, k := range clientIntParams {
		v, ok := fields[k]
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 0 || n > 24 {
			return bad(205, "Invalid parameters: %s %q is not an hour from 0 to 24", k, v)
		}
	}
	for _, k := range clientBoolParams {
		switch v, ok := fields[k]; {
		case !ok, v == "0", v == "1", strings.EqualFold(v, "true"), strings.EqualFold(v, "false"):
		default:
			return bad(205, "Invalid parameters: %s %q is not a boolean", k, v)
		}
	}
	return nil
}

// IsCountryCode reports whether s is an ISO 3166-1 alpha-2 code (upper
// case), or "UK", which the vendor documents as an example.
func IsCountryCode(s string) bool { return region.IsCountry(s) }

// CreatedClient is createClient's answer.
type CreatedClient struct {
	ID     int64
	UserID int64 // 0 when no user was created
}

// CreateClient calls createClient with params (see ClientObject). The
// answer's nesting is undocumented: a flat {status, error, userID, id}, a
// {"creates":[…]} list and a one-element list are all read. A refused
// client comes back as *Error with the vendor's code (205, 206, 215, 218,
// 221, 223, 305, …).
func (c *Client) CreateClient(ctx context.Context, params map[string]any) (CreatedClient, error) {
	const method = "createClient"
	var raw json.RawMessage
	if err := c.Call(ctx, method, params, &raw); err != nil {
		return CreatedClient{}, err
	}
	return parseCreatedClient(raw)
}

// parseCreatedClient reads createClient's result in any of its shapes.
func parseCreatedClient(raw json.RawMessage) (CreatedClient, error) {
	const method = "createClient"
	type created struct {
		Status  *flexBool       `json:"status"`
		Success *flexBool       `json:"success"`
		Error   json.RawMessage `json:"error"`
		UserID  flexInt         `json:"userID"`
		ID      flexInt         `json:"id"`
	}
	var r created
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		var list []created
		if err := json.Unmarshal(t, &list); err != nil || len(list) != 1 {
			return CreatedClient{}, &Error{Method: method, Message: "malformed result: " + snippet(t)}
		}
		r = list[0]
	} else if err := json.Unmarshal(t, &r); err != nil {
		return CreatedClient{}, &Error{Method: method, Message: "malformed result: " + snippet(t)}
	}
	var wrapped struct {
		Creates []created `json:"creates"`
	}
	if json.Unmarshal(t, &wrapped) == nil && len(wrapped.Creates) == 1 {
		r = wrapped.Creates[0]
	}
	ok := (r.Status == nil || bool(*r.Status)) && (r.Success == nil || bool(*r.Success))
	if e := objectError(method, r.Error); e != nil || !ok {
		if e == nil {
			e = &Error{Method: method, Message: "client not created: " + snippet(t)}
		}
		return CreatedClient{}, e
	}
	if r.ID <= 0 {
		return CreatedClient{}, &Error{Method: method, Message: "answer has no client id: " + snippet(t)}
	}
	return CreatedClient{ID: int64(r.ID), UserID: int64(r.UserID)}, nil
}

// objectError reads an error member that is null, [], an error object or
// a list of error objects; it returns the first error, or nil.
func objectError(method string, raw json.RawMessage) *Error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	var list []apiError
	if t[0] == '{' {
		var one apiError
		if err := json.Unmarshal(t, &one); err != nil {
			return &Error{Method: method, Message: "malformed error: " + snippet(t)}
		}
		list = []apiError{one}
	} else if err := json.Unmarshal(t, &list); err != nil {
		return &Error{Method: method, Message: "malformed error: " + snippet(t)}
	}
	for _, e := range list {
		if e.Code != 0 || e.Message != "" {
			return &Error{Method: method, Code: int(e.Code), Message: e.Message, Data: e.Data}
		}
	}
	return nil
}

// UpdateClient calls updateClient for client id with params (see
// ClientObject; companyName cannot be changed through the API). An unknown
// client gives 307 or 216, another agency's client 306.
func (c *Client) UpdateClient(ctx context.Context, id int64, params map[string]any) error {
	p := make(map[string]any, len(params)+1)
	for k, v := range params {
		p[k] = v
	}
	p["id"] = id
	return c.update(ctx, "updateClient", p)
}

// UpdateAccountSendLimit calls updateAccountSendLimit: the client's email
// send limit.
func (c *Client) UpdateAccountSendLimit(ctx context.Context, clientID int64, emailLimit int64) error {
	return c.update(ctx, "updateAccountSendLimit", map[string]any{"clientID": clientID, "emailLimit": emailLimit})
}

// EnableAccountSending calls enableAccountSending for a client.
func (c *Client) EnableAccountSending(ctx context.Context, clientID int64) error {
	return c.update(ctx, "enableAccountSending", map[string]any{"clientID": clientID})
}

// DisableAccountSending calls disableAccountSending for a client.
func (c *Client) DisableAccountSending(ctx context.Context, clientID int64) error {
	return c.update(ctx, "disableAccountSending", map[string]any{"clientID": clientID})
}

// update calls a method answering {"updates":[{success, error}]}; an
// object-level failure comes back as *Error. 302 ("no rows affected") is
// success.
func (c *Client) update(ctx context.Context, method string, params map[string]any) error {
	var res struct {
		Updates []writeEntry `json:"updates"`
	}
	if err := c.Call(ctx, method, params, &res); err != nil {
		return err
	}
	return updateResult(method, res.Updates)
}

// updateResult reads the first result of an update method.
func updateResult(method string, updates []writeEntry) error {
	if len(updates) == 0 {
		return &Error{Method: method, Message: "answer has no update result"}
	}
	u := updates[0]
	if u.Success {
		return nil
	}
	if u.Error == nil {
		return &Error{Method: method, Message: "update failed without an error"}
	}
	if u.Error.Code == 302 {
		return nil
	}
	return &Error{Method: method, Code: int(u.Error.Code), Message: u.Error.Message, Data: u.Error.Data}
}
