package leadexec

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// ClientsPath is the REST client endpoint on the API host.
const ClientsPath = "/v1/clients"

// ClientStatus is a client status name of the REST and ASMX edit calls.
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

// ClientEdit is the body of PATCH /v1/clients.
type ClientEdit struct {
	Info      ClientEditInfo `json:"Info"`
	FieldData []FieldData    `json:"FieldData,omitempty"`
}

// ClientEditInfo is the Info section. ClientUID 0 creates a client (the
// REST API uses 0 where ASMX uses -1). Zero-valued optional properties are
// not sent, so an edit leaves them as they are; pointers send a zero value
// on purpose.
type ClientEditInfo struct {
	ClientUID    int64        `json:"ClientUID"`
	Status       ClientStatus `json:"Status,omitempty"`
	UserUID      int64        `json:"UserUID,omitempty"`
	TimeOffset   *int         `json:"TimeOffset,omitempty"`
	TimeZoneName string       `json:"TimeZoneName,omitempty"`
	Notes        *string      `json:"Notes,omitempty"`
	ResellerUID  int64        `json:"ResellerUID,omitempty"`
	GroupUID     int64        `json:"GroupUID,omitempty"`
	Username     string       `json:"Username,omitempty"`
	// Password is the web-portal password; required for a new client.
	// Secret: never in errors, String or LogValue.
	Password                      string `json:"Password,omitempty"`
	OverrideReassign              *bool  `json:"OverrideReassign,omitempty"`
	DeliveryAccountAutomationType string `json:"DeliveryAccountAutomationType,omitempty"`
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
	ClientFieldUID int64  `json:"ClientFieldUID"`
	Value          string `json:"Value"`
}

// EditClient creates (Info.ClientUID 0) or edits a client with
// PATCH /v1/clients and returns its ClientUID, which LeadExec answers as
// plain text. Fields in FieldData are overwritten. A new client without a
// Password is refused before sending (ErrInvalidRequest). Errors are
// *Error: 400 ErrInvalidRequest and 404 ErrNotFound (Permanent), a 401 that
// persists with a fresh token ErrTokenInvalid (Auth), 429 and 5xx
// temporary; an unreadable id is ErrMalformed.
func (c *Client) EditClient(ctx context.Context, edit ClientEdit) (int64, error) {
	const op = "EditClient"
	if edit.Info.ClientUID < 0 {
		return 0, invalidRequest(op, "ClientUID is negative (use 0 for a new client)")
	}
	if edit.Info.ClientUID == 0 && edit.Info.Password == "" {
		return 0, invalidRequest(op, "a new client needs a Password")
	}
	body, err := json.Marshal(edit)
	if err != nil {
		return 0, invalidRequest(op, "encode request")
	}
	rq := request{op: op, method: http.MethodPatch, url: c.api + ClientsPath, body: body, ctype: "application/json",
		header: http.Header{"Accept": {"text/plain, application/json"}}, limit: 1 << 20,
		secret: c.secrets(edit.Info.Password)}
	resp, err := c.bearer(ctx, rq)
	if err != nil {
		return 0, err
	}
	if !ok(resp.status) {
		return 0, statusError(op, "rest", resp, c.now())
	}
	id, perr := ParseClientID(resp.body)
	if perr != nil {
		return 0, malformed(op, resp.status, perr.Error(), resp.body, resp.secret)
	}
	if edit.Info.ClientUID != 0 && id != edit.Info.ClientUID {
		return 0, malformed(op, resp.status, fmt.Sprintf("edited client %d but LeadExec answered %d", edit.Info.ClientUID, id),
			nil, resp.secret)
	}
	return id, nil
}

// ParseClientID reads the plain-text client id of PATCH /v1/clients
// ("12345"; a JSON number or quoted string is accepted too). The id must
// be positive.
func ParseClientID(body []byte) (int64, error) {
	s := strings.TrimSpace(string(body))
	s = strings.TrimPrefix(s, "\ufeff")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("leadexec: client id %q is not a positive integer", shorten(s))
	}
	return id, nil
}
