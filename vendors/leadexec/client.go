package leadexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// Default base URLs (spec §1).
const (
	// DefaultAPIURL serves the ASMX account API (/service.asmx) and
	// the token endpoint.
	DefaultAPIURL = "https://api.leadexec.net"
	// DefaultLeadsURL is the lead receiver (/processor/insert/general,
	// /v2/insert/general).
	DefaultLeadsURL = "https://leads.leadexec.net"
	// DefaultDataURL is the lead data query API (/v1/leads/query/{lid}).
	DefaultDataURL = "https://apidata.leadexec.net"
	// DefaultNamespace is the ASMX namespace assumed for AddEditClient:
	// ASP.NET's default, as LeadExec does not document its own.
	DefaultNamespace = "http://tempuri.org/"
)

// Response size limits: a larger answer is an error, never read whole.
const (
	MaxPostResponseBytes = 1 << 20  // receiver answers
	MaxAccountBytes      = 64 << 20 // ASMX answers (the whole client list) and REST answers
	MaxQueryBytes        = 64 << 20 // one page of the lead query API
)

// Config configures a Client. The zero value talks to LeadExec's hosts but
// can only post leads (with the Source's credentials).
type Config struct {
	// APIURL, LeadsURL and DataURL are base URLs (scheme and host, maybe a
	// path prefix); defaults DefaultAPIURL, DefaultLeadsURL and
	// DefaultDataURL. Tests point all three at one simulator.
	APIURL, LeadsURL, DataURL string
	// Key is the ASMX account API key (the Key parameter). Secret.
	Key string
	// Namespace is the ASMX service's XML namespace, which AddEditClient's
	// SOAP request is written in; default DefaultNamespace. LeadExec's is
	// not documented: read it from service.asmx?WSDL when AddEditClient
	// answers a SOAP fault about an unknown element.
	Namespace string
	// ClientID and ClientSecret are the OAuth client credentials of the
	// lead data API. Secret (the client secret).
	// Ignored when Tokens is set.
	ClientID, ClientSecret string
	// Tokens, if set, supplies bearer tokens (for sharing one cache
	// between clients). Default: a TokenSource built from ClientID,
	// ClientSecret, APIURL, HTTPClient and Now, when ClientID is set.
	Tokens *TokenSource
	// HTTPClient sends every request. Default: a client with a 60 s timeout.
	HTTPClient *http.Client
	// Now is the clock for token expiry and Retry-After dates. Default
	// time.Now.
	Now func() time.Time
}

// Client calls one LeadExec account: the lead receiver, the ASMX
// account APIs and the lead data API. Each method makes exactly one HTTP
// request and never retries; the one exception is a bearer call answered
// 401, which is sent once more with a fresh token (plus, for bearer calls,
// the token request itself when the cached token is missing or due). A
// Client is safe for concurrent use.
type Client struct {
	api, leads, data string // base URLs without a trailing slash
	key              string // never logged
	ns               string // ASMX namespace
	tokens           *TokenSource
	http             *http.Client
	now              func() time.Time
}

// New returns a Client. It fails only when a base URL is not absolute.
func New(cfg Config) (*Client, error) {
	c := &Client{key: cfg.Key, ns: cfg.Namespace, tokens: cfg.Tokens, http: cfg.HTTPClient, now: cfg.Now}
	if c.ns == "" {
		c.ns = DefaultNamespace
	}
	var err error
	if c.api, err = baseURL("APIURL", cfg.APIURL, DefaultAPIURL); err != nil {
		return nil, err
	}
	if c.leads, err = baseURL("LeadsURL", cfg.LeadsURL, DefaultLeadsURL); err != nil {
		return nil, err
	}
	if c.data, err = baseURL("DataURL", cfg.DataURL, DefaultDataURL); err != nil {
		return nil, err
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 60 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.tokens == nil && cfg.ClientID != "" {
		c.tokens, err = NewTokenSource(TokenConfig{URL: c.api, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			HTTPClient: c.http, Now: c.now})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Tokens returns the client's token source (nil without OAuth credentials).
func (c *Client) Tokens() *TokenSource { return c.tokens }

func baseURL(name, v, def string) (string, error) {
	if v == "" {
		v = def
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("leadexec: %s %q is not an absolute http(s) URL", name, v)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("leadexec: %s must not carry credentials, a query or a fragment", name)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// request is one HTTP exchange.
type request struct {
	op     string
	method string
	url    string
	body   []byte
	ctype  string
	header http.Header
	limit  int64
	secret scrubber // values to hide from errors
}

// response is an answer read in full (up to the request's limit).
type response struct {
	status int
	header http.Header
	body   []byte
	secret scrubber // the request's secrets, to clean errors built from the answer
}

// do sends one request and reads the answer, whatever its status.
func do(ctx context.Context, hc *http.Client, rq request) (*response, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, rq.url, body)
	if err != nil {
		return nil, &Error{Op: rq.op, Message: "build request: " + rq.secret.clean(err.Error()), class: apierr.Permanent,
			err: ErrInvalidRequest}
	}
	for k, vs := range rq.header {
		req.Header[k] = vs
	}
	if rq.ctype != "" {
		req.Header.Set("Content-Type", rq.ctype)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(rq.op, err, rq.secret)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, rq.limit+1))
	if err != nil {
		return nil, transportError(rq.op, err, rq.secret)
	}
	if int64(len(raw)) > rq.limit {
		return nil, malformed(rq.op, resp.StatusCode, fmt.Sprintf("answer larger than %d bytes", rq.limit), nil, rq.secret)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw, secret: rq.secret}, nil
}

func ok(status int) bool { return status >= 200 && status <= 299 }

// secrets lists the client's own secrets; extra adds per-call ones.
func (c *Client) secrets(extra ...string) scrubber {
	s := scrubber{c.key}
	if c.tokens != nil {
		s = append(s, c.tokens.secret)
	}
	return append(s, extra...)
}

// bearer sends rq with the current access token. A 401 invalidates that
// token and sends rq once more with a new one; a second 401 is
// ErrTokenInvalid.
func (c *Client) bearer(ctx context.Context, rq request) (*response, error) {
	if c.tokens == nil {
		return nil, missingCredentials(rq.op, "ClientID/ClientSecret")
	}
	base := rq.secret
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		rq.header = rq.header.Clone()
		if rq.header == nil {
			rq.header = http.Header{}
		}
		rq.header.Set("Authorization", "Bearer "+tok)
		rq.secret = append(base[:len(base):len(base)], tok)
		resp, err := do(ctx, c.http, rq)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized {
			c.tokens.Invalidate(tok)
			if attempt == 0 {
				continue
			}
			e := statusError(rq.op, "rest", resp, c.now())
			e.err = ErrTokenInvalid
			return nil, e
		}
		return resp, nil
	}
}
