package getlead

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// transport is what the classic and the V3 client share: the base URL, the
// HTTP client, the gate, and one request's round trip.
type transport struct {
	api  string // "classic" or "v3", as named in errors
	base string // without a trailing slash
	http *http.Client
	gate Gate
}

// newTransport checks base (default def) and applies the HTTP client's
// default, a 30 s timeout. what names the API in a configuration error.
func newTransport(api, what, base, def string, hc *http.Client, gate Gate) (transport, error) {
	if base == "" {
		base = def
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return transport{}, fmt.Errorf("getlead: %s base URL %q is not an absolute URL", what, base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return transport{api: api, base: strings.TrimSuffix(base, "/"), http: hc, gate: gate}, nil
}

// send sends one request to base+path with header and reads at most limit
// bytes of the answer. Its errors are *Error: the request could not be
// made, or had no (complete) answer.
func (t transport) send(ctx context.Context, op, method, path string, header http.Header, body io.Reader, limit int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return nil, nil, transportError(t.api, op, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, nil, noAnswer(t.api, op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, noAnswer(t.api, op, err)
	}
	return resp, raw, nil
}
