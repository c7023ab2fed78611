package sharpspring

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crmsync/crmsync/mappings"
	"github.com/crmsync/crmsync/pipeline"
	"github.com/crmsync/crmsync/vendors/sharpspring"
	"github.com/crmsync/crmsync/vendors/sharpspring/sharpspringsim"
)

// typedFields are custom lead fields of every converted type, by catalog
// name, as created in the simulator.
type typedFields map[string]string

// newTypedSink starts a simulator with typed custom fields and a sink whose
// types are read from the simulator's getFields (as crmsync does at
// start-up), on the v1.2 endpoint or on v1 in zone.
func newTypedSink(t *testing.T, version string, zone *time.Location) (*LeadSink, *sharpspringsim.Server, typedFields) {
	t.Helper()
	sim := sharpspringsim.New(sharpspringsim.Options{Accounts: map[string]string{"1": "k"}, RateLimitPerSecond: -1,
		CompanyTimeZone: zone})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	c, err := sharpspring.New(sharpspring.Config{Endpoint: srv.URL + "/pubapi/" + version + "/", AccountID: "1", SecretKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	f := typedFields{
		"visit":   sim.CreateField("lead", "Visit", "date"),
		"call_at": sim.CreateField("lead", "Call At", "datetime"),
		"budget":  sim.CreateField("lead", "Budget", "int"),
		"opt_in":  sim.CreateField("lead", "Opt In", "boolean"),
		"color": sim.CreateField("lead", "Color", "picklist",
			sharpspringsim.FieldOption{Label: "Deep Red", Value: "red"}, sharpspringsim.FieldOption{Label: "Blue", Value: "blue"}),
		"tags": sim.CreateField("lead", "Tags", "checkbox",
			sharpspringsim.FieldOption{Label: "Hot", Value: "hot"}, sharpspringsim.FieldOption{Label: "VIP", Value: "vip"}),
		"note": sim.CreateField("lead", "Note", "text"),
	}
	var catalog []mappings.CatalogField
	for name, sys := range f {
		catalog = append(catalog, mappings.CatalogField{Name: name, SharpSpring: sys})
	}
	cat, errs := mappings.NewCatalog(catalog)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	types := sharpspring.NewFieldTypes(zone)
	if _, err := sharpspring.CheckFields(context.Background(), c, cat, types); err != nil {
		t.Fatal(err)
	}
	return NewLeadSinkWithConfig(LeadSinkConfig{Types: types}, c), sim, f
}

func stored(t *testing.T, sim *sharpspringsim.Server, email, field string) string {
	t.Helper()
	l, ok := sim.LeadByEmail(email)
	if !ok {
		t.Fatalf("%s is not in SharpSpring", email)
	}
	if p := l.Fields[field]; p != nil {
		return *p
	}
	return "<null>"
}

// Values in the forms sources send (RFC 3339 times, "yes", a label in
// another case, a decimal integer) reach SharpSpring in the forms its
// typed fields take, through the sink and over HTTP; a record carrying a
// value that cannot be converted is dead-lettered with the field and the
// value, and the rest of the batch is written.
func TestValuesAreWrittenAsTheirFieldsTypes(t *testing.T) {
	s, sim, f := newTypedSink(t, "v1.2", nil)
	good := rec("typed@example.com", map[string]string{
		f["visit"]: "2026-03-10T22:30:00Z", f["call_at"]: "2026-03-10T08:30:00-05:00", f["budget"]: "1250.0",
		f["opt_in"]: "yes", f["color"]: "deep red", f["tags"]: "Hot; vip", f["note"]: "as it is",
	})
	bad := rec("bad@example.com", map[string]string{f["budget"]: "lots", f["note"]: "never written"})
	after := rec("after@example.com", map[string]string{f["budget"]: "7", f["opt_in"]: "false"})
	out := s.Write(context.Background(), []*pipeline.Record{good, bad, after})

	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("outcomes %+v", out)
	}
	for field, want := range map[string]string{
		f["visit"]: "2026-03-10", f["call_at"]: "2026-03-10 13:30:00", f["budget"]: "1250", f["opt_in"]: "1",
		f["color"]: "red", f["tags"]: "hot,vip", f["note"]: "as it is",
	} {
		if got := stored(t, sim, "typed@example.com", field); got != want {
			t.Errorf("%s = %q in SharpSpring, want %q", field, got, want)
		}
		if good.Fields[field] != want {
			t.Errorf("record field %s = %q after the write, want the written %q", field, good.Fields[field], want)
		}
	}
	if got := stored(t, sim, "after@example.com", f["opt_in"]); got != "0" {
		t.Errorf("opt_in = %q, want 0", got)
	}

	err := out[1].Err
	if !errors.Is(err, pipeline.ErrPermanent) {
		t.Fatalf("unconvertible value: %v, want a permanent error (dead letter)", err)
	}
	for _, want := range []string{f["budget"], `"Budget"`, `"lots"`, "integer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q does not name %s", err, want)
		}
	}
	if _, ok := sim.LeadByEmail("bad@example.com"); ok {
		t.Error("the record with the unconvertible value was written")
	}
	if st := sim.Stats(); st.ErrorsByCode[205] != 0 {
		t.Errorf("SharpSpring refused %d values (205): conversion should have happened before sending", st.ErrorsByCode[205])
	}
}

// On the v1 endpoint times are the account's local time: a date-time is
// written in the Company Profile zone, and a time near midnight UTC is
// cut to the local date.
func TestV1DateTimesAreWrittenInTheAccountZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s, sim, f := newTypedSink(t, "v1", ny)
	r := rec("local@example.com", map[string]string{f["call_at"]: "2026-03-10T13:30:00Z", f["visit"]: "2026-03-11T02:00:00Z"})
	if out := s.Write(context.Background(), []*pipeline.Record{r}); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	// 2026-03-10 is daylight time in New York: UTC-4.
	if got := stored(t, sim, "local@example.com", f["call_at"]); got != "2026-03-10 09:30:00" {
		t.Errorf("call_at = %q, want 2026-03-10 09:30:00 (New York)", got)
	}
	if got := stored(t, sim, "local@example.com", f["visit"]); got != "2026-03-10" {
		t.Errorf("visit = %q, want 2026-03-10 (the New York date)", got)
	}
}

// An int beyond SharpSpring's int(11) column is refused before sending.
func TestIntegerOutsideSharpSpringsRangeIsRefused(t *testing.T) {
	s, sim, f := newTypedSink(t, "v1.2", nil)
	out := s.Write(context.Background(), []*pipeline.Record{rec("big@example.com", map[string]string{f["budget"]: "3000000000"})})
	if !errors.Is(out[0].Err, pipeline.ErrPermanent) || !strings.Contains(out[0].Err.Error(), "range") {
		t.Fatalf("got %v", out[0].Err)
	}
	if sim.Stats().ByMethod["createLeads"] != 0 {
		t.Error("sent to SharpSpring")
	}
}
