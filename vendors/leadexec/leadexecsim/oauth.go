package leadexecsim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// issueToken answers POST /v1/authorization/token: JSON (or form)
// {client_id, client_secret, grant_type: "client_credentials"} →
// {access_token, token_type: "Bearer", expires_in, error: null}. Bad
// credentials: 401 {"error": "invalid_client"}; another grant type: 400
// {"error": "unsupported_grant_type"}; an unreadable body: 400
// {"error": "invalid_request"}.
func (s *Server) issueToken(r *http.Request) simAnswer {
	body, err := readBody(r)
	if err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request")
	}
	var p struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		GrantType    string `json:"grant_type"`
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return oauthError(http.StatusBadRequest, "invalid_request")
		}
		p.ClientID, p.ClientSecret, p.GrantType = v.Get("client_id"), v.Get("client_secret"), v.Get("grant_type")
	} else if err := json.Unmarshal(body, &p); err != nil {
		return oauthError(http.StatusBadRequest, "invalid_request")
	}
	if p.GrantType != "client_credentials" {
		return oauthError(http.StatusBadRequest, "unsupported_grant_type")
	}
	if !equal(p.ClientID, s.cfg.clientID) || !equal(p.ClientSecret, s.cfg.secret) {
		return oauthError(http.StatusUnauthorized, "invalid_client")
	}
	s.mu.Lock()
	now := s.cfg.now()
	sum := sha256.Sum256(fmt.Appendf(nil, "leadexecsim token %d", s.newID(IDToken)))
	tok := hex.EncodeToString(sum[:20])
	s.tokens[tok] = now.Add(s.cfg.tokenLifetime)
	s.mu.Unlock()
	return jsonAnswer(http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.cfg.tokenLifetime / time.Second), "error": nil,
	})
}

func oauthError(status int, code string) simAnswer {
	return jsonAnswer(status, map[string]string{"error": code})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorize checks the bearer token of a REST or data API call: nil when
// it is known and not expired, else the 401 answer.
func (s *Server) authorize(r *http.Request) *simAnswer {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[strings.TrimSpace(tok)]
	valid := ok && known && s.cfg.now().Before(exp)
	s.mu.Unlock()
	if valid {
		return nil
	}
	a := oauthError(http.StatusUnauthorized, "invalid_token")
	a.header = http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}
	return &a
}

// ExpireTokens makes every access token issued so far expire now, as if
// the simulator's clock had passed their expiry: the next bearer call with
// one answers 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
}
