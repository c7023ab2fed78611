package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/app"
	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// TestStatusPrintsBackfillBacklog: the route table shows the backfill
// backlog beside the live backlog and lag.
func TestStatusPrintsBackfillBacklog(t *testing.T) {
	var b strings.Builder
	printStatus(&b, app.Status{Time: time.Now(), Routes: []app.RouteStatus{
		{Name: "ss-iv", Backlog: 3, LagSeconds: 1.5, BackfillBacklog: 1234, Events: 9},
	}}, true)
	out := b.String()
	if !regexp.MustCompile(`ROUTE\s+POSITION\s+BACKLOG\s+LAG\s+BACKFILL BACKLOG\s+EVENTS`).MatchString(out) ||
		!regexp.MustCompile(`ss-iv\s+0\s+3\s+1\.5s\s+1234\s+9\s`).MatchString(out) {
		t.Fatalf("status output:\n%s", out)
	}
}

// TestStatusAsksTheAdminListenerWithItsToken: with http.admin_listen and
// http.admin_token, `crmsync status` reads the running instance's /status
// there with the token; a config without the token (or with another) is
// told so instead of being shown the database.
func TestStatusAsksTheAdminListenerWithItsToken(t *testing.T) {
	const token = "status-token-DO-NOT-PRINT"
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "secret-key"}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", admin_token: "${ADMIN_TOKEN}"}
sharpspring: {endpoint: "%s/pubapi/v1.2/", account_id: "1", secret_key: secret-key}
leadexec: {webhook: {basic_user: le, basic_password: pw}}
routes: [{name: le-ss, from: leadexec.lead, to: sharpspring.lead}]
`, dir, srv.URL)), func(string) (string, bool) { return token, true })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Go(t, "run", a.Run)
	defer stop()
	// The config `crmsync status` reads names the addresses the instance
	// took.
	mine := *cfg
	mine.HTTP.Listen, mine.HTTP.AdminListen = a.Addr(), a.AdminAddr()

	st, live, err := fetchStatus(context.Background(), &mine)
	if err != nil || !live || len(st.Routes) != 1 || st.Routes[0].Name != "le-ss" {
		t.Fatalf("status with the token: live=%t %v %+v", live, err, st)
	}
	for _, tc := range []struct {
		name, token, want string
	}{
		{"no token", "", "http.admin_token is not set"},
		{"another token", "other", "refused this config's http.admin_token"},
	} {
		c := mine
		c.HTTP.AdminToken = config.Secret(tc.token)
		_, live, err := fetchStatus(context.Background(), &c)
		if err == nil || live || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: live=%t err=%v, want an error saying %q", tc.name, live, err, tc.want)
		}
	}
	// Without an admin listener the instance's http.listen serves /status.
	c := mine
	c.HTTP.Listen, c.HTTP.AdminListen = a.AdminAddr(), ""
	if _, live, err := fetchStatus(context.Background(), &c); err != nil || !live {
		t.Errorf("status from http.listen: live=%t %v", live, err)
	}
}
