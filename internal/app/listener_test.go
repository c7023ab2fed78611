package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
)

// cutOffBound is how long a test waits for the server to drop a connection
// whose timeout is a few hundred milliseconds: far beyond it, and short of
// the 10s header timeout a listener without the configured values would use.
const cutOffBound = 5 * time.Second

// TestListenerRefusesOversizedHeaders: a header over http.max_header_bytes
// is answered 431, before authentication, on the webhook path as anywhere;
// a header within the limit is served.
func TestListenerRefusesOversizedHeaders(t *testing.T) {
	h := newHarness(t, harnessOptions{tweak: func(c *config.Config) { c.HTTP.MaxHeaderBytes = 8 << 10 }})
	h.start()
	for _, tc := range []struct {
		name, path string
		header     int
		want       int
	}{
		{"small header", "/healthz", 2 << 10, http.StatusOK},
		{"oversized header", "/healthz", 64 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"oversized header on the webhook, unauthenticated", "/webhooks/leadexec", 64 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.app.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(cutOffBound))
			req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: crmsync\r\nX-Padding: %s\r\n\r\n", tc.path, strings.Repeat("p", tc.header))
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("answered %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestListenerCutsOffSlowClients: a client that trickles its header, one
// that never finishes its body, and a kept-alive connection left idle are
// each dropped by the server once their timeout passes, on the webhook
// listener and on the admin listener.
func TestListenerCutsOffSlowClients(t *testing.T) {
	h := newHarness(t, harnessOptions{tweak: func(c *config.Config) {
		c.HTTP.AdminListen = "127.0.0.1:0"
		c.HTTP.ReadHeaderTimeout = config.Duration(200 * time.Millisecond)
		c.HTTP.ReadTimeout = config.Duration(300 * time.Millisecond)
		c.HTTP.WriteTimeout = config.Duration(300 * time.Millisecond)
		c.HTTP.IdleTimeout = config.Duration(200 * time.Millisecond)
	}})
	h.start()
	auth := "Basic " + basicAuth(hookUser, hookPass)
	for _, tc := range []struct {
		name  string
		addr  func() string
		start string // sent at once
		trail bool   // then one more header byte every 20ms
	}{
		{"header trickled byte by byte", h.app.Addr, "POST /webhooks/leadexec HTTP/1.1\r\nHost: crmsync\r\nX-Slow: ", true},
		{"body never finished", h.app.Addr, "POST /webhooks/leadexec HTTP/1.1\r\nHost: crmsync\r\nAuthorization: " + auth +
			"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nLeadUID=1&", false},
		{"idle after a request", h.app.AdminAddr, "GET /healthz HTTP/1.1\r\nHost: crmsync\r\n\r\n", false},
		{"admin header trickled byte by byte", h.app.AdminAddr, "GET /status HTTP/1.1\r\nHost: crmsync\r\nX-Slow: ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tc.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			began := time.Now()
			_ = conn.SetDeadline(began.Add(cutOffBound))
			if _, err := io.WriteString(conn, tc.start); err != nil {
				t.Fatal(err)
			}
			// The server's side ends when a read sees the connection
			// closed (after any answer it gave, e.g. to the request
			// before the idle wait).
			closed := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, conn)
				closed <- err
			}()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case err := <-closed:
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("the server kept the connection for %s", cutOffBound)
					}
					t.Logf("cut off after %s", time.Since(began).Round(time.Millisecond))
					return
				case <-tick.C:
					if tc.trail {
						// A write after the server closed may fail; the
						// reader reports the close.
						_, _ = io.WriteString(conn, "x")
					}
				}
			}
		})
	}
}

// TestAdminListenerAndToken: with http.admin_listen and http.admin_token,
// /status and /metrics are served on the admin listener only and only with
// the token; /healthz and /readyz there without it; the webhooks stay on
// http.listen and nowhere else.
func TestAdminListenerAndToken(t *testing.T) {
	const token = "admin-token-DO-NOT-LOG-3c9e"
	h := newHarness(t, harnessOptions{linger: 20 * time.Millisecond, tweak: func(c *config.Config) {
		c.HTTP.AdminListen = "127.0.0.1:0"
		c.HTTP.AdminToken = token
	}})
	h.start()
	if h.app.AdminAddr() == h.app.Addr() {
		t.Fatalf("the admin listener is the webhook listener (%s)", h.app.Addr())
	}
	public, admin := "http://"+h.app.Addr(), "http://"+h.app.AdminAddr()
	h.deliver(1, map[string]string{"Email": "admin@example.com", "FirstName": "Ada"})
	h.settle(1)
	do := func(url, bearer string) (int, string) {
		t.Helper()
		code, body, err := getAs(url, bearerAuth(bearer))
		if err != nil {
			t.Fatal(err)
		}
		return code, body
	}
	for _, tc := range []struct {
		url, bearer string
		want        int
	}{
		{public + "/status", token, http.StatusNotFound},
		{public + "/metrics", token, http.StatusNotFound},
		{public + "/healthz", "", http.StatusNotFound},
		{public + "/readyz", "", http.StatusNotFound},
		{admin + "/webhooks/leadexec", "", http.StatusNotFound},
		{admin + "/status", "", http.StatusUnauthorized},
		{admin + "/status", token + "x", http.StatusUnauthorized},
		{admin + "/metrics", "", http.StatusUnauthorized},
		{admin + "/metrics", strings.ToUpper(token), http.StatusUnauthorized},
		{admin + "/status", token, http.StatusOK},
		{admin + "/metrics", token, http.StatusOK},
		{admin + "/healthz", "", http.StatusOK},
		{admin + "/readyz", "", http.StatusOK},
	} {
		code, body := do(tc.url, tc.bearer)
		if code != tc.want {
			t.Errorf("GET %s (bearer %t): %d, want %d: %.200s", tc.url, tc.bearer != "", code, tc.want, body)
		}
		if strings.Contains(body, token) {
			t.Errorf("GET %s shows the admin token", tc.url)
		}
	}
	_, body := do(admin+"/status", token)
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Routes) != 1 || st.Routes[0].Upserts != 1 {
		t.Fatalf("status: %v %+v", err, st)
	}
	if strings.Contains(h.logs.String(), token) {
		t.Errorf("the admin token appeared in the logs")
	}
}

func basicAuth(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
