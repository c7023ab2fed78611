// Package getlead is a client for Getlead CRM's two APIs: the classic token
// API (app.getleadcrm.com/api/gl-…: create lead, status change, note, task,
// deal, department) and the V3 REST API (v3.getleadcrm.com/api/v1: /meta,
// /leads, by-identifier upsert, notes, cursor pagination). Each call is one
// HTTP request; the client never retries (retrying is the pipeline's job).
// Errors are *Error, classified by their Class method (the shared apierr
// classification); the token and key never appear in them. Clients are
// safe for concurrent use.
package getlead

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crmsync/crmsync/vendors/gate"
)

// DefaultClassicBaseURL is the classic API host (UK accounts:
// https://app.getlead.co.uk).
const DefaultClassicBaseURL = "https://app.getleadcrm.com"

// Gate is consulted before every request, for the shared rate limit and the
// daily quota. A non-nil error stops the request. A gate.Answerer also hears
// when each request was answered.
type Gate = gate.Gate

// ClassicConfig configures a Classic client.
type ClassicConfig struct {
	BaseURL string // default DefaultClassicBaseURL; "/api/<endpoint>" is appended
	Token   string // the account's gl_ token; required
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Gate, if set, is waited on before every request.
	Gate Gate
}

// Classic calls the classic token API of one account. Parameters are sent
// as an urlencoded POST body, so the token never appears in a URL (except
// for the department endpoint, whose documented form puts it in the path).
type Classic struct {
	transport
	token string
}

// NewClassic returns a classic API client.
func NewClassic(cfg ClassicConfig) (*Classic, error) {
	t, err := newTransport("classic", "classic", cfg.BaseURL, DefaultClassicBaseURL, cfg.HTTPClient, cfg.Gate)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(cfg.Token, "gl_") {
		return nil, fmt.Errorf("getlead: the classic token is required and starts with gl_")
	}
	return &Classic{transport: t, token: cfg.Token}, nil
}

// Contact is the gl-website-contacts call: the lead keyed by CountryCode +
// Mobile is created, or updated when Getlead already has the number.
type Contact struct {
	CountryCode string // digits, e.g. "91"; required
	Mobile      string // with or without the country code; required
	Source      string // lead source; required
	// Fields are the other parameters: name, email, company_name, status,
	// feedback, staff_name, purpose, department, date_of_birth, and any
	// additional-field key. An empty value is sent (it may clear).
	Fields map[string]string
}

// reservedParams are set by the client and may not appear in Contact.Fields.
var reservedParams = map[string]bool{"token": true, "countrycode": true, "mobileno": true, "source": true}

// CreateLead calls gl-website-contacts.
func (c *Classic) CreateLead(ctx context.Context, l Contact) error {
	const op = "gl-website-contacts"
	if l.CountryCode == "" || l.Mobile == "" || l.Source == "" {
		return &Error{API: "classic", Op: op, Message: "countrycode, mobileno and source are required"}
	}
	p := url.Values{}
	for k, v := range l.Fields {
		if reservedParams[k] {
			return &Error{API: "classic", Op: op, Message: fmt.Sprintf("field %q is set by the client", k)}
		}
		p.Set(k, v)
	}
	p.Set("countrycode", l.CountryCode)
	p.Set("mobileno", l.Mobile)
	p.Set("source", l.Source)
	return c.call(ctx, op, "/api/"+op, p)
}

// LeadRef names an existing lead for the follow-up endpoints: country code
// and mobile number, optionally the email.
type LeadRef struct {
	CountryCode, Mobile, Email string
}

func (r LeadRef) params(mobileKey string) url.Values {
	p := url.Values{"countrycode": {r.CountryCode}, mobileKey: {r.Mobile}}
	if r.Email != "" {
		p.Set("email", r.Email)
	}
	return p
}

// ChangeStatus calls gl-status-change-api. A lead Getlead does not have is
// an error for which IsNotFound is true ("Enquiry Not Found.").
func (c *Classic) ChangeStatus(ctx context.Context, ref LeadRef, status string) error {
	p := ref.params("mobile_no")
	p.Set("status", status)
	return c.call(ctx, "gl-status-change-api", "/api/gl-status-change-api", p)
}

// AddNote calls gl-note-creation-api: one more note on the lead (notes are
// append-only; calling twice adds two).
func (c *Classic) AddNote(ctx context.Context, ref LeadRef, note string) error {
	p := ref.params("mobile_no")
	p.Set("note", note)
	return c.call(ctx, "gl-note-creation-api", "/api/gl-note-creation-api", p)
}

// Task is the gl-task-creation-api call. Lead is optional.
type Task struct {
	Name          string // required
	Description   string
	Comment       string
	Category      string // "1" normal task, "2" call task
	ScheduledDate string
	AssignedTo    string // agent name
	Lead          *LeadRef
}

// CreateTask calls gl-task-creation-api.
func (c *Classic) CreateTask(ctx context.Context, t Task) error {
	p := url.Values{"name": {t.Name}}
	if t.Lead != nil {
		p = t.Lead.params("mobile_no")
		p.Set("name", t.Name)
	}
	setIf(p, "description", t.Description)
	setIf(p, "comment", t.Comment)
	setIf(p, "task_category_id", t.Category)
	setIf(p, "scheduled_date", t.ScheduledDate)
	setIf(p, "assigned_to", t.AssignedTo)
	return c.call(ctx, "gl-task-creation-api", "/api/gl-task-creation-api", p)
}

// Deal is the gl-deal-creation-api call.
type Deal struct {
	Mobile      string // required
	Status      string // required
	CountryCode string
	Name        string // sent as "deal name" (with a space, as documented)
	StaffName   string
	Amount      string // integer
	StartDate   string // YYYY-MM-DD
	EndDate     string // YYYY-MM-DD
	Note        string
}

// CreateDeal calls gl-deal-creation-api. Its documented success message is
// the task API's; any "success" answer is success.
func (c *Classic) CreateDeal(ctx context.Context, d Deal) error {
	p := url.Values{"mobile": {d.Mobile}, "status": {d.Status}}
	setIf(p, "countrycode", d.CountryCode)
	setIf(p, "deal name", d.Name)
	setIf(p, "staff_name", d.StaffName)
	setIf(p, "deal_amount", d.Amount)
	setIf(p, "start_date", d.StartDate)
	setIf(p, "end_date", d.EndDate)
	setIf(p, "deal_note", d.Note)
	return c.call(ctx, "gl-deal-creation-api", "/api/gl-deal-creation-api", p)
}

// AssignDepartment calls gl-department-vise-agent-assign/{token}.
func (c *Classic) AssignDepartment(ctx context.Context, sourceNumber, department string) error {
	p := url.Values{"SourceNumber": {sourceNumber}, "department": {department}}
	return c.call(ctx, "gl-department-vise-agent-assign", "/api/gl-department-vise-agent-assign/"+url.PathEscape(c.token), p)
}

func setIf(p url.Values, k, v string) {
	if v != "" {
		p.Set(k, v)
	}
}

// classicAnswer is every classic endpoint's answer.
type classicAnswer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (c *Classic) call(ctx context.Context, op, path string, p url.Values) error {
	done, err := gate.Enter(ctx, c.gate)
	if err != nil {
		return err
	}
	defer done()
	if !strings.HasPrefix(path, "/api/gl-department") {
		p.Set("token", c.token)
	}
	resp, raw, err := c.send(ctx, op, http.MethodPost, path, http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"},
	}, strings.NewReader(p.Encode()), 1<<20)
	if err != nil {
		return err
	}
	return parseClassicAnswer(op, resp.StatusCode, resp.Header, raw)
}

// parseClassicAnswer reads a classic answer: nil for status "success",
// otherwise *Error.
func parseClassicAnswer(op string, status int, h http.Header, raw []byte) error {
	var a classicAnswer
	jsonErr := json.Unmarshal(raw, &a)
	if status != http.StatusOK {
		msg := a.Message
		if jsonErr != nil || msg == "" {
			msg = snippet(raw)
		}
		return &Error{API: "classic", Op: op, HTTPStatus: status, Message: scrub(msg), RetryAfter: retryAfterHeader(h)}
	}
	if jsonErr != nil {
		return &Error{API: "classic", Op: op, Message: "malformed answer: " + snippet(raw), Unreadable: true}
	}
	switch strings.ToLower(a.Status) {
	case "success":
		return nil
	case "fail", "error":
		return &Error{API: "classic", Op: op, Status: strings.ToLower(a.Status), Message: scrub(a.Message)}
	}
	return &Error{API: "classic", Op: op, Message: "unexpected answer: " + snippet(raw)}
}
