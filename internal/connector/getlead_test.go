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
	"github.com/crmsync/crmsync/vendors/getlead/getleadsim"
)

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
