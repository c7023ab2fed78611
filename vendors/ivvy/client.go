// Package ivvy is a client for the iVvy API 1.0: RPC-style
// POST /api/1.0/{namespace}?action={action} calls with JSON bodies, signed
// with the IWS scheme (Content-MD5 over the exact bytes sent, IVVY-Date,
// hex HMAC-SHA1 in X-Api-Authorization), iVvy's error bodies and their
// classification, and typed calls for the contact, crm, account and batch
// namespaces.
//
// A Client makes exactly one HTTP request per call and never retries:
// retrying is the pipeline's job. The API key and secret never appear in
// errors or logs. All methods are safe for concurrent use.
package ivvy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/errtext"
	"github.com/crmsync/crmsync/vendors/gate"
)

// Region hosts (spec §2.1). Keys belong to one region.
const (
	HostAU = "api.ap-southeast-2.ivvy.com"
	HostUS = "api.us-west-2.ivvy.com"
	HostEU = "api.eu-west-2.ivvy.com"
)

// Regions maps the region names accepted by Config.Region to their hosts.
var Regions = map[string]string{"au": HostAU, "us": HostUS, "eu": HostEU, "uk": HostEU}

// DefaultContentType is the Content-Type sent and signed.
const DefaultContentType = "application/json"

// Gate is consulted before every request, for the shared rate limit and
// daily quota. A non-nil error stops the request and is returned as is. A
// gate.Answerer also hears when each request was answered.
type Gate = gate.Gate

// Config configures a Client. Endpoint or Region is required.
type Config struct {
	// Endpoint is the base URL ("https://api.us-west-2.ivvy.com", or a
	// simulator's URL). It wins over Region.
	Endpoint string
	// Region is "au", "us", "eu" (or "uk"); the host is https://api.<region>.ivvy.com.
	Region    string
	APIKey    string
	APISecret string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// Gate, if set, is waited on before every request.
	Gate Gate
	// Now is the clock that dates requests (IVVY-Date, UTC); default
	// time.Now. iVvy refuses requests more than 5 minutes off (23005).
	Now func() time.Time
	// ContentType is sent and signed byte for byte; default
	// "application/json" (the .NET SDK sends "application/json; charset=utf-8").
	ContentType string
}

// Client calls one iVvy account.
type Client struct {
	base        *url.URL
	key, secret string // never logged
	http        *http.Client
	gate        Gate
	now         func() time.Time
	contentType string
}

// New returns a client. It fails when no endpoint or region is given, the
// endpoint is not an absolute URL, or the key or secret is missing.
func New(cfg Config) (*Client, error) {
	ep := cfg.Endpoint
	if ep == "" {
		host, ok := Regions[strings.ToLower(cfg.Region)]
		if !ok {
			return nil, fmt.Errorf("ivvy: region %q is not one of au, us, eu (or set an endpoint)", cfg.Region)
		}
		ep = "https://" + host
	}
	u, err := url.Parse(ep)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("ivvy: endpoint %q is not an absolute URL", ep)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, fmt.Errorf("ivvy: api key and secret are required")
	}
	c := &Client{base: u, key: cfg.APIKey, secret: cfg.APISecret, http: cfg.HTTPClient, gate: cfg.Gate,
		now: cfg.Now, contentType: cfg.ContentType}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.contentType == "" {
		c.contentType = DefaultContentType
	}
	return c, nil
}

// Call sends params (JSON-encoded once; nil sends {}) to namespace?action
// and decodes the answer into out (nil: ignore it). An error body, or a
// non-200 status, comes back as *Error.
func (c *Client) Call(ctx context.Context, namespace, action string, params, out any) error {
	body := []byte("{}")
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return &Error{Namespace: namespace, Action: action, Message: "encode request: " + err.Error()}
		}
		body = b
	}
	raw, err := c.CallRaw(ctx, namespace, action, body)
	if err != nil {
		return err
	}
	return decodeAnswer(namespace, action, raw, out)
}

// decodeAnswer decodes a successful call's answer into out (nil: ignore
// it); a malformed answer is *Error.
func decodeAnswer(namespace, action string, raw []byte, out any) error {
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &Error{Namespace: namespace, Action: action, HTTPStatus: http.StatusOK,
				Malformed: true, Message: "malformed response: " + err.Error()}
		}
	}
	return nil
}

// CallRaw sends body as is (it is hashed and sent byte for byte) and
// returns the raw answer of a successful call.
func (c *Client) CallRaw(ctx context.Context, namespace, action string, body []byte) ([]byte, error) {
	done, err := gate.Enter(ctx, c.gate)
	if err != nil {
		return nil, err
	}
	defer done()
	req, err := c.newRequest(ctx, namespace, action, body)
	if err != nil {
		return nil, transportError(namespace, action, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(namespace, action, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, transportError(namespace, action, err)
	}
	if e := decodeError(namespace, action, resp.StatusCode, raw); e != nil {
		// An answer that quotes the request (a proxy's error page) would
		// quote the key from the authorization header.
		e.redact(c.key)
		return nil, e
	}
	return raw, nil
}

// newRequest builds a signed request. The body is hashed and sent as the
// same byte slice, so nothing can re-serialize it in between.
func (c *Client) newRequest(ctx context.Context, namespace, action string, body []byte) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + "/api/" + APIVersion + "/" + namespace
	u.RawQuery = "action=" + url.QueryEscape(action)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	md5 := ContentMD5(body)
	req.Header.Set("Content-Type", c.contentType)
	req.Header.Set("Content-MD5", md5)
	req.Header.Set("IVVY-Date", c.now().UTC().Format(TimeLayout))
	req.Header.Set("X-Api-Version", APIVersion)
	req.Header.Set("Accept", "application/json")
	sts := StringToSign(SigningInput{
		Method: http.MethodPost, ContentMD5: md5, ContentType: c.contentType,
		RequestURI: u.RequestURI(), Headers: req.Header,
	})
	req.Header.Set("X-Api-Authorization", "IWS "+c.key+":"+Signature(c.secret, sts))
	return req, nil
}

// errorBody is iVvy's error shape.
type errorBody struct {
	ErrorCode          Int             `json:"errorCode"`
	Message            string          `json:"message"`
	SpecificCode       Int             `json:"specificCode"`
	AdditionalMessages json.RawMessage `json:"additionalMessages"`
}

// decodeError reads an error answer: a body with errorCode (whatever the
// HTTP status, as the .NET SDK does) or a non-200 status.
func decodeError(ns, action string, status int, raw []byte) *Error {
	var eb errorBody
	t := bytes.TrimSpace(raw)
	isObj := len(t) > 0 && t[0] == '{'
	if isObj && json.Unmarshal(t, &eb) == nil && eb.ErrorCode != 0 {
		return &Error{Namespace: ns, Action: action, HTTPStatus: status, ErrorCode: int(eb.ErrorCode),
			SpecificCode: int(eb.SpecificCode), Message: eb.Message, AdditionalMessages: messages(eb.AdditionalMessages)}
	}
	if status != http.StatusOK {
		msg := http.StatusText(status)
		if isObj && eb.Message != "" {
			msg = eb.Message
		} else if s := snippet(t); s != "" {
			msg = s
		}
		return &Error{Namespace: ns, Action: action, HTTPStatus: status, SpecificCode: int(eb.SpecificCode), Message: msg}
	}
	return nil
}

// messages decodes additionalMessages, a list of strings or of objects.
func messages(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return ss
	}
	var anys []any
	if json.Unmarshal(raw, &anys) == nil {
		for _, a := range anys {
			b, _ := json.Marshal(a)
			ss = append(ss, string(b))
		}
		return ss
	}
	return []string{snippet(raw)}
}

// snippet is the start of an answer for an error message, in UTF-8
// whatever the answer's bytes.
func snippet(b []byte) string { return errtext.Snippet(b, 200, nil) }

// Ping calls test?action=ping and returns the server's timestamp.
func (c *Client) Ping(ctx context.Context) (string, error) {
	var res struct {
		Ack string `json:"ack"`
	}
	err := c.Call(ctx, "test", "ping", nil, &res)
	return res.Ack, err
}
