package connector

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/testenv"
	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	ssrc "github.com/crmsync/crmsync/sources/sharpspring"
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// OpenFile parses doc as a configuration file, with no environment
// variables set, and opens every account it configures as the application
// does, with the configuration's catalog, a new state and bus (nil: no
// sources). The accounts are closed when the test ends.
func OpenFile(t testing.TB, doc string, bus pipeline.Publisher) Opened {
	t.Helper()
	c, err := config.Parse([]byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cat, errs := mappings.NewCatalog(c.Catalog)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	opened, err := OpenAll(context.Background(), Env{Config: c, Catalog: cat, State: testenv.State(t), Bus: bus,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = opened.Close() })
	return opened
}

func TestEveryBuiltInVendorButLeadExecIsAConnector(t *testing.T) {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	for _, want := range []string{"getlead", "ivvy", "kafka", "sharpspring"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not registered (registered: %v)", want, names)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("All is not sorted by name: %v", names)
	}
}

func TestAMissingSectionOpensNothing(t *testing.T) {
	// No vendor section at all: a typed nil section must not reach Open.
	cfg := &config.Config{}
	opened, err := OpenAll(context.Background(), Env{Config: cfg, State: testenv.State(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 0 {
		t.Fatalf("opened %v without any section", opened)
	}
}

func TestRegisteringWithoutOpenPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a connector without Open was registered")
		}
	}()
	Register(Connector{Vendor: config.Vendor{Name: "noopen"}})
}

// In v3 mode the Getlead account reads the custom fields' types from
// /meta when it opens, and again every field_check_interval: a field
// retyped in Getlead is written as its new type without a restart.
func TestGetleadV3ReadsFieldTypesAtStartUpAndOnASchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim := getleadsim.New(getleadsim.Options{Fields: []getleadsim.Field{{Key: "visit_date", Type: "date"}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	g := &config.GetleadConfig{Mode: "v3", V3BaseURL: srv.URL + "/api/v1", APIKey: config.Secret(getleadsim.DefaultAPIKey),
		CountryCode: "91", FieldCheckInterval: config.Duration(20 * time.Millisecond)}
	g.ApplyDefaults()
	cat, errs := mappings.NewCatalog([]mappings.CatalogField{{Name: "visit", Getlead: "visit_date"}})
	if errs != nil {
		t.Fatal(errs)
	}
	cfg := &config.Config{Getlead: g, Routes: []config.RouteConfig{{Name: "ss-gl", From: "sharpspring.lead", To: "getlead.lead"}}}
	acc, err := openGetlead(ctx, Env{Section: g, Config: cfg, Catalog: cat, State: testenv.State(t), Bus: testenv.Bus(t),
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.Stats().ByEndpoint["meta"]; n != 1 {
		t.Fatalf("/meta read %d times at start-up, want 1", n)
	}
	write := func(phone, when string) string {
		t.Helper()
		r := &pipeline.Record{Key: phone, Fields: map[string]string{"name": "Asha", "countrycode": "91", "mobileno": phone, "visit_date": when}}
		out := acc.Sinks["lead"].Write(ctx, []*pipeline.Record{r})
		if out[0].Err != nil {
			t.Fatal(out[0].Err)
		}
		l, _ := sim.LeadByPhone("+91" + phone)
		return l.Custom["visit_date"]
	}
	if got := write("9876543210", "2026-12-04T10:30:00Z"); got != "2026-12-04" {
		t.Fatalf("date field stored %q, want 2026-12-04", got)
	}

	var watch pipeline.Source
	for _, s := range acc.Sources {
		if s.Name() == "getlead.fields" {
			watch = s
		}
	}
	if watch == nil {
		t.Fatal("no getlead.fields source")
	}
	go func() { _ = watch.Run(ctx) }()
	sim.AddTypedField(getleadsim.Field{Key: "visit_date", Type: "datetime"})
	at := sim.Stats().ByEndpoint["meta"]
	deadline := time.Now().Add(10 * time.Second)
	for sim.Stats().ByEndpoint["meta"] < at+2 { // one whole read after the change
		if time.Now().After(deadline) {
			t.Fatal("/meta was not read again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := write("9876543211", "2026-12-04T10:30:00Z"); got != "2026-12-04T10:30:00" {
		t.Fatalf("retyped field stored %q, want 2026-12-04T10:30:00", got)
	}
}

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
	opened := OpenFile(t, `
sharpspring: {endpoint: "`+srv.URL+`/pubapi/v1/", time_zone: America/New_York, account_id: "`+sharpspringsim.DefaultAccountID+`",
  secret_key: "`+sharpspringsim.DefaultSecretKey+`"}
leadexec: {webhook: {bearer_token: t}}
catalog: [{name: call_at, sharpspring: `+callAt+`}]
routes: [{from: leadexec.lead, to: sharpspring.lead}]
`, nil)
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
