package connector

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// On the v1 endpoint the account's zone from the config reaches every part
// that reads or writes times: the lead sink writes a date-time field in it
// (read from getFields at start-up) and the history pager reads windows
// in it.
func TestSharpSpringV1WorksInTheConfiguredZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	sim := sharpspringsim.New(sharpspringsim.Options{RateLimitPerSecond: -1, CompanyTimeZone: ny})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	callAt := sim.CreateField("lead", "Call At", "datetime")
	c, err := config.Parse([]byte(`
sharpspring: {endpoint: "`+srv.URL+`/pubapi/v1/", time_zone: America/New_York, account_id: "`+sharpspringsim.DefaultAccountID+`",
  secret_key: "`+sharpspringsim.DefaultSecretKey+`"}
leadexec: {webhook: {bearer_token: t}}
catalog: [{name: call_at, sharpspring: `+callAt+`}]
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cat, errs := mappings.NewCatalog(c.Catalog)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	opened, err := OpenAll(context.Background(), Env{Config: c, Catalog: cat, State: testenv.State(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = opened.Close() })
	sink, _ := opened.Sink("sharpspring.lead")
	r := &pipeline.Record{Key: "k", Fields: map[string]string{"emailAddress": "tz@example.com", callAt: "2026-03-10T13:30:00Z"},
		NaturalKeys: map[string]string{"emailAddress": "tz@example.com"}}
	if out := sink.Write(context.Background(), []*pipeline.Record{r}); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	l, ok := sim.LeadByEmail("tz@example.com")
	if !ok || l.Fields[callAt] == nil || *l.Fields[callAt] != "2026-03-10 09:30:00" {
		t.Fatalf("call_at in SharpSpring: %v %v, want 2026-03-10 09:30:00 (New York, UTC-4)", ok, l.Fields[callAt])
	}
	p, err := opened["sharpspring"].Pager("lead", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	lp, ok := p.(*ssrc.LeadPager)
	if !ok {
		t.Fatalf("history pager is a %T", p)
	}
	if lp.Zone == nil || lp.Zone.String() != "America/New_York" {
		t.Fatalf("history pager reads in zone %v, want America/New_York", lp.Zone)
	}
}
