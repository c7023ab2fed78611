package config

import (
	"strings"
	"testing"
)

// SharpSpring documents at most 500 objects per request: a poller page
// size above it is refused, since a limit capped in silence would lose
// leads. Before, up to 5000 was accepted (and suggested).
func TestSharpSpringPageSizeIsAtMost500(t *testing.T) {
	const base = `
leadexec: {webhook: {bearer_token: t}}
routes: [{from: leadexec.lead, to: sharpspring.lead}]
sharpspring: {account_id: "1", secret_key: k, poller: {page_size: %s}}
`
	for _, tc := range []struct {
		size string
		ok   bool
	}{{"1", true}, {"200", true}, {"500", true}, {"501", false}, {"5000", false}, {"0", true}} {
		t.Run(tc.size, func(t *testing.T) {
			c, err := Parse([]byte(strings.Replace(base, "%s", tc.size, 1)), env(nil))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if tc.size == "0" && c.SharpSpring.Poller.PageSize != 500 {
					t.Fatalf("default page_size %d, want 500", c.SharpSpring.Poller.PageSize)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "sharpspring.poller.page_size: "+tc.size+" is outside 1..500") {
				t.Fatalf("page_size %s: err = %v", tc.size, err)
			}
		})
	}
}
