package acme

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
	"github.com/crmsync/crmsync/vendors/errtext"
	"github.com/crmsync/crmsync/vendors/gate"
)

// Gate is waited on before every request: the account's shared rate
// budget (*pipeline.Budget), told of each answer (gate.Answerer).
type Gate = gate.Gate

// ClientConfig configures a Client.
type ClientConfig struct {
	BaseURL string // the API root, e.g. https://api.acme-crm.example; required
	APIKey  string // sent in the X-Api-Key header; required
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Gate, if set, is waited on before every request.
	Gate Gate
}

// Client calls Acme CRM's lead API. It is safe for concurrent use.
type Client struct {
	base string
	key  string
	http *http.Client
	gate Gate

	mu       sync.Mutex
	requests map[string]int64 // by operation
	errs     map[string]int64 // by error code or HTTP status
}

// NewClient returns a client of one account.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("acme: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		return nil, errors.New("acme: the API key is required")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimSuffix(cfg.BaseURL, "/"), key: cfg.APIKey, http: hc, gate: cfg.Gate,
		requests: map[string]int64{}, errs: map[string]int64{}}, nil
}

// Error is a failure answered by Acme, or met on the way to it. It never
// carries the API key.
type Error struct {
	Op         string // e.g. "POST /v1/leads/batch"
	HTTPStatus int    // 0 when no HTTP answer was read, and for an item's error
	Code       string // Acme's error code, e.g. "invalid_email"
	Message    string
	// Item is true for the error of one lead of a batch (the request
	// succeeded).
	Item bool
	// RetryAfter is how long Acme asked us to wait (429); 0 if it did not
	// say.
	RetryAfter time.Duration
	// NoAnswer says the request was sent (or may have been) and no answer
	// was read: Acme may have applied it.
	NoAnswer bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acme %s: ", e.Op)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.HTTPStatus)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, "%s: ", e.Code)
	}
	b.WriteString(e.Message)
	return b.String()
}

// Class sorts the error into the shared classification: 401 and 403 are
// Auth; 429 is RateLimited; an item's error and 400, 404, 413 and 422 are
// Permanent; 5xx, transport failures and answers that cannot be read are
// Transient.
func (e *Error) Class() apierr.Class {
	switch {
	case e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden:
		return apierr.Auth
	case e.HTTPStatus == http.StatusTooManyRequests:
		return apierr.RateLimited
	case e.Item:
		return apierr.Permanent
	case e.HTTPStatus == 400 || e.HTTPStatus == 404 || e.HTTPStatus == 413 || e.HTTPStatus == 422:
		return apierr.Permanent
	}
	return apierr.Transient
}

// Temporary reports whether repeating the call later may succeed.
func (e *Error) Temporary() bool { return e.Class().Temporary() }

// Lead is a lead as Acme lists it.
type Lead struct {
	ID        string
	Fields    map[string]string // Acme field names; absent when empty
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UnmarshalJSON reads a lead object: id, created_at, updated_at and the
// fields of Fields (others are ignored).
func (l *Lead) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var out Lead
	if err := json.Unmarshal(raw["id"], &out.ID); err != nil || out.ID == "" {
		return errors.New("lead without an id")
	}
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"created_at", &out.CreatedAt}, {"updated_at", &out.UpdatedAt}} {
		if v, ok := raw[t.key]; ok {
			if err := json.Unmarshal(v, t.to); err != nil {
				return fmt.Errorf("lead %s: %s: %w", out.ID, t.key, err)
			}
		}
	}
	out.Fields = map[string]string{}
	for _, f := range Fields {
		if v, ok := raw[f]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("lead %s: %s is not a string", out.ID, f)
			}
			if s != "" {
				out.Fields[f] = s
			}
		}
	}
	*l = out
	return nil
}

// LeadWrite is one lead of a batch upsert: by ID when set, else by the
// email in Fields. An absent field is left as it is; an empty one is
// cleared.
type LeadWrite struct {
	ID     string
	Fields map[string]string
}

// MarshalJSON writes the flat lead object Acme takes.
func (w LeadWrite) MarshalJSON() ([]byte, error) {
	m := maps.Clone(w.Fields)
	if m == nil {
		m = map[string]string{}
	}
	if w.ID != "" {
		m["id"] = w.ID
	}
	return json.Marshal(m)
}

// Result is Acme's answer for one lead of a batch: its id, or Err, an
// *Error with Item set and Acme's code.
type Result struct {
	ID      string
	Created bool
	Err     error
}

// Upsert calls POST /v1/leads/batch with at most MaxBatch leads and returns
// one result per lead, in order. An error means no lead has a result: the
// request failed as a whole (and, when the error's NoAnswer is set, may
// have been applied).
func (c *Client) Upsert(ctx context.Context, leads []LeadWrite) ([]Result, error) {
	const op = "POST /v1/leads/batch"
	if len(leads) > MaxBatch {
		return nil, &Error{Op: op, Code: "too_many_leads", HTTPStatus: http.StatusBadRequest,
			Message: fmt.Sprintf("%d leads; at most %d per batch (not sent)", len(leads), MaxBatch)}
	}
	var out struct {
		Results []struct {
			ID      string     `json:"id"`
			Created bool       `json:"created"`
			Error   *wireError `json:"error"`
		} `json:"results"`
	}
	if err := c.do(ctx, "leads.batch", op, http.MethodPost, "/v1/leads/batch", map[string]any{"leads": leads}, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(leads) {
		return nil, c.count(&Error{Op: op, NoAnswer: true, Message: fmt.Sprintf("%d results for %d leads", len(out.Results), len(leads))})
	}
	res := make([]Result, len(leads))
	for i, r := range out.Results {
		switch {
		case r.Error != nil:
			res[i].Err = c.count(&Error{Op: op, Item: true, Code: r.Error.Code, Message: r.Error.Message})
		case r.ID == "":
			res[i].Err = c.count(&Error{Op: op, Message: fmt.Sprintf("result %d has neither an id nor an error", i)})
		default:
			res[i] = Result{ID: r.ID, Created: r.Created}
		}
	}
	return res, nil
}

// ListQuery selects a page of the change list.
type ListQuery struct {
	UpdatedSince time.Time // zero: from the beginning
	After        string    // a Page.Next; "": from UpdatedSince
	Limit        int       // 1..MaxBatch; 0: Acme's default (50)
}

// Page is a page of the change list, ordered by (updated_at, id).
type Page struct {
	Leads []Lead
	// Next is the keyset cursor after the last lead of the page ("" when
	// the page is empty): listing After it never skips a lead, however
	// many change meanwhile.
	Next string
	More bool // leads follow Next
}

// List calls GET /v1/leads?updated_since=…&after=…&limit=….
func (c *Client) List(ctx context.Context, q ListQuery) (Page, error) {
	v := url.Values{}
	if !q.UpdatedSince.IsZero() {
		v.Set("updated_since", q.UpdatedSince.UTC().Format(time.RFC3339Nano))
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Data []Lead `json:"data"`
		Next string `json:"next"`
		More bool   `json:"more"`
	}
	if err := c.do(ctx, "leads.list", "GET /v1/leads", http.MethodGet, "/v1/leads?"+v.Encode(), nil, &out); err != nil {
		return Page{}, err
	}
	return Page{Leads: out.Data, Next: out.Next, More: out.More}, nil
}

// Get calls GET /v1/leads?ids=… for at most MaxBatch ids and returns the
// leads Acme has, in no particular order.
func (c *Client) Get(ctx context.Context, ids []string) ([]Lead, error) {
	return c.get(ctx, "ids", ids)
}

// FindByEmail calls GET /v1/leads?emails=… for at most MaxBatch addresses
// and returns the leads Acme has (matched without regard to case).
func (c *Client) FindByEmail(ctx context.Context, emails []string) ([]Lead, error) {
	return c.get(ctx, "emails", emails)
}

func (c *Client) get(ctx context.Context, by string, keys []string) ([]Lead, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var out struct {
		Data []Lead `json:"data"`
	}
	path := "/v1/leads?" + url.Values{by: {strings.Join(keys, ",")}}.Encode()
	if err := c.do(ctx, "leads.get", "GET /v1/leads?"+by, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// Stats returns the requests sent by operation and the errors met by
// Acme's code (or "http-<status>", "transport"), for /status.
func (c *Client) Stats() (requests, errs map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.requests), maps.Clone(c.errs)
}

// count records an error in Stats and returns it.
func (c *Client) count(e *Error) *Error {
	key := e.Code
	switch {
	case key != "":
	case e.HTTPStatus != 0:
		key = "http-" + strconv.Itoa(e.HTTPStatus)
	default:
		key = "transport"
	}
	c.mu.Lock()
	c.errs[key]++
	c.mu.Unlock()
	return e
}

// maxAnswer bounds the answer bodies read.
const maxAnswer = 16 << 20

// do sends one request through the gate and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, name, op, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("acme %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	done, err := gate.Enter(ctx, c.gate)
	if err != nil {
		return err
	}
	defer done()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return c.count(&Error{Op: op, Message: errtext.Transport(err)})
	}
	req.Header.Set("X-Api-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.mu.Lock()
	c.requests[name]++
	c.mu.Unlock()
	resp, err := c.http.Do(req)
	if err != nil {
		return c.count(noAnswer(op, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return c.count(noAnswer(op, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Op: op, HTTPStatus: resp.StatusCode}
		var eb struct {
			Error wireError `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Message = errtext.Snippet(raw, 200, nil)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return c.count(e)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			// A write may have been applied: its answer is as good as lost.
			return c.count(&Error{Op: op, HTTPStatus: resp.StatusCode, NoAnswer: method != http.MethodGet,
				Message: "unreadable answer: " + errtext.Snippet(raw, 200, nil)})
		}
	}
	return nil
}

// noAnswer is the error of a request that may have reached Acme: every
// failure of sending it or reading its answer but a failed dial.
func noAnswer(op string, err error) *Error {
	e := &Error{Op: op, Message: errtext.Transport(err)}
	var oe *net.OpError
	e.NoAnswer = !(errors.As(err, &oe) && oe.Op == "dial")
	return e
}
