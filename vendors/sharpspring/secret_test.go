package sharpspring

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestAnswersEchoingTheSecretKey: whatever SharpSpring (or a proxy in
// front of it) echoes back, the secret key is not in the error.
func TestAnswersEchoingTheSecretKey(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"proxy page", 502, "<html>upstream failed for key " + secret + "</html>"},
		{"query echoed", 500, "GET /pubapi/v1.2/?accountID=1&secretKey=" + secret},
		{"api error message", 200, `{"result":null,"error":{"code":104,"message":"Invalid secret key ` + secret + `","data":{"secretKey":"` + secret + `"}},"id":"x"}`},
		{"malformed", 200, `{"result": ` + secret},
		{"long page", 500, strings.Repeat("x", 190) + " secretKey=" + secret},
		{"bad result", 200, `{"result":{"lead":"` + secret + `"},"error":null,"id":"x"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawServer(t, tc.status, tc.body)
			_, err := c.GetLeads(context.Background(), GetLeadsQuery{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, secret) || strings.Contains(s, secret[:12]) {
					t.Fatalf("secret in error: %s", s)
				}
			}
		})
	}
}
