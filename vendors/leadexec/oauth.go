package leadexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/vendors/apierr"
)

// TokenPath is the OAuth token endpoint on the API host.
const TokenPath = "/v1/authorization/token"

// DefaultTokenLifetime is assumed when the token answer has no expires_in
// (LeadExec documents 3600).
const DefaultTokenLifetime = time.Hour

// DefaultTokenMargin is how long before expiry a token is replaced, at most;
// the margin is never more than a tenth of the token's lifetime.
const DefaultTokenMargin = time.Minute

// TokenConfig configures a TokenSource.
type TokenConfig struct {
	// URL is the API base URL; default DefaultAPIURL. The token is
	// requested from URL + TokenPath.
	URL string
	// ClientID and ClientSecret are the client credentials (GUIDs).
	// Required. The secret never appears in errors.
	ClientID, ClientSecret string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// Now is the clock that ages tokens; default time.Now.
	Now func() time.Time
	// Margin: a token is replaced this long before it expires (never more
	// than a tenth of its lifetime). Default DefaultTokenMargin (60 s).
	Margin time.Duration
}

// TokenSource obtains OAuth client-credentials tokens from LeadExec
// (POST /v1/authorization/token, JSON {client_id, client_secret,
// grant_type: "client_credentials"}) and caches them until shortly before
// they expire. Concurrent callers share one token request. It is safe for
// concurrent use.
type TokenSource struct {
	url      string
	clientID string
	secret   string // never logged
	http     *http.Client
	now      func() time.Time
	margin   time.Duration

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	fetching  *tokenFetch // the request in flight, if any
}

type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// NewTokenSource returns a TokenSource; it sends nothing until Token is
// called.
func NewTokenSource(cfg TokenConfig) (*TokenSource, error) {
	u, err := baseURL("URL", cfg.URL, DefaultAPIURL)
	if err != nil {
		return nil, err
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, fmt.Errorf("leadexec: token source needs a client id and a client secret")
	}
	ts := &TokenSource{url: u + TokenPath, clientID: cfg.ClientID, secret: cfg.ClientSecret, http: cfg.HTTPClient,
		now: cfg.Now, margin: cfg.Margin}
	if ts.http == nil {
		ts.http = &http.Client{Timeout: 60 * time.Second}
	}
	if ts.now == nil {
		ts.now = time.Now
	}
	if ts.margin <= 0 {
		ts.margin = DefaultTokenMargin
	}
	return ts, nil
}

// Token returns a valid access token: the cached one while it is more than
// the margin from expiry, otherwise a new one. While one caller fetches,
// the others wait for its result (or their ctx). Errors are *Error: Auth
// with ErrInvalidCredentials when LeadExec refuses the credentials,
// Transient for transport failures and 5xx.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	for {
		ts.mu.Lock()
		if ts.token != "" && ts.now().Before(ts.refreshAt) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		if f := ts.fetching; f != nil {
			ts.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			// The fetching caller's own ctx may have ended its request;
			// that is no answer for us, so try again.
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) &&
				ctx.Err() == nil {
				continue
			}
			return f.token, f.err
		}
		f := &tokenFetch{done: make(chan struct{})}
		ts.fetching = f
		ts.mu.Unlock()

		tok, lifetime, err := ts.fetch(ctx)
		ts.mu.Lock()
		if err == nil {
			margin := min(ts.margin, lifetime/10)
			ts.token, ts.refreshAt = tok, ts.now().Add(lifetime-margin)
		}
		ts.fetching = nil
		f.token, f.err = tok, err
		ts.mu.Unlock()
		close(f.done)
		return tok, err
	}
}

// Invalidate drops token from the cache if it is still the current one (a
// call was answered 401 with it), so the next Token fetches a new one.
// Callers holding an older token do not drop a newer one.
func (ts *TokenSource) Invalidate(token string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == token {
		ts.token, ts.refreshAt = "", time.Time{}
	}
}

// fetch makes one token request.
func (ts *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	body, err := json.Marshal(map[string]string{
		"client_id": ts.clientID, "client_secret": ts.secret, "grant_type": "client_credentials",
	})
	if err != nil {
		return "", 0, invalidRequest("Token", "encode request")
	}
	sc := scrubber{ts.secret}
	rq := request{op: "Token", method: http.MethodPost, url: ts.url, body: body, ctype: "application/json",
		header: http.Header{"Accept": {"application/json"}}, limit: 1 << 20, secret: sc}
	resp, err := do(ctx, ts.http, rq)
	if err != nil {
		return "", 0, err
	}
	tr, perr := ParseTokenResponse(resp.body)
	if !ok(resp.status) || (perr == nil && tr.Error != "") {
		e := &Error{Op: "Token", HTTPStatus: resp.status, class: apierr.Transient}
		if perr == nil && tr.Error != "" {
			e.Message = sc.clean(shorten(tr.Error))
		} else {
			// The body of a refused token request carries no token; still,
			// only LeadExec's error code is kept, never the body.
			e.Message = http.StatusText(resp.status)
		}
		switch {
		case resp.status == http.StatusTooManyRequests:
			e.class, e.err = apierr.RateLimited, ErrRateLimited
			e.RetryAfter = retryAfter(resp.header.Get("Retry-After"), ts.now())
		case resp.status >= 500:
			e.class = apierr.Transient
		case resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden ||
			oauthCredentialError(tr.Error) || ok(resp.status):
			e.class, e.err = apierr.Auth, ErrInvalidCredentials
		case resp.status >= 400:
			e.class, e.err = apierr.Permanent, ErrInvalidRequest
		}
		return "", 0, e
	}
	if perr != nil {
		// Never echo the body: it may hold a token.
		return "", 0, &Error{Op: "Token", HTTPStatus: resp.status, Message: perr.Error(), class: apierr.Transient, err: ErrMalformed}
	}
	return tr.AccessToken, tr.ExpiresIn, nil
}

func oauthCredentialError(code string) bool {
	switch code {
	case "invalid_client", "unauthorized_client", "invalid_grant", "access_denied":
		return true
	}
	return false
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string
	TokenType   string
	// ExpiresIn is the token's lifetime; DefaultTokenLifetime when the
	// answer has none (or 0).
	ExpiresIn time.Duration
	// Error is the OAuth error code ("invalid_client"), "" on success.
	Error string
}

// ParseTokenResponse reads {access_token, token_type, expires_in, error}.
// expires_in may be a number or a numeric string. An answer without an
// error must carry an access token of type Bearer (or no type). Errors never
// quote the body.
func ParseTokenResponse(body []byte) (TokenResponse, error) {
	o, err := jsonObject(body)
	if err != nil {
		return TokenResponse{}, errors.New("leadexec: token answer is not a JSON object")
	}
	rd := &reader{rec: o.record()}
	tr := TokenResponse{AccessToken: rd.str("access_token"), TokenType: rd.str("token_type"),
		Error: strings.TrimSpace(rd.str("error"))}
	exp := rd.int64("expires_in")
	if rd.err != nil {
		return TokenResponse{}, errors.New("leadexec: token answer: expires_in is not an integer")
	}
	if tr.Error != "" {
		return tr, nil
	}
	switch {
	case tr.AccessToken == "":
		return TokenResponse{}, errors.New("leadexec: token answer has no access_token")
	case strings.ContainsAny(tr.AccessToken, " \t\r\n"):
		return TokenResponse{}, errors.New("leadexec: access_token contains white space")
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return TokenResponse{}, fmt.Errorf("leadexec: token_type %q is not Bearer", shorten(tr.TokenType))
	case exp < 0 || exp > 366*24*3600:
		return TokenResponse{}, errors.New("leadexec: expires_in out of range")
	}
	tr.ExpiresIn = time.Duration(exp) * time.Second
	if tr.ExpiresIn == 0 {
		tr.ExpiresIn = DefaultTokenLifetime
	}
	return tr, nil
}
