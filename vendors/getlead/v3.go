package getlead

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/gate"
)

// DefaultV3BaseURL is the V3 REST API root.
const DefaultV3BaseURL = "https://v3.getleadcrm.com/api/v1"

// V3Config configures a V3 client.
type V3Config struct {
	BaseURL string // default DefaultV3BaseURL
	APIKey  string // the ik_ key; required; sent as a Bearer token
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Gate, if set, is waited on before every request.
	Gate Gate
}

// V3 calls the V3 REST API of one account.
type V3 struct {
	transport
	key string
}

// NewV3 returns a V3 API client.
func NewV3(cfg V3Config) (*V3, error) {
	t, err := newTransport("v3", "V3", cfg.BaseURL, DefaultV3BaseURL, cfg.HTTPClient, cfg.Gate)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(cfg.APIKey, "ik_") {
		return nil, fmt.Errorf("getlead: the V3 API key is required and starts with ik_")
	}
	return &V3{transport: t, key: cfg.APIKey}, nil
}

// Status is a lead status from /meta. ID is kept as Getlead wrote it.
type Status struct {
	ID   string
	Name string
}

// FieldDef is a custom field from /meta (it has no label): its key, its
// type as Getlead names it (text, textarea, number, numeric, integer,
// boolean, select, multiselect, date, datetime, email, phone, url) and, for
// selects, the allowed values.
type FieldDef struct {
	Key           string        `json:"field_key"`
	Type          string        `json:"field_type"`
	AllowedValues []FieldOption `json:"allowed_values"`
}

// FieldOption is one allowed value of a select: the value Getlead stores
// (and takes) and the label its users see, which may differ (label
// "25000", value "_25000").
type FieldOption struct {
	Label, Value string
}

// UnmarshalJSON reads {label, value} (either may be a number) or a bare
// value, which is then its own label.
func (o *FieldOption) UnmarshalJSON(b []byte) error {
	var obj struct {
		Label flexString `json:"label"`
		Value flexString `json:"value"`
	}
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		o.Label, o.Value = string(obj.Label), string(obj.Value)
		if o.Value == "" {
			o.Value = o.Label
		}
		return nil
	}
	var v flexString
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Label, o.Value = string(v), string(v)
	return nil
}

// Meta is the account metadata the sync uses.
type Meta struct {
	Statuses     []Status
	CustomFields []FieldDef
}

// StatusID returns the id of a status by name (case-insensitive) or id.
func (m Meta) StatusID(nameOrID string) (string, bool) {
	for _, s := range m.Statuses {
		if strings.EqualFold(s.Name, strings.TrimSpace(nameOrID)) || s.ID == nameOrID {
			return s.ID, true
		}
	}
	return "", false
}

// Meta calls GET /meta (also the credential test).
func (c *V3) Meta(ctx context.Context) (Meta, error) {
	var raw struct {
		Data struct {
			Statuses     []json.RawMessage `json:"statuses"`
			LeadStatuses []json.RawMessage `json:"lead_statuses"`
			CustomFields []FieldDef        `json:"custom_fields"`
		} `json:"data"`
	}
	if err := c.do(ctx, "GET /meta", http.MethodGet, "/meta", nil, &raw); err != nil {
		return Meta{}, err
	}
	m := Meta{CustomFields: raw.Data.CustomFields}
	list := raw.Data.Statuses
	if len(list) == 0 {
		list = raw.Data.LeadStatuses
	}
	for _, s := range list {
		var st struct {
			ID    flexString `json:"id"`
			Name  string     `json:"name"`
			Label string     `json:"label"`
		}
		if err := json.Unmarshal(s, &st); err != nil {
			return Meta{}, &Error{API: "v3", Op: "GET /meta", Message: "malformed status: " + snippet(s)}
		}
		name := st.Name
		if name == "" {
			name = st.Label
		}
		m.Statuses = append(m.Statuses, Status{ID: string(st.ID), Name: name})
	}
	return m, nil
}

// LeadWrite is a lead body for create and update. Nil pointers and a nil
// CustomFields map are not sent; a non-nil CustomFields is the WHOLE set
// (Getlead replaces the lead's custom fields with it).
type LeadWrite struct {
	Name         *string
	Email        *string
	Notes        *string // the lead's single notes field (not an appended note)
	PhoneNumbers []string
	StatusID     string // "" = not sent
	SourceID     string // "" = not sent
	CustomFields map[string]string
}

// IsEmpty reports whether the write would send nothing.
func (w LeadWrite) IsEmpty() bool { return len(w.body()) == 0 }

func (w LeadWrite) body() map[string]any {
	b := map[string]any{}
	if w.Name != nil {
		b["name"] = *w.Name
	}
	if w.Email != nil {
		b["email"] = *w.Email
	}
	if w.Notes != nil {
		b["notes"] = *w.Notes
	}
	if w.PhoneNumbers != nil {
		b["phone_numbers"] = w.PhoneNumbers
	}
	if w.StatusID != "" {
		b["status_id"] = idValue(w.StatusID)
	}
	if w.SourceID != "" {
		b["source_id"] = idValue(w.SourceID)
	}
	if w.CustomFields != nil {
		b["custom_fields"] = w.CustomFields
	}
	return b
}

// idValue sends a numeric id as a JSON number, anything else as a string.
func idValue(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// CreateLead calls POST /leads and returns the new lead_id. PhoneNumbers
// (E.164, 1–5) are required by Getlead.
func (c *V3) CreateLead(ctx context.Context, w LeadWrite) (string, error) {
	return c.writeLead(ctx, "POST /leads", http.MethodPost, "/leads", w.body())
}

// writeLead sends a lead write and returns the lead id its answer carries
// (data.lead_id, else data.id).
func (c *V3) writeLead(ctx context.Context, op, method, path string, body map[string]any) (string, error) {
	var out struct {
		Data struct {
			LeadID flexString `json:"lead_id"`
			ID     flexString `json:"id"`
		} `json:"data"`
	}
	if err := c.do(ctx, op, method, path, body, &out); err != nil {
		return "", err
	}
	return firstNonEmpty(string(out.Data.LeadID), string(out.Data.ID)), nil
}

// GetLead calls GET /leads/{id}. An unknown id is an
// error for which IsNotFound is true.
func (c *V3) GetLead(ctx context.Context, id string) (Lead, error) {
	var out struct {
		Data Lead `json:"data"`
	}
	if err := c.do(ctx, "GET /leads/{id}", http.MethodGet, "/leads/"+url.PathEscape(id), nil, &out); err != nil {
		return Lead{}, err
	}
	return out.Data, nil
}

// UpdateLead calls PATCH /leads/{id} (HTTP 204). An unknown id is
// an error for which IsNotFound is true.
func (c *V3) UpdateLead(ctx context.Context, id string, w LeadWrite) error {
	return c.do(ctx, "PATCH /leads/{id}", http.MethodPatch, "/leads/"+url.PathEscape(id), w.body(), nil)
}

// Identifier names a lead for the by-identifier calls: Phone (E.164) if set,
// else Email.
type Identifier struct {
	Phone string
	Email string
}

func (i Identifier) into(b map[string]any) {
	if i.Phone != "" {
		b["phone_number"] = i.Phone
	} else {
		b["email"] = i.Email
	}
}

// UpdateByIdentifier calls PATCH /leads/by-identifier and returns the lead's
// id. No lead with the identifier is an
// error for which IsNotFound is true (create it then).
func (c *V3) UpdateByIdentifier(ctx context.Context, ident Identifier, w LeadWrite) (string, error) {
	b := w.body()
	ident.into(b)
	return c.writeLead(ctx, "PATCH /leads/by-identifier", http.MethodPatch, "/leads/by-identifier", b)
}

// AddNote calls POST /leads/{id}/notes (append-only) and returns note_id.
func (c *V3) AddNote(ctx context.Context, leadID, content, title string) (string, error) {
	return c.addNote(ctx, "POST /leads/{id}/notes", "/leads/"+url.PathEscape(leadID)+"/notes", content, title, nil)
}

// AddNoteByIdentifier calls POST /leads/by-identifier/notes.
func (c *V3) AddNoteByIdentifier(ctx context.Context, ident Identifier, content, title string) (string, error) {
	return c.addNote(ctx, "POST /leads/by-identifier/notes", "/leads/by-identifier/notes", content, title, &ident)
}

func (c *V3) addNote(ctx context.Context, op, path, content, title string, ident *Identifier) (string, error) {
	b := map[string]any{"content": content}
	if title != "" {
		b["title"] = title
	}
	if ident != nil {
		ident.into(b)
	}
	var out struct {
		Data struct {
			NoteID flexString `json:"note_id"`
			ID     flexString `json:"id"`
		} `json:"data"`
	}
	if err := c.do(ctx, op, http.MethodPost, path, b, &out); err != nil {
		return "", err
	}
	return firstNonEmpty(string(out.Data.NoteID), string(out.Data.ID)), nil
}

// ListQuery selects leads for ListLeads.
type ListQuery struct {
	PerPage       int       // default 50 (as Getlead's own integration uses)
	Cursor        string    // from the previous Page
	SortBy        string    // "created_at" (default) or "updated_at"
	SortDirection string    // "asc" (default here) or "desc"
	CreatedFrom   time.Time // created_at[from], inclusive; zero = no filter
	Search        string
	Statuses      []string // status[]
}

// Page is one page of leads.
type Page struct {
	Leads      []Lead
	NextCursor string // "" on the last page
}

// ListLeads calls GET /leads.
func (c *V3) ListLeads(ctx context.Context, q ListQuery) (Page, error) {
	v := url.Values{}
	per := q.PerPage
	if per <= 0 {
		per = 50
	}
	v.Set("per_page", strconv.Itoa(per))
	v.Set("sort_by", firstNonEmpty(q.SortBy, "created_at"))
	v.Set("sort_direction", firstNonEmpty(q.SortDirection, "asc"))
	if !q.CreatedFrom.IsZero() {
		v.Set("created_at[from]", q.CreatedFrom.UTC().Format(time.RFC3339Nano))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	for _, s := range q.Statuses {
		v.Add("status[]", s)
	}
	var out leadList
	if err := c.do(ctx, "GET /leads", http.MethodGet, "/leads?"+v.Encode(), nil, &out); err != nil {
		return Page{}, err
	}
	return out.page(), nil
}

// leadList is GET /leads's answer; the next cursor is in one of several
// places.
type leadList struct {
	Data       []Lead `json:"data"`
	NextCursor string `json:"next_cursor"`
	Meta       struct {
		NextCursor  string `json:"next_cursor"`
		NextPageURL string `json:"next_page_url"`
	} `json:"meta"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
}

func (l leadList) page() Page {
	next := firstNonEmpty(l.Meta.NextCursor, l.NextCursor, cursorParam(l.Links.Next), cursorParam(l.Meta.NextPageURL))
	return Page{Leads: l.Data, NextCursor: next}
}

func cursorParam(link string) string {
	if link == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.Query().Get("cursor")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// do sends one request and decodes a 2xx body into out (nil: ignore it).
func (c *V3) do(ctx context.Context, op, method, path string, body any, out any) error {
	done, err := gate.Enter(ctx, c.gate)
	if err != nil {
		return err
	}
	defer done()
	h := http.Header{"Authorization": {"Bearer " + c.key}, "Accept": {"application/json"}}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &Error{API: "v3", Op: op, Message: "encode request: " + err.Error()}
		}
		rd = bytes.NewReader(b)
		h.Set("Content-Type", "application/json")
	}
	resp, raw, err := c.send(ctx, op, method, path, h, rd, 64<<20)
	if err != nil {
		return err
	}
	return parseV3Answer(op, resp.StatusCode, resp.Header, raw, out)
}

// parseV3Answer reads an answer: a non-2xx one is *Error, a 2xx body is
// decoded into out (nil: ignore it).
func parseV3Answer(op string, status int, h http.Header, raw []byte, out any) error {
	if status < 200 || status > 299 {
		return v3Error(op, status, h, raw)
	}
	if out == nil || status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{API: "v3", Op: op, HTTPStatus: status, Message: "malformed answer: " + snippet(raw), Unreadable: true}
	}
	return nil
}

// v3Error reads an error answer: error.message / error.code /
// error.context.retry_after, or a top-level message / retry_after, with the
// Retry-After header as the fallback.
func v3Error(op string, status int, h http.Header, raw []byte) error {
	e := &Error{API: "v3", Op: op, HTTPStatus: status}
	var body struct {
		Message    string     `json:"message"`
		RetryAfter flexString `json:"retry_after"`
		Error      *struct {
			Message string     `json:"message"`
			Code    flexString `json:"code"`
			Context struct {
				RetryAfter flexString `json:"retry_after"`
			} `json:"context"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Message = body.Message
		ra := string(body.RetryAfter)
		if body.Error != nil {
			e.Message = firstNonEmpty(body.Error.Message, body.Message)
			e.Code = string(body.Error.Code)
			ra = firstNonEmpty(ra, string(body.Error.Context.RetryAfter))
		}
		if n, err := strconv.ParseFloat(ra, 64); err == nil && n > 0 {
			e.RetryAfter = time.Duration(min(n, MaxRetryAfter.Seconds()) * float64(time.Second))
		}
	}
	if e.Message == "" {
		e.Message = snippet(raw)
	}
	e.Message = scrub(e.Message)
	if e.RetryAfter == 0 {
		e.RetryAfter = retryAfterHeader(h)
	}
	return e
}

// MaxRetryAfter caps the wait Getlead asks for: a larger (or overflowing)
// value is taken as a day.
const MaxRetryAfter = 24 * time.Hour

// retryAfterHeader reads Retry-After in seconds or as an HTTP date.
func retryAfterHeader(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(min(n, int(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}

// flexString decodes a JSON string or number (ids, codes) as a string.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*f = ""
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = flexString(v)
		return nil
	}
	*f = flexString(s)
	return nil
}
