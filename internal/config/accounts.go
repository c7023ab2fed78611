package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"time"

	"github.com/crmsync/crmsync/vendors/sharpspring"
)

// An account label names one vendor account in the state: the key of its
// shared rate window and of its daily request count, and the account shown
// by /status and /metrics. It is derived from the config alone, the same in
// every process (instance, backfill, status), and never holds a secret. A
// label that changes (a new API key, another base URL) starts a new rate
// window and a new daily count.

// Account is the SharpSpring account's label: "sharpspring:<account id>".
func (s *SharpSpringConfig) Account() string { return "sharpspring:" + s.AccountID }

// Zone is the zone the endpoint reads and writes times in: the account's
// TimeZone on the v1 endpoint, UTC on v1.2. Call it on a validated config.
func (s *SharpSpringConfig) Zone() *time.Location {
	if !sharpspring.LocalTimeEndpoint(s.Endpoint) {
		return time.UTC
	}
	loc, err := sharpspring.LoadZone(s.TimeZone)
	if err != nil {
		return time.UTC // unreachable after Validate
	}
	return loc
}

// Account is the iVvy account's label: "ivvy:" and the first 12 hex digits
// of the SHA-256 of the API key (the key itself is a credential).
func (c *IVvyConfig) Account() string {
	h := sha256.Sum256([]byte(c.APIKey.Value()))
	return "ivvy:" + hex.EncodeToString(h[:6])
}

// Account is the Getlead account's label: "getlead:" and the classic API's
// base URL without any user, password, query or fragment in it (a plain
// base URL is kept as it is written).
func (g *GetleadConfig) Account() string {
	u, err := url.Parse(g.BaseURL)
	if err != nil {
		return "getlead:invalid-base-url"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return "getlead:" + u.String()
}
