// Package sharpspring is a client for the SharpSpring (Constant Contact
// "Lead Gen & CRM") Open API: the JSON envelope, credentials in the query
// string, tolerant decoding of its string-typed results, and error
// classification. It makes one HTTP request per call and never retries:
// retrying is the pipeline's job.
package sharpspring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crmsync/crmsync/vendors/errtext"
	"github.com/crmsync/crmsync/vendors/gate"
)

// DefaultEndpoint is the v1.2 API, which reads and writes times in UTC.
const DefaultEndpoint = "https://api.sharpspring.com/pubapi/v1.2/"

// Gate is consulted before every request, for the shared rate limit and the
// daily quota. A non-nil error stops the request. A gate.Answerer also hears
// when each request was answered.
type Gate = gate.Gate

// Config configures a Client.
type Config struct {
	Endpoint  string // default DefaultEndpoint
	AccountID string
	SecretKey string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// Gate, if set, is waited on before every request.
	Gate Gate
}

// Client calls one SharpSpring account. It is safe for concurrent use.
type Client struct {
	url   string // endpoint with credentials; never logged
	http  *http.Client
	gate  Gate
	seq   atomic.Uint64
	stats callStats

	// secrets are the secret key as sent (plain and query-escaped); an
	// answer echoing one has it replaced before it is read.
	secrets [][]byte
}

// New returns a client for one account.
func New(cfg Config) (*Client, error) {
	ep := cfg.Endpoint
	if ep == "" {
		ep = DefaultEndpoint
	}
	u, err := url.Parse(ep)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("sharpspring: endpoint %q is not an absolute URL", ep)
	}
	if cfg.AccountID == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("sharpspring: account id and secret key are required")
	}
	q := u.Query()
	q.Set("accountID", cfg.AccountID)
	q.Set("secretKey", cfg.SecretKey)
	u.RawQuery = q.Encode()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	var secrets [][]byte
	// A real key is 32 characters; replacing a test's one-letter key
	// would garble every answer.
	if len(cfg.SecretKey) >= 8 {
		secrets = append(secrets, []byte(cfg.SecretKey))
		if esc := url.QueryEscape(cfg.SecretKey); esc != cfg.SecretKey {
			secrets = append(secrets, []byte(esc))
		}
	}
	return &Client{url: u.String(), secrets: secrets, http: hc, gate: cfg.Gate}, nil
}

type request struct {
	Method string `json:"method"`
	Params any    `json:"params"`
	ID     string `json:"id"`
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
}

type apiError struct {
	Code    flexInt         `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// Call sends one request and decodes result into out. An API-level error
// object comes back as *Error; object-level errors are for the caller to read
// from the result.
func (c *Client) Call(ctx context.Context, method string, params any, out any) error {
	err := c.call(ctx, method, params, out)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			c.stats.failure(e)
		}
	}
	return err
}

func (c *Client) call(ctx context.Context, method string, params any, out any) error {
	done, err := gate.Enter(ctx, c.gate)
	if err != nil {
		return err
	}
	defer done()
	id := "crmsync-" + strconv.FormatUint(c.seq.Add(1), 10)
	body, err := json.Marshal(request{Method: method, Params: params, ID: id})
	if err != nil {
		return &Error{Method: method, Message: "encode request: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return transportError(method, err)
	}
	// Go never sends Expect: 100-continue unless asked to; SharpSpring's front
	// end answers 502 to it on long requests, so it is never set here.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	c.stats.request(method)
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return transportError(method, err)
	}
	// An answer (a proxy's error page, an echo of the request) can quote
	// the secret key; nothing read from it may carry the key further.
	for _, sk := range c.secrets {
		raw = bytes.ReplaceAll(raw, sk, []byte("REDACTED"))
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{Method: method, HTTPStatus: resp.StatusCode, Message: scrub(snippet(raw))}
	}
	return parseResponse(method, raw, out)
}

// parseResponse reads an answer's envelope: an API-level error comes back
// as *Error, a result is decoded into out (if not nil).
func parseResponse(method string, raw []byte, out any) error {
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return &Error{Method: method, Message: "malformed response: " + scrub(snippet(raw)), Unreadable: true}
	}
	if e := decodeAPIError(method, r.Error); e != nil {
		return e
	}
	if out != nil {
		if len(r.Result) == 0 || string(r.Result) == "null" {
			return &Error{Method: method, Message: "response has no result"}
		}
		if err := json.Unmarshal(r.Result, out); err != nil {
			return &Error{Method: method, Message: "malformed result: " + err.Error(), Unreadable: true}
		}
	}
	return nil
}

// decodeAPIError reads the top-level error member, which is null, [], an
// error object (API-level failure) or an array of object-level error copies
// (not a failure of the call).
func decodeAPIError(method string, raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil
	}
	var ae apiError
	if err := json.Unmarshal(t, &ae); err != nil {
		return &Error{Method: method, Message: "malformed error: " + snippet(t), Unreadable: true}
	}
	if ae.Code == 0 && ae.Message == "" {
		return nil
	}
	msg := ae.Message
	if strings.Contains(strings.ToLower(msg), "temporarily unavailable") && ae.Code == 0 {
		ae.Code = codeUnavailable
	}
	return &Error{Method: method, Code: int(ae.Code), Message: msg, Data: ae.Data}
}

// snippet is the start of an answer for an error message, in UTF-8
// whatever the answer's bytes.
func snippet(b []byte) string { return errtext.Snippet(b, 200, nil) }

// flexInt decodes a JSON number or a numeric string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}

// flexBool decodes true/false, "true"/"false", 1/0 and "1"/"0".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(b), `"`) {
	case "true", "1":
		*f = true
	default:
		*f = false
	}
	return nil
}
